package io.jdm.core;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The registry of mapped devices, the kernel's device-mapper control interface ({@code
 * drivers/md/dm-ioctl.c}) as a Java object: create, load, suspend, resume, remove, rename, list,
 * message, targets.
 *
 * <p>Device paths in tables are resolved in this order:
 *
 * <ol>
 *   <li>{@code major:minor}: a device this device mapper numbered (see {@link DeviceNumber}), or a
 *       real block device;
 *   <li>{@code /dev/mapper/NAME}: the mapped device {@code NAME} (a real path if there is none);
 *   <li>a name given to {@link #registerDevice};
 *   <li>the name of a mapped device;
 *   <li>anything a {@link DeviceResolver} added with {@link #addResolver} claims;
 *   <li>a file or block-device path, opened as a {@link FileBlockDevice} (read-only for a read-only
 *       table) and closed when no table uses it any more.
 * </ol>
 *
 * <p>A device used by a table cannot be removed: a mapped device counts every other device whose
 * tables use it in its open count, and {@link #remove} refuses while the count is not zero, as the
 * kernel does. A failed create or load releases everything it opened. {@link #close()} removes
 * every device, top of each stack first, and closes everything it opened; devices given to {@link
 * #registerDevice} belong to the caller and are not closed.
 *
 * <p>Thread-safe.
 */
public final class DeviceMapper implements Closeable {
  private static final System.Logger LOG = System.getLogger(DeviceMapper.class.getName());

  /** Longest device name in UTF-8 bytes ({@code DM_NAME_LEN} minus the NUL). */
  public static final int MAX_NAME = 127;

  /** Longest uuid in UTF-8 bytes ({@code DM_UUID_LEN} minus the NUL). */
  public static final int MAX_UUID = 128;

  private final TargetRegistry registry;
  private final Clock clock;
  private final boolean ownsClock;
  private final boolean ioTiming;

  private final ReentrantLock lock = new ReentrantLock();
  private final Map<String, MappedDevice> byName = new HashMap<>();
  private final Map<String, MappedDevice> byUuid = new HashMap<>();
  private final Map<Integer, MappedDevice> byMinor = new HashMap<>();
  private final Map<String, BlockDevice> registered = new LinkedHashMap<>();
  private final Map<DeviceKey, DeviceNumber> numbers = new HashMap<>();
  private final Map<DeviceNumber, Named> keysByNumber = new HashMap<>();
  private final Map<Integer, Integer> nextMinor = new HashMap<>();
  private final Map<OpenKey, OpenDevice> open = new HashMap<>();
  private final List<DeviceResolver> resolvers = new CopyOnWriteArrayList<>();

  /**
   * Mapped devices used by tables still being loaded, per loading device, so that two devices
   * loading tables that use each other at the same time cannot both pass the loop check.
   */
  private final Map<MappedDevice, List<MappedDevice>> pendingDeps =
      new java.util.IdentityHashMap<>();

  private final AtomicInteger globalEvent = new AtomicInteger();
  private final long seed;
  private final java.util.SplittableRandom random; // split under its own lock
  private boolean closed;

  private DeviceMapper(Builder b) {
    this.registry = b.registry != null ? b.registry : TargetRegistry.loadDefault();
    this.ownsClock = b.clock == null;
    this.clock = b.clock != null ? b.clock : Clock.system();
    this.ioTiming = b.ioTiming;
    long seed = b.seed != null ? b.seed : new java.security.SecureRandom().nextLong();
    if (b.seed == null) {
      LOG.log(System.Logger.Level.DEBUG, "random seed {0}", Long.toString(seed));
    }
    this.seed = seed;
    this.random = new java.util.SplittableRandom(seed);
  }

  /** The seed of the targets' random choices ({@link Builder#seed}). */
  public long seed() {
    return seed;
  }

  private final java.util.concurrent.ConcurrentHashMap<Class<?>, Object> shared =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** {@link TargetContext#shared}: one instance per type for this device mapper's lifetime. */
  <T> T shared(Class<T> type, java.util.function.Supplier<? extends T> factory) {
    java.util.Objects.requireNonNull(factory, "factory");
    return type.cast(shared.computeIfAbsent(type, t -> type.cast(factory.get())));
  }

  /** A new random source split from the seed's sequence, for one target. */
  java.util.SplittableRandom splitRandom() {
    synchronized (random) {
      return random.split();
    }
  }

  /** A device mapper with every target type the service loader finds. */
  public static DeviceMapper create() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public TargetRegistry registry() {
    return registry;
  }

  /** The clock targets and statistics use. */
  public Clock clock() {
    return clock;
  }

  boolean ioTiming() {
    return ioTiming;
  }

  // ---------------------------------------------------------------------------------------------
  // Devices

  /** Creates a device with no table ({@code dmsetup create NAME --notable}). */
  public MappedDevice create(String name) {
    return create(name, null, null, false);
  }

  /** Creates a device and makes {@code table} live ({@code dmsetup create NAME --table T}). */
  public MappedDevice create(String name, String table) {
    return create(name, null, TableSpec.parse(table), false);
  }

  /** As {@link #create(String, String)} with a uuid. */
  public MappedDevice create(String name, String uuid, String table) {
    return create(name, uuid, TableSpec.parse(table), false);
  }

  /**
   * Creates a device, and if {@code table} is not {@code null} loads and resumes it. If anything
   * fails the device is removed again and everything opened for it released.
   *
   * @param uuid {@code null} for none
   * @param readOnly load the table read-only ({@code dmsetup --readonly})
   * @throws DmException ({@link Errno#EBUSY}) if the name or uuid is taken, ({@link Errno#EINVAL})
   *     if either is malformed; {@link TableException} for a bad table
   */
  public MappedDevice create(String name, String uuid, TableSpec table, boolean readOnly) {
    checkName(name);
    if (uuid != null) {
      checkUuid(uuid);
    }
    MappedDevice md;
    lock.lock();
    try {
      ensureOpen();
      if (byName.containsKey(name)) {
        throw new DmException(Errno.EBUSY, "device " + name + " already exists");
      }
      if (uuid != null && byUuid.containsKey(uuid)) {
        throw new DmException(
            Errno.EBUSY, "uuid " + uuid + " is already used by device " + byUuid.get(uuid).name());
      }
      DeviceNumber n = new DeviceNumber(DeviceNumber.DM_MAJOR, lowestFreeMinor());
      md = new MappedDevice(this, name, uuid, n);
      byName.put(name, md);
      byMinor.put(n.minor(), md);
      if (uuid != null) {
        byUuid.put(uuid, md);
      }
      globalEvent.incrementAndGet();
    } finally {
      lock.unlock();
    }
    if (table != null) {
      try {
        md.load(table, readOnly);
        md.resume();
      } catch (RuntimeException e) {
        try {
          remove(md);
        } catch (RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      }
    }
    return md;
  }

  /** The device called {@code name}, if any. */
  public Optional<MappedDevice> find(String name) {
    lock.lock();
    try {
      return Optional.ofNullable(byName.get(name));
    } finally {
      lock.unlock();
    }
  }

  /** The device with {@code uuid}, if any. */
  public Optional<MappedDevice> findByUuid(String uuid) {
    lock.lock();
    try {
      return Optional.ofNullable(byUuid.get(uuid));
    } finally {
      lock.unlock();
    }
  }

  /**
   * The device called {@code name}.
   *
   * @throws DmException ({@link Errno#ENXIO}) if there is none
   */
  public MappedDevice device(String name) {
    return find(name)
        .orElseThrow(() -> new DmException(Errno.ENXIO, "device " + name + " does not exist"));
  }

  /** All devices, by name ({@code dmsetup ls}). */
  public List<MappedDevice> list() {
    lock.lock();
    try {
      List<MappedDevice> l = new ArrayList<>(byName.values());
      l.sort(Comparator.comparing(MappedDevice::name));
      return l;
    } finally {
      lock.unlock();
    }
  }

  /** What {@code dmsetup ls} prints: {@code "NAME\t(253:0)"} lines, or {@code No devices found}. */
  public String ls() {
    List<MappedDevice> l = list();
    if (l.isEmpty()) {
      return "No devices found\n";
    }
    StringBuilder sb = new StringBuilder();
    for (MappedDevice md : l) {
      sb.append(md.name()).append("\t(").append(md.number()).append(")\n");
    }
    return sb.toString();
  }

  /** Loads a table into {@code name}'s inactive slot ({@code dmsetup load}). */
  public void load(String name, String table) {
    device(name).load(table);
  }

  public void suspend(String name, SuspendMode mode) {
    device(name).suspend(mode);
  }

  public void resume(String name) {
    device(name).resume();
  }

  public void clear(String name) {
    device(name).clear();
  }

  /** {@code dmsetup message NAME SECTOR WORDS...}. */
  public String message(String name, long sector, String... argv) {
    return device(name).message(sector, argv);
  }

  /** How {@link #remove(String, RemoveOption...)} treats a device that is open. */
  public enum RemoveOption {
    /** Remove it when its last opener closes ({@code --deferred}). */
    DEFERRED,
    /**
     * First replace its table with one that fails all I/O ({@code --force}), so openers see errors
     * rather than a device that silently went away; removal then still waits for them to close.
     */
    FORCE
  }

  /**
   * Removes a device ({@code dmsetup remove}): I/O in flight finishes, held I/O fails, its tables
   * are destroyed and their devices released.
   *
   * @throws DmException ({@link Errno#ENXIO}) if there is no such device, ({@link Errno#EBUSY}) if
   *     it is open or used by another device's table (unless {@link RemoveOption#DEFERRED})
   */
  public void remove(String name, RemoveOption... options) {
    MappedDevice md = device(name);
    Set<RemoveOption> opts = options.length == 0 ? Set.of() : Set.of(options);
    if (opts.contains(RemoveOption.FORCE) && md.openCount() > 0) {
      long size = md.sectors();
      if (size > 0) {
        // as dmsetup --force: noflush, so I/O held below cannot hang the swap
        md.load(TableSpec.builder().add(0, size, "error").build(), false);
        md.resume(SuspendMode.NOFLUSH);
      }
    }
    if (opts.contains(RemoveOption.DEFERRED)) {
      lock.lock();
      try {
        if (md.openCount() > 0) {
          md.markDeferredRemove();
          return;
        }
      } finally {
        lock.unlock();
      }
    }
    remove(md);
  }

  void remove(MappedDevice md) {
    ReentrantLock control = md.controlLock();
    control.lock();
    try {
      if (md.isRemoved()) {
        return;
      }
      lock.lock();
      try {
        int opens = md.openCount();
        if (opens > 0) {
          throw new DmException(
              Errno.EBUSY,
              "device "
                  + md.name()
                  + " is busy: open count "
                  + opens
                  + " (open handles, or tables of other devices using it)");
        }
        unlink(md);
      } finally {
        lock.unlock();
      }
      md.teardown();
    } finally {
      control.unlock();
    }
  }

  /** Counts an opener of {@code md}, unless it is being removed. */
  void openHandle(MappedDevice md) {
    lock.lock();
    try {
      if (md.isRemoved() || byName.get(md.name()) != md) {
        throw new IllegalStateException(md.name() + " has been removed");
      }
      md.acquireOpen();
    } finally {
      lock.unlock();
    }
  }

  /** An opener of {@code md} closed; true when a deferred remove of it is now due. */
  boolean releaseOpener(MappedDevice md) {
    lock.lock();
    try {
      return md.dropOpener();
    } finally {
      lock.unlock();
    }
  }

  /** Forgets the dependencies recorded while {@code md} loaded a table. */
  void loadFinished(MappedDevice md) {
    lock.lock();
    try {
      pendingDeps.remove(md);
    } finally {
      lock.unlock();
    }
  }

  void removeDeferred(MappedDevice md) {
    remove(md);
  }

  private void unlink(MappedDevice md) {
    byName.remove(md.name(), md);
    md.uuid().ifPresent(u -> byUuid.remove(u, md));
    byMinor.remove(md.number().minor(), md);
    globalEvent.incrementAndGet();
  }

  /**
   * Renames a device ({@code dmsetup rename}).
   *
   * @throws DmException ({@link Errno#EBUSY}) if {@code newName} is taken
   */
  public void rename(String name, String newName) {
    checkName(newName);
    MappedDevice md;
    lock.lock();
    try {
      if (byName.containsKey(newName)) {
        throw new DmException(
            Errno.EBUSY,
            "Unable to change name on mapped device "
                + name
                + " to one that already exists: "
                + newName);
      }
      md = byName.get(name);
      if (md == null) {
        throw new DmException(
            Errno.ENXIO, "Unable to rename non-existent device, " + name + " to " + newName);
      }
      byName.remove(name);
      byName.put(newName, md);
      md.setName(newName);
      globalEvent.incrementAndGet();
    } finally {
      lock.unlock();
    }
    md.raiseEvent();
  }

  /**
   * Sets a device's uuid, which is only possible while it has none ({@code dmsetup rename
   * --setuuid}).
   */
  public void setUuid(String name, String uuid) {
    checkUuid(uuid);
    MappedDevice md;
    lock.lock();
    try {
      if (byUuid.containsKey(uuid)) {
        throw new DmException(
            Errno.EBUSY,
            "Unable to change uuid on mapped device "
                + name
                + " to one that already exists: "
                + uuid);
      }
      md = byName.get(name);
      if (md == null) {
        throw new DmException(
            Errno.ENXIO, "Unable to rename non-existent device, " + name + " to uuid " + uuid);
      }
      if (md.uuid().isPresent()) {
        throw new DmException(
            Errno.EINVAL,
            "Unable to change uuid of mapped device "
                + name
                + " to "
                + uuid
                + " because uuid is already set to "
                + md.uuid().get());
      }
      byUuid.put(uuid, md);
      md.setUuid(uuid);
    } finally {
      lock.unlock();
    }
    md.raiseEvent();
  }

  /** The target types, newest first ({@code dmsetup targets}). */
  public List<TargetType> targets() {
    return registry.list();
  }

  /** A counter that changes on every create, remove, rename and table swap. */
  public int globalEventNr() {
    return globalEvent.get();
  }

  void globalEvent() {
    globalEvent.incrementAndGet();
  }

  /**
   * The kernel's {@code check_name} ({@code drivers/md/dm-ioctl.c}) and libdevmapper's length rule
   * ({@code DM_NAME_LEN}), plus what makes a name safe to print: valid UTF-8 with no control
   * character, so a name can neither forge lines in {@code ls}, {@code info} or {@code table}
   * output nor have two spellings (libdevmapper mangles such characters to {@code \xNN}; jdm
   * refuses them).
   */
  private static void checkName(String name) {
    Objects.requireNonNull(name, "name");
    checkPrintable("device name", name, MAX_NAME);
    if (name.indexOf('/') >= 0) {
      throw new DmException(Errno.EINVAL, "device name cannot contain '/'");
    }
    if (name.equals("control") || name.equals(".") || name.equals("..")) {
      throw new DmException(Errno.EINVAL, "device name cannot be \"control\", \".\", or \"..\"");
    }
  }

  private static void checkUuid(String uuid) {
    checkPrintable("uuid", uuid, MAX_UUID);
  }

  /**
   * {@code what} is 1 to {@code maxBytes} bytes of UTF-8 (no unpaired surrogate) with no C0 or C1
   * control character and no DEL.
   */
  private static void checkPrintable(String what, String s, int maxBytes) {
    if (s.isEmpty()) {
      throw new DmException(Errno.EINVAL, what + " must not be empty");
    }
    int bytes = 0;
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      if (Character.isSurrogate((char) c)) {
        throw new DmException(
            Errno.EINVAL,
            what + " \"" + escaped(s) + "\" is not valid UTF-8 (unpaired surrogate at " + i + ")");
      }
      if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
        throw new DmException(
            Errno.EINVAL,
            String.format(
                Locale.ROOT,
                "%s \"%s\" contains the control character 0x%02x at %d (names and uuids are"
                    + " printable UTF-8)",
                what,
                escaped(s),
                c,
                i));
      }
      bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      i += Character.charCount(c);
    }
    if (bytes > maxBytes) {
      throw new DmException(
          Errno.EINVAL,
          what
              + " \""
              + escaped(s)
              + "\" too long: "
              + bytes
              + " bytes (at most "
              + maxBytes
              + ")");
    }
  }

  /** {@code s} with control characters and surrogates as {@code \\xNN} / {@code \\uNNNN}. */
  static String escaped(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
        sb.append(String.format(Locale.ROOT, "\\x%02x", (int) c));
      } else if (Character.isSurrogate(c)
          && !(Character.isHighSurrogate(c)
              && i + 1 < s.length()
              && Character.isLowSurrogate(s.charAt(i + 1)))
          && !(Character.isLowSurrogate(c)
              && i > 0
              && Character.isHighSurrogate(s.charAt(i - 1)))) {
        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------------------------------------
  // Underlying devices

  /**
   * Makes {@code device} usable in tables under {@code name}. It stays the caller's: the device
   * mapper never closes it.
   *
   * @throws DmException ({@link Errno#EBUSY}) if the name is registered already
   */
  public DeviceNumber registerDevice(String name, BlockDevice device) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(device, "device");
    lock.lock();
    try {
      ensureOpen();
      if (registered.containsKey(name)) {
        throw new DmException(Errno.EBUSY, "a device named " + name + " is already registered");
      }
      registered.put(name, device);
      return numberFor(new DeviceKey.Registered(name), name, DeviceNumber.LOCAL_MAJOR);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Forgets a registered device.
   *
   * @throws DmException ({@link Errno#EBUSY}) while a table uses it
   */
  public void unregisterDevice(String name) {
    lock.lock();
    try {
      DeviceKey key = new DeviceKey.Registered(name);
      for (OpenKey k : open.keySet()) {
        if (k.key.equals(key)) {
          throw new DmException(
              Errno.EBUSY, "device " + name + " is used by the table of " + k.owner.name());
        }
      }
      if (registered.remove(name) == null) {
        throw new DmException(Errno.ENXIO, "no device named " + name + " is registered");
      }
    } finally {
      lock.unlock();
    }
  }

  /** Adds a resolver for device paths the core does not understand. */
  public void addResolver(DeviceResolver resolver) {
    resolvers.add(Objects.requireNonNull(resolver, "resolver"));
  }

  /** The {@code major:minor} this device mapper gives a path, if it has given it one. */
  public Optional<DeviceNumber> numberOf(String path) {
    lock.lock();
    try {
      Resolved r = resolve(path, null);
      return r == null ? Optional.empty() : Optional.ofNullable(numbers.get(r.key));
    } catch (DmException e) {
      return Optional.empty();
    } finally {
      lock.unlock();
    }
  }

  /** One open underlying device, per using mapped device, key and mode. */
  static final class OpenDevice {
    final OpenKey key;
    final BlockDevice bdev;
    final DeviceNumber number;
    final MappedDevice mapped;
    final boolean owned;
    int refs;

    OpenDevice(
        OpenKey key, BlockDevice bdev, DeviceNumber number, MappedDevice mapped, boolean owned) {
      this.key = key;
      this.bdev = bdev;
      this.number = number;
      this.mapped = mapped;
      this.owned = owned;
    }
  }

  private record OpenKey(MappedDevice owner, DeviceKey key, boolean writable) {}

  /**
   * What a device path names: the key of its number and of its open instance, so that one device
   * named two ways ({@code 7:0}, its path, a symlink to it) is one device.
   */
  sealed interface DeviceKey {
    /** A device the embedder registered under {@code name}. */
    record Registered(String name) implements DeviceKey {}

    /** A device a {@link DeviceResolver} claims, under the resolver's own key. */
    record FromResolver(DeviceResolver resolver, String key) implements DeviceKey {}

    /** A file or kernel block device, by its real path. */
    record File(Path path) implements DeviceKey {}

    /** A mapped device of this device mapper. */
    record Mapped(int minor) implements DeviceKey {}
  }

  /** A numbered key and a path that names it, to open it again by number. */
  private record Named(DeviceKey key, String path) {}

  /** What a path resolves to, before it is opened. */
  private static final class Resolved {
    DeviceKey key;
    int major;
    MappedDevice mapped;
    BlockDevice registered;
    DeviceResolver resolver;
    String resolverPath;
    Path file;
  }

  /**
   * Opens (or references again) the device {@code path} for a table of {@code owner}. Files and
   * resolver devices are opened outside the registry lock, so a slow open (a network device) does
   * not stall the device mapper.
   */
  OpenDevice acquire(MappedDevice owner, String path, boolean writable) {
    Resolved r;
    OpenKey k;
    lock.lock();
    try {
      ensureOpen();
      r = resolve(path, owner);
      if (r == null) {
        throw new TargetException(Errno.ENXIO, path + ": no such device");
      }
      k = new OpenKey(owner, r.key, writable);
      OpenDevice od = open.get(k);
      if (od == null && (r.mapped != null || r.registered != null)) {
        od = openInMemory(k, r, path, writable);
        open.put(k, od);
      }
      if (od != null) {
        od.refs++;
        return od;
      }
    } finally {
      lock.unlock();
    }
    BlockDevice dev = openOutside(r, path, writable);
    String named = path;
    BlockDevice duplicate = null;
    lock.lock();
    try {
      OpenDevice od = open.get(k);
      if (od == null) {
        od = new OpenDevice(k, dev, numberOf(r, named, dev), null, true);
        open.put(k, od);
      } else {
        duplicate = dev; // another load of this device opened it meanwhile
      }
      od.refs++;
      return od;
    } finally {
      lock.unlock();
      if (duplicate != null) {
        closeQuietly(duplicate);
      }
    }
  }

  /** A mapped or registered device: nothing to open, only checks and counts. Lock held. */
  private OpenDevice openInMemory(OpenKey k, Resolved r, String path, boolean writable) {
    if (r.mapped != null) {
      MappedDevice m = r.mapped;
      if (m == k.owner) {
        throw new TargetException(path + ": a device cannot be used in its own table");
      }
      if (reaches(m, k.owner)) {
        throw new TargetException(
            Errno.ELOOP,
            path + ": " + m.name() + " depends on " + k.owner.name() + " (dependency loop)");
      }
      if (writable && m.isReadOnly()) {
        throw new TargetException(Errno.EACCES, path + ": device is read-only");
      }
      m.acquireOpen();
      pendingDeps.computeIfAbsent(k.owner, x -> new ArrayList<>()).add(m);
      return new OpenDevice(k, m, m.number(), m, false);
    }
    if (writable && r.registered.isReadOnly()) {
      throw new TargetException(Errno.EACCES, path + ": device is read-only");
    }
    return new OpenDevice(k, r.registered, numberFor(r.key, path, r.major), null, false);
  }

  private static BlockDevice openOutside(Resolved r, String path, boolean writable) {
    try {
      if (r.resolver != null) {
        return r.resolver.open(r.resolverPath, !writable);
      }
      return FileBlockDevice.builder(r.file).name(path).readOnly(!writable).open();
    } catch (NoSuchFileException e) {
      throw new TargetException(Errno.ENXIO, path + ": no such file or device");
    } catch (FileBlockDevice.NotABlockDeviceException e) {
      throw new TargetException(Errno.ENOTBLK, e.getMessage(), e);
    } catch (AccessDeniedException e) {
      throw new TargetException(Errno.EACCES, path + ": permission denied");
    } catch (IOException | RuntimeException e) {
      throw new TargetException(Errno.ENXIO, path + ": cannot open: " + e.getMessage(), e);
    }
  }

  /** The number for an opened file or resolver device: a block device's own, or a new one. */
  private DeviceNumber numberOf(Resolved r, String path, BlockDevice dev) {
    if (dev instanceof FileBlockDevice && ((FileBlockDevice) dev).blockDeviceNumber().isPresent()) {
      DeviceNumber n = ((FileBlockDevice) dev).blockDeviceNumber().get();
      numbers.putIfAbsent(r.key, n);
      keysByNumber.putIfAbsent(n, new Named(r.key, path));
      return n;
    }
    return numberFor(r.key, path, r.major);
  }

  private static void closeQuietly(BlockDevice dev) {
    try {
      dev.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "closing " + dev.name() + " failed", e);
    }
  }

  /** Whether {@code from}'s tables use {@code target}, directly or through other devices. */
  private boolean reaches(MappedDevice from, MappedDevice target) {
    ArrayDeque<MappedDevice> work = new ArrayDeque<>();
    Set<MappedDevice> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    work.add(from);
    while (!work.isEmpty()) {
      MappedDevice m = work.poll();
      if (m == target) {
        return true;
      }
      if (seen.add(m)) {
        work.addAll(m.mappedDeps());
        work.addAll(pendingDeps.getOrDefault(m, List.of()));
      }
    }
    return false;
  }

  private Resolved resolve(String path, MappedDevice owner) {
    Objects.requireNonNull(path, "path");
    if (path.isEmpty()) {
      throw new TargetException(Errno.ENXIO, "empty device path");
    }
    DeviceNumber n = DeviceNumber.parse(path);
    if (n != null) {
      return resolveNumber(n);
    }
    if (path.startsWith("/dev/mapper/")) {
      MappedDevice m = byName.get(path.substring("/dev/mapper/".length()));
      if (m != null) {
        return mapped(m);
      }
    }
    BlockDevice reg = registered.get(path);
    if (reg != null) {
      Resolved r = new Resolved();
      r.key = new DeviceKey.Registered(path);
      r.major = DeviceNumber.LOCAL_MAJOR;
      r.registered = reg;
      return r;
    }
    MappedDevice m = byName.get(path);
    if (m != null) {
      return mapped(m);
    }
    for (DeviceResolver dr : resolvers) {
      String key = dr.key(path);
      if (key != null) {
        Resolved r = new Resolved();
        r.key = new DeviceKey.FromResolver(dr, key);
        r.major = dr.major();
        r.resolver = dr;
        r.resolverPath = path;
        return r;
      }
    }
    Path p;
    try {
      p = Path.of(path);
    } catch (java.nio.file.InvalidPathException e) {
      return null;
    }
    if (!Files.exists(p)) {
      return null;
    }
    Resolved r = new Resolved();
    try {
      r.key = new DeviceKey.File(p.toRealPath());
    } catch (IOException e) {
      r.key = new DeviceKey.File(p.toAbsolutePath().normalize());
    }
    r.major = DeviceNumber.LOOP_MAJOR;
    r.file = p;
    return r;
  }

  private Resolved resolveNumber(DeviceNumber n) {
    if (n.major() == DeviceNumber.DM_MAJOR) {
      MappedDevice m = byMinor.get(n.minor());
      return m == null ? null : mapped(m);
    }
    Named named = keysByNumber.get(n);
    if (named != null) {
      DeviceKey key = named.key();
      if (key instanceof DeviceKey.Registered reg) {
        return resolve(reg.name(), null);
      }
      Resolved r = new Resolved();
      r.key = key;
      r.major = n.major();
      if (key instanceof DeviceKey.File f) {
        r.file = f.path();
        return r;
      }
      if (key instanceof DeviceKey.FromResolver fr) {
        r.resolver = fr.resolver();
        r.resolverPath = named.path();
        return r;
      }
      return null; // mapped devices are numbered by their minor, never through this map
    }
    Path sys = Path.of("/sys/dev/block/" + n);
    if (Files.exists(sys)) {
      Resolved r = new Resolved();
      r.file = Path.of("/dev/block/" + n);
      r.key = new DeviceKey.File(r.file);
      r.major = n.major();
      return r;
    }
    return null;
  }

  private static Resolved mapped(MappedDevice m) {
    Resolved r = new Resolved();
    r.key = new DeviceKey.Mapped(m.number().minor());
    r.major = DeviceNumber.DM_MAJOR;
    r.mapped = m;
    return r;
  }

  private DeviceNumber numberFor(DeviceKey key, String path, int major) {
    DeviceNumber n = numbers.get(key);
    if (n == null) {
      n = allocate(major);
      numbers.put(key, n);
      keysByNumber.put(n, new Named(key, path));
    }
    return n;
  }

  /**
   * The lowest minor no mapped device has, as the kernel's {@code next_free_minor} ({@code
   * idr_alloc} from 0): numbers of removed devices are given again.
   */
  private int lowestFreeMinor() {
    int m = 0;
    while (byMinor.containsKey(m)) {
      m++;
    }
    return m;
  }

  private DeviceNumber allocate(int major) {
    int minor = nextMinor.merge(major, 1, Integer::sum) - 1;
    return new DeviceNumber(major, minor);
  }

  void release(OpenDevice od) {
    boolean last;
    lock.lock();
    try {
      last = --od.refs == 0;
      if (last) {
        open.remove(od.key, od);
      }
    } finally {
      lock.unlock();
    }
    if (!last) {
      return;
    }
    if (od.mapped != null) {
      od.mapped.releaseOpen();
    } else if (od.owned) {
      closeQuietly(od.bdev);
    }
  }

  /** Devices this device mapper holds open for tables (for leak checks). */
  public int openDeviceCount() {
    lock.lock();
    try {
      return open.size();
    } finally {
      lock.unlock();
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("device mapper is closed");
    }
  }

  /**
   * Removes every device (devices nothing else uses first, so stacks come down from the top) and
   * releases everything opened for them. Idempotent.
   */
  @Override
  public void close() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
    } finally {
      lock.unlock();
    }
    while (true) {
      List<MappedDevice> left;
      lock.lock();
      try {
        left = new ArrayList<>(byName.values());
      } finally {
        lock.unlock();
      }
      if (left.isEmpty()) {
        break;
      }
      boolean progress = false;
      for (MappedDevice md : left) {
        if (md.openCount() == 0) {
          remove(md);
          progress = true;
        }
      }
      if (!progress) {
        // Only open handles keep the rest: tear them down anyway, their I/O fails from now on.
        for (MappedDevice md : left) {
          forceTeardown(md);
        }
        break;
      }
    }
    if (ownsClock) {
      ((Clock.SystemClock) clock).close();
    }
  }

  private void forceTeardown(MappedDevice md) {
    LOG.log(
        System.Logger.Level.WARNING,
        "closing device mapper: " + md.name() + " is still open; removing it anyway");
    ReentrantLock control = md.controlLock();
    control.lock();
    try {
      lock.lock();
      try {
        unlink(md);
      } finally {
        lock.unlock();
      }
      if (!md.isRemoved()) {
        md.teardown();
      }
    } finally {
      control.unlock();
    }
  }

  /** Options for a {@link DeviceMapper}. */
  public static final class Builder {
    private TargetRegistry registry;
    private Clock clock;
    private boolean ioTiming;
    private Long seed;

    private Builder() {}

    /**
     * The seed of every random choice targets make ({@link TargetContext#random()}: flakey's
     * corruption, and the like); default one drawn at random and logged at DEBUG, so a failure can
     * be replayed by giving it here.
     */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /** The target types to use; default {@link TargetRegistry#loadDefault()}. */
    public Builder registry(TargetRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * The clock for targets and statistics; default a {@link Clock#system() system clock} that the
     * device mapper closes with itself. A clock given here stays the caller's.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Measure per-I/O time for the statistics (two clock reads per bio); default off. */
    public Builder ioTiming(boolean ioTiming) {
      this.ioTiming = ioTiming;
      return this;
    }

    public DeviceMapper build() {
      return new DeviceMapper(this);
    }
  }
}
