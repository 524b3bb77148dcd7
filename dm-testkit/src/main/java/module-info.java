/** The conformance suites every jdm block device and target passes. */
module io.jdm.testkit {
  requires transitive io.jdm.core;
  requires transitive org.junit.jupiter.api;
  requires transitive org.assertj.core;

  exports io.jdm.testkit;
  exports io.jdm.testkit.crash;

  opens io.jdm.testkit to
      org.junit.platform.commons;
}
