package io.jdm.nbd;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * X.509 credentials for NBD over TLS ({@link NbdServer.Builder#tls}, {@code nbds} URIs of {@link
 * NbdBlockDevice}), read from PEM files in the layout of qemu's {@code tls-creds-x509} object,
 * nbdkit's {@code --tls-certificates} and libnbd's {@code tls-certificates} folders:
 *
 * <ul>
 *   <li>{@code ca-cert.pem}: the CA certificates a peer's certificate must chain to (the server
 *       verifies client certificates with them);
 *   <li>{@code server-cert.pem}: the server's certificate chain, its own certificate first;
 *   <li>{@code server-key.pem}: the server's private key;
 *   <li>{@code client-cert.pem}, {@code client-key.pem}: a client's, for servers that ask for one.
 * </ul>
 *
 * <p>Private keys must be unencrypted PKCS#8 ({@code -----BEGIN PRIVATE KEY-----}) RSA, EC or EdDSA
 * keys, what {@code openssl genpkey} and OpenSSL 3's {@code req -newkey} write. PKCS#1 ({@code
 * BEGIN RSA PRIVATE KEY}, GnuTLS {@code certtool}'s default), SEC1 ({@code BEGIN EC PRIVATE KEY})
 * and encrypted keys are refused with the command that converts them: {@code openssl pkcs8 -topk8
 * -nocrypt -in KEY -out KEY.pk8}. A key is checked against its certificate when it is read.
 *
 * <p>Certificates only: the JDK has no TLS-PSK cipher suites, so the pre-shared keys that qemu
 * ({@code tls-creds-psk}) and nbdkit ({@code --tls-psk}) offer through GnuTLS cannot be served. TLS
 * 1.3 and 1.2 are enabled (proto.md: at least 1.2, nothing older by default).
 *
 * <p>Errors: an {@link IOException} naming the file and what is wrong with it (missing, no PEM
 * block, a key format that is not PKCS#8, a key that does not belong to the certificate).
 */
public final class NbdTls {
  /** The protocols a server or client enables, in preference order, where the JDK has them. */
  private static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  private static final Pattern PEM =
      Pattern.compile(
          "-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*?)-----END \\1-----", Pattern.DOTALL);
  private static final char[] STORE_PASSWORD = "jdm-nbd".toCharArray(); // an in-memory store
  private static final String CONVERT = "openssl pkcs8 -topk8 -nocrypt -in %s -out %s.pk8";

  private NbdTls() {}

  /** TLS 1.3 and 1.2, those of them {@code engine} supports (proto.md: nothing older). */
  static String[] protocols(javax.net.ssl.SSLEngine engine) {
    List<String> p = new ArrayList<>(PROTOCOLS);
    p.retainAll(List.of(engine.getSupportedProtocols()));
    return p.toArray(new String[0]);
  }

  /**
   * A server context from {@code dir}: {@code server-cert.pem} and {@code server-key.pem} (both
   * required) and {@code ca-cert.pem} (optional: without it, a server that needs client
   * certificates refuses every client).
   */
  public static SSLContext serverContext(Path dir) throws IOException {
    Objects.requireNonNull(dir, "dir");
    Path ca = dir.resolve("ca-cert.pem");
    return serverContext(
        dir.resolve("server-cert.pem"),
        dir.resolve("server-key.pem"),
        Files.exists(ca) ? ca : null);
  }

  /**
   * A server context from a certificate chain (own certificate first), its PKCS#8 private key, and
   * the CA certificates client certificates must chain to ({@code null}: none is accepted, which
   * matters only with {@link NbdServer.Builder#needClientAuth}).
   */
  public static SSLContext serverContext(Path certificateChain, Path privateKey, Path clientCa)
      throws IOException {
    Objects.requireNonNull(certificateChain, "certificateChain");
    Objects.requireNonNull(privateKey, "privateKey");
    return context(keyManagers(certificateChain, privateKey), trustManagers(clientCa));
  }

  /**
   * A client context from {@code dir}: {@code ca-cert.pem} (required; the server's certificate must
   * chain to it) and, when present, {@code client-cert.pem} with {@code client-key.pem} (for
   * servers that need a client certificate). It does not check the server's name: the engine or
   * socket that uses it must ask for that ({@code setEndpointIdentificationAlgorithm("HTTPS")}).
   */
  public static SSLContext clientContext(Path dir) throws IOException {
    Objects.requireNonNull(dir, "dir");
    Path cert = dir.resolve("client-cert.pem");
    KeyManager[] km = Files.exists(cert) ? keyManagers(cert, dir.resolve("client-key.pem")) : null;
    return context(km, trustManagers(dir.resolve("ca-cert.pem")));
  }

  private static SSLContext context(KeyManager[] km, TrustManager[] tm) throws IOException {
    try {
      SSLContext c = SSLContext.getInstance("TLS");
      c.init(km, tm, null);
      return c;
    } catch (GeneralSecurityException e) {
      throw new IOException("TLS context: " + e.getMessage(), e);
    }
  }

  private static KeyManager[] keyManagers(Path chainFile, Path keyFile) throws IOException {
    List<X509Certificate> chain = certificates(chainFile);
    PrivateKey key = privateKey(keyFile);
    checkPair(chain.get(0), chainFile, key, keyFile);
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("nbd", key, STORE_PASSWORD, chain.toArray(new X509Certificate[0]));
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, STORE_PASSWORD);
      return kmf.getKeyManagers();
    } catch (GeneralSecurityException e) {
      throw new IOException(keyFile + ": " + e.getMessage(), e);
    }
  }

  /** Trust in the CA certificates of {@code caFile}; with {@code null}, in no one. */
  private static TrustManager[] trustManagers(Path caFile) throws IOException {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      if (caFile != null) {
        int i = 0;
        for (X509Certificate c : certificates(caFile)) {
          ks.setCertificateEntry("ca" + i++, c);
        }
      }
      if (ks.size() == 0) {
        // an empty store, not null: SSLContext.init(.., null, ..) would trust the JDK's cacerts
        return new TrustManager[] {NoTrust.INSTANCE};
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      return tmf.getTrustManagers();
    } catch (GeneralSecurityException e) {
      throw new IOException(caFile + ": " + e.getMessage(), e);
    }
  }

  /** The certificates of a PEM file, in order; at least one. */
  static List<X509Certificate> certificates(Path file) throws IOException {
    List<X509Certificate> certs = new ArrayList<>();
    CertificateFactory cf;
    try {
      cf = CertificateFactory.getInstance("X.509");
    } catch (CertificateException e) {
      throw new IllegalStateException("the JDK has no X.509 certificate factory", e);
    }
    for (Block b : blocks(file)) {
      if (!b.label().equals("CERTIFICATE")) {
        throw new IOException(
            file + ": a '" + b.label() + "' block where PEM certificates were expected");
      }
      try {
        certs.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(b.der())));
      } catch (CertificateException e) {
        throw new IOException(
            file + ": certificate " + (certs.size() + 1) + " is not valid X.509: " + e.getMessage(),
            e);
      }
    }
    return certs;
  }

  /** The one PKCS#8 private key of a PEM file. */
  static PrivateKey privateKey(Path file) throws IOException {
    List<Block> keys = new ArrayList<>();
    for (Block b : blocks(file)) {
      if (!b.label().equals("EC PARAMETERS")) { // openssl ecparam -genkey writes them first
        keys.add(b);
      }
    }
    if (keys.isEmpty()) {
      throw new IOException(file + ": no private key, only EC PARAMETERS");
    }
    Block b = keys.get(0);
    String convert = String.format(java.util.Locale.ROOT, CONVERT, file, file);
    switch (b.label()) {
      case "PRIVATE KEY":
        break;
      case "RSA PRIVATE KEY":
        throw new IOException(
            file
                + ": a PKCS#1 RSA key (BEGIN RSA PRIVATE KEY); jdm reads PKCS#8 (BEGIN PRIVATE"
                + " KEY): convert it with "
                + convert);
      case "EC PRIVATE KEY":
        throw new IOException(
            file
                + ": a SEC1 EC key (BEGIN EC PRIVATE KEY); jdm reads PKCS#8 (BEGIN PRIVATE"
                + " KEY): convert it with "
                + convert);
      case "ENCRYPTED PRIVATE KEY":
        throw new IOException(
            file
                + ": an encrypted key; jdm reads unencrypted PKCS#8 (BEGIN PRIVATE KEY):"
                + " decrypt it with "
                + convert);
      default:
        throw new IOException(
            file
                + ": a '"
                + b.label()
                + "' block where a PKCS#8 private key (BEGIN PRIVATE KEY)"
                + " was expected");
    }
    if (keys.size() > 1) {
      throw new IOException(file + ": " + keys.size() + " PEM blocks where one key was expected");
    }
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(b.der());
    // the key factory that takes the key names its algorithm: cheaper than decoding the DER here
    IOException none = new IOException(file + ": a PKCS#8 key that is neither RSA, EC nor EdDSA");
    for (String algorithm : List.of("RSA", "EC", "EdDSA")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(spec);
      } catch (GeneralSecurityException e) {
        none.addSuppressed(e);
      }
    }
    throw none;
  }

  /** Signs with the key and verifies with the certificate: they must be one pair. */
  private static void checkPair(X509Certificate cert, Path certFile, PrivateKey key, Path keyFile)
      throws IOException {
    String algorithm;
    switch (key.getAlgorithm()) {
      case "RSA":
        algorithm = "SHA256withRSA";
        break;
      case "EC":
        algorithm = "SHA256withECDSA";
        break;
      default:
        algorithm = key.getAlgorithm(); // EdDSA, Ed25519, Ed448 sign as such
    }
    byte[] probe = "jdm NBD TLS key check".getBytes(StandardCharsets.US_ASCII);
    boolean match;
    try {
      Signature s = Signature.getInstance(algorithm);
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      s.initVerify(cert.getPublicKey());
      s.update(probe);
      match = s.verify(sig);
    } catch (GeneralSecurityException e) {
      match = false; // a key of another type than the certificate's
    }
    if (!match) {
      throw new IOException(
          keyFile
              + ": this "
              + key.getAlgorithm()
              + " key does not belong to the first certificate of "
              + certFile
              + " ("
              + cert.getSubjectX500Principal()
              + ")");
    }
  }

  /** One PEM block: its label ({@code CERTIFICATE}, {@code PRIVATE KEY}) and its bytes. */
  private record Block(String label, byte[] der) {}

  private static List<Block> blocks(Path file) throws IOException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (NoSuchFileException e) {
      throw new IOException(file + ": no such file", e);
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new IOException(file + ": not a PEM file (binary content; DER is not read)", e);
    }
    List<Block> blocks = new ArrayList<>();
    Matcher m = PEM.matcher(text);
    while (m.find()) {
      byte[] der;
      try {
        der = Base64.getMimeDecoder().decode(m.group(2));
      } catch (IllegalArgumentException e) {
        throw new IOException(file + ": the " + m.group(1) + " block is not base64", e);
      }
      blocks.add(new Block(m.group(1), der));
    }
    if (blocks.isEmpty()) {
      throw new IOException(file + ": no PEM block (-----BEGIN ...-----)");
    }
    return blocks;
  }

  /** Trusts no certificate: a server without {@code ca-cert.pem} that still asks for one. */
  private static final class NoTrust implements javax.net.ssl.X509TrustManager {
    static final NoTrust INSTANCE = new NoTrust();

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      throw new CertificateException("no CA certificate to verify it against (ca-cert.pem)");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      throw new CertificateException("no CA certificate to verify it against (ca-cert.pem)");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
