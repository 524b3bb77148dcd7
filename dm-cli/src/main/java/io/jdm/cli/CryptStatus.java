package io.jdm.cli;

import io.jdm.core.DeviceArea;
import io.jdm.core.DeviceInfo;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DmException;
import io.jdm.core.Errno;
import io.jdm.core.MappedDevice;
import io.jdm.core.Table;
import java.util.List;
import java.util.Optional;

/**
 * {@code cryptsetup status NAME}'s text ({@code action_status} in {@code src/cryptsetup.c} of
 * cryptsetup 2.6.1) for a device of the daemon's device mapper: the type from cryptsetup's dm uuid
 * ({@code CRYPT-LUKS2-...}, {@code CRYPT-PLAIN-...}), the rest from the live crypt table line.
 *
 * <p>Differences: {@code device:} is the path the table was given (a file, or {@code
 * /dev/mapper/NAME} for a mapped device) where cryptsetup shows the loop device and a {@code loop:}
 * line with the file; the key is always in the table ({@code key location: dm-crypt}) unless the
 * table names a keyring key. Thread-safe: it keeps no state.
 */
final class CryptStatus {
  private CryptStatus() {}

  /**
   * The status text of {@code name}.
   *
   * @throws DmException ({@link Errno#ENODEV}, {@code /dev/mapper/NAME is inactive.}) if there is
   *     no such device
   */
  static String of(DeviceMapper dm, String name) {
    Optional<MappedDevice> found = dm.find(name);
    boolean path = name.indexOf('/') >= 0;
    String shown = path ? name : "/dev/mapper/" + name;
    if (found.isEmpty()) {
      throw new DmException(Errno.ENODEV, shown + " is inactive.");
    }
    MappedDevice md = found.get();
    DeviceInfo info = md.info();
    StringBuilder sb = new StringBuilder();
    sb.append(shown).append(" is active").append(info.openCount() > 0 ? " and is in use" : "");
    sb.append(".\n");
    String uuid = md.uuid().orElse("");
    String type = "n/a";
    if (uuid.startsWith("CRYPT-")) {
      int dash = uuid.indexOf('-', "CRYPT-".length());
      type = dash < 0 ? uuid.substring(6) : uuid.substring(6, dash);
    }
    sb.append("  type:    ").append(type).append('\n');
    Optional<Table> live = md.liveTable();
    String line = md.table().split("\n", -1)[0];
    String[] w = line.split(" ");
    if (live.isEmpty() || w.length < 8 || !w[2].equals("crypt")) {
      return sb.toString(); // only crypt devices say more
    }
    String key = w[4];
    long keyBits;
    boolean keyring = key.startsWith(":");
    if (keyring) {
      keyBits = Long.parseLong(key.substring(1, key.indexOf(':', 1))) * 8;
    } else {
      keyBits = key.equals("-") ? 0 : key.length() * 4L;
    }
    sb.append("  cipher:  ").append(w[3]).append('\n');
    sb.append("  keysize: ").append(keyBits).append(" bits\n");
    sb.append("  key location: ").append(keyring ? "keyring" : "dm-crypt").append('\n');
    List<DeviceArea> devs = live.get().target(0).devices();
    String dev = devs.isEmpty() ? w[6] : devs.get(0).dev().path();
    if (dev.indexOf('/') < 0 && dm.find(dev).isPresent()) {
      dev = "/dev/mapper/" + dev;
    }
    sb.append("  device:  ").append(dev).append('\n');
    int sectorSize = 512;
    boolean discards = false;
    boolean sameCpu = false;
    boolean submitFromCrypt = false;
    boolean noRead = false;
    boolean noWrite = false;
    for (int i = 9; i < w.length; i++) {
      String o = w[i];
      if (o.startsWith("sector_size:")) {
        sectorSize = Integer.parseInt(o.substring("sector_size:".length()));
      }
      discards |= o.equals("allow_discards");
      sameCpu |= o.equals("same_cpu_crypt");
      submitFromCrypt |= o.equals("submit_from_crypt_cpus");
      noRead |= o.equals("no_read_workqueue");
      noWrite |= o.equals("no_write_workqueue");
    }
    sb.append("  sector size:  ").append(sectorSize).append('\n');
    sb.append("  offset:  ").append(w[7]).append(" sectors\n");
    sb.append("  size:    ").append(w[1]).append(" sectors\n");
    if (!w[5].equals("0")) {
      sb.append("  skipped: ").append(w[5]).append(" sectors\n");
    }
    sb.append("  mode:    ").append(info.readOnly() ? "readonly" : "read/write");
    sb.append(info.suspended() ? " (suspended)" : "").append('\n');
    if (discards || sameCpu || submitFromCrypt || noRead || noWrite) {
      sb.append("  flags:   ")
          .append(discards ? "discards " : "")
          .append(sameCpu ? "same_cpu_crypt " : "")
          .append(submitFromCrypt ? "submit_from_crypt_cpus " : "")
          .append(noRead ? "no_read_workqueue " : "")
          .append(noWrite ? "no_write_workqueue" : "")
          .append('\n');
    }
    return sb.toString();
  }
}
