#!/usr/bin/env bash
# Ad-hoc (fifteenth session): `diff --cluster` at 99,660 objects on one bed, the build before
# this session's change (rv-old, 1175f94) and after it (rv-new), interleaved old/new/new/old,
# in sync and with --sign-key (live Secret values digested and compared with the sealed ones).
# Peak RSS is the figure; the reports must be identical but for the duration.
# Needs /tmp/bin/rv-old, /tmp/bin/rv-new and target/release/examples/floor (see ../fill-cluster.sh).
set -euo pipefail
cd /work/main
work=/tmp/d100k
namespaces=660
source docs/bench/fill-cluster.sh
/usr/bin/time -f "snapshot rv-new %e s %M KB" /tmp/bin/rv-new --log-level warn snapshot --cluster src --store "$store" --env bench "${keys[@]}" "${trust[@]}" >/dev/null
for run in 1 2; do
  for b in rv-old rv-new rv-new rv-old; do
    /usr/bin/time -f "diff $b %e s %M KB" /tmp/bin/$b --log-level warn diff latest --cluster src --store "$store" --env bench "${trust[@]}" -o json > $work/reports/in-sync-$b.json
    /usr/bin/time -f "diff --sign-key $b %e s %M KB" /tmp/bin/$b --log-level warn diff latest --cluster src --store "$store" --env bench "${trust[@]}" --sign-key $work/keys/bench.sign.key -o json > $work/reports/signed-$b.json
  done
done
for r in in-sync signed; do
  for b in rv-old rv-new; do
    python3 -c "import json; r=json.load(open('$work/reports/$r-$b.json')); r.pop('duration_ms'); print(json.dumps(r, sort_keys=True))" > $work/reports/$r-$b.norm
  done
  cmp $work/reports/$r-rv-old.norm $work/reports/$r-rv-new.norm && echo "$r reports identical"
  python3 -c "import json; r=json.load(open('$work/reports/$r-rv-new.json')); print('$r', {k: v for k, v in r.items() if k not in ('differences', 'warnings')})"
done
tests/bed/down --dir "$bed" >/dev/null 2>&1 || true
echo done
