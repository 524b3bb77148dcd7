package io.jdm.core.targets;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.IoLimits;
import io.jdm.core.MapResult;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetException;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;

/**
 * {@code zero}: reads return zeros, writes and discards succeed and are dropped, other operations
 * fail; read-ahead is failed ({@code drivers/md/dm-zero.c}, v1.2.0). Takes no arguments.
 */
public final class ZeroTargetType implements TargetType {
  private static final TargetVersion VERSION = TargetVersion.of(1, 2, 0);

  @Override
  public String name() {
    return "zero";
  }

  @Override
  public TargetVersion version() {
    return VERSION;
  }

  @Override
  public Target create(TargetContext ctx, long begin, long length, String[] args) {
    if (args.length != 0) {
      throw new TargetException("No arguments required");
    }
    return ZERO;
  }

  private static final Target ZERO =
      new Target() {
        @Override
        public MapResult map(Bio bio) {
          switch (bio.op()) {
            case READ:
              if (bio.hasFlag(Bio.RAHEAD)) {
                return MapResult.KILL; // read-ahead of zeros only wastes cache
              }
              bio.zeroFill();
              break;
            case WRITE:
            case DISCARD:
              break; // silently dropped
            default:
              return MapResult.KILL;
          }
          bio.complete(BlockStatus.OK);
          return MapResult.SUBMITTED;
        }

        @Override
        public int numDiscardBios() {
          return 1;
        }

        @Override
        public boolean discardsSupported() {
          return true;
        }

        @Override
        public void ioHints(IoLimits.Builder limits) {
          limits.maxDiscardSectors(IoLimits.UNLIMITED).discardGranularity(Bio.SECTOR_SIZE);
        }
      };
}
