#!/usr/bin/env bash
# fio over NBD on a Unix socket, jdm beside nbdkit on the same machine in the same run:
#   jdm:    NbdServer exporting "bench", linear over a direct MemoryBlockDevice
#   nbdkit: the memory plugin
# Jobs: 4 KiB randrw at iodepth 32, and 1 MiB sequential read (after a sequential fill).
# RUNS rounds (default 5), nbdkit and jdm alternating which goes first; prints every round's IOPS /
# bandwidth per job, the medians and the jdm / nbdkit rate ratio of the medians (higher is better),
# with the load and the host's CPU. Needs fio (with the nbd engine), nbdkit, python3, a JDK and
# Maven. Knobs: SIZE_MB (default 256), RUNTIME seconds (default 10), RUNS (default 5), WARMUP
# seconds of unmeasured randrw (and 2 s of reads) before the measured jobs on each server, so a
# fresh JVM's JIT is not measured (default 10; 0 for none), JFR=FILE (records the jdm server of
# the last round with Java Flight Recorder into FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

size=${SIZE_MB:-256}
runtime=${RUNTIME:-10}
for tool in fio nbdkit python3 java mvn; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool is not installed" >&2; exit 2; }
done

runs=${RUNS:-5}
warmup=${WARMUP:-10}
# builds in the reactor (never installs into the shared local repository)
mvn -B -q test-compile -pl dm-nbd -am
cp="dm-core/target/classes:dm-nbd/target/classes:dm-nbd/target/test-classes"

dir=$(mktemp -d /tmp/jdm-nbd-bench.XXXXXX)
cleanup() {
  if [ -n "${JDM_PID:-}" ]; then kill "$JDM_PID" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# the fio jobs on one connection, each printing "name iops bytes_per_s"
cat >"$dir/fio-jobs.sh" <<JOBS
#!/usr/bin/env bash
set -euo pipefail
if [ "${warmup}" -gt 0 ]; then
  # not measured: the same jobs first, so a JVM's JIT has compiled the request path (a fresh
  # JVM's C2 is still compiling it during the first seconds; nbdkit gets the same warm-up)
  fio --output-format=json --ioengine=nbd --uri="\$1" --size=${size}M \\
    --name=warm --rw=randrw --bs=4k --iodepth=32 --time_based --runtime=${warmup} \\
    --name=warmseq --stonewall --rw=read --bs=1M --iodepth=8 --time_based --runtime=2 >/dev/null
fi
out=\$(fio --output-format=json --ioengine=nbd --uri="\$1" --size=${size}M \\
  --name=randrw --rw=randrw --bs=4k --iodepth=32 --time_based --runtime=$runtime \\
  --name=fill --stonewall --rw=write --bs=1M --iodepth=8 \\
  --name=seqread --stonewall --rw=read --bs=1M --iodepth=8 --time_based --runtime=$runtime)
python3 -c '
import json, sys
text = sys.stdin.read()  # the nbd engine prints "connected" lines first
for j in json.loads(text[text.index("{"):])["jobs"]:
    if j["jobname"] != "fill":
        r, w = j["read"], j["write"]
        print(j["jobname"], r["iops"] + w["iops"], r["bw_bytes"] + w["bw_bytes"])
' <<<"\$out"
JOBS
chmod +x "$dir/fio-jobs.sh"

echo "host: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs; CPU features:" \
  "$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(aes|avx2|avx512f|vaes|vpclmulqdq)$' | tr '\n' ' ')"
echo "java: $(java -version 2>&1 | sed -n 2p); server JVM flags: -Xmx1g (otherwise defaults); $(fio --version); $(nbdkit --version)"
echo "load before: $(uptime | sed 's/.*load average/load average/')"

run_kit() {
  nbdkit -U - memory "${size}M" --run "$dir/fio-jobs.sh \$uri"
}

run_jdm() { # $1: extra JVM flags
  coproc JDM { exec java -Xmx1g $1 -cp "$cp" io.jdm.nbd.BenchServer "$dir/jdm.sock" "$size"; }
  local ready= # JFR prints its own line first
  while [ "$ready" != ready ] && read -r ready <&"${JDM[0]}"; do :; done
  [ "$ready" = ready ] || { echo "bench.sh: jdm server did not start" >&2; exit 1; }
  "$dir/fio-jobs.sh" "nbd+unix:///bench?socket=$dir/jdm.sock"
  eval "exec ${JDM[1]}>&-"
  wait "$JDM_PID" || true
  JDM_PID=
}

for r in $(seq 1 "$runs"); do
  flags=
  if [ "$r" -eq "$runs" ] && [ -n "${JFR:-}" ]; then
    flags="-XX:StartFlightRecording=filename=$JFR,settings=profile"
  fi
  if [ $((r % 2)) -eq 1 ]; then
    echo "== round $r: nbdkit memory, then jdm NbdServer (linear over MemoryBlockDevice), ${size} MiB" >&2
    run_kit >"$dir/kit-$r"
    run_jdm "$flags" >"$dir/jdm-$r"
  else
    echo "== round $r: jdm NbdServer, then nbdkit memory, ${size} MiB" >&2
    run_jdm "$flags" >"$dir/jdm-$r"
    run_kit >"$dir/kit-$r"
  fi
done
echo "load after: $(uptime | sed 's/.*load average/load average/')"

python3 - "$dir" "$runs" <<'PY'
import statistics, sys
d, runs = sys.argv[1], int(sys.argv[2])
def load(side):
    out = {}
    for r in range(1, runs + 1):
        for l in open(f"{d}/{side}-{r}").read().splitlines():
            job, iops, bw = l.split()
            out.setdefault(job, []).append((float(iops), float(bw)))
    return out
kit, jdm = load("kit"), load("jdm")
print(f"{'job':8} {'side':6} {'IOPS per round':>48} {'median IOPS':>12} {'median MiB/s':>13}")
for job in ("randrw", "seqread"):
    for side, v in (("nbdkit", kit[job]), ("jdm", jdm[job])):
        print(f"{job:8} {side:6} {' '.join(f'{i:.0f}' for i, _ in v):>48} "
              f"{statistics.median(i for i, _ in v):12.0f} {statistics.median(b for _, b in v) / 2**20:13.1f}")
    ki = statistics.median(i for i, _ in kit[job]); ji = statistics.median(i for i, _ in jdm[job])
    per = " ".join(f"{j[0] / k[0]:.2f}" for j, k in zip(jdm[job], kit[job]))
    print(f"{job:8} jdm / nbdkit rate ratio: {ji / ki:.2f} (medians; per round {per}); goal >= 1.0")
PY
