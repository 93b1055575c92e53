#!/usr/bin/env bash
# Ad-hoc (eighteenth session): `snapshot --cluster` at 100k (bed of
# ../snapshot-cpu-2026-12-04/fill-100k.sh) with glibc's allocator (BASE) against mimalloc (MI)
# under several mimalloc options, interleaved, ROUNDS rounds (default 3).
# Usage: options.sh BASE MI "ENV=VALUE"... (binaries in /tmp/bin; "-" for mimalloc's defaults).
set -euo pipefail
work=/tmp/snap100k
source "$work/bed/env"
export KUBECONFIG="$work/bed/kubeconfig" ROUTEVAULT_S3_PATH_STYLE=true
store="s3://$ROUTEVAULT_TEST_BUCKET/bench"
base=$1 mi=$2; shift 2
run() { # label bin env
  env ${3/#-/X=1} /usr/bin/time -f "$1 %e s %U user %S sys %M KB" /tmp/bin/$2 --log-level error \
    snapshot --cluster src --store "$store" --env bench --sign-key "$work/keys/bench.sign.key" \
    --seal-to "$work/keys/bench.seal.pub" --trust "$work/keys/bench.sign.pub" >/dev/null
}
for round in $(seq "${ROUNDS:-3}"); do
  run "glibc" "$base" -
  for option in "$@"; do run "mimalloc $option" "$mi" "$option"; done
done
