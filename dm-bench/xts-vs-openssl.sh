#!/usr/bin/env bash
# jdm's AES-XTS beside OpenSSL's, side by side in one run, on whatever CPU this is:
#   openssl speed -elapsed -evp aes-256-xts -bytes 512 and -bytes 4096 (encryption),
#   CryptBenchmark.xts at 512- and 4096-byte sectors (encrypt and decrypt, heap buffers; 64 KiB a
#   call), once as shipped (the Corretto provider where it is on the class path, as in the
#   benchmark jar) and once with -Dio.jdm.crypto.accp.disable=true (the JDK's ciphers only),
#   and the JDK's own AES/ECB on the same 64 KiB (the AES the JDK reaches here).
# ROUNDS rounds (default 3), each openssl then JMH (one fork), alternating; prints the host's CPU
# model and AES-related flags, the JDK and its AES flags, the load, every figure, the medians and
# the ratios jdm / openssl (rate ratios: higher is better). Goal (issue 20): >= 1.0x at 4096 and
# >= 1.1x at 512. Knobs: ROUNDS, OPENSSL_SECONDS (default 3), JAR (default the built jar; set
# it to skip the build), OUT (folder for the raw figures, default dm-bench/results/xts).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
secs=${OPENSSL_SECONDS:-3}
out=${OUT:-dm-bench/results/xts}
jar=${JAR:-}
if [ -z "$jar" ]; then
  mvn -B -q -DskipTests -pl dm-bench -am package
  jar=dm-bench/target/dm-bench.jar
fi
mkdir -p "$out"
rm -f "$out"/openssl-*.txt "$out"/jmh-*.json

echo "# AES-XTS: jdm beside openssl, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "host: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs;" \
  "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' \
    | grep -E '^(aes|avx|avx2|avx512f|avx512vl|avx512dq|vaes|vpclmulqdq|pclmulqdq|sha_ni)$' \
    | sort | tr '\n' ' ')"
echo "openssl: $(openssl version)"
echo "java: $(java -version 2>&1 | sed -n 2p)"
echo "JDK flags: $(java -XX:+UnlockDiagnosticVMOptions -XX:+PrintFlagsFinal -version 2>/dev/null \
  | awk '/ (UseAES|UseAESIntrinsics|UseAESCTRIntrinsics|UseAVX|UseSSE|UseVectorizedMismatchIntrinsic) /{printf "%s=%s ", $2, $4}')"
echo "load before: $(uptime | sed 's/.*load average/load average/')"

jmh() { # $1 tag, rest: extra JMH arguments
  local tag=$1
  shift
  java -jar "$jar" 'CryptBenchmark\.(xts|jdkEcb)$' -p buffer=heap -f 1 -wi 2 -w 1 -i 3 -r 1 \
    -rf json -rff "$out/jmh-$tag.json" "$@" >"$out/jmh-$tag.log" 2>&1
}

for r in $(seq 1 "$rounds"); do
  for b in 512 4096; do
    openssl speed -elapsed -seconds "$secs" -evp aes-256-xts -bytes "$b" 2>/dev/null \
      | awk '/^AES-256-XTS/{sub(/k$/, "", $NF); print $NF * 1000}' >"$out/openssl-$b-$r.txt"
  done
  if [ $((r % 2)) -eq 1 ]; then
    jmh "jdm-$r"
    jmh "jdk-$r" -jvmArgsAppend -Dio.jdm.crypto.accp.disable=true
  else
    jmh "jdk-$r" -jvmArgsAppend -Dio.jdm.crypto.accp.disable=true
    jmh "jdm-$r"
  fi
  echo "round $r done, load: $(uptime | sed 's/.*load average: //')" >&2
done
echo "load after: $(uptime | sed 's/.*load average/load average/')"

python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
BIO = 64 * 1024
ossl = {b: [float(open(f"{out}/openssl-{b}-{r}.txt").read() or "nan") for r in range(1, rounds + 1)]
        for b in (512, 4096)}
rates = {}  # (engine, bench, sector, op) -> [bytes/s per round]
for tag in ("jdm", "jdk"):
    for r in range(1, rounds + 1):
        for row in json.load(open(f"{out}/jmh-{tag}-{r}.json")):
            name = row["benchmark"].rsplit(".", 1)[1]
            p = row.get("params", {})
            key = (tag, name, int(p.get("sectorSize", 0)), p.get("op", "encrypt"))
            rates.setdefault(key, []).append(BIO / (row["primaryMetric"]["score"] * 1e-9))
med = lambda xs: statistics.median(xs)
gb = lambda x: f"{x / 1e9:.2f}"
print()
print("openssl speed -evp aes-256-xts (GB/s, per round): "
      + "; ".join(f"-bytes {b}: " + " ".join(gb(x) for x in ossl[b]) + f" (median {gb(med(ossl[b]))})"
                  for b in (512, 4096)))
print()
print("| engine | benchmark | sector | op | GB/s per round | median GB/s | vs openssl (median of per-round ratios) | goal |")
print("|---|---|---|---|---|---|---|---|")
for key in sorted(rates):
    tag, name, sector, op = key
    xs = rates[key]
    engine = {"jdm": "jdm as shipped (Corretto where present)", "jdk": "jdm, JDK ciphers only"}[tag]
    if name != "xts":
        engine, sector, op = "JDK " + {"jdkEcb": "AES/ECB"}[name], "-", "encrypt"
        if tag == "jdk":
            continue
    vs, goal = "-", "-"
    if name == "xts":
        ratios = [x / o for x, o in zip(xs, ossl[sector])]
        vs = f"{med(ratios):.2f}x (" + " ".join(f"{q:.2f}" for q in ratios) + ")"
        want = 1.0 if sector == 4096 else 1.1
        goal = f">= {want}x: " + ("met" if med(ratios) >= want else "**not met**")
    print(f"| {engine} | {name} | {sector} | {op} | {' '.join(gb(x) for x in xs)} | {gb(med(xs))} | {vs} | {goal} |")
PY
