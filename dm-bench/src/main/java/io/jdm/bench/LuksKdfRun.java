package io.jdm.bench;

import com.sun.management.OperatingSystemMXBean;
import io.jdm.core.FileBlockDevice;
import io.jdm.crypto.luks.Luks;
import io.jdm.crypto.luks.LuksFormatOptions;
import io.jdm.crypto.luks.LuksVolume;
import io.jdm.crypto.luks.Pbkdf;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One LUKS2 format or open through jdm's LUKS API, in a JVM of its own, for {@code
 * argon2-vs-cryptsetup.sh} to time beside {@code cryptsetup luksFormat} and {@code cryptsetup open
 * --test-passphrase}: the JVM's start and the first (cold) key derivation included, as a {@code
 * jdmsetup} user pays them.
 *
 * <p>Usage: {@code java -cp dm-bench.jar io.jdm.bench.LuksKdfRun format FILE KEYFILE TIME
 * MEMORY_KIB PARALLEL} (Argon2id), or {@code ... open FILE KEYFILE} (unlocks and closes: {@code
 * --test-passphrase}), or {@code ... opens FILE KEYFILE N}: N opens in this one JVM, printing each
 * one's milliseconds of wall and CPU time (the later ones are what a running daemon pays). Exit
 * code 2 for a wrong passphrase, as cryptsetup's.
 */
public final class LuksKdfRun {
  private LuksKdfRun() {}

  public static void main(String[] args) throws IOException {
    boolean ok =
        args.length == 6 && args[0].equals("format")
            || args.length == 3 && args[0].equals("open")
            || args.length == 4 && args[0].equals("opens");
    if (!ok) {
      System.err.println(
          "usage: LuksKdfRun format FILE KEYFILE TIME MEMORY_KIB PARALLEL | open FILE KEYFILE"
              + " | opens FILE KEYFILE N");
      System.exit(1);
    }
    Path file = Path.of(args[1]);
    byte[] pass = Files.readAllBytes(Path.of(args[2]));
    if (args[0].equals("format")) {
      LuksFormatOptions o =
          LuksFormatOptions.builder()
              .version(2)
              .pbkdf(
                  Pbkdf.argon2id(
                      Long.parseLong(args[3]), Long.parseLong(args[4]), Integer.parseInt(args[5])))
              .build();
      try (FileBlockDevice dev = FileBlockDevice.open(file)) {
        Luks.format(dev, pass, o).close();
      }
      return;
    }
    if (args[0].equals("opens")) {
      // N opens in this JVM, as a running daemon does them: one line each, the milliseconds of
      // wall time and of the process's CPU time (all threads: the Argon2 lanes, GC, JIT)
      int n = Integer.parseInt(args[3]);
      OperatingSystemMXBean os =
          (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
      try (FileBlockDevice dev = FileBlockDevice.builder(file).readOnly(true).open()) {
        for (int i = 0; i < n; i++) {
          long start = System.nanoTime();
          long cpu = os.getProcessCpuTime();
          Luks.open(dev, pass).close();
          System.out.println(
              (System.nanoTime() - start) / 1_000_000
                  + " "
                  + (os.getProcessCpuTime() - cpu) / 1_000_000);
        }
      }
      return;
    }
    try (FileBlockDevice dev = FileBlockDevice.builder(file).readOnly(true).open();
        LuksVolume v = Luks.open(dev, pass)) {
      System.out.println("keyslot " + v.keyslot() + " unlocked");
    } catch (io.jdm.crypto.luks.LuksPassphraseException e) {
      System.err.println(e.getMessage());
      System.exit(2);
    }
  }
}
