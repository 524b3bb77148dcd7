package io.jdm.targets;

import io.jdm.core.ArgSet;
import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DmDev;
import io.jdm.core.MapResult;
import io.jdm.core.PassThroughTarget;
import io.jdm.core.StatusType;
import io.jdm.core.TargetException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.Map;
import java.util.TreeMap;

/**
 * One {@code dust} line. While enabled, a read of a listed block fails; a write to a listed block
 * fails while the block's write-fail count is above zero (counting it down), and otherwise takes
 * the block off the list, as rewriting a bad sector would on a disk.
 *
 * <p>Messages, with the kernel's replies:
 *
 * <ul>
 *   <li>{@code addbadblock <block> [<write fail count 0-255>]}, {@code removebadblock <block>},
 *       {@code queryblock <block>} ({@code "dust_query_block: block N found in badblocklist"} or
 *       {@code "... not found in badblocklist"});
 *   <li>{@code countbadblocks} ({@code "countbadblocks: N badblock(s) found"}), {@code
 *       clearbadblocks} ({@code "dust_clear_badblocks: badblocks cleared"} or {@code
 *       "dust_clear_badblocks: no badblocks found"}), {@code listbadblocks} (one block per line, or
 *       {@code "No blocks in badblocklist"});
 *   <li>{@code enable}, {@code disable}, {@code quiet} (toggles logging).
 * </ul>
 *
 * <p>Where the kernel fails a message with a bare {@code -EINVAL}, for a block number or write fail
 * count that does not parse, jdm says so: {@code "invalid block number 'x'"}, {@code "invalid write
 * fail count 'x'"}. The "removed from badblocklist by write" log line gives the block number (the
 * kernel's divides it by the sectors per block a second time).
 *
 * <p>Failed reads complete with {@link BlockStatus#IOERR}, as the kernel's ({@code DM_MAPIO_KILL}).
 * One difference: the kernel also runs an empty flush through the write path, where block 0 of the
 * list could fail it or be taken off the list; jdm passes flushes through untouched.
 *
 * <p>Thread-safe: the list is guarded by the target's lock, as the kernel's {@code dust_lock}.
 */
final class DustTarget extends PassThroughTarget {
  private final Logger log;
  private final int blksz;
  private final int sectorsPerBlock;
  private final int shift;
  private final TreeMap<Long, Integer> badBlocks = new TreeMap<>(); // block -> write fail count
  private volatile boolean failReadOnBadBlock;
  private volatile boolean quiet;

  DustTarget(Logger log, DmDev dmDev, long begin, long length, long start, int blksz) {
    super(dmDev, begin, length, start);
    this.log = log;
    this.blksz = blksz;
    this.sectorsPerBlock = blksz / 512;
    this.shift = Integer.numberOfTrailingZeros(sectorsPerBlock);
  }

  @Override
  public MapResult map(Bio bio) {
    remap(bio);
    long sector = bio.sector();
    if (!failReadOnBadBlock || bio.op() == Bio.Op.FLUSH) {
      return MapResult.REMAPPED;
    }
    long block = sector >>> shift;
    synchronized (this) {
      Integer writeFails = badBlocks.get(block);
      if (writeFails == null) {
        return MapResult.REMAPPED;
      }
      if (bio.op() == Bio.Op.READ) {
        return MapResult.KILL;
      }
      if (writeFails > 0) {
        badBlocks.put(block, writeFails - 1);
        return MapResult.KILL;
      }
      badBlocks.remove(block);
    }
    info("block " + block + " removed from badblocklist by write");
    return MapResult.REMAPPED;
  }

  @Override
  public String message(String... argv) {
    String cmd = argv[0];
    if (argv.length == 1) {
      switch (ArgSet.toLowerAscii(cmd)) {
        case "addbadblock":
        case "removebadblock":
        case "queryblock":
          throw new TargetException(cmd + " requires an additional argument");
        case "disable":
          log.log(Level.INFO, "disabling read failures on bad sectors");
          failReadOnBadBlock = false;
          return "";
        case "enable":
          log.log(Level.INFO, "enabling read failures on bad sectors");
          failReadOnBadBlock = true;
          return "";
        case "countbadblocks":
          synchronized (this) {
            return "countbadblocks: " + badBlocks.size() + " badblock(s) found";
          }
        case "clearbadblocks":
          synchronized (this) {
            boolean any = !badBlocks.isEmpty();
            badBlocks.clear();
            return any
                ? "dust_clear_badblocks: badblocks cleared"
                : "dust_clear_badblocks: no badblocks found";
          }
        case "quiet":
          quiet = !quiet;
          return "";
        case "listbadblocks":
          return list();
        default:
          throw new TargetException("unrecognized message '" + cmd + "' received");
      }
    }
    if (argv.length == 2 || argv.length == 3) {
      long block =
          ArgSet.parseLong(argv[1], 0, Long.MAX_VALUE, "invalid block number '" + argv[1] + "'");
      int writeFails = 0;
      if (argv.length == 3) {
        long n = ArgSet.parseUint(argv[2], "invalid write fail count '" + argv[2] + "'");
        if (n > 255) {
          throw new TargetException("selected write fail count out of range");
        }
        writeFails = (int) n;
      }
      if (block > dev.sectors() / sectorsPerBlock) {
        throw new TargetException("selected block value out of range");
      }
      String c = ArgSet.toLowerAscii(cmd);
      if (c.equals("addbadblock")) {
        add(block, writeFails);
        return "";
      }
      if (argv.length == 2 && c.equals("removebadblock")) {
        remove(block);
        return "";
      }
      if (argv.length == 2 && c.equals("queryblock")) {
        synchronized (this) {
          return "dust_query_block: block "
              + block
              + (badBlocks.containsKey(block) ? " found" : " not found")
              + " in badblocklist";
        }
      }
      throw new TargetException("unrecognized message '" + cmd + "' received");
    }
    throw new TargetException("invalid number of arguments '" + argv.length + "'");
  }

  private void add(long block, int writeFails) {
    synchronized (this) {
      if (badBlocks.containsKey(block)) {
        throw new TargetException("dust_add_block: block " + block + " already in badblocklist");
      }
      badBlocks.put(block, writeFails);
    }
    info(
        "dust_add_block: badblock added at block "
            + block
            + " with write fail count "
            + writeFails);
  }

  private void remove(long block) {
    synchronized (this) {
      if (badBlocks.remove(block) == null) {
        throw new TargetException(
            "dust_remove_block: block " + block + " not found in badblocklist");
      }
    }
    info("dust_remove_block: badblock removed at block " + block);
  }

  private synchronized String list() {
    if (badBlocks.isEmpty()) {
      return "No blocks in badblocklist";
    }
    StringBuilder sb = new StringBuilder();
    for (Map.Entry<Long, Integer> e : badBlocks.entrySet()) {
      sb.append(e.getKey()).append('\n');
    }
    return sb.toString();
  }

  private void info(String msg) {
    if (!quiet) {
      log.log(Level.INFO, msg);
    }
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      return dmDev.name()
          + " "
          + (failReadOnBadBlock ? "fail_read_on_bad_block" : "bypass")
          + " "
          + (quiet ? "quiet" : "verbose");
    }
    return tableText() + " " + blksz;
  }

  @Override
  public long maxIoSectors() {
    return sectorsPerBlock;
  }

  /** dm-dust asks for flushes and discards only ({@code num_write_zeroes_bios} stays 0). */
  @Override
  public int numWriteZeroesBios() {
    return 0;
  }
}
