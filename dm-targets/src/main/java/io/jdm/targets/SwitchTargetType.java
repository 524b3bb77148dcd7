package io.jdm.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code switch <#paths> <region_size> <#optional_args> (<dev> <offset>){#paths}}: each region of
 * the device goes to one of several paths, chosen by a table the {@code set_region_mappings}
 * message rewrites ({@code drivers/md/dm-switch.c}, v1.1.0). Every path holds the whole address
 * space: relative sector {@code x} of region {@code r} goes to {@code offset[path(r)] + x}.
 * Initially region {@code r} uses path {@code r % #paths}.
 *
 * <p>The message takes hexadecimal arguments: {@code <region>:<path>}, {@code :<path>} (the region
 * after the previous one), and {@code R<n>,<m>} (repeat the previous {@code n} mappings over the
 * next {@code m} regions). As in Linux 6.12 there are no optional arguments, empty flushes are not
 * forwarded, and discards go through.
 */
public final class SwitchTargetType implements TargetType {
  /** Creates the type; instances are found through {@link java.util.ServiceLoader}. */
  public SwitchTargetType() {}

  private static final TargetVersion VERSION = TargetVersion.of(1, 1, 0);
  private static final int MAX_PATHS = ((4 << 20) - 40) / 16;

  @Override
  public String name() {
    return "switch";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    ArgSet as = new ArgSet(args);
    // (KMALLOC_MAX_SIZE - sizeof(struct switch_ctx)) / sizeof(struct switch_path) on x86-64
    int paths = as.readArg(1, MAX_PATHS, "Invalid number of paths");
    long regionSize = ArgSet.parseLong(as.next(), 1, 0xFFFF_FFFFL, "Invalid region size");
    as.readArgGroup(0, 0, "Invalid number of optional args");
    if (as.remaining() != 2L * paths) {
      throw new TargetException("Incorrect number of path arguments");
    }
    DmDev[] devs = new DmDev[paths];
    long[] starts = new long[paths];
    for (int i = 0; i < paths; i++) {
      devs[i] = ctx.getDevice(as.next(), "Device lookup failed");
      starts[i] = ArgSet.parseSector(as.next(), "Invalid device starting offset");
    }
    long regions = (length + regionSize - 1) / regionSize;
    return new Switch(begin, length, regionSize, regions, devs, starts);
  }

  /** The region table packs one small path number per region into longs, as the kernel's. */
  private static final class Switch implements Target {
    private static final VarHandle SLOTS = MethodHandles.arrayElementVarHandle(long[].class);

    private final long begin;
    private final long length;
    private final long regionSize;
    private final int regionShift;
    private final long regions;
    private final DmDev[] dmDevs;
    private final BlockDevice[] devs;
    private final long[] starts;
    private final int entryBits;
    private final int entriesPerSlot;
    private final long[] table;

    Switch(long begin, long length, long regionSize, long regions, DmDev[] dmDevs, long[] starts) {
      this.begin = begin;
      this.length = length;
      this.regionSize = regionSize;
      this.regionShift =
          Long.bitCount(regionSize) == 1 ? Long.numberOfTrailingZeros(regionSize) : -1;
      this.regions = regions;
      this.dmDevs = dmDevs;
      this.starts = starts;
      this.devs = new BlockDevice[dmDevs.length];
      for (int i = 0; i < dmDevs.length; i++) {
        devs[i] = dmDevs[i].bdev();
      }
      int bits = 1;
      while (bits < 64 && (1L << bits) < dmDevs.length) {
        bits++;
      }
      this.entryBits = bits;
      this.entriesPerSlot = 64 / bits;
      long slots = (regions + entriesPerSlot - 1) / entriesPerSlot;
      if (slots > Integer.MAX_VALUE - 8) {
        throw new TargetException("Region table too large");
      }
      this.table = new long[(int) slots];
      int path = 0;
      for (long r = 0; r < regions; r++) {
        write(r, path);
        if (++path >= dmDevs.length) {
          path = 0;
        }
      }
    }

    private int read(long region) {
      int slot = (int) (region / entriesPerSlot);
      int bit = (int) (region % entriesPerSlot) * entryBits;
      long v = (long) SLOTS.getOpaque(table, slot);
      return (int) ((v >>> bit) & ((1L << entryBits) - 1));
    }

    private void write(long region, int path) {
      int slot = (int) (region / entriesPerSlot);
      int bit = (int) (region % entriesPerSlot) * entryBits;
      long mask = ((1L << entryBits) - 1) << bit;
      long v = (long) SLOTS.getOpaque(table, slot);
      SLOTS.setOpaque(table, slot, (v & ~mask) | ((long) path << bit));
    }

    @Override
    public MapResult map(Bio bio) {
      long x = bio.sector() - begin;
      long region = regionShift >= 0 ? x >>> regionShift : x / regionSize;
      int path = read(region);
      if (path >= devs.length) {
        path = 0;
      }
      bio.remap(devs[path], starts[path] + x);
      return MapResult.REMAPPED;
    }

    @Override
    public String message(String... argv) {
      if (!ArgSet.equalsIgnoreCase(argv[0], "set_region_mappings")) {
        throw new TargetException("Unrecognised message received.");
      }
      synchronized (this) { // the kernel's message_mutex
        setRegionMappings(argv);
      }
      return "";
    }

    private void setRegionMappings(String[] argv) {
      long index = 0;
      for (int i = 1; i < argv.length; i++) {
        String s = argv[i];
        Hex h = new Hex(s);
        if (!s.isEmpty() && (s.charAt(0) == 'R' || s.charAt(0) == 'r')) {
          h.pos++;
          if (h.at() == ',') {
            throw invalid(s);
          }
          long cycle = h.parse();
          if (h.at() != ',') {
            throw invalid(s);
          }
          h.pos++;
          if (h.at() == 0) {
            throw invalid(s);
          }
          long count = h.parse();
          if (h.at() != 0) {
            throw invalid(s);
          }
          if (cycle == 0 || Long.compareUnsigned(cycle - 1, index) > 0) {
            throw new TargetException(
                "invalid set_region_mappings cycle length: "
                    + Long.toUnsignedString(cycle - 1)
                    + " > "
                    + Long.toUnsignedString(index));
          }
          if (Long.compareUnsigned(index + count, index) < 0
              || Long.compareUnsigned(index + count, regions) >= 0) {
            throw new TargetException(
                "invalid set_region_mappings region number: "
                    + Long.toUnsignedString(index)
                    + " + "
                    + Long.toUnsignedString(count)
                    + " >= "
                    + regions);
          }
          while (count-- > 0) {
            index++;
            write(index, read(index - cycle));
          }
          continue;
        }
        if (h.at() == ':') {
          index++;
        } else {
          index = h.parse();
          if (h.at() != ':') {
            throw invalid(s);
          }
        }
        h.pos++;
        if (h.at() == 0) {
          throw invalid(s);
        }
        long path = h.parse();
        if (h.at() != 0) {
          throw invalid(s);
        }
        if (Long.compareUnsigned(index, regions) >= 0) {
          throw new TargetException(
              "invalid set_region_mappings region number: "
                  + Long.toUnsignedString(index)
                  + " >= "
                  + regions);
        }
        if (Long.compareUnsigned(path, devs.length) >= 0) {
          throw new TargetException(
              "invalid set_region_mappings device: "
                  + Long.toUnsignedString(path)
                  + " >= "
                  + devs.length);
        }
        write(index, (int) path);
      }
    }

    private static TargetException invalid(String arg) {
      return new TargetException("invalid set_region_mappings argument: '" + arg + "'");
    }

    /** A cursor for the kernel's {@code parse_hex}: hex digits until anything else. */
    private static final class Hex {
      final String s;
      int pos;

      Hex(String s) {
        this.s = s;
      }

      char at() {
        return pos < s.length() ? s.charAt(pos) : 0;
      }

      long parse() {
        long r = 0;
        int d;
        while ((d = Character.digit(at(), 16)) >= 0 && at() < 128) {
          r = (r << 4) | d;
          pos++;
        }
        return r;
      }
    }

    @Override
    public String status(StatusType type) {
      if (type == StatusType.INFO) {
        return "";
      }
      StringBuilder sb = new StringBuilder();
      sb.append(devs.length).append(' ').append(regionSize).append(" 0");
      for (int i = 0; i < devs.length; i++) {
        sb.append(' ').append(dmDevs[i].name()).append(' ').append(starts[i]);
      }
      return sb.toString();
    }

    @Override
    public List<DeviceArea> devices() {
      List<DeviceArea> areas = new ArrayList<>();
      for (int i = 0; i < dmDevs.length; i++) {
        areas.add(new DeviceArea(dmDevs[i], starts[i], length));
      }
      return areas;
    }

    @Override
    public long maxIoSectors() {
      return regionSize;
    }

    @Override
    public int numDiscardBios() {
      return 1;
    }
  }
}
