#!/usr/bin/env bash
# Builds the benchmark jar and runs the whole suite (about a quarter of an hour on two cores):
# JMH JSON and a Markdown report land in dm-bench/results/ (or the folder given with --out).
# Extra arguments go to io.jdm.bench.BenchSuite: --smoke for a quick check, or a regex to run
# only some benchmarks, e.g.  dm-bench/run.sh MapPath
# A full run (no arguments) ends with the NBD comparison, fio over jdm's NBD server beside
# nbdkit's memory plugin (dm-nbd/bench.sh), when fio and nbdkit are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -DskipTests -pl dm-bench -am package
java -cp dm-bench/target/dm-bench.jar io.jdm.bench.BenchSuite "$@"
if [ "$#" -eq 0 ]; then
  if command -v fio >/dev/null && command -v nbdkit >/dev/null; then
    echo
    echo "NBD: fio --ioengine=nbd over a Unix socket, jdm NbdServer (linear over memory) vs nbdkit memory"
    RUNTIME="${NBD_RUNTIME:-5}" SIZE_MB="${NBD_SIZE_MB:-128}" dm-nbd/bench.sh | tee dm-bench/results/nbd.txt
  else
    echo "(fio or nbdkit not installed: the NBD comparison, dm-nbd/bench.sh, was skipped)"
  fi
fi
