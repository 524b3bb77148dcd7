package io.jdm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The control protocol's encoding: requests, responses, escapes, dot-stuffing. */
class ProtocolTest {

  @Test
  void requestsRoundTripAnyText() {
    Protocol.Request r =
        Protocol.Request.of("message")
            .arg("name", "a b%c=d")
            .arg("arg", "x\ny\tz")
            .arg("arg", "ünï")
            .arg("arg", "")
            .flag("force", true)
            .flag("deferred", false)
            .build();
    String line = r.encode();
    assertThat(line)
        .isEqualTo("message name=a%20b%25c=d arg=x%0Ay%09z arg=%C3%BCn%C3%AF arg= force=1");
    Protocol.Request back = Protocol.Request.decode(line);
    assertThat(back).isEqualTo(r);
    assertThat(back.all("arg")).containsExactly("x\ny\tz", "ünï", "");
    assertThat(back.get("name")).isEqualTo("a b%c=d");
    assertThat(back.flag("force")).isTrue();
    assertThat(back.get("nope")).isNull();
  }

  @Test
  void malformedRequestsAreRefused() {
    assertThatThrownBy(() -> Protocol.Request.decode("")).hasMessageContaining("bad verb");
    assertThatThrownBy(() -> Protocol.Request.decode("Create name=x"))
        .hasMessageContaining("bad verb");
    assertThatThrownBy(() -> Protocol.Request.decode("ls tree"))
        .hasMessageContaining("expected key=value");
    assertThatThrownBy(() -> Protocol.Request.decode("ls =1")).hasMessageContaining("bad argument");
    assertThatThrownBy(() -> Protocol.Request.decode("ls a=%4")).hasMessageContaining("bad escape");
    assertThatThrownBy(() -> Protocol.Request.decode("ls a=%zz"))
        .hasMessageContaining("bad escape");
  }

  @Test
  void responsesRoundTripWithDotStuffing() throws IOException {
    for (String body : List.of("", "\n", "one\n", ".\n..x\nplain\n", "a\n\nb\n")) {
      StringWriter w = new StringWriter();
      Protocol.Response.ok(body).write(w);
      assertThat(w.toString()).endsWith(".\n");
      Protocol.Response back =
          Protocol.Response.read(new BufferedReader(new StringReader(w.toString())));
      assertThat(back).isEqualTo(Protocol.Response.ok(body));
    }
    StringWriter w = new StringWriter();
    Protocol.Response.error("reload", "EINVAL", "line 1:\nlinear: bad").write(w);
    assertThat(w.toString()).isEqualTo("ERR reload EINVAL line 1: linear: bad\n.\n");
    Protocol.Response e =
        Protocol.Response.read(new BufferedReader(new StringReader(w.toString())));
    assertThat(e.ok()).isFalse();
    assertThat(Map.of("ioctl", e.ioctl(), "errno", e.errno(), "message", e.message()))
        .containsEntry("ioctl", "reload")
        .containsEntry("errno", "EINVAL")
        .containsEntry("message", "line 1: linear: bad");
  }

  @Test
  void truncatedOrForeignAnswersAreIoErrors() {
    assertThatThrownBy(() -> Protocol.Response.read(new BufferedReader(new StringReader(""))))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("without answering");
    assertThatThrownBy(
            () -> Protocol.Response.read(new BufferedReader(new StringReader("OK\nhalf\n"))))
        .hasMessageContaining("mid-answer");
    assertThatThrownBy(
            () -> Protocol.Response.read(new BufferedReader(new StringReader("HELLO\n.\n"))))
        .hasMessageContaining("malformed");
  }

  @Test
  void keysAreHiddenOnlyInCryptLines() {
    assertThat(Keys.hide("0 8 crypt aes-xts-plain64 abcd 0 7:0 0 1 allow_discards\n"))
        .isEqualTo("0 8 crypt aes-xts-plain64 0000 0 7:0 0 1 allow_discards\n");
    assertThat(Keys.hide("0 8 crypt aes-cbc-essiv:sha256 :32:logon:my:key 0 7:0 0"))
        .isEqualTo("0 8 crypt aes-cbc-essiv:sha256 :32:logon:my:key 0 7:0 0");
    assertThat(Keys.hide("0 8 crypt cipher_null-ecb - 0 7:0 0\n"))
        .isEqualTo("0 8 crypt cipher_null-ecb - 0 7:0 0\n");
    assertThat(Keys.hide("0 8 linear crypt 0\n8 8 crypt aes ff 0 7:0 0\n"))
        .isEqualTo("0 8 linear crypt 0\n8 8 crypt aes 00 0 7:0 0\n");
  }
}
