package io.jdm.nbd;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DeviceResolver;
import java.io.IOException;

/**
 * Lets tables name remote NBD exports as devices, in libnbd's URI syntax ({@link NbdUri}): {@code
 * nbd://HOST[:PORT]/EXPORT} and {@code nbd+unix:///EXPORT?socket=PATH}, or with TLS {@code
 * nbds://HOST/EXPORT?tls-certificates=DIR}. Each distinct export is opened once per device mapper,
 * as an {@link NbdBlockDevice}, and closed when no table uses it.
 *
 * <pre>{@code
 * DeviceMapper dm = DeviceMapper.create();
 * NbdDeviceResolver.install(dm);
 * dm.create("wide", "0 262144 striped 2 128 nbd://host-a/disk 0 nbd://host-b/disk 0");
 * }</pre>
 */
public final class NbdDeviceResolver implements DeviceResolver {
  /** The kernel's NBD major number, for {@code dmsetup deps}-style output. */
  public static final int NBD_MAJOR = 43;

  /** A resolver; add it with {@link DeviceMapper#addResolver} or use {@link #install}. */
  public NbdDeviceResolver() {}

  /** Adds an NBD resolver to {@code dm} and returns {@code dm}. */
  public static DeviceMapper install(DeviceMapper dm) {
    dm.addResolver(new NbdDeviceResolver());
    return dm;
  }

  @Override
  public String key(String path) {
    if (!NbdUri.looksLikeNbdUri(path)) {
      return null;
    }
    try {
      return NbdUri.parse(path).toString();
    } catch (IllegalArgumentException e) {
      return path; // claimed, so that open() reports what is wrong with it
    }
  }

  @Override
  public BlockDevice open(String path, boolean readOnly) throws IOException {
    NbdUri uri;
    try {
      uri = NbdUri.parse(path);
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage(), e);
    }
    return NbdBlockDevice.open(uri, readOnly);
  }

  @Override
  public int major() {
    return NBD_MAJOR;
  }
}
