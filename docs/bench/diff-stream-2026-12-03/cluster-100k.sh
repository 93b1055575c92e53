#!/usr/bin/env bash
# Ad-hoc (sixteenth session): `diff latest --cluster` at 99,660 objects on one bed, the build
# before this session's change (rv-old: the live objects held as a second side) and after it
# (rv-new: each live object compared as it arrives), interleaved old/new/new/old, in sync and
# with --sign-key; then once more after drift (one namespace's Ingresses edited, one Service
# deleted, one Ingress added). Peak RSS is the figure; the reports must be identical but for
# the duration. Needs /tmp/bin/rv-old, /tmp/bin/rv-new and target/release/examples/floor
# (see ../fill-cluster.sh).
set -euo pipefail
cd /work/main
work=/tmp/dstream100k
namespaces=660
source docs/bench/fill-cluster.sh
/usr/bin/time -f "snapshot rv-new %e s %M KB" /tmp/bin/rv-new --log-level warn snapshot --cluster src \
  --store "$store" --env bench "${keys[@]}" "${trust[@]}" >/dev/null
diff_all() {
  local label="$1"
  for b in rv-old rv-new rv-new rv-old; do
    /usr/bin/time -f "diff $label $b %e s %M KB" /tmp/bin/$b --log-level warn diff latest --cluster src \
      --store "$store" --env bench "${trust[@]}" -o json > "$work/reports/$label-$b.json" || [ $? -eq 1 ]
    /usr/bin/time -f "diff --sign-key $label $b %e s %M KB" /tmp/bin/$b --log-level warn diff latest \
      --cluster src --store "$store" --env bench "${trust[@]}" --sign-key "$work/keys/bench.sign.key" \
      -o json > "$work/reports/$label-signed-$b.json" || [ $? -eq 1 ]
  done
}
compare_reports() {
  local label="$1"
  for r in "$label" "$label-signed"; do
    for b in rv-old rv-new; do
      python3 -c "import json; r=json.load(open('$work/reports/$r-$b.json')); r.pop('duration_ms'); print(json.dumps(r, sort_keys=True))" > "$work/reports/$r-$b.norm"
    done
    cmp "$work/reports/$r-rv-old.norm" "$work/reports/$r-rv-new.norm" && echo "$r reports identical"
    python3 -c "import json; r=json.load(open('$work/reports/$r-rv-new.json')); print('$r', {k: v for k, v in r.items() if k not in ('differences', 'warnings')})"
  done
}
diff_all in-sync
diff_all in-sync
compare_reports in-sync
kubectl="$(tests/bed/install --print)/kubectl"
"$kubectl" --context src -n bench-001 get ingresses -o name | sed -n 1,10p | while read -r ing; do
  "$kubectl" --context src -n bench-001 annotate "$ing" bench/drift=yes >/dev/null
done
"$kubectl" --context src -n bench-002 delete service svc-0 >/dev/null
"$kubectl" --context src -n bench-003 create ingress added-by-bench --rule="added.example.org/*=svc-0:80" >/dev/null
diff_all drift
compare_reports drift
tests/bed/down --dir "$bed" >/dev/null 2>&1 || true
echo done
