#!/usr/bin/env bash
# Builds the benchmark jar and runs the whole suite (about a quarter of an hour on two cores):
# JMH JSON and a Markdown report land in dm-bench/results/ (or the folder given with --out).
# Extra arguments go to io.jdm.bench.BenchSuite: --smoke for a quick check, or a regex to run
# only some benchmarks, e.g.  dm-bench/run.sh MapPath
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -DskipTests -pl dm-bench -am package
java -cp dm-bench/target/dm-bench.jar io.jdm.bench.BenchSuite "$@"
