#!/usr/bin/env bash
# Ad-hoc (sixteenth session): JSON pointers looked up without allocating (rv-new3) against
# serde_json's Value::pointer (rv-new2), at 99,660 objects on one bed: the raw LIST floor and
# `snapshot --cluster` of each build interleaved (floor, new2, new3, new3, new2) three times,
# then `diff latest --cluster` of each twice. Needs /tmp/bin/rv-new2, /tmp/bin/rv-new3 (waited
# for) and target/release/examples/floor.
set -euo pipefail
cd /work/main
work=/tmp/dpointer100k
namespaces=660
source docs/bench/fill-cluster.sh
while [ ! -x /tmp/bin/rv-new3 ]; do sleep 10; done
/tmp/bin/rv-new2 --log-level error snapshot --cluster src --store "$store" --env bench "${keys[@]}" "${trust[@]}" >/dev/null
for run in 1 2 3; do
  /work/main/target/release/examples/floor list --context src | sed "s/^/list floor: /"
  for b in rv-new2 rv-new3 rv-new3 rv-new2; do
    /usr/bin/time -f "snapshot $b %e s %U user %M KB" /tmp/bin/$b --log-level error snapshot --cluster src \
      --store "$store" --env bench "${keys[@]}" "${trust[@]}" >/dev/null
  done
done
for b in rv-new2 rv-new3 rv-new3 rv-new2; do
  /usr/bin/time -f "diff $b %e s %U user %M KB" /tmp/bin/$b --log-level error diff latest --cluster src \
    --store "$store" --env bench "${trust[@]}" -o json > "$work/reports/$b.json"
done
tests/bed/down --dir "$bed" >/dev/null 2>&1 || true
echo done
