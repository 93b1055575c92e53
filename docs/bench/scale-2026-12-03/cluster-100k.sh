#!/usr/bin/env bash
# Ad-hoc (thirteenth session): cluster snapshot/diff (old and new builds) and restore (new) at
# 99,660 objects on one bed; peak RSS is the figure (the machine was busy with builds: times
# are not comparable to the scale bench's).
set -euo pipefail
cd /work/main
work=/tmp/c100k; bed=$work/bed
floor=/work/main/target/release/examples/floor
tests/bed/up --dir "$bed" --cluster src --cluster rv --s3 >/dev/null 2>&1
source "$bed/env"
export KUBECONFIG="$bed/kubeconfig" ROUTEVAULT_S3_PATH_STYLE=true
store="s3://$ROUTEVAULT_TEST_BUCKET/bench"
rm -rf $work/manifests $work/store
python3 tests/bench/generate.py $work/manifests 660 50 >/dev/null
/tmp/bin/rv-new keygen --out $work/keys --name bench >/dev/null
keys=(--sign-key $work/keys/bench.sign.key --seal-to $work/keys/bench.seal.pub)
trust=(--trust $work/keys/bench.sign.pub)
echo "create start $(date +%T)"
"$floor" create --context src --dir $work/manifests
echo "create end $(date +%T)"
/tmp/bin/rv-new --log-level error snapshot --cluster src --store "$store" --env bench "${keys[@]}" "${trust[@]}" >/dev/null
for b in rv-old rv-new rv-new rv-old; do
  /usr/bin/time -f "snapshot $b %e s %M KB" /tmp/bin/$b --log-level warn snapshot --cluster src --store "$store" --env bench "${keys[@]}" "${trust[@]}" >/dev/null
done
for b in rv-old rv-new; do
  /usr/bin/time -f "diff $b %e s %M KB" /tmp/bin/$b --log-level warn diff latest --cluster src --store "$store" --env bench "${trust[@]}" >/dev/null
done
echo "restore start $(date +%T)"
/usr/bin/time -f "restore rv-new %e s %M KB" /tmp/bin/rv-new --log-level warn restore latest --store "$store" --env bench "${trust[@]}" --unseal-key $work/keys/bench.seal.key --cluster rv --concurrency 32 -o json > $work/restore.json
python3 -c "import json,sys; r=json.load(open('$work/restore.json')); print('restore counts', r['counts'])"
tests/bed/down --dir "$bed" >/dev/null 2>&1 || true
echo done
