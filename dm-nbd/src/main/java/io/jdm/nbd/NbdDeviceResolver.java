package io.jdm.nbd;

import io.jdm.core.BlockDevice;
import io.jdm.core.Clock;
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
 *
 * <p>A URI may ask the device to reconnect once its server goes away ({@code reconnect=1}, {@code
 * reconnect-interval=SECONDS}, {@code reconnect-max-interval=SECONDS}: {@link NbdReconnect}); a
 * resolver made with a default reconnection applies it to every URI that does not say. The backoff
 * is timed by the resolver's clock, the device mapper's for {@link #install}.
 */
public final class NbdDeviceResolver implements DeviceResolver {
  /** The kernel's NBD major number, for {@code dmsetup deps}-style output. */
  public static final int NBD_MAJOR = 43;

  private final Clock clock; // null: the system clock
  private final NbdReconnect defaultReconnect; // null: only where a URI asks

  /**
   * A resolver whose devices time reconnections by the system clock; add it with {@link
   * DeviceMapper#addResolver} or use {@link #install}.
   */
  public NbdDeviceResolver() {
    this(null, null);
  }

  /**
   * A resolver whose devices time reconnections by {@code clock} ({@code null}: the system clock)
   * and reconnect as {@code defaultReconnect} says where a URI does not ask for a reconnection
   * ({@code null}: only where it asks).
   */
  public NbdDeviceResolver(Clock clock, NbdReconnect defaultReconnect) {
    this.clock = clock;
    this.defaultReconnect = defaultReconnect;
  }

  /** Adds an NBD resolver on {@code dm}'s clock to {@code dm} and returns {@code dm}. */
  public static DeviceMapper install(DeviceMapper dm) {
    return install(dm, null);
  }

  /**
   * Adds an NBD resolver on {@code dm}'s clock to {@code dm}, its devices reconnecting as {@code
   * defaultReconnect} says unless their URI asks otherwise, and returns {@code dm}.
   */
  public static DeviceMapper install(DeviceMapper dm, NbdReconnect defaultReconnect) {
    dm.addResolver(new NbdDeviceResolver(dm.clock(), defaultReconnect));
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
    if (uri.reconnect() == null && defaultReconnect != null) {
      uri = uri.withReconnect(defaultReconnect);
    }
    return NbdBlockDevice.open(uri, readOnly, clock);
  }

  @Override
  public int major() {
    return NBD_MAJOR;
  }
}
