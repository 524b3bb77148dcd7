package io.jdm.examples;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.DmDev;
import io.jdm.core.MapResult;
import io.jdm.core.PassThroughTarget;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import java.lang.System.Logger.Level;

/**
 * The classic device-mapper tutorial target, {@code basic_target <device> <offset>}: it passes
 * every bio through to a range of one device, as {@code linear} does, and logs each one, as the
 * tutorial's {@code printk} does. This class plus the line {@code io.jdm.examples.BasicTarget} in
 * {@code META-INF/services/io.jdm.core.TargetType} is all a user target needs:
 *
 * <pre>{@code
 * DeviceMapper dm = DeviceMapper.create();   // finds basic_target through the ServiceLoader
 * dm.create("my_basic_target_device", "0 20000 basic_target /tmp/disk1 0");
 * }</pre>
 *
 * <p>Log lines go to the {@link System.Logger} named {@code io.jdm.examples.BasicTarget} at INFO,
 * for example {@code basic_target_map: write of 512 bytes at sector 10}.
 */
public final class BasicTarget implements TargetType {
  private static final System.Logger LOG = System.getLogger(BasicTarget.class.getName());

  /** For the {@link java.util.ServiceLoader}. */
  public BasicTarget() {}

  @Override
  public String name() {
    return "basic_target";
  }

  @Override
  public TargetVersion version() {
    return TargetVersion.of(1, 0, 0);
  }

  /** The tutorial's {@code basic_target_ctr}: exactly two arguments, a device and an offset. */
  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length != 2) {
      throw new TargetException("Invalid argument count");
    }
    long start = ArgSet.parseSector(args[1], "Invalid device sector");
    DmDev dev = ctx.getDevice(args[0], "Device lookup failed");
    LOG.log(
        Level.INFO,
        "basic_target_ctr: {0} sectors on {1} from sector {2}",
        Long.toString(length),
        args[0],
        Long.toString(start));
    return new Mapping(dev, begin, length, start);
  }

  /**
   * One table line of {@code basic_target}. {@link PassThroughTarget} does what every target over
   * one range of one device needs: the remap, the device area, the table text, and forwarding of
   * flushes (so {@code fsync} reaches the disk), discards and write-zeroes.
   */
  private static final class Mapping extends PassThroughTarget {
    Mapping(DmDev dev, long begin, long length, long start) {
      super(dev, begin, length, start);
    }

    /**
     * The tutorial's {@code basic_target_map}: say what the bio is, point it at the device, and let
     * the core submit it.
     */
    @Override
    public MapResult map(Bio bio) {
      if (LOG.isLoggable(Level.INFO)) {
        LOG.log(
            Level.INFO,
            "basic_target_map: {0} of {1} bytes at sector {2}",
            describe(bio.op()),
            Integer.toString(bio.bytes()),
            Long.toString(bio.sector()));
      }
      return super.map(bio);
    }

    private static String describe(Bio.Op op) {
      switch (op) {
        case READ:
          return "read";
        case WRITE:
          return "write";
        case FLUSH:
          return "flush";
        case DISCARD:
          return "discard";
        default:
          return "write-zeroes";
      }
    }

    @Override
    public void close() {
      LOG.log(Level.INFO, "basic_target_dtr: releasing {0}", dmDev);
    }
  }
}
