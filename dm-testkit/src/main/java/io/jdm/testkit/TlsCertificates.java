package io.jdm.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Certificates made by {@code openssl} for the TLS tests, in the folders GnuTLS clients (qemu's
 * {@code tls-creds-x509}, libnbd's {@code tls-certificates=}) and jdm's {@code NbdTls} read:
 *
 * <ul>
 *   <li>{@link #server}: {@code ca-cert.pem}, {@code server-cert.pem} (for {@code localhost} and
 *       {@code 127.0.0.1}, RSA), {@code server-key.pem};
 *   <li>{@link #client}: {@code ca-cert.pem}, {@code client-cert.pem} (EC), {@code client-key.pem},
 *       signed by the same CA;
 *   <li>{@link #rogue}: the same CA to trust the server, and a client certificate signed by another
 *       CA;
 *   <li>{@link #anonymous}: only {@code ca-cert.pem}, no client certificate.
 * </ul>
 *
 * Keys are PKCS#8 ({@code BEGIN PRIVATE KEY}), as OpenSSL 3 writes them.
 */
public record TlsCertificates(Path root, Path server, Path client, Path rogue, Path anonymous) {

  private static final String CONFIG =
      String.join(
          "\n",
          "[req]",
          "distinguished_name = dn",
          "prompt = no",
          "[dn]",
          "CN = unused",
          "[ca]",
          "basicConstraints = critical, CA:TRUE",
          "keyUsage = critical, keyCertSign, cRLSign",
          "subjectKeyIdentifier = hash",
          "[server]",
          "basicConstraints = critical, CA:FALSE",
          "keyUsage = critical, digitalSignature, keyEncipherment",
          "extendedKeyUsage = serverAuth",
          "subjectAltName = DNS:localhost, IP:127.0.0.1",
          "[client]",
          "basicConstraints = critical, CA:FALSE",
          "keyUsage = critical, digitalSignature",
          "extendedKeyUsage = clientAuth",
          "");

  private static TlsCertificates shared;

  /**
   * One set for the whole test JVM, made on first use in a temporary folder that is deleted when
   * the JVM exits (so test classes do not each pay for openssl, nor each clean up).
   */
  public static synchronized TlsCertificates shared() throws IOException, InterruptedException {
    if (shared == null) {
      Path root = Files.createTempDirectory("jdm-tls");
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try (var s = Files.walk(root)) {
                      s.sorted(java.util.Comparator.reverseOrder())
                          .forEach(p -> p.toFile().delete());
                    } catch (IOException e) {
                      // a temporary folder left behind
                    }
                  }));
      shared = create(root);
    }
    return shared;
  }

  /** Makes every certificate under {@code root} (about a second of openssl). */
  public static TlsCertificates create(Path root) throws IOException, InterruptedException {
    ExternalTools.require("openssl", "openssl");
    Files.createDirectories(root);
    Path cnf = root.resolve("openssl.cnf");
    Files.writeString(cnf, CONFIG);
    ca(root, cnf, "ca", "/CN=jdm NBD test CA");
    ca(root, cnf, "rogue-ca", "/CN=someone else's CA");
    leaf(root, cnf, "ca", "server", "rsa:2048", "/CN=localhost", "server");
    leaf(root, cnf, "ca", "client", "ec", "/CN=jdm NBD test client", "client");
    leaf(root, cnf, "rogue-ca", "rogue", "ec", "/CN=jdm NBD test client", "client");
    TlsCertificates t =
        new TlsCertificates(
            root,
            root.resolve("server-dir"),
            root.resolve("client-dir"),
            root.resolve("rogue-dir"),
            root.resolve("anonymous-dir"));
    copy(root, t.server, "ca-cert.pem", "server-cert.pem", "server-key.pem");
    copy(root, t.client, "ca-cert.pem", "client-cert.pem", "client-key.pem");
    Files.createDirectories(t.rogue);
    Files.copy(root.resolve("ca-cert.pem"), t.rogue.resolve("ca-cert.pem"));
    Files.copy(root.resolve("rogue-cert.pem"), t.rogue.resolve("client-cert.pem"));
    Files.copy(root.resolve("rogue-key.pem"), t.rogue.resolve("client-key.pem"));
    copy(root, t.anonymous, "ca-cert.pem");
    return t;
  }

  private static void ca(Path root, Path cnf, String name, String subject)
      throws IOException, InterruptedException {
    ExternalTools.ok(
        "openssl",
        "req",
        "-config",
        cnf.toString(),
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        root.resolve(name + "-key.pem").toString(),
        "-out",
        root.resolve(name + "-cert.pem").toString(),
        "-days",
        "2",
        "-subj",
        subject,
        "-extensions",
        "ca");
  }

  private static void leaf(
      Path root, Path cnf, String ca, String name, String key, String subject, String extensions)
      throws IOException, InterruptedException {
    String csr = root.resolve(name + ".csr").toString();
    if (key.equals("ec")) {
      ExternalTools.ok(
          "openssl",
          "req",
          "-config",
          cnf.toString(),
          "-new",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          root.resolve(name + "-key.pem").toString(),
          "-out",
          csr,
          "-subj",
          subject);
    } else {
      ExternalTools.ok(
          "openssl",
          "req",
          "-config",
          cnf.toString(),
          "-new",
          "-newkey",
          key,
          "-nodes",
          "-keyout",
          root.resolve(name + "-key.pem").toString(),
          "-out",
          csr,
          "-subj",
          subject);
    }
    ExternalTools.ok(
        "openssl",
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        root.resolve(ca + "-cert.pem").toString(),
        "-CAkey",
        root.resolve(ca + "-key.pem").toString(),
        "-CAcreateserial",
        "-CAserial",
        root.resolve(ca + ".srl").toString(),
        "-out",
        root.resolve(name + "-cert.pem").toString(),
        "-days",
        "2",
        "-extfile",
        cnf.toString(),
        "-extensions",
        extensions);
  }

  private static void copy(Path root, Path dir, String... files) throws IOException {
    Files.createDirectories(dir);
    for (String f : files) {
      Files.copy(root.resolve(f), dir.resolve(f));
    }
  }
}
