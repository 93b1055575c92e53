#!/usr/bin/env bash
# Ad-hoc (eighteenth session): what a snapshot and a diff cost before the first LIST, on a
# cluster that serves the cert-manager and Gateway API CRDs (as real clusters do; the scale
# bench's beds serve none). One bed cluster with `--crds`, the 2,869-object environment
# (`generate.py 19 50`), then builds A and B interleaved (A, B, B, A) ROUNDS times (default 5)
# for `snapshot --cluster` and `diff latest --cluster`. Usage: small-crds.sh A B (binaries in
# /tmp/bin; needs target/release/examples/floor). Leaves the bed in /tmp/small-crds/bed.
set -euo pipefail
cd /work/main
work=/tmp/small-crds
bed=$work/bed
rm -rf "$work"; mkdir -p "$work"
tests/bed/up --dir "$bed" --cluster src --s3 --crds >/dev/null 2>&1
source "$bed/env"
export KUBECONFIG="$bed/kubeconfig" ROUTEVAULT_S3_PATH_STYLE=true
store="s3://$ROUTEVAULT_TEST_BUCKET/bench"
python3 tests/bench/generate.py "$work/manifests" 19 50 >/dev/null
/tmp/bin/$1 keygen --out "$work/keys" --name bench >/dev/null
target/release/examples/floor create --context src --dir "$work/manifests"
keys=(--sign-key "$work/keys/bench.sign.key" --seal-to "$work/keys/bench.seal.pub")
trust=(--trust "$work/keys/bench.sign.pub")
snapshot() { /tmp/bin/$1 --log-level error snapshot --cluster src --store "$store" --env bench \
  "${keys[@]}" "${trust[@]}" >/dev/null; }
snapshot "$1" # the S3 server allocates a volume on a bucket's first write
timed() { /usr/bin/time -f "$1 %e s %U user %S sys %M KB" "${@:2}"; }
for run in $(seq "${ROUNDS:-5}"); do
  target/release/examples/floor list --context src | sed "s/^/list floor: /"
  for bin in $1 $2 $2 $1; do
    timed "snapshot $bin" /tmp/bin/$bin --log-level error snapshot --cluster src --store "$store" \
      --env bench "${keys[@]}" "${trust[@]}" >/dev/null
  done
  for bin in $1 $2 $2 $1; do
    timed "diff $bin" /tmp/bin/$bin --log-level error diff latest --cluster src --store "$store" \
      --env bench "${trust[@]}" >/dev/null
  done
done
