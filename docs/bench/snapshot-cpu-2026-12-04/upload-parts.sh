#!/usr/bin/env bash
# Ad-hoc (seventeenth session): multipart upload with two parts in flight (B) against one at a
# time (A): `snapshot --from-dir` of the 99,660-object folder to a bed's S3 (Object Lock
# bucket, 16 MiB parts: 4 parts), interleaved (A, B, B, A) ROUNDS times, after one unmeasured
# snapshot (the S3 server allocates a volume on a bucket's first write). Usage:
# upload-parts.sh A B (binaries in /tmp/bin).
set -euo pipefail
cd /work/main
work=/tmp/up
[ -f "$work/bed/env" ] || tests/bed/up --dir "$work/bed" --s3 >/dev/null 2>&1
[ -d "$work/manifests" ] || python3 tests/bench/generate.py "$work/manifests" 660 50 >/dev/null
[ -d "$work/keys" ] || /tmp/bin/$1 keygen --out "$work/keys" --name bench >/dev/null
source "$work/bed/env"
export ROUTEVAULT_S3_PATH_STYLE=true
store="s3://$ROUTEVAULT_TEST_BUCKET/up"
keys=(--sign-key "$work/keys/bench.sign.key" --seal-to "$work/keys/bench.seal.pub")
/tmp/bin/$1 --log-level error snapshot --from-dir "$work/manifests" --store "$store" --env up "${keys[@]}" >/dev/null
for run in $(seq "${ROUNDS:-4}"); do
  for bin in $1 $2 $2 $1; do
    /usr/bin/time -f "from-dir to S3 $bin %e s %U user %S sys %M KB" /tmp/bin/$bin --log-level error \
      snapshot --from-dir "$work/manifests" --store "$store" --env up "${keys[@]}" >/dev/null
  done
done
