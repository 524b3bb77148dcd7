#!/usr/bin/env bash
# fio over NBD on a Unix socket, jdm beside nbdkit on the same machine in the same run:
#   jdm:    NbdServer exporting "bench", linear over a direct MemoryBlockDevice
#   nbdkit: the memory plugin
# Jobs: 4 KiB randrw at iodepth 32, and 1 MiB sequential read (after a sequential fill).
# Prints IOPS / bandwidth per job and the jdm / nbdkit ratio. Needs fio (with the nbd engine),
# nbdkit, python3, a JDK and Maven. Knobs: SIZE_MB (default 256), RUNTIME seconds (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."

size=${SIZE_MB:-256}
runtime=${RUNTIME:-10}
for tool in fio nbdkit python3 java mvn; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool is not installed" >&2; exit 2; }
done

mvn -B -q install -N
mvn -B -q install -DskipTests -pl dm-core,dm-testkit
mvn -B -q test-compile -pl dm-nbd
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

echo "== nbdkit memory (${size} MiB)" >&2
kit=$(nbdkit -U - memory "${size}M" --run "$dir/fio-jobs.sh \$uri")

echo "== jdm NbdServer, linear over MemoryBlockDevice (${size} MiB)" >&2
coproc JDM { exec java -Xmx1g -cp "$cp" io.jdm.nbd.BenchServer "$dir/jdm.sock" "$size"; }
read -r ready <&"${JDM[0]}"
[ "$ready" = ready ] || { echo "bench.sh: jdm server did not start" >&2; exit 1; }
jdm=$("$dir/fio-jobs.sh" "nbd+unix:///bench?socket=$dir/jdm.sock")
eval "exec ${JDM[1]}>&-"
wait "$JDM_PID" || true
JDM_PID=

python3 - "$kit" "$jdm" <<'PY'
import sys
kit = {l.split()[0]: l.split()[1:] for l in sys.argv[1].splitlines()}
jdm = {l.split()[0]: l.split()[1:] for l in sys.argv[2].splitlines()}
print(f"{'job':10} {'nbdkit IOPS':>12} {'jdm IOPS':>12} {'nbdkit MiB/s':>13} {'jdm MiB/s':>10} {'ratio':>6}")
for job in ("randrw", "seqread"):
    ki, kb = map(float, kit[job]); ji, jb = map(float, jdm[job])
    print(f"{job:10} {ki:12.0f} {ji:12.0f} {kb/2**20:13.1f} {jb/2**20:10.1f} {ji/ki:6.2f}")
PY
