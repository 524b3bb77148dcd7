package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jdm.testkit.TlsCertificates;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link NbdTls} reading PEM files as openssl writes them: the layouts that work, and for each file
 * that cannot, a message that names the file and says what to do.
 */
class NbdTlsTest {
  private static Path certsDir;
  private static TlsCertificates certs;
  private Path dir;

  @BeforeAll
  static void certificates() throws Exception {
    certs = TlsCertificates.shared();
    certsDir = certs.root();
  }

  @BeforeEach
  void folder() throws Exception {
    dir = Files.createDirectories(certsDir.resolve("case-" + System.nanoTime()));
  }

  /** A server folder with {@code key} as its key (in a format openssl converts to). */
  private Path serverWithKey(String... opensslToKey) throws Exception {
    Files.copy(certs.server().resolve("server-cert.pem"), dir.resolve("server-cert.pem"));
    String[] cmd = new String[opensslToKey.length + 2];
    System.arraycopy(opensslToKey, 0, cmd, 0, opensslToKey.length);
    cmd[cmd.length - 2] = "-out";
    cmd[cmd.length - 1] = dir.resolve("server-key.pem").toString();
    Tools.ok(cmd);
    return dir.resolve("server-key.pem");
  }

  private String serverKey() {
    return certs.server().resolve("server-key.pem").toString();
  }

  @Test
  void readsTheQemuLayoutWithAndWithoutCa() throws Exception {
    SSLContext c = NbdTls.serverContext(certs.server());
    assertThat(c.createSSLEngine().getSupportedProtocols()).contains("TLSv1.3", "TLSv1.2");
    Files.copy(certs.server().resolve("server-cert.pem"), dir.resolve("server-cert.pem"));
    Files.copy(certs.server().resolve("server-key.pem"), dir.resolve("server-key.pem"));
    assertThat(NbdTls.serverContext(dir)).isNotNull();
    assertThat(NbdTls.clientContext(certs.client())).isNotNull(); // EC key
    assertThat(NbdTls.clientContext(certs.anonymous())).isNotNull();
  }

  @Test
  void aPkcs1KeyIsRefusedWithTheCommandThatConvertsIt() throws Exception {
    Path key = serverWithKey("openssl", "pkey", "-in", serverKey(), "-traditional");
    assertThat(Files.readString(key)).contains("BEGIN RSA PRIVATE KEY");
    assertThatThrownBy(() -> NbdTls.serverContext(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(key.toString())
        .hasMessageContaining("PKCS#1")
        .hasMessageContaining("openssl pkcs8 -topk8 -nocrypt -in " + key);
  }

  @Test
  void aSec1EcKeyIsRefused() throws Exception {
    Path key =
        serverWithKey(
            "openssl",
            "pkey",
            "-in",
            certs.client().resolve("client-key.pem").toString(),
            "-traditional");
    assertThat(Files.readString(key)).contains("BEGIN EC PRIVATE KEY");
    assertThatThrownBy(() -> NbdTls.serverContext(dir))
        .hasMessageContaining(key.toString())
        .hasMessageContaining("SEC1")
        .hasMessageContaining("openssl pkcs8 -topk8 -nocrypt");
  }

  @Test
  void anEncryptedKeyIsRefused() throws Exception {
    Path key =
        serverWithKey("openssl", "pkcs8", "-topk8", "-in", serverKey(), "-passout", "pass:x");
    assertThat(Files.readString(key)).contains("BEGIN ENCRYPTED PRIVATE KEY");
    assertThatThrownBy(() -> NbdTls.serverContext(dir))
        .hasMessageContaining(key.toString())
        .hasMessageContaining("encrypted");
  }

  @Test
  void aKeyOfAnotherCertificateIsRefused() throws Exception {
    Path key =
        serverWithKey(
            "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024");
    assertThatThrownBy(() -> NbdTls.serverContext(dir))
        .hasMessageContaining(key.toString())
        .hasMessageContaining("RSA key does not belong to the first certificate of")
        .hasMessageContaining("CN=localhost");
    Files.copy(
        certs.client().resolve("client-key.pem"),
        key,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertThatThrownBy(() -> NbdTls.serverContext(dir))
        .as("an EC key for an RSA certificate")
        .hasMessageContaining("EC key does not belong");
  }

  @Test
  void missingAndMalformedFilesAreNamed() throws Exception {
    assertThatThrownBy(() -> NbdTls.serverContext(dir))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(dir.resolve("server-cert.pem") + ": no such file");
    Files.writeString(dir.resolve("server-cert.pem"), "not a certificate\n");
    Files.copy(certs.server().resolve("server-key.pem"), dir.resolve("server-key.pem"));
    assertThatThrownBy(() -> NbdTls.serverContext(dir))
        .hasMessageContaining(dir.resolve("server-cert.pem") + ": no PEM block");
    Files.copy(
        certs.server().resolve("server-key.pem"),
        dir.resolve("server-cert.pem"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertThatThrownBy(() -> NbdTls.serverContext(dir))
        .hasMessageContaining("a 'PRIVATE KEY' block where PEM certificates were expected");
    assertThatThrownBy(() -> NbdTls.clientContext(dir))
        .as("a client needs the CA")
        .hasMessageContaining(dir.resolve("ca-cert.pem") + ": no such file");
  }
}
