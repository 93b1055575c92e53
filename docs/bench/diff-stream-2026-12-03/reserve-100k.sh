#!/usr/bin/env bash
# Ad-hoc (sixteenth session): the capture's held routing objects reserved from each LIST's
# announced count (rv-new2) against growing by doubling (rv-new: the streamed comparison
# alone), at 99,660 objects on one bed: `snapshot --cluster` and `diff latest --cluster`,
# interleaved new/new2/new2/new twice; then one heaptrack of each build's `diff --cluster`.
# Needs /tmp/bin/rv-new, /tmp/bin/rv-new2 and target/release/examples/floor.
set -euo pipefail
cd /work/main
work=/tmp/dreserve100k
namespaces=660
source docs/bench/fill-cluster.sh
/tmp/bin/rv-new --log-level error snapshot --cluster src --store "$store" --env bench "${keys[@]}" "${trust[@]}" >/dev/null
for run in 1 2; do
  for b in rv-new rv-new2 rv-new2 rv-new; do
    /usr/bin/time -f "snapshot $b %e s %M KB" /tmp/bin/$b --log-level error snapshot --cluster src \
      --store "$store" --env bench "${keys[@]}" "${trust[@]}" >/dev/null
    /usr/bin/time -f "diff $b %e s %M KB" /tmp/bin/$b --log-level error diff latest --cluster src \
      --store "$store" --env bench "${trust[@]}" -o json > "$work/reports/$b.json"
  done
done
for b in rv-new rv-new2; do
  heaptrack -o "$work/heap-$b" /tmp/bin/$b --log-level error diff latest --cluster src \
    --store "$store" --env bench "${trust[@]}" -o json >/dev/null 2>&1 || true
  heaptrack_print -f "$work"/heap-$b.*zst 2>/dev/null | grep -E "^(peak heap memory consumption|total memory leaked|calls to allocation)" | sed "s/^/$b: /"
done
tests/bed/down --dir "$bed" >/dev/null 2>&1 || true
echo done
