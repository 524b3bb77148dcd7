package io.jdm.nbd;

import io.jdm.core.BlockDevice;
import io.jdm.core.DeviceMapper;
import io.jdm.core.DmException;
import io.jdm.core.MappedDevice;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * What an {@link NbdServer} exports: export names to block devices.
 *
 * <p>Implementations must be thread-safe ({@link #open} is called from every connection's thread)
 * and return {@code null} from {@link #open} for a name they do not export. The empty name is the
 * protocol's default export; when {@link #open} returns {@code null} for it and exactly one export
 * is listed, the server uses that one ({@link #withDefault} names one explicitly).
 */
public interface NbdExports {

  /** The names {@code NBD_OPT_LIST} reports, in order. */
  List<String> names();

  /**
   * Opens {@code name} for one connection, or returns {@code null} if there is no such export.
   *
   * @throws IOException if the export exists but cannot be opened
   */
  NbdExport open(String name) throws IOException;

  /** Fixed exports: each device shared by every connection; the caller keeps ownership. */
  static NbdExports of(Map<String, ? extends BlockDevice> devices) {
    Map<String, BlockDevice> copy = new LinkedHashMap<>(devices);
    return new NbdExports() {
      @Override
      public List<String> names() {
        return new ArrayList<>(copy.keySet());
      }

      @Override
      public NbdExport open(String name) {
        BlockDevice d = copy.get(name);
        return d == null ? null : NbdExport.of(d);
      }
    };
  }

  /** One device as the default export and under {@code name}. */
  static NbdExports of(String name, BlockDevice device) {
    return of(Map.of(name, device));
  }

  /**
   * Exports looked up by a function (returning {@code null} for unknown names), shared and owned by
   * the caller; {@code NBD_OPT_LIST} reports nothing.
   */
  static NbdExports of(Function<String, ? extends BlockDevice> lookup) {
    Objects.requireNonNull(lookup, "lookup");
    return new NbdExports() {
      @Override
      public List<String> names() {
        return List.of();
      }

      @Override
      public NbdExport open(String name) {
        BlockDevice d = lookup.apply(name);
        return d == null ? null : NbdExport.of(d);
      }
    };
  }

  /**
   * Every mapped device of {@code dm}, under its name, as it is at connection time. Each connection
   * opens the device ({@link MappedDevice#open()}), so a device cannot be removed while a client is
   * connected to it (unless forced); the read-only flag and size are the device's.
   */
  static NbdExports of(DeviceMapper dm) {
    Objects.requireNonNull(dm, "dm");
    return new NbdExports() {
      @Override
      public List<String> names() {
        List<String> names = new ArrayList<>();
        for (MappedDevice md : dm.list()) {
          names.add(md.name());
        }
        return names;
      }

      @Override
      public NbdExport open(String name) throws IOException {
        Optional<MappedDevice> md = dm.find(name);
        if (md.isEmpty()) {
          return null;
        }
        BlockDevice handle;
        try {
          handle = md.get().open();
        } catch (DmException | IllegalStateException e) {
          return null; // removed between find and open
        }
        String uuid = md.get().uuid().orElse("");
        return new NbdExport(
            handle,
            handle.isReadOnly(),
            uuid.isEmpty() ? "jdm mapped device" : "jdm mapped device, uuid " + uuid,
            true,
            true);
      }
    };
  }

  /**
   * {@code exports}, with the empty name (the protocol's default export, what {@code
   * nbd+unix:///?socket=...} and {@code nbd://host} ask for) opening {@code defaultName}. The list
   * ({@code NBD_OPT_LIST}) is unchanged. When read-only names are configured too, wrap them inside
   * this ({@code withDefault(readOnly(e, names), name)}) so that they are asked with the real name.
   */
  static NbdExports withDefault(NbdExports exports, String defaultName) {
    Objects.requireNonNull(exports, "exports");
    Objects.requireNonNull(defaultName, "defaultName");
    if (defaultName.isEmpty()) {
      throw new IllegalArgumentException("default export name is empty");
    }
    return new NbdExports() {
      @Override
      public List<String> names() {
        return exports.names();
      }

      @Override
      public NbdExport open(String name) throws IOException {
        return exports.open(name.isEmpty() ? defaultName : name);
      }
    };
  }

  /**
   * {@code exports}, with the exports whose names {@code readOnlyNames} accepts served read-only
   * whatever their device says: {@code NBD_FLAG_READ_ONLY} is set, and writes, trims and
   * write-zeroes fail with {@code NBD_EPERM}. The predicate is asked each time a connection opens
   * an export, with the name the connection asked for (the server resolves the empty default name
   * to the single listed export before it asks), so a name can be switched at run time; a
   * connection keeps what it was given when it opened the export. It is called from every
   * connection's thread and must be thread-safe.
   */
  static NbdExports readOnly(NbdExports exports, Predicate<String> readOnlyNames) {
    Objects.requireNonNull(exports, "exports");
    Objects.requireNonNull(readOnlyNames, "readOnlyNames");
    return new NbdExports() {
      @Override
      public List<String> names() {
        return exports.names();
      }

      @Override
      public NbdExport open(String name) throws IOException {
        NbdExport e = exports.open(name);
        if (e == null || e.readOnly() || !readOnlyNames.test(name)) {
          return e;
        }
        return new NbdExport(e.device(), true, e.description(), e.shared(), e.closeWhenDone());
      }
    };
  }
}
