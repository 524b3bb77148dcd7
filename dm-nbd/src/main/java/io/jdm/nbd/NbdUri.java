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
 * doc/uri.md} of NetworkBlockDevice/nbd), for the two transports jdm supports:
 *
 * <ul>
 *   <li>{@code nbd://HOST[:PORT][/EXPORT]}: TCP, port 10809 by default;
 *   <li>{@code nbd+unix:///[EXPORT]?socket=PATH}: a Unix-domain socket.
 * </ul>
 *
 * <p>The export name is the path without its leading {@code /}, percent-decoded; an empty name is
 * the server's default export. TLS ({@code nbds}) and vsock are not supported and are rejected with
 * a message saying so.
 *
 * @param host TCP host, {@code null} for a Unix socket
 * @param port TCP port
 * @param socket Unix socket path, {@code null} for TCP
 * @param export export name ({@code ""} for the default export)
 */
public record NbdUri(String host, int port, Path socket, String export) {

  public NbdUri {
    Objects.requireNonNull(export, "export");
    if ((host == null) == (socket == null)) {
      throw new IllegalArgumentException("an NBD URI names either a host or a socket");
    }
    if (host != null && (port <= 0 || port > 65535)) {
      throw new IllegalArgumentException("port " + port + " (expected: 1..65535)");
    }
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
    String socket = null;
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
        } else if (key.startsWith("tls")) {
          throw bad(
              uri, "TLS parameter '" + key + "' is not supported (jdm speaks NBD without TLS)");
        } else {
          throw bad(uri, "unknown query parameter '" + key + "' (jdm knows: socket)");
        }
      }
    }
    switch (scheme) {
      case "nbd":
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
          return tcp(host, port, export);
        }
      case "nbd+unix":
        if (u.getRawAuthority() != null && !u.getRawAuthority().isEmpty()) {
          throw bad(uri, "a host is not allowed (expected nbd+unix:///EXPORT?socket=PATH)");
        }
        if (socket == null || socket.isEmpty()) {
          throw bad(uri, "no socket= parameter (expected nbd+unix:///EXPORT?socket=PATH)");
        }
        return unix(Path.of(socket), export);
      case "nbds":
      case "nbds+unix":
      case "nbds+vsock":
        throw bad(uri, "TLS (" + scheme + ") is not supported");
      case "nbd+vsock":
        throw bad(uri, "vsock is not supported");
      default:
        throw bad(uri, "scheme '" + scheme + "' (expected nbd or nbd+unix)");
    }
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
    if (socket != null) {
      return "nbd+unix:///" + e + "?socket=" + encodeQuery(socket.toString());
    }
    String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
    return "nbd://" + h + (port == Nbd.DEFAULT_PORT ? "" : ":" + port) + "/" + e;
  }

  private static String encodePath(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20").replace("%2F", "/");
  }

  private static String encodeQuery(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("%2F", "/").replace("+", "%20");
  }
}
