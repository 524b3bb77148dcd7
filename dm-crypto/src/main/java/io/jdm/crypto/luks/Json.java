package io.jdm.crypto.luks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Base64;

/**
 * Typed, path-named access to LUKS2 JSON: u64 values are decimal strings, binary is base64, small
 * numbers are JSON integers ({@code lib/luks2/luks2_json_metadata.c}). Every failure is a {@link
 * LuksException} naming the JSON path and the rule.
 */
final class Json {
  private final String where;

  /**
   * @param where the header copy, for messages: {@code LUKS2 header at offset 0}
   */
  Json(String where) {
    this.where = where;
  }

  LuksException error(String path, String rule) {
    return new LuksException(where + ": JSON " + path + ": " + rule);
  }

  JsonNode field(JsonNode parent, String key, String path) throws LuksException {
    JsonNode n = parent.get(key);
    if (n == null || n.isNull()) {
      throw error(path + "." + key, "missing");
    }
    return n;
  }

  ObjectNode object(JsonNode parent, String key, String path) throws LuksException {
    JsonNode n = field(parent, key, path);
    if (!n.isObject()) {
      throw error(path + "." + key, "expected an object");
    }
    return (ObjectNode) n;
  }

  ArrayNode array(JsonNode parent, String key, String path) throws LuksException {
    JsonNode n = field(parent, key, path);
    if (!n.isArray()) {
      throw error(path + "." + key, "expected an array");
    }
    return (ArrayNode) n;
  }

  String string(JsonNode parent, String key, String path) throws LuksException {
    JsonNode n = field(parent, key, path);
    if (!n.isTextual()) {
      throw error(path + "." + key, "expected a string");
    }
    return n.textValue();
  }

  /** A u64 stored as a decimal string. */
  long u64(JsonNode parent, String key, String path) throws LuksException {
    String s = string(parent, key, path);
    return parseU64(s, path + "." + key);
  }

  long parseU64(String s, String path) throws LuksException {
    if (s.isEmpty() || s.length() > 20 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw error(path, "\"" + s + "\" is not a decimal u64 string");
    }
    try {
      long v = Long.parseUnsignedLong(s);
      if (v < 0) {
        throw error(path, s + " is too large for jdm (expected: < 2^63)");
      }
      return v;
    } catch (NumberFormatException e) {
      throw error(path, s + " is not a u64");
    }
  }

  /** A JSON integer in {@code [min, max]}. */
  long integer(JsonNode parent, String key, String path, long min, long max) throws LuksException {
    JsonNode n = field(parent, key, path);
    if (!n.isIntegralNumber() || !n.canConvertToLong()) {
      throw error(path + "." + key, "expected an integer");
    }
    long v = n.longValue();
    if (v < min || v > max) {
      throw error(path + "." + key, v + " (expected: " + min + " <= value <= " + max + ")");
    }
    return v;
  }

  byte[] base64(JsonNode parent, String key, String path) throws LuksException {
    String s = string(parent, key, path);
    try {
      return Base64.getDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      throw error(path + "." + key, "not base64 (" + e.getMessage() + ")");
    }
  }

  /** A member id: a decimal number, as {@code "0"}. */
  int id(String key, String path, int max) throws LuksException {
    if (key.isEmpty() || key.length() > 9 || !key.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw error(path + "." + key, "member name is not a decimal id");
    }
    int v = Integer.parseInt(key);
    if (v > max) {
      throw error(path + "." + key, "id " + v + " (expected: <= " + max + ")");
    }
    return v;
  }
}
