#!/usr/bin/env bash
# Ad-hoc (fifteenth session): run on cluster-300k.sh's filled bed while that script was paused
# after its fill (kill -STOP), before its own measurements: a heaptrack of `snapshot --cluster`
# (rv-new) and peak RSS of rv-new (dc44d84) against rv-pager (a pager remembers a 16-byte key per
# delivered object instead of two owned strings), interleaved.
set -euo pipefail
cd /work/main
work=/tmp/c300k; bed=$work/bed
source "$bed/env"
export KUBECONFIG="$bed/kubeconfig" ROUTEVAULT_S3_PATH_STYLE=true
store="s3://$ROUTEVAULT_TEST_BUCKET/bench"
keys=(--sign-key "$work/keys/bench.sign.key" --seal-to "$work/keys/bench.seal.pub")
trust=(--trust "$work/keys/bench.sign.pub")
/tmp/bin/rv-new --log-level error snapshot --cluster src --store "$store" --env warmup "${keys[@]}" "${trust[@]}" -o json > $work/reports/warmup.json
python3 -c "import json; r=json.load(open('$work/reports/warmup.json')); print('objects', r['objects'], 'bytes', r['bytes'])"
heaptrack -o $work/ht-snapshot /tmp/bin/rv-new --log-level error snapshot --cluster src --store "$store" --env heaptrack "${keys[@]}" "${trust[@]}" >/dev/null 2>$work/ht-snapshot.err || true
for b in rv-new rv-pager rv-pager rv-new rv-new rv-pager; do
  /usr/bin/time -f "snapshot --cluster $b %e s %M KB" /tmp/bin/$b --log-level error snapshot --cluster src --store "$store" --env ab "${keys[@]}" "${trust[@]}" >/dev/null
done
