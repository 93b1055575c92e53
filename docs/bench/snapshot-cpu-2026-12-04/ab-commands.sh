#!/usr/bin/env bash
# Ad-hoc (seventeenth session): on the bed left by fill-100k.sh, builds A and B interleaved
# (A, B, B, A) ROUNDS times for `snapshot --cluster` (with the raw LIST floor first in each
# round), then `diff latest --cluster` and `verify latest` (not with SNAPSHOT_ONLY=1, as for
# the intermediate builds in ab-steps.txt). Usage: ab-commands.sh A B (binaries in /tmp/bin).
set -euo pipefail
cd /work/main
work=/tmp/snap100k
source "$work/bed/env"
export KUBECONFIG="$work/bed/kubeconfig" ROUTEVAULT_S3_PATH_STYLE=true
store="s3://$ROUTEVAULT_TEST_BUCKET/bench"
keys=(--sign-key "$work/keys/bench.sign.key" --seal-to "$work/keys/bench.seal.pub")
trust=(--trust "$work/keys/bench.sign.pub")
a=$1 b=$2
timed() { /usr/bin/time -f "$1 %e s %U user %S sys %M KB" "${@:2}"; }
for run in $(seq "${ROUNDS:-3}"); do
  /work/main/target/release/examples/floor list --context src | sed "s/^/list floor: /"
  for bin in $a $b $b $a; do
    timed "snapshot $bin" /tmp/bin/$bin --log-level error snapshot --cluster src --store "$store" \
      --env bench "${keys[@]}" "${trust[@]}" >/dev/null
  done
done
[ "${SNAPSHOT_ONLY:-0}" = 1 ] && exit 0
for run in $(seq "${ROUNDS:-3}"); do
  for bin in $a $b $b $a; do
    timed "diff $bin" /tmp/bin/$bin --log-level error diff latest --cluster src --store "$store" \
      --env bench "${trust[@]}" >/dev/null
    timed "verify $bin" /tmp/bin/$bin --log-level error verify latest --store "$store" \
      --env bench "${trust[@]}" >/dev/null
  done
done
