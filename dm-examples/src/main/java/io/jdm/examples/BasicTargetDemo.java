package io.jdm.examples;

import io.jdm.core.DeviceMapper;
import io.jdm.core.MappedDevice;
import io.jdm.core.TargetType;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The seed tutorial, end to end: make a 20000-sector disk file, find {@code basic_target} through
 * the service loader, create {@code my_basic_target_device} with {@code 0 20000 basic_target <file>
 * 0}, write one sector at sector 10, and print what the target logged.
 *
 * <p>Usage: {@code java -jar basic-target-demo.jar [disk-file]}; without an argument the disk is
 * made in a new temporary folder and deleted afterwards.
 */
public final class BasicTargetDemo {
  private BasicTargetDemo() {}

  public static void main(String[] args) throws IOException {
    Path disk = args.length > 0 ? Path.of(args[0]) : null;
    run(System.out, disk);
  }

  /** Runs the demo, printing to {@code out}; {@code disk} may be {@code null}. */
  public static void run(PrintStream out, Path disk) throws IOException {
    Path tmp = null;
    if (disk == null) {
      tmp = Files.createTempDirectory("jdm-demo");
      disk = tmp.resolve("disk1");
    }
    Logger targetLog = Logger.getLogger(BasicTarget.class.getName());
    Handler echo = new Echo(out);
    boolean parents = targetLog.getUseParentHandlers();
    targetLog.setUseParentHandlers(false); // print the lines once, on out, like dmesg
    targetLog.addHandler(echo);
    try {
      // dd if=/dev/zero of=/tmp/disk1 bs=512 count=20000
      try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
        f.setLength(20000L * 512);
      }
      out.println("# disk " + disk + ": 20000 sectors");
      try (DeviceMapper dm = DeviceMapper.create()) {
        TargetType t = dm.registry().get("basic_target");
        if (t == null) {
          throw new IllegalStateException("basic_target was not found by the ServiceLoader");
        }
        out.println("# dmsetup targets");
        out.print(dm.registry().describe());
        String table = "0 20000 basic_target " + disk + " 0";
        out.println("# dmsetup create my_basic_target_device --table '" + table + "'");
        MappedDevice md = dm.create("my_basic_target_device", table);
        out.println("# dmsetup table my_basic_target_device");
        out.print(md.table());
        out.println("# write one sector at sector 10");
        byte[] hello = "hello from jdm\n".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer sector = ByteBuffer.allocate(512);
        while (sector.hasRemaining()) {
          sector.put(hello, 0, Math.min(hello.length, sector.remaining()));
        }
        sector.flip();
        md.write(sector, 10L * 512);
        md.flush();
        out.println("# dmsetup info my_basic_target_device");
        out.print(md.info());
        out.println("# dmsetup remove my_basic_target_device");
        md.close();
      }
      byte[] back = new byte[14];
      try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "r")) {
        f.seek(10L * 512);
        f.readFully(back);
      }
      out.println(
          "# the disk file at byte "
              + 10 * 512
              + ": "
              + new String(back, StandardCharsets.US_ASCII));
    } finally {
      targetLog.removeHandler(echo);
      targetLog.setUseParentHandlers(parents);
      if (tmp != null) {
        Files.deleteIfExists(disk);
        Files.deleteIfExists(tmp);
      }
    }
  }

  /** Prints the target's log lines as {@code dmesg} would show the tutorial's printk lines. */
  private static final class Echo extends Handler {
    private final PrintStream out;

    Echo(PrintStream out) {
      this.out = out;
      setLevel(Level.ALL);
    }

    @Override
    public void publish(LogRecord r) {
      String msg = r.getMessage();
      Object[] params = r.getParameters();
      if (params != null) {
        msg = new java.text.MessageFormat(msg, java.util.Locale.ROOT).format(params);
      }
      out.println("[kernel] " + msg);
    }

    @Override
    public void flush() {
      out.flush();
    }

    @Override
    public void close() {}
  }
}
