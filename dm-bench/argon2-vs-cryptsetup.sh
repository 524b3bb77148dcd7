#!/usr/bin/env bash
# jdm's LUKS2 format and open beside cryptsetup's, with the same Argon2id costs, back to back:
#   cryptsetup luksFormat --pbkdf argon2id --pbkdf-memory M --pbkdf-force-iterations T --pbkdf-parallel P
#   cryptsetup open --test-passphrase
# against one JVM per operation running jdm's LUKS API (io.jdm.bench.LuksKdfRun: the JVM's start
# and the first, cold, derivation included, as a jdmsetup user pays them) and, when
# dm-cli/target/jdmsetup.jar is built, `jdmsetup luksFormat` itself. The four (five) commands run
# in turn, in an order that alternates from one round to the next; prints every run and the
# medians of wall and CPU (user + sys) time, and jdm's ratio to cryptsetup; then the opens after
# the first in one JVM, as a running daemon does them.
#
# Usage: dm-bench/argon2-vs-cryptsetup.sh [ROUNDS]   (default 5)
# Environment: MEMORY_KIB (262144), TIME_COST (4), PARALLEL (4): cryptsetup lowers the lanes to
# the number of online CPUs and jdm is given the lanes cryptsetup wrote, so both do the same work.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
m=${MEMORY_KIB:-262144}
t=${TIME_COST:-4}
p=${PARALLEL:-4}
jar=dm-bench/target/dm-bench.jar
if [ ! -f "$jar" ]; then
  mvn -B -q -DskipTests -pl dm-bench -am package
fi
cryptsetup=$(command -v cryptsetup || echo /usr/sbin/cryptsetup)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key=$work/pass
printf 'correct horse battery staple' >"$key"
for f in cs jdm jdmsetup; do truncate -s 32M "$work/$f.img"; done

cs_format() {
  "$cryptsetup" luksFormat --batch-mode --type luks2 --key-file="$key" --pbkdf argon2id \
    --pbkdf-memory "$m" --pbkdf-force-iterations "$t" --pbkdf-parallel "$p" "$work/cs.img"
}
cs_open() { "$cryptsetup" open --test-passphrase --key-file="$key" "$work/cs.img"; }
jdm_format() { java -cp "$jar" io.jdm.bench.LuksKdfRun format "$work/jdm.img" "$key" "$t" "$m" "$lanes"; }
jdm_open() { java -cp "$jar" io.jdm.bench.LuksKdfRun open "$work/jdm.img" "$key"; }
jdmsetup_format() {
  dm-cli/jdmsetup luksFormat -q --pbkdf argon2id --pbkdf-memory "$m" --pbkdf-force-iterations "$t" \
    --pbkdf-parallel "$lanes" --key-file "$key" "$work/jdmsetup.img"
}

cs_format
lanes=$("$cryptsetup" luksDump "$work/cs.img" | awk '/Threads:/ {print $2; exit}')
names=(cs_format jdm_format cs_open jdm_open)
if [ -f dm-cli/target/jdmsetup.jar ]; then names+=(jdmsetup_format); fi
echo "Argon2id time $t, memory $m KiB, $p lanes asked, $lanes written by cryptsetup (and given to jdm);" \
  "$(nproc) CPUs, $rounds rounds; $(cryptsetup --version); $(java -version 2>&1 | head -1)"

# one run: wall and CPU (user + sys of the process and its children) in ms into $work/NAME.wall/.cpu
run() {
  local name=$1 start end
  start=$(date +%s%N)
  /usr/bin/time -f '%U %S' -o "$work/cpu.tmp" bash -c "$(declare -f "$name"); $(declare -p work key m t p lanes jar cryptsetup); $name" >/dev/null
  end=$(date +%s%N)
  local wall=$(((end - start) / 1000000))
  local cpu
  cpu=$(awk '{printf "%d", ($1 + $2) * 1000}' "$work/cpu.tmp")
  echo "$wall" >>"$work/$name.wall"
  echo "$cpu" >>"$work/$name.cpu"
  printf '  %-16s %6d ms wall %6d ms cpu\n' "$name" "$wall" "$cpu"
}

median() { sort -n "$1" | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }

for ((i = 1; i <= rounds; i++)); do
  echo "round $i"
  if ((i % 2)); then order=("${names[@]}"); else order=(); for ((k = ${#names[@]} - 1; k >= 0; k--)); do order+=("${names[k]}"); done; fi
  for n in "${order[@]}"; do run "$n"; done
done

echo
printf '%-16s %10s %10s %12s %12s\n' what "wall (ms)" "cpu (ms)" "wall vs cs" "cpu vs cs"
for n in "${names[@]}"; do
  w=$(median "$work/$n.wall")
  c=$(median "$work/$n.cpu")
  case $n in
    *format) base=cs_format ;;
    *) base=cs_open ;;
  esac
  bw=$(median "$work/$base.wall")
  bc=$(median "$work/$base.cpu")
  printf '%-16s %10d %10d %11.2fx %11.2fx\n' "$n" "$w" "$c" "$(echo "$w / $bw" | bc -l)" "$(echo "$c / $bc" | bc -l)"
done
echo "(medians of $rounds runs; load average: $(cut -d' ' -f1-3 /proc/loadavg))"

# what a running daemon pays: $rounds + 1 opens in one JVM, the first (cold) one left out
java -cp "$jar" io.jdm.bench.LuksKdfRun opens "$work/jdm.img" "$key" $((rounds + 1)) | tail -n +2 >"$work/warm.txt"
cut -d' ' -f1 "$work/warm.txt" >"$work/warm.wall"
cut -d' ' -f2 "$work/warm.txt" >"$work/warm.cpu"
w=$(median "$work/warm.wall")
c=$(median "$work/warm.cpu")
bw=$(median "$work/cs_open.wall")
bc=$(median "$work/cs_open.cpu")
printf '%-16s %10d %10d %11.2fx %11.2fx   (opens 2 to %d in one JVM, wall/cpu ms: %s)\n' jdm_open_warm \
  "$w" "$c" "$(echo "$w / $bw" | bc -l)" "$(echo "$c / $bc" | bc -l)" $((rounds + 1)) \
  "$(tr ' ' / <"$work/warm.txt" | paste -sd' ')"
