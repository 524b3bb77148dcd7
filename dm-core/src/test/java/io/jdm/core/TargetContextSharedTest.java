package io.jdm.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@link TargetContext#shared}: one instance per type and device mapper, made once. */
class TargetContextSharedTest {
  /** What the targets under test share. */
  static final class Registry {
    final int serial;

    Registry(int serial) {
      this.serial = serial;
    }
  }

  private final AtomicInteger made = new AtomicInteger();
  private final List<Registry> seen = new CopyOnWriteArrayList<>();

  private DeviceMapper mapper() {
    TargetRegistry reg = TargetRegistry.builtins();
    reg.register(
        TestTargets.type(
            "sharer",
            Set.of(),
            (ctx, begin, length, args) -> {
              seen.add(ctx.shared(Registry.class, () -> new Registry(made.incrementAndGet())));
              return bio -> {
                bio.complete(BlockStatus.OK);
                return MapResult.SUBMITTED;
              };
            }));
    return DeviceMapper.builder().registry(reg).build();
  }

  @Test
  void targetsOfOneDeviceMapperShareOneInstanceAndOthersDoNot() {
    try (DeviceMapper a = mapper();
        DeviceMapper b = mapper()) {
      a.create("x", "0 8 sharer\n8 8 sharer");
      a.create("y", "0 8 sharer");
      a.device("y").load("0 8 sharer");
      b.create("x", "0 8 sharer");
      assertThat(seen).hasSize(5);
      assertThat(made).hasValue(2);
      assertThat(seen.subList(0, 4)).allMatch(r -> r == seen.get(0));
      assertThat(seen.get(4)).isNotSameAs(seen.get(0));
    }
  }
}
