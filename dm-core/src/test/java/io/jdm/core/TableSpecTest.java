package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TableSpecTest {
  @Test
  void parsesLinesCommentsAndBlanks() {
    TableSpec t =
        TableSpec.parse(
            "# a comment\n\n  0 100 linear /dev/a 0   \n100 50\tstriped 2 8 a 0 b 0 # trailing\n");
    assertThat(t.lines()).hasSize(2);
    assertThat(t.lines().get(0)).isEqualTo(new TableSpec.Line(0, 100, "linear", "/dev/a 0"));
    assertThat(t.lines().get(1).args()).containsExactly("2", "8", "a", "0", "b", "0");
    assertThat(t.lineNumber(0)).isEqualTo(3);
    assertThat(t.lineNumber(1)).isEqualTo(4);
  }

  @Test
  void canonicalTextRoundTrips() {
    String text = "0 100 linear 7:0 0\n100 100 zero \n";
    TableSpec t = TableSpec.parse(text);
    assertThat(t.toString()).isEqualTo(text);
    assertThat(TableSpec.parse(t.toString())).isEqualTo(t);
    assertThat(TableSpec.parse("0 100 zero").toString()).isEqualTo("0 100 zero \n");
  }

  @Test
  void backslashEscapesTheNextCharacter() {
    assertThat(TableSpec.splitArgs("a\\ b  c\\\\d e\\")).containsExactly("a b", "c\\d", "e\\");
    assertThat(TableSpec.splitArgs("   ")).isEmpty();
  }

  @Test
  void builderEscapesArguments() {
    TableSpec t =
        TableSpec.builder().add(0, 8, "linear", "/tmp/my disk", "0").append(8, "zero").build();
    assertThat(t.toString()).isEqualTo("0 8 linear /tmp/my\\ disk 0\n8 8 zero \n");
    assertThat(t.lines().get(0).args()).containsExactly("/tmp/my disk", "0");
    assertThat(TableSpec.parse(t.toString())).isEqualTo(t);
    assertThatThrownBy(() -> TableSpec.builder().add(0, 8, "linear", "a#b", "0"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void badNumbersNameTheLine() {
    assertThatThrownBy(() -> TableSpec.parse("0 10 zero\n-5 10 zero"))
        .isInstanceOf(TableException.class)
        .hasMessageStartingWith("line 2: invalid start sector \"-5\"");
    assertThatThrownBy(() -> TableSpec.parse("0 0x10 zero"))
        .hasMessageStartingWith("line 1: invalid length \"0x10\"");
    assertThatThrownBy(() -> TableSpec.parse("0 99999999999999999999 zero"))
        .hasMessageStartingWith("line 1: invalid length");
    assertThatThrownBy(() -> TableSpec.parse("0 1e3 zero")).hasMessageContaining("\"1e3\"");
    assertThatThrownBy(() -> TableSpec.parse("\n\n0 10"))
        .hasMessageStartingWith("line 3: invalid format");
    assertThatThrownBy(() -> TableSpec.parse("0 10 a_type_name_far_too_long"))
        .hasMessageContaining("is too long");
  }

  @Test
  void emptyTextIsAnEmptyTable() {
    assertThat(TableSpec.parse("").isEmpty()).isTrue();
    assertThat(TableSpec.parse("# only a comment\n").isEmpty()).isTrue();
  }
}
