package io.jdm.targets;

import io.jdm.core.Bio;
import io.jdm.core.BlockDevice;
import io.jdm.core.Clock;
import io.jdm.core.DeviceArea;
import io.jdm.core.DmDev;
import io.jdm.core.MapResult;
import io.jdm.core.StatusType;
import io.jdm.core.Target;
import io.jdm.core.TargetContext;
import io.jdm.core.Workqueue;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One {@code delay} line. A delayed bio is remapped at once and parked with its expiry time; a
 * timer of the device mapper's {@link Clock} releases expired bios, in arrival order, to a
 * workqueue that submits them, so neither {@code map} nor a submitting thread ever waits.
 *
 * <p>As the kernel's: the status counts the bios held now per class ({@code "<reads> <writes>
 * <flushes>"}); presuspend releases every held bio at once and stops delaying until resume.
 *
 * <p>Thread-safe: the held list is guarded by the target's lock ({@code delayed_bios_lock}).
 */
final class DelayTarget implements Target {
  /** One class of I/O: where it goes and how long it waits. */
  record DelayClass(DmDev dev, long start, long delayMs) {}

  private static final class Held {
    final Bio bio;
    final int cls;
    final long expires;

    Held(Bio bio, int cls, long expires) {
      this.bio = bio;
      this.cls = cls;
      this.expires = expires;
    }
  }

  private static final int READ = 0;
  private static final int WRITE = 1;
  private static final int FLUSH = 2;

  private final Clock clock;
  private final Workqueue submitter;
  private final long begin;
  private final long length;
  private final int argc;
  private final DelayClass[] classes;
  private final BlockDevice[] devs;
  private final long[] delayNanos;
  private final int[] held = new int[3]; // guarded by this
  private final ArrayDeque<Held> delayed = new ArrayDeque<>(); // guarded by this
  private boolean mayDelay = true; // guarded by this
  private Clock.Timeout timer; // guarded by this
  private long timerDeadline; // guarded by this

  DelayTarget(
      TargetContext ctx,
      long begin,
      long length,
      int argc,
      DelayClass read,
      DelayClass write,
      DelayClass flush) {
    this.clock = ctx.clock();
    this.submitter = ctx.workqueue("kdelayd", 1);
    this.begin = begin;
    this.length = length;
    this.argc = argc;
    this.classes = new DelayClass[] {read, write, flush};
    this.devs = new BlockDevice[3];
    this.delayNanos = new long[3];
    for (int i = 0; i < 3; i++) {
      devs[i] = classes[i].dev().bdev();
      delayNanos[i] = TimeUnit.MILLISECONDS.toNanos(classes[i].delayMs());
    }
  }

  @Override
  public MapResult map(Bio bio) {
    Bio.Op op = bio.op();
    int cls = op == Bio.Op.READ ? READ : op == Bio.Op.FLUSH ? FLUSH : WRITE;
    bio.remap(devs[cls], classes[cls].start() + (bio.sector() - begin));
    long delay = delayNanos[cls];
    if (delay == 0) {
      return MapResult.REMAPPED;
    }
    long expires = clock.nanoTime() + delay;
    synchronized (this) {
      if (!mayDelay) {
        return MapResult.REMAPPED;
      }
      held[cls]++;
      delayed.addLast(new Held(bio, cls, expires));
      armTimer(expires);
    }
    return MapResult.SUBMITTED;
  }

  /** Makes sure a timer fires by {@code expires} (the kernel's {@code timer_reduce}). */
  private void armTimer(long expires) {
    if (timer != null && timerDeadline <= expires) {
      return;
    }
    if (timer != null) {
      timer.cancel();
    }
    timerDeadline = expires;
    timer = clock.schedule(this::timerFired, expires - clock.nanoTime());
  }

  private void timerFired() {
    synchronized (this) {
      timer = null;
    }
    flushDelayed(false);
  }

  /** Releases expired bios (all of them if {@code all}) and re-arms the timer for the rest. */
  private void flushDelayed(boolean all) {
    List<Bio> ready = new ArrayList<>();
    synchronized (this) {
      long now = clock.nanoTime();
      long next = Long.MAX_VALUE;
      for (var it = delayed.iterator(); it.hasNext(); ) {
        Held h = it.next();
        if (all || h.expires - now <= 0) {
          it.remove();
          held[h.cls]--;
          ready.add(h.bio);
        } else {
          next = Math.min(next, h.expires);
        }
      }
      if (next != Long.MAX_VALUE && mayDelay) {
        armTimer(next);
      }
    }
    if (!ready.isEmpty()) {
      if (all) {
        submitAll(ready);
      } else {
        submitter.execute(() -> submitAll(ready));
      }
    }
  }

  private static void submitAll(List<Bio> bios) {
    for (Bio b : bios) {
      b.submit();
    }
  }

  @Override
  public void presuspend() {
    synchronized (this) {
      mayDelay = false;
      if (timer != null) {
        timer.cancel();
        timer = null;
      }
    }
    flushDelayed(true);
  }

  @Override
  public void resume() {
    synchronized (this) {
      mayDelay = true;
    }
  }

  @Override
  public void close() {
    synchronized (this) {
      if (timer != null) {
        timer.cancel();
        timer = null;
      }
    }
    flushDelayed(true); // nothing should be left: every table is suspended before it goes
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      synchronized (this) {
        return held[READ] + " " + held[WRITE] + " " + held[FLUSH];
      }
    }
    StringBuilder sb = new StringBuilder();
    append(sb, classes[READ]);
    if (argc >= 6) {
      append(sb.append(' '), classes[WRITE]);
    }
    if (argc >= 9) {
      append(sb.append(' '), classes[FLUSH]);
    }
    return sb.toString();
  }

  private static void append(StringBuilder sb, DelayClass c) {
    sb.append(c.dev().name()).append(' ').append(c.start()).append(' ').append(c.delayMs());
  }

  @Override
  public List<DeviceArea> devices() {
    List<DeviceArea> areas = new ArrayList<>(3);
    for (DelayClass c : classes) {
      areas.add(new DeviceArea(c.dev(), c.start(), length));
    }
    return areas;
  }

  @Override
  public int numFlushBios() {
    return 1;
  }

  @Override
  public int numDiscardBios() {
    return 1;
  }
}
