#!/usr/bin/env bash
# Ad-hoc (fifteenth session): the largest live cluster this 2-core bed was asked to hold.
# Fills one bed cluster with `generate.py NAMESPACES 50` (2000 namespaces: 302,000 objects, a
# third of them sealed TLS Secrets with distinct certificates) through the raw create floor,
# then measures `snapshot --cluster` and `diff latest --cluster` (in sync, and with --sign-key)
# with /tmp/bin/rv-new, peak RSS and elapsed time from /usr/bin/time. A restore into a second
# cluster is not run: at the 100k run's 100-250 objects/s it would take 20-50 minutes more.
# Usage: [fill_timeout=SECONDS] cluster-300k.sh [NAMESPACES]
# (needs /tmp/bin/rv-new and target/release/examples/floor; see ../fill-cluster.sh)
set -euo pipefail
cd /work/main
namespaces=${1:-2000}
fill_timeout=${fill_timeout:-0}
work=/tmp/c300k
source docs/bench/fill-cluster.sh
for run in 1 2; do
  /usr/bin/time -f "snapshot --cluster %e s %M KB" /tmp/bin/rv-new --log-level warn snapshot --cluster src --store "$store" --env bench "${keys[@]}" "${trust[@]}" -o json > $work/reports/snapshot-$run.json
done
python3 -c "import json; r=json.load(open('$work/reports/snapshot-2.json')); print('snapshot', {k: r[k] for k in ('objects', 'bytes')})"
/usr/bin/time -f "verify %e s %M KB" /tmp/bin/rv-new --log-level warn verify latest --store "$store" --env bench "${trust[@]}" >/dev/null
for run in 1 2; do
  /usr/bin/time -f "diff --cluster %e s %M KB" /tmp/bin/rv-new --log-level error diff latest --cluster src --store "$store" --env bench "${trust[@]}" -o json > $work/reports/in-sync-$run.json
done
/usr/bin/time -f "diff --cluster --sign-key %e s %M KB" /tmp/bin/rv-new --log-level error diff latest --cluster src --store "$store" --env bench "${trust[@]}" --sign-key $work/keys/bench.sign.key -o json > $work/reports/signed.json
for r in in-sync-2 signed; do
  python3 -c "import json; r=json.load(open('$work/reports/$r.json')); print('$r', {k: r[k] for k in ('in_sync', 'counts', 'unchanged', 'values_not_compared', 'duration_ms')})"
done
tests/bed/down --dir "$bed" >/dev/null 2>&1 || true
echo done
