package io.jdm.crypto.luks;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

/**
 * Runs a call that derives keys on a thread of its own, interrupts that thread once it is inside
 * {@link Argon2} or {@link Pbkdf2}, and reports how the call ended; lists the Argon2 worker threads
 * still alive.
 */
final class KdfThreads {
  private KdfThreads() {}

  /** A call that should end by throwing. */
  interface Call {
    void run() throws Exception;
  }

  /**
   * How the call ended.
   *
   * @param thrown what it threw; {@code null} if it returned
   * @param interruptFlag the thread's interrupt flag when it caught {@code thrown}
   */
  record Outcome(Throwable thrown, boolean interruptFlag) {}

  /** Runs {@code call}, interrupts it while it derives, and waits for it to end. */
  static Outcome interruptWhileDeriving(Call call) throws InterruptedException {
    return interruptWhileDeriving(null, call);
  }

  /**
   * Runs {@code call}, interrupts it while it derives keys inside a method of this package named
   * {@code within} (such as {@code makeKeyslot}: not the quick unlock before it), and waits for it
   * to end.
   */
  static Outcome interruptWhileDeriving(String within, Call call) throws InterruptedException {
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicBoolean flag = new AtomicBoolean();
    Thread t =
        new Thread(
            () -> {
              try {
                call.run();
              } catch (Throwable e) {
                flag.set(Thread.currentThread().isInterrupted());
                thrown.set(e);
              }
            },
            "kdf-test-caller");
    t.start();
    while (t.isAlive() && !deriving(t, within)) {
      Thread.yield();
    }
    t.interrupt();
    t.join();
    return new Outcome(thrown.get(), flag.get());
  }

  /**
   * Whether {@code t} is inside a key derivation (or waiting for its Argon2 workers), called from a
   * method named {@code within} of this package unless that is {@code null}.
   */
  static boolean deriving(Thread t, String within) {
    boolean kdf = false;
    boolean inside = within == null;
    for (StackTraceElement e : t.getStackTrace()) {
      String c = e.getClassName();
      kdf |= c.equals(Argon2.class.getName()) && e.getMethodName().startsWith("fill");
      kdf |= c.equals(Pbkdf2.class.getName());
      inside |= c.startsWith(Luks.class.getPackageName() + ".") && e.getMethodName().equals(within);
    }
    return kdf && inside;
  }

  /** The names of the Argon2 worker threads alive now. */
  static List<String> argon2Workers() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(Thread::isAlive)
        .map(Thread::getName)
        .filter(n -> n.startsWith("jdm-argon2-"))
        .collect(Collectors.toList());
  }
}
