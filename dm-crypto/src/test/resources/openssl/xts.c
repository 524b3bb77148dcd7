/*
 * An independent AES-XTS for jdm's tests: OpenSSL's EVP_aes_{128,256}_xts over whole sectors.
 * Usage: xts enc|dec <key hex (32 or 64 bytes)> <sector size> <first IV sector> <IV step>
 * Reads sectors from stdin, writes the result to stdout; sector i uses the plain64 IV
 * le64(first + i * step), zero padded to 16 bytes (dm-crypt's aes-xts-plain64).
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: xts enc|dec KEYHEX SECTORSIZE FIRST STEP\n");
    return 2;
  }
  int enc = strcmp(argv[1], "enc") == 0;
  size_t klen = strlen(argv[2]) / 2;
  unsigned char key[64];
  if (klen != 32 && klen != 64) {
    fprintf(stderr, "key must be 32 or 64 bytes\n");
    return 2;
  }
  for (size_t i = 0; i < klen; i++) {
    int hi = hex(argv[2][2 * i]), lo = hex(argv[2][2 * i + 1]);
    if (hi < 0 || lo < 0) return 2;
    key[i] = (unsigned char)(hi << 4 | lo);
  }
  size_t ss = strtoul(argv[3], NULL, 10);
  uint64_t sector = strtoull(argv[4], NULL, 10);
  uint64_t step = strtoull(argv[5], NULL, 10);
  const EVP_CIPHER *c = klen == 32 ? EVP_aes_128_xts() : EVP_aes_256_xts();
  unsigned char *in = malloc(ss), *out = malloc(ss + 32);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  for (;;) {
    size_t n = fread(in, 1, ss, stdin);
    if (n == 0) break;
    if (n != ss) {
      fprintf(stderr, "short sector\n");
      return 1;
    }
    unsigned char iv[16] = {0};
    for (int b = 0; b < 8; b++) iv[b] = (unsigned char)(sector >> (8 * b));
    int len = 0;
    if (!EVP_CipherInit_ex(ctx, c, NULL, key, iv, enc) ||
        !EVP_CipherUpdate(ctx, out, &len, in, (int)ss) || (size_t)len != ss) {
      fprintf(stderr, "EVP failed\n");
      return 1;
    }
    fwrite(out, 1, ss, stdout);
    sector += step;
  }
  EVP_CIPHER_CTX_free(ctx);
  return 0;
}
