# Sourced by the ad-hoc cluster bench scripts: brings up a bed with one cluster `src` and S3 in
# $work/bed, generates `generate.py $namespaces 50` into $work/manifests, makes bench keys in
# $work/keys and creates every object in `src` through the raw create floor (timed; see
# fill_timeout below).
# Sets: store, keys (array), trust (array); exports KUBECONFIG and the bed's S3 settings.
bed=$work/bed
tests/bed/up --dir "$bed" --cluster src --s3 >/dev/null 2>&1
source "$bed/env"
export KUBECONFIG="$bed/kubeconfig" ROUTEVAULT_S3_PATH_STYLE=true
store="s3://$ROUTEVAULT_TEST_BUCKET/bench"
rm -rf "$work/manifests" "$work/keys" "$work/reports"
mkdir -p "$work/reports"
python3 tests/bench/generate.py "$work/manifests" "$namespaces" 50 >/dev/null
/tmp/bin/rv-new keygen --out "$work/keys" --name bench >/dev/null
keys=(--sign-key "$work/keys/bench.sign.key" --seal-to "$work/keys/bench.seal.pub")
trust=(--trust "$work/keys/bench.sign.pub")
echo "namespaces $namespaces; create start $(date +%T)"
# With fill_timeout (seconds) set, the fill stops there and the bench measures what was created.
timeout "${fill_timeout:-0}" /work/main/target/release/examples/floor create --context src \
  --dir "$work/manifests" || echo "create stopped after ${fill_timeout:-?} s"
echo "create end $(date +%T)"
