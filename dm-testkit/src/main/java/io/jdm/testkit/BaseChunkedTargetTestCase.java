package io.jdm.testkit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdm.core.BlockDevice;
import io.jdm.core.BlockStatus;
import io.jdm.testkit.DeviceCapabilities.Data;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;

/**
 * The suite for targets that cut the device into chunks (striped, and later unstriped, switch,
 * snapshot, dust...): everything in {@link BaseTargetTestCase} with a chunk size picked from the
 * seed, plus sweeps over tiny power-of-two chunk sizes so that every kind of boundary crossing is
 * exercised: I/O straddling each chunk boundary, I/O spanning many chunks from odd offsets, and
 * random I/O at every chunk size.
 */
public abstract class BaseChunkedTargetTestCase extends BaseTargetTestCase {
  private int chunk;

  protected BaseChunkedTargetTestCase() {}

  /** Arguments for a line of {@code length} sectors cut in chunks of {@code chunkSectors}. */
  protected abstract String targetArgs(TargetFixture fixture, long length, int chunkSectors)
      throws IOException;

  /** Chunk sizes to sweep, in sectors; default 1 to 128. */
  protected int[] chunkSizes() {
    return new int[] {1, 2, 4, 8, 16, 32, 64, 128};
  }

  /** The line length for a requested size and chunk size. */
  protected long targetLength(long sectors, int chunkSectors) {
    return sectors / chunkSectors * chunkSectors;
  }

  /** The chunk size the inherited tests use in this run (from the seed). */
  protected final int chunk() {
    if (chunk == 0) {
      int[] sizes = chunkSizes();
      chunk = sizes[Math.floorMod(seed(), sizes.length)];
    }
    return chunk;
  }

  @Override
  protected final String targetArgs(TargetFixture fixture, long length) throws IOException {
    return targetArgs(fixture, length, chunk());
  }

  @Override
  protected final long targetLength(long sectors) {
    return targetLength(sectors, chunk());
  }

  private BlockDevice deviceWithChunk(int c, long sectors) throws IOException {
    chunk = c;
    return newDevice(sectors);
  }

  @Test
  public void testRandomIoAtEveryChunkSize() throws IOException {
    for (int c : chunkSizes()) {
      BlockDevice dev = deviceWithChunk(c, 1024);
      ReferenceModel model = new ReferenceModel(dev.sectors());
      for (int i = 0; i < 120; i++) {
        randomOp(dev, model, 0, dev.sectors(), random);
      }
      verify(dev, model, 0, (int) dev.sectors());
    }
  }

  @Test
  public void testIoStraddlingEveryChunkBoundary() throws IOException {
    assumeTrue(
        capabilities().writesSucceed() && capabilities().data() == Data.PERSISTENT,
        "the device does not keep what is written (capabilities: writesSucceed and data PERSISTENT)");
    for (int c : chunkSizes()) {
      BlockDevice dev = deviceWithChunk(c, 512);
      int bs = blockSectors(dev);
      ReferenceModel model = new ReferenceModel(dev.sectors());
      for (long b = c; b < dev.sectors(); b += c) {
        int before = bs * (1 + random.nextInt(2));
        long start = b - before;
        if (start < 0 || start % bs != 0) {
          continue;
        }
        int after = (int) Math.min(bs * (1 + random.nextInt(2)), dev.sectors() - b);
        ByteBuffer data = randomData((before + after) * 512);
        Assertions.assertThat(writeBio(dev, start, data, 0))
            .as("write [%d, %d) across boundary %d, chunk %d", start, b + after, b, c)
            .isEqualTo(BlockStatus.OK);
        model.write(start, data);
        verify(dev, model, start, before + after);
      }
      verify(dev, model, 0, (int) dev.sectors());
    }
  }

  @Test
  public void testIoSpanningManyChunks() throws IOException {
    assumeTrue(
        capabilities().writesSucceed() && capabilities().data() == Data.PERSISTENT,
        "the device does not keep what is written (capabilities: writesSucceed and data PERSISTENT)");
    for (int c : chunkSizes()) {
      BlockDevice dev = deviceWithChunk(c, 2048);
      int bs = blockSectors(dev);
      ReferenceModel model = new ReferenceModel(dev.sectors());
      long start = bs * (1 + random.nextInt(7));
      int len = (int) Math.min(37L * c + 3L * bs, dev.sectors() - start) / bs * bs;
      ByteBuffer data = randomData(len * 512);
      Assertions.assertThat(writeBio(dev, start, data, 0)).isEqualTo(BlockStatus.OK);
      model.write(start, data);
      verify(dev, model, 0, (int) dev.sectors());
    }
  }
}
