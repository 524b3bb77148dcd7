package io.jdm.nbd;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An NBD URI as libnbd spells it ({@code nbd_connect_uri}, the NBD URI standard in {@code
 * doc/uri.md} of NetworkBlockDevice/nbd), for the two transports jdm supports, each in the clear or
 * with TLS:
 *
 * <ul>
 *   <li>{@code nbd://HOST[:PORT][/EXPORT]}: TCP, port 10809 by default;
 *   <li>{@code nbd+unix:///[EXPORT]?socket=PATH}: a Unix-domain socket;
 *   <li>{@code nbds://...} and {@code nbds+unix://...}: the same with TLS, which the connection
 *       then requires ({@code NBD_OPT_STARTTLS} before anything else).
 * </ul>
 *
 * <p>The export name is the path without its leading {@code /}, percent-decoded; an empty name is
 * the server's default export. TLS query parameters: {@code tls-certificates=DIR} (libnbd's: a
 * folder with {@code ca-cert.pem} and, optionally, {@code client-cert.pem} and {@code
 * client-key.pem}, read by {@link NbdTls}; without it the JDK's default trust store is used and no
 * client certificate is sent) and {@code tls-hostname=NAME} (the name the server's certificate must
 * carry; by default the TCP host, and for a Unix socket none is checked, only the chain). {@code
 * tls-verify-peer=1} and {@code tls-type=x509} are accepted as the defaults they are; not verifying
 * the server, PSK and other parameters are refused. vsock is not supported.
 *
 * <p>Reconnection (a jdm extension; qemu's {@code reconnect-delay} is the model): {@code
 * reconnect=1} makes the device reconnect in the background with {@link NbdReconnect#DEFAULT}'s
 * backoff once its server goes away, {@code reconnect-interval=SECONDS} and {@code
 * reconnect-max-interval=SECONDS} set the backoff (and imply {@code reconnect=1}). qemu's {@code
 * reconnect-delay=0} is accepted as {@code reconnect=1}: while the connection is down, requests
 * fail at once, as with qemu's default of 0; a longer delay (qemu pauses requests that long) is
 * refused, since jdm never pauses them (a multipath device needs the failure to try another path).
 *
 * @param host TCP host, {@code null} for a Unix socket
 * @param port TCP port
 * @param socket Unix socket path, {@code null} for TCP
 * @param export export name ({@code ""} for the default export)
 * @param tls the connection must use TLS ({@code nbds}, {@code nbds+unix})
 * @param tlsCertificates {@code tls-certificates}, or {@code null}; only with {@code tls}
 * @param tlsHostname {@code tls-hostname}, or {@code null}; only with {@code tls}
 * @param reconnect how to reconnect once the server goes away, or {@code null}: never
 */
public record NbdUri(
    String host,
    int port,
    Path socket,
    String export,
    boolean tls,
    Path tlsCertificates,
    String tlsHostname,
    NbdReconnect reconnect) {

  public NbdUri {
    Objects.requireNonNull(export, "export");
    if ((host == null) == (socket == null)) {
      throw new IllegalArgumentException("an NBD URI names either a host or a socket");
    }
    if (host != null && (port <= 0 || port > 65535)) {
      throw new IllegalArgumentException("port " + port + " (expected: 1..65535)");
    }
    if (!tls && (tlsCertificates != null || tlsHostname != null)) {
      throw new IllegalArgumentException("TLS certificates or host name without TLS");
    }
  }

  /** A URI without TLS. */
  public NbdUri(String host, int port, Path socket, String export) {
    this(host, port, socket, export, false, null, null, null);
  }

  /** A URI without reconnection. */
  public NbdUri(
      String host,
      int port,
      Path socket,
      String export,
      boolean tls,
      Path tlsCertificates,
      String tlsHostname) {
    this(host, port, socket, export, tls, tlsCertificates, tlsHostname, null);
  }

  /** This URI reconnecting as {@code r} says ({@code null}: never). */
  public NbdUri withReconnect(NbdReconnect r) {
    return new NbdUri(host, port, socket, export, tls, tlsCertificates, tlsHostname, r);
  }

  /**
   * This URI with TLS required ({@code nbds}), the client credentials in {@code certificates}
   * ({@code null}: the JDK's default trust store, no client certificate).
   */
  public NbdUri withTls(Path certificates) {
    return new NbdUri(host, port, socket, export, true, certificates, tlsHostname, reconnect);
  }

  /** {@code nbd://host:port/export}. */
  public static NbdUri tcp(String host, int port, String export) {
    return new NbdUri(host, port, null, export);
  }

  /** {@code nbd+unix:///export?socket=path}. */
  public static NbdUri unix(Path socket, String export) {
    return new NbdUri(null, 0, socket, export);
  }

  /** {@code true} if {@code s} starts with an NBD URI scheme ({@code nbd:}, {@code nbd+...:}). */
  public static boolean looksLikeNbdUri(String s) {
    return s.startsWith("nbd://")
        || s.startsWith("nbd+")
        || s.startsWith("nbds://")
        || s.startsWith("nbds+");
  }

  /**
   * Parses an NBD URI.
   *
   * @throws IllegalArgumentException naming the URI and what is wrong with it
   */
  public static NbdUri parse(String uri) {
    URI u;
    try {
      u = new URI(uri);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("NBD URI '" + uri + "': " + e.getMessage(), e);
    }
    String scheme = u.getScheme();
    if (scheme == null) {
      throw bad(uri, "no scheme (expected nbd:// or nbd+unix://)");
    }
    String export = exportOf(uri, u);
    boolean tls = scheme.startsWith("nbds");
    String socket = null;
    Path tlsCertificates = null;
    String tlsHostname = null;
    boolean reconnect = false;
    java.time.Duration interval = null;
    java.time.Duration maxInterval = null;
    String query = u.getRawQuery();
    if (query != null && !query.isEmpty()) {
      for (String param : query.split("&")) {
        int eq = param.indexOf('=');
        String key = eq < 0 ? param : param.substring(0, eq);
        String value =
            eq < 0
                ? ""
                : java.net.URLDecoder.decode(
                    param.substring(eq + 1).replace("+", "%2B"), StandardCharsets.UTF_8);
        if (key.equals("socket")) {
          socket = value;
        } else if (key.equals("reconnect")) {
          if (!value.equals("1") && !value.equals("0")) {
            throw bad(uri, "reconnect=" + value + " (expected 1 or 0)");
          }
          reconnect = value.equals("1");
        } else if (key.equals("reconnect-delay")) {
          if (!value.equals("0")) {
            throw bad(
                uri,
                "reconnect-delay="
                    + value
                    + ": jdm never pauses requests while it reconnects, they fail at once (a"
                    + " multipath device then tries another path); only reconnect-delay=0");
          }
          reconnect = true;
        } else if (key.equals("reconnect-interval") || key.equals("reconnect-max-interval")) {
          java.time.Duration d;
          try {
            d = NbdReconnect.parseSeconds(key, value);
          } catch (IllegalArgumentException e) {
            throw bad(uri, e.getMessage());
          }
          if (key.equals("reconnect-interval")) {
            interval = d;
          } else {
            maxInterval = d;
          }
          reconnect = true;
        } else if (key.startsWith("tls") && !tls) {
          throw bad(uri, "TLS parameter '" + key + "' belongs to nbds:// and nbds+unix:// URIs");
        } else if (key.equals("tls-certificates")) {
          tlsCertificates = Path.of(value);
        } else if (key.equals("tls-hostname")) {
          tlsHostname = value;
        } else if (key.equals("tls-verify-peer")) {
          if (!value.equals("1") && !value.equals("true")) {
            throw bad(uri, "tls-verify-peer=" + value + ": jdm always verifies the server");
          }
        } else if (key.equals("tls-type")) {
          if (!value.equals("x509")) {
            throw bad(
                uri, "tls-type=" + value + ": only x509 (the JDK has no TLS-PSK cipher suites)");
          }
        } else if (key.startsWith("tls")) {
          throw bad(
              uri,
              "TLS parameter '"
                  + key
                  + "' is not supported (jdm knows: tls-certificates, tls-hostname,"
                  + " tls-verify-peer=1, tls-type=x509)");
        } else {
          throw bad(
              uri,
              "unknown query parameter '"
                  + key
                  + "' (jdm knows: socket, tls-*, reconnect, reconnect-delay=0,"
                  + " reconnect-interval, reconnect-max-interval)");
        }
      }
    }
    NbdUri plain;
    switch (scheme) {
      case "nbd":
      case "nbds":
        {
          if (socket != null) {
            throw bad(uri, "socket= belongs to nbd+unix:// URIs");
          }
          String host = u.getHost();
          if (host == null || host.isEmpty()) {
            throw bad(uri, "no host (expected nbd://HOST[:PORT]/EXPORT)");
          }
          if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
          }
          int port = u.getPort() < 0 ? Nbd.DEFAULT_PORT : u.getPort();
          plain = tcp(host, port, export);
          break;
        }
      case "nbd+unix":
      case "nbds+unix":
        if (u.getRawAuthority() != null && !u.getRawAuthority().isEmpty()) {
          throw bad(uri, "a host is not allowed (expected nbd+unix:///EXPORT?socket=PATH)");
        }
        if (socket == null || socket.isEmpty()) {
          throw bad(uri, "no socket= parameter (expected nbd+unix:///EXPORT?socket=PATH)");
        }
        plain = unix(Path.of(socket), export);
        break;
      case "nbd+vsock":
      case "nbds+vsock":
        throw bad(uri, "vsock is not supported");
      default:
        throw bad(uri, "scheme '" + scheme + "' (expected nbd, nbd+unix, nbds or nbds+unix)");
    }
    NbdReconnect r = null;
    if (reconnect) {
      java.time.Duration i = interval != null ? interval : NbdReconnect.DEFAULT.interval();
      java.time.Duration m =
          maxInterval != null
              ? maxInterval
              : i.compareTo(NbdReconnect.DEFAULT.maxInterval()) > 0
                  ? i
                  : NbdReconnect.DEFAULT.maxInterval();
      try {
        r = new NbdReconnect(i, m);
      } catch (IllegalArgumentException e) {
        throw bad(uri, e.getMessage());
      }
    }
    return new NbdUri(
        plain.host,
        plain.port,
        plain.socket,
        export,
        tls,
        tls ? tlsCertificates : null,
        tls ? tlsHostname : null,
        r);
  }

  private static String exportOf(String uri, URI u) {
    String path = u.getPath();
    if (path == null || path.isEmpty()) {
      return "";
    }
    if (!path.startsWith("/")) {
      throw bad(uri, "the export must follow a '/'");
    }
    return path.substring(1);
  }

  private static IllegalArgumentException bad(String uri, String why) {
    return new IllegalArgumentException("NBD URI '" + uri + "': " + why);
  }

  /** The address to connect to (a TCP host name is resolved now). */
  public SocketAddress address() {
    return socket != null ? UnixDomainSocketAddress.of(socket) : new InetSocketAddress(host, port);
  }

  /** The canonical text: {@code parse(toString())} equals this URI. */
  @Override
  public String toString() {
    String e = encodePath(export);
    StringBuilder q = new StringBuilder();
    if (socket != null) {
      q.append("&socket=").append(encodeQuery(socket.toString()));
    }
    if (tlsCertificates != null) {
      q.append("&tls-certificates=").append(encodeQuery(tlsCertificates.toString()));
    }
    if (tlsHostname != null) {
      q.append("&tls-hostname=").append(encodeQuery(tlsHostname));
    }
    if (reconnect != null) {
      if (reconnect.equals(NbdReconnect.DEFAULT)) {
        q.append("&reconnect=1");
      } else {
        q.append("&reconnect-interval=").append(NbdReconnect.seconds(reconnect.interval()));
        q.append("&reconnect-max-interval=").append(NbdReconnect.seconds(reconnect.maxInterval()));
      }
    }
    String query = q.length() == 0 ? "" : "?" + q.substring(1);
    String scheme = tls ? "nbds" : "nbd";
    if (socket != null) {
      return scheme + "+unix:///" + e + query;
    }
    String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
    return scheme + "://" + h + (port == Nbd.DEFAULT_PORT ? "" : ":" + port) + "/" + e + query;
  }

  private static String encodePath(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20").replace("%2F", "/");
  }

  private static String encodeQuery(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("%2F", "/").replace("+", "%20");
  }
}
