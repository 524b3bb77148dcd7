package io.jdm.crypto;

import io.jdm.core.ArgSet;
import io.jdm.core.DmDev;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import io.jdm.crypto.engine.CipherSpec;
import io.jdm.crypto.engine.SectorCiphers;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * {@code crypt <cipher> <key> <iv_offset> <dev> <offset> [<#opt_params> <opt_params>...]}: a device
 * encrypted sector by sector exactly as Linux dm-crypt encrypts it ({@code drivers/md/dm-crypt.c},
 * v1.28.0), so images move between jdm and Linux. See {@link CryptTarget}.
 *
 * <ul>
 *   <li>{@code <cipher>}: {@code cipher[:keycount]-chainmode-ivmode[:ivopts]} ({@code
 *       aes-xts-plain64}, {@code aes-cbc-essiv:sha256}, {@code serpent-xts-plain64}) or {@code
 *       capi:chainmode(cipher)-ivmode} ({@code capi:xts(aes)-plain64}); ciphers aes, serpent,
 *       twofish; modes xts, cbc, ecb; IV modes plain, plain64, plain64be, essiv, benbi, null,
 *       eboiv.
 *   <li>{@code <key>}: hex, {@code -} for none, or {@code :<size>:<type>:<description>} looked up
 *       through a {@link KeyProvider}.
 *   <li>options: {@code allow_discards}, {@code sector_size:<512..4096>}, {@code iv_large_sectors};
 *       {@code same_cpu_crypt}, {@code high_priority}, {@code submit_from_crypt_cpus}, {@code
 *       no_read_workqueue}, {@code no_write_workqueue} are taken and shown but change nothing: jdm
 *       always encrypts on the submitting thread and decrypts on the completing one, which is what
 *       the last two ask of the kernel. {@code integrity:...} is refused (jdm has no dm-integrity).
 * </ul>
 *
 * <p>Beyond the kernel: a hex key with an odd number of digits is refused (the kernel ignores the
 * last digit).
 */
public final class CryptTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 28, 0);

  private final List<KeyProvider> providers;

  /** The type found by {@link ServiceLoader}; keyring keys come from ServiceLoader providers. */
  public CryptTargetType() {
    this.providers = null;
  }

  /**
   * A type that takes keyring keys from {@code providers} (register it in place of the default).
   */
  public CryptTargetType(KeyProvider... providers) {
    this.providers = List.of(providers);
  }

  @Override
  public String name() {
    return "crypt";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  List<KeyProvider> providers() {
    if (providers != null) {
      return providers;
    }
    List<KeyProvider> found = new ArrayList<>();
    ServiceLoader.load(KeyProvider.class, CryptTargetType.class.getClassLoader())
        .forEach(found::add);
    return found;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length < 5) {
      throw new TargetException("Not enough arguments");
    }
    CryptKey.Size keySize = CryptKey.parseSize(args[1]);
    CryptOptions opts = CryptOptions.parse(length, args);
    CipherSpec spec;
    try {
      spec = CipherSpec.parse(args[0]);
      SectorCiphers.checkSpec(spec);
    } catch (IllegalArgumentException e) {
      throw new TargetException(e.getMessage());
    }
    CryptKey key = CryptKey.resolve(args[1], keySize, this);
    CryptTarget target = null;
    try {
      target = new CryptTarget(spec, key, opts, begin, length);
      long ivOffset = ArgSet.parseSector(args[2], "Invalid iv_offset sector");
      if ((ivOffset & ((opts.sectorSize() >>> 9) - 1)) != 0) {
        throw new TargetException("Invalid iv_offset sector");
      }
      DmDev dev = ctx.getDevice(args[3], "Device lookup failed");
      long start = ArgSet.parseSector(args[4], "Invalid device sector");
      target.bind(ivOffset, dev, start);
      return target;
    } catch (RuntimeException e) {
      if (target != null) {
        target.close();
      } else {
        key.wipe();
      }
      throw e;
    }
  }
}
