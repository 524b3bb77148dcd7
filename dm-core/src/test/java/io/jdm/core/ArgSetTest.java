package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ArgSetTest {
  @Test
  void caseFoldingIsAsciiOnlyAsStrcasecmp() {
    assertThat(ArgSet.equalsIgnoreCase("MaRk", "mark")).isTrue();
    assertThat(ArgSet.equalsIgnoreCase("mark", "marks")).isFalse();
    assertThat(ArgSet.equalsIgnoreCase("mar\u212a", "mark")).as("Kelvin sign").isFalse();
    assertThat("mar\u212a".equalsIgnoreCase("mark")).as("what Java would say").isTrue();
    assertThat(ArgSet.toLowerAscii("Drop_Writes")).isEqualTo("drop_writes");
    assertThat(ArgSet.toLowerAscii("\u0130D")).isEqualTo("\u0130d");
    String lower = "already";
    assertThat(ArgSet.toLowerAscii(lower)).isSameAs(lower);
  }

  @Test
  void decimalsAreStrict() {
    assertThat(ArgSet.parseDecimal("0")).isZero();
    assertThat(ArgSet.parseDecimal("0042")).isEqualTo(42);
    assertThat(ArgSet.parseDecimal("9223372036854775807")).isEqualTo(Long.MAX_VALUE);
    for (String bad :
        new String[] {"", "-1", "+1", " 1", "1 ", "0x10", "1a", "9223372036854775808", "١"}) {
      assertThat(ArgSet.parseDecimal(bad)).as("\"%s\"", bad).isEqualTo(-1);
    }
    assertThat(ArgSet.parseDecimal(null)).isEqualTo(-1);
  }

  @Test
  void sectorsAreBoundedSoBytesCannotOverflow() {
    assertThat(ArgSet.parseSector(Long.toString(ArgSet.MAX_SECTOR), "e"))
        .isEqualTo(ArgSet.MAX_SECTOR);
    assertThatThrownBy(() -> ArgSet.parseSector(Long.toString(ArgSet.MAX_SECTOR + 1), "Invalid"))
        .isInstanceOf(TargetException.class)
        .hasMessage("Invalid");
  }

  @Test
  void readsArgumentsAndGroupsAsTheKernel() {
    ArgSet as = new ArgSet("2", "allow_discards", "sector_size:4096", "7");
    int n = as.readArgGroup(0, 9, "Invalid number of feature args");
    assertThat(n).isEqualTo(2);
    assertThat(as.next()).isEqualTo("allow_discards");
    assertThat(as.peek()).isEqualTo("sector_size:4096");
    as.consume(1);
    assertThat(as.readArg(0, 10, "bad")).isEqualTo(7);
    assertThat(as.hasNext()).isFalse();
    assertThat(as.next()).isNull();
    assertThatThrownBy(() -> as.readArg(0, 1, "missing")).hasMessage("missing");
    assertThatThrownBy(() -> new ArgSet("3", "a").readArgGroup(0, 9, "too many"))
        .hasMessage("too many");
    assertThatThrownBy(() -> new ArgSet("11").readArg(0, 10, "range")).hasMessage("range");
    assertThat(new ArgSet("a", "b", "c").rest()).containsExactly("a", "b", "c");
  }

  @Test
  void uint32() {
    assertThat(ArgSet.parseUint("4294967295", "e")).isEqualTo(0xFFFF_FFFFL);
    assertThatThrownBy(() -> ArgSet.parseUint("4294967296", "e")).hasMessage("e");
  }

  @Test
  void specsGroupsAndTypedReadsFailWithTheCallersText() {
    ArgSet.Spec features = new ArgSet.Spec(0, 2, "Invalid number of feature args");
    ArgSet as = new ArgSet("dev", "2", "allow_discards", "sector_size:4096", "tail");
    assertThat(as.next()).isEqualTo("dev");
    ArgSet g = as.group(features);
    assertThat(g.rest()).containsExactly("allow_discards", "sector_size:4096");
    assertThat(as.rest()).as("the group's words are skipped").containsExactly("tail");
    assertThat(new ArgSet().group(features).hasNext()).as("no group: empty").isFalse();
    assertThatThrownBy(() -> new ArgSet("3", "a", "b", "c").group(features))
        .hasMessage("Invalid number of feature args");
    assertThatThrownBy(() -> new ArgSet("2", "a").group(features))
        .as("more than are left")
        .hasMessage("Invalid number of feature args");
    assertThat(new ArgSet("1").readArg(new ArgSet.Spec(1, 9, "e"))).isEqualTo(1);
    assertThatThrownBy(() -> new ArgSet("0").readArg(new ArgSet.Spec(1, 9, "below")))
        .hasMessage("below");
    assertThatThrownBy(() -> new ArgSet.Spec(3, 2, "e"))
        .isInstanceOf(IllegalArgumentException.class);

    ArgSet nums = new ArgSet("4294967295", "7", "123", "-1");
    assertThat(nums.nextUint("u")).isEqualTo(0xFFFF_FFFFL);
    assertThat(nums.nextLong(1, 10, "l")).isEqualTo(7);
    assertThat(nums.nextSector("s")).isEqualTo(123);
    assertThatThrownBy(() -> nums.nextSector("negative")).hasMessage("negative");
    assertThatThrownBy(() -> nums.nextUint("missing")).hasMessage("missing");
  }
}
