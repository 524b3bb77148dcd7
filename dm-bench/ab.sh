#!/usr/bin/env bash
# A/B of JMH benchmarks: the jar of a base revision against the working tree's, alternating runs
# in one session on one host; prints each run's score and the median ratio (B/A as a rate).
# usage: dm-bench/ab.sh BASE_REV 'JMH regex' [runs] [extra JMH args]
set -euo pipefail
cd "$(dirname "$0")/.."
base=$1; regex=$2; runs=${3:-5}; shift $(( $# < 3 ? $# : 3 )) || true
extra=("$@")
work=$(mktemp -d /tmp/jdm-ab.XXXXXX)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/base" "$base"
(cd "$work/base" && mvn -B -q -o -DskipTests -Dspotless.check.skip=true -pl dm-bench -am package)
cp "$work/base/dm-bench/target/dm-bench.jar" "$work/a.jar"
mvn -B -q -o -DskipTests -Dspotless.check.skip=true -pl dm-bench -am package
cp dm-bench/target/dm-bench.jar "$work/b.jar"
for i in $(seq 1 "$runs"); do
  for side in a b; do
    java -Djmh.ignoreLock=true -jar "$work/$side.jar" "$regex" -f 1 -wi 3 -w 2s -i 5 -r 2s -rf json -rff "$work/$side-$i.json" "${extra[@]}" >/dev/null
  done
done
python3 - "$work" "$runs" <<'PY'
import json, sys, statistics, collections
work, runs = sys.argv[1], int(sys.argv[2])
scores = collections.defaultdict(lambda: {'a': [], 'b': []})
unit = {}
for side in 'ab':
    for i in range(1, runs + 1):
        for r in json.load(open(f"{work}/{side}-{i}.json")):
            key = r['benchmark'].split('.')[-2] + '.' + r['benchmark'].split('.')[-1]
            if r.get('params'):
                key += ' ' + ','.join(f"{k}={v}" for k, v in sorted(r['params'].items()))
            scores[key][side].append(r['primaryMetric']['score'])
            unit[key] = r['primaryMetric']['scoreUnit']
print(f"{'benchmark':60s} {'A median':>12s} {'B median':>12s} unit        B/A rate")
for key in sorted(scores):
    a, b = statistics.median(scores[key]['a']), statistics.median(scores[key]['b'])
    u = unit[key]
    ratio = b / a if '/op' not in u else a / b  # rate ratio, higher is better
    print(f"{key:60s} {a:12.4g} {b:12.4g} {u:10s} {ratio:8.3f}")
PY
