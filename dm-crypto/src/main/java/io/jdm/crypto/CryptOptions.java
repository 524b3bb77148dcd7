package io.jdm.crypto;

import io.jdm.core.ArgSet;
import io.jdm.core.TargetException;

/**
 * A crypt line's optional parameters, parsed as {@code crypt_ctr_optional} parses them (and before
 * the cipher, as the kernel does).
 */
record CryptOptions(
    boolean allowDiscards,
    boolean sameCpuCrypt,
    boolean highPriority,
    boolean submitFromCryptCpus,
    boolean noReadWorkqueue,
    boolean noWriteWorkqueue,
    int sectorSize,
    boolean ivLargeSectors,
    int integrityKeySize) {

  private static final int MAX_TAG_SIZE = 480;
  private static final ArgSet.Spec FEATURES =
      new ArgSet.Spec(0, 9, "Invalid number of feature args");

  static CryptOptions parse(long length, String[] args) {
    boolean discards = false;
    boolean sameCpu = false;
    boolean highPriority = false;
    boolean noOffload = false;
    boolean noRead = false;
    boolean noWrite = false;
    int sectorSize = 512;
    boolean ivLarge = false;
    int integrityKeySize = 0;
    if (args.length > 5) {
      ArgSet as = new ArgSet(args);
      as.consume(5);
      ArgSet features = as.group(FEATURES);
      while (features.hasNext()) {
        String opt = features.next();
        if (ArgSet.equalsIgnoreCase(opt, "allow_discards")) {
          discards = true;
        } else if (ArgSet.equalsIgnoreCase(opt, "same_cpu_crypt")) {
          sameCpu = true;
        } else if (ArgSet.equalsIgnoreCase(opt, "high_priority")) {
          highPriority = true;
        } else if (ArgSet.equalsIgnoreCase(opt, "submit_from_crypt_cpus")) {
          noOffload = true;
        } else if (ArgSet.equalsIgnoreCase(opt, "no_read_workqueue")) {
          noRead = true;
        } else if (ArgSet.equalsIgnoreCase(opt, "no_write_workqueue")) {
          noWrite = true;
        } else if (opt.startsWith("integrity:") && leadingNumber(opt, 10) >= 0) {
          long tag = leadingNumber(opt, 10);
          if (tag == 0 || tag > MAX_TAG_SIZE) {
            throw new TargetException("Invalid integrity arguments");
          }
          int colon = opt.indexOf(':', 10);
          String profile = colon < 0 ? "" : opt.substring(colon + 1);
          if (!ArgSet.equalsIgnoreCase(profile, "aead")
              && !ArgSet.equalsIgnoreCase(profile, "none")) {
            throw new TargetException("Unknown integrity profile");
          }
          throw new TargetException(
              "Integrity profile not supported. (jdm has no dm-integrity: " + opt + ")");
        } else if (opt.startsWith("integrity_key_size:") && isNumber(opt.substring(19))) {
          long v = ArgSet.parseDecimal(opt.substring(19));
          if (v <= 0 || v > 0xFFFF_FFFFL) {
            throw new TargetException("Invalid integrity_key_size argument");
          }
          integrityKeySize = (int) Math.min(v, Integer.MAX_VALUE);
        } else if (opt.startsWith("sector_size:") && isNumber(opt.substring(12))) {
          long v = ArgSet.parseDecimal(opt.substring(12));
          if (v < 512 || v > 4096 || Long.bitCount(v) != 1) {
            throw new TargetException("Invalid feature value for sector_size");
          }
          if ((length & ((v >>> 9) - 1)) != 0) {
            throw new TargetException("Device size is not multiple of sector_size feature");
          }
          sectorSize = (int) v;
        } else if (ArgSet.equalsIgnoreCase(opt, "iv_large_sectors")) {
          ivLarge = true;
        } else {
          throw new TargetException("Invalid feature arguments");
        }
      }
    }
    return new CryptOptions(
        discards,
        sameCpu,
        highPriority,
        noOffload,
        noRead,
        noWrite,
        sectorSize,
        ivLarge,
        integrityKeySize);
  }

  /** The decimal number at {@code from} (digits up to a non-digit), or -1 if there is none. */
  private static long leadingNumber(String s, int from) {
    int end = from;
    while (end < s.length() && Character.isDigit(s.charAt(end)) && s.charAt(end) < 128) {
      end++;
    }
    return end == from ? -1 : ArgSet.parseDecimal(s.substring(from, end));
  }

  private static boolean isNumber(String s) {
    return ArgSet.parseDecimal(s) >= 0;
  }

  /** The options as the kernel's status prints them: {@code " <n> opt..."} or empty. */
  String tableText() {
    StringBuilder sb = new StringBuilder();
    int n = 0;
    if (allowDiscards) {
      sb.append(" allow_discards");
      n++;
    }
    if (sameCpuCrypt) {
      sb.append(" same_cpu_crypt");
      n++;
    }
    if (highPriority) {
      sb.append(" high_priority");
      n++;
    }
    if (submitFromCryptCpus) {
      sb.append(" submit_from_crypt_cpus");
      n++;
    }
    if (noReadWorkqueue) {
      sb.append(" no_read_workqueue");
      n++;
    }
    if (noWriteWorkqueue) {
      sb.append(" no_write_workqueue");
      n++;
    }
    if (sectorSize != 512) {
      sb.append(" sector_size:").append(sectorSize);
      n++;
    }
    if (ivLargeSectors) {
      sb.append(" iv_large_sectors");
      n++;
    }
    if (integrityKeySize != 0) {
      sb.append(" integrity_key_size:").append(integrityKeySize);
      n++;
    }
    return n == 0 ? "" : " " + n + sb;
  }
}
