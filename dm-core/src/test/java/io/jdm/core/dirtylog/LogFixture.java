package io.jdm.core.dirtylog;

import io.jdm.core.Bio;
import io.jdm.core.BlockStatus;
import io.jdm.core.DeviceMapper;
import io.jdm.core.MapResult;
import io.jdm.core.MappedDevice;
import io.jdm.core.StatusType;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.TargetRegistry;
import io.jdm.core.TargetType;
import io.jdm.core.TargetVersion;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A device mapper with a {@code logged} target that builds a dirty log the way the mirror does:
 * {@code logged <log_type> <#log_args> <log_args>...}. The target drives the log's lifecycle
 * (resume, postsuspend, close) like {@code dm-raid1.c}, reports its status, and hands the log and
 * its context to the test. Its flush callback notes {@code "callback"} in the journal and then runs
 * {@link #callback}.
 */
public final class LogFixture implements AutoCloseable {
  public final InstrumentedDevice.Journal journal = new InstrumentedDevice.Journal();
  public final DeviceMapper dm;
  public final List<IOException> lifecycleErrors = new CopyOnWriteArrayList<>();

  /** What the flush callback does after noting itself; default nothing. */
  public volatile DirtyLog.FlushCallback callback = () -> {};

  public volatile DirtyLog log;
  public volatile TargetContext context;

  public LogFixture() {
    TargetRegistry registry = TargetRegistry.builtins();
    registry.register(new LoggedType());
    dm = DeviceMapper.builder().registry(registry).build();
  }

  /** A registered device of {@code sectors} sectors sharing this fixture's journal. */
  public InstrumentedDevice device(String name, long sectors, int logicalBlockSize) {
    InstrumentedDevice d = new InstrumentedDevice(name, sectors, logicalBlockSize, journal);
    dm.registerDevice(name, d);
    return d;
  }

  /** {@code 0 <length> logged <logType> <#args> <args>}. */
  public MappedDevice create(String name, long length, String logType, String... args) {
    return dm.create(name, table(length, logType, args));
  }

  public static String table(long length, String logType, String... args) {
    return "0 " + length + " logged " + logType + " " + args.length + " " + String.join(" ", args);
  }

  @Override
  public void close() {
    dm.close();
  }

  private final class LoggedType implements TargetType {
    @Override
    public String name() {
      return "logged";
    }

    @Override
    public TargetVersion version() {
      return TargetVersion.of(1, 0, 0);
    }

    @Override
    public Target create(TargetContext ctx, long begin, long length, String[] args) {
      int n = Integer.parseInt(args[1]);
      String[] logArgs = java.util.Arrays.copyOfRange(args, 2, 2 + n);
      DirtyLog l =
          DirtyLogRegistry.builtins()
              .create(
                  args[0],
                  ctx,
                  length,
                  () -> {
                    journal.note("callback");
                    callback.flush();
                  },
                  logArgs);
      context = ctx;
      log = l;
      return new Target() {
        @Override
        public MapResult map(Bio bio) {
          bio.complete(BlockStatus.OK);
          return MapResult.SUBMITTED;
        }

        @Override
        public String status(StatusType type) {
          return l.status(type);
        }

        @Override
        public void postsuspend() {
          try {
            l.postsuspend();
          } catch (IOException e) {
            lifecycleErrors.add(e);
          }
        }

        @Override
        public void resume() {
          try {
            l.resume(); // dm-raid1 only warns when this fails
          } catch (IOException e) {
            lifecycleErrors.add(e);
          }
        }

        @Override
        public void close() {
          l.close();
        }
      };
    }
  }
}
