package io.jdm.testkit.core.targets;

import io.jdm.testkit.BaseTargetTestCase;
import io.jdm.testkit.DeviceCapabilities;
import io.jdm.testkit.TargetFixture;
import java.io.IOException;

/** Two linear lines over two files: the device mapper opens and closes the files itself. */
class LinearTargetOverFilesTest extends BaseTargetTestCase {
  @Override
  protected String targetType() {
    return "linear";
  }

  @Override
  protected String targetArgs(TargetFixture fixture, long length) throws IOException {
    return fixture.file(length) + " 0";
  }

  @Override
  protected DeviceCapabilities capabilities() {
    // files punch holes where JNA and the file system can
    return DeviceCapabilities.disk()
        .withDiscard(io.jdm.testkit.core.FileBlockDevicePunchTest.fileDiscard());
  }
}
