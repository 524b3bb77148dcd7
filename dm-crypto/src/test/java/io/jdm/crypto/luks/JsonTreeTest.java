package io.jdm.crypto.luks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * {@link JsonTree} gives the nodes and bytes an {@code ObjectMapper} gives, and refuses as it does.
 */
class JsonTreeTest {
  private static final ObjectMapper MAPPER =
      JsonMapper.builder()
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .build();

  /** A LUKS2 header's JSON as jdm writes it, plus every other kind of value. */
  @Test
  void sameTreeAndBytesAsObjectMapper() throws Exception {
    Luks2 h = Luks2.read(LuksImages.luks2());
    String luks = new String(JsonTree.write(h.json), StandardCharsets.UTF_8);
    String other =
        "{\"a\":[1,-2,3000000000,123456789012345678901234567890,1.5,-2.5e-3,true,false,null,"
            + "\"\\u00e4\\n\\\"\",[],{}],\"b\":{\"c\":{}},\"\":\"\"}";
    for (String text : new String[] {luks, other}) {
      JsonNode ours = JsonTree.read(text);
      JsonNode theirs = MAPPER.readTree(text);
      assertThat(ours).isEqualTo(theirs);
      assertThat(JsonTree.write(ours)).isEqualTo(MAPPER.writeValueAsBytes(theirs));
    }
    assertThat(luks).startsWith("{\"keyslots\":{\"0\":{\"type\":\"luks2\"");
  }

  @Test
  void refusesWhatObjectMapperRefuses() throws Exception {
    for (String bad :
        new String[] {
          "{\"a\":1,\"a\":2}", "{\"a\":1} trailing", "{\"a\":1} {}", "{\"a\":", "[1,]"
        }) {
      assertThatThrownBy(() -> MAPPER.readTree(bad)).isInstanceOf(JsonProcessingException.class);
      assertThatThrownBy(() -> JsonTree.read(bad))
          .as(bad)
          .isInstanceOf(JsonProcessingException.class);
    }
    assertThat(JsonTree.read("")).isNull();
    assertThat(JsonTree.read("  ")).isNull();
  }
}
