/** The seed tutorial: a user-written target and a demo of it. */
module io.jdm.examples {
  requires transitive io.jdm.core;
  requires java.logging;

  exports io.jdm.examples;

  provides io.jdm.core.TargetType with
      io.jdm.examples.BasicTarget;
}
