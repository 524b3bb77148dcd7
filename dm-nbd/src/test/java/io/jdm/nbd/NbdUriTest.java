package io.jdm.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** libnbd's URI syntax, and the resolver keys built from it. */
class NbdUriTest {
  @Test
  void tcpUris() {
    assertThat(NbdUri.parse("nbd://example.com/disk"))
        .isEqualTo(NbdUri.tcp("example.com", 10809, "disk"));
    assertThat(NbdUri.parse("nbd://10.0.0.1:10900/")).isEqualTo(NbdUri.tcp("10.0.0.1", 10900, ""));
    assertThat(NbdUri.parse("nbd://host")).isEqualTo(NbdUri.tcp("host", 10809, ""));
    assertThat(NbdUri.parse("nbd://[::1]:7000/a%20b")).isEqualTo(NbdUri.tcp("::1", 7000, "a b"));
    assertThat(NbdUri.parse("nbd://host/vg/lv").export()).isEqualTo("vg/lv");
  }

  @Test
  void unixUris() {
    assertThat(NbdUri.parse("nbd+unix:///vol?socket=/run/jdm/nbd.sock"))
        .isEqualTo(NbdUri.unix(Path.of("/run/jdm/nbd.sock"), "vol"));
    assertThat(NbdUri.parse("nbd+unix://?socket=/tmp/s").export()).isEmpty();
    assertThat(NbdUri.parse("nbd+unix:///?socket=/tmp/a%2Bb").socket())
        .isEqualTo(Path.of("/tmp/a+b"));
  }

  @Test
  void tlsUris() {
    NbdUri t = NbdUri.parse("nbds://example.com/disk?tls-certificates=/etc/pki/jdm");
    assertThat(t.tls()).isTrue();
    assertThat(t.tlsCertificates()).isEqualTo(Path.of("/etc/pki/jdm"));
    assertThat(t)
        .isEqualTo(NbdUri.tcp("example.com", 10809, "disk").withTls(Path.of("/etc/pki/jdm")));
    NbdUri u =
        NbdUri.parse("nbds+unix:///vol?socket=/s&tls-hostname=server.example&tls-verify-peer=1");
    assertThat(u.socket()).isEqualTo(Path.of("/s"));
    assertThat(u.tlsHostname()).isEqualTo("server.example");
    assertThat(u.tlsCertificates()).isNull();
    assertThat(NbdUri.parse("nbds://h/?tls-type=x509").tls()).isTrue();
    assertThat(NbdUri.parse("nbd://h/").tls()).isFalse();
  }

  @Test
  void canonicalTextParsesBackToTheSameUri() {
    for (String s :
        new String[] {
          "nbd://example.com/disk",
          "nbd://h:1234/",
          "nbd://[::1]:7000/a%20b",
          "nbd+unix:///vol?socket=/run/jdm/nbd.sock",
          "nbd+unix://?socket=/tmp/s",
          "nbd+unix:///x?socket=/tmp/a%2Bb",
          "nbds://h:1234/d?tls-certificates=/etc/pki/a%20b",
          "nbds://h/d",
          "nbds+unix:///vol?socket=/s&tls-certificates=/c&tls-hostname=h.example"
        }) {
      NbdUri u = NbdUri.parse(s);
      assertThat(NbdUri.parse(u.toString())).as(s).isEqualTo(u);
      NbdDeviceResolver r = new NbdDeviceResolver();
      assertThat(r.key(r.key(s))).as("resolver key of %s is stable", s).isEqualTo(r.key(s));
    }
    assertThat(NbdUri.tcp("h", 10809, "d").toString()).isEqualTo("nbd://h/d");
  }

  @Test
  void badUrisSayWhatIsWrong() {
    assertThatThrownBy(() -> NbdUri.parse("nbd+unix:///x"))
        .hasMessageContaining("no socket= parameter");
    assertThatThrownBy(() -> NbdUri.parse("nbds+vsock://2/x")).hasMessageContaining("vsock");
    assertThatThrownBy(() -> NbdUri.parse("nbds://h/x?tls-verify-peer=0"))
        .hasMessageContaining("always verifies");
    assertThatThrownBy(() -> NbdUri.parse("nbds://h/x?tls-type=psk"))
        .hasMessageContaining("TLS-PSK");
    assertThatThrownBy(() -> NbdUri.parse("nbds://h/x?tls-psk-file=/k"))
        .hasMessageContaining("TLS parameter 'tls-psk-file' is not supported");
    assertThatThrownBy(() -> NbdUri.parse("nbd+vsock://2/x")).hasMessageContaining("vsock");
    assertThatThrownBy(() -> NbdUri.parse("nbd:///x")).hasMessageContaining("no host");
    assertThatThrownBy(() -> NbdUri.parse("nbd://h/x?socket=/s"))
        .hasMessageContaining("socket= belongs to nbd+unix://");
    assertThatThrownBy(() -> NbdUri.parse("nbd://h/x?tls-certificates=/c"))
        .hasMessageContaining("TLS parameter 'tls-certificates' belongs to nbds://");
    assertThatThrownBy(() -> NbdUri.parse("http://h/x")).hasMessageContaining("scheme 'http'");
    assertThat(new NbdDeviceResolver().key("/dev/sda")).isNull();
    assertThat(new NbdDeviceResolver().key("vg-lv")).isNull();
  }
}
