/**
 * JMH benchmarks of jdm's I/O path. Each benchmark has a baseline measured in the same run, and
 * {@link io.jdm.bench.BenchSuite} prints every figure beside its goal and its ratio to that
 * baseline. Never asserted as a time in a test: CI only runs each benchmark once, briefly, so they
 * cannot rot.
 */
package io.jdm.bench;
