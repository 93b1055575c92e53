#!/usr/bin/env bash
# Ad-hoc (twentieth session): restore, and then the streamed `diff`, at the largest size this
# 2-core bed held (228,197 objects in the fifteenth session, whose fill was capped at 55 min).
# Seals `generate.py NAMESPACES 50` (1511 namespaces: 228,161 objects, a third of them TLS
# Secrets with distinct certificates) with `snapshot --from-dir`, verifies it, restores it into
# an empty bed cluster with routevault's defaults for a large restore (--concurrency 32), then on
# the restored cluster: the raw LIST floor against `snapshot --cluster` (interleaved), `verify`,
# and `diff latest --cluster` in sync. No apply floor: it would be a second fill of the same
# length (about an hour at this size), so the restore's time is set against the fifteenth
# session's create-floor fill instead, and said to be a different run.
# Wall time and peak RSS from /usr/bin/time. Needs target/release/{routevault,examples/floor}.
# Usage: restore-228k.sh [NAMESPACES]   (work folder /tmp/r228k; the bed is torn down at the end)
set -euo pipefail
cd /work/main
namespaces=${1:-1511}
work=/tmp/r228k
rv=/work/main/target/release/routevault
floor=/work/main/target/release/examples/floor
rm -rf "$work"; mkdir -p "$work/reports"
bed=$work/bed
tests/bed/up --dir "$bed" --cluster rv --s3 >/dev/null 2>&1
source "$bed/env"
export KUBECONFIG="$bed/kubeconfig" ROUTEVAULT_S3_PATH_STYLE=true
store="s3://$ROUTEVAULT_TEST_BUCKET/bench"
python3 tests/bench/generate.py "$work/manifests" "$namespaces" 50 >/dev/null
"$rv" keygen --out "$work/keys" --name bench >/dev/null
keys=(--sign-key "$work/keys/bench.sign.key" --seal-to "$work/keys/bench.seal.pub")
trust=(--trust "$work/keys/bench.sign.pub")
echo "namespaces $namespaces; rev $(git rev-parse --short HEAD); start $(date +%T)"
t() { local name=$1; shift; /usr/bin/time -f "$name %e s %M KB (exit %x)" "$@"; }
t "snapshot --from-dir" "$rv" --log-level warn snapshot --from-dir "$work/manifests" --store "$store" \
  --env bench "${keys[@]}" > "$work/reports/from-dir.id"
id=$(tail -1 "$work/reports/from-dir.id")
t "verify (from-dir)" "$rv" --log-level warn verify "$id" --store "$store" --env bench "${trust[@]}" >/dev/null
echo "restore start $(date +%T)"
t "restore --concurrency 32" "$rv" --log-level warn restore "$id" --store "$store" --env bench \
  "${trust[@]}" --unseal-key "$work/keys/bench.seal.key" --cluster rv --concurrency 32 -o json \
  > "$work/reports/restore.json" 2> "$work/reports/restore.err" || true
tail -3 "$work/reports/restore.err"
echo "restore end $(date +%T)"
python3 - "$work/reports/restore.json" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
print("restore report", {k: r[k] for k in r if not isinstance(r[k], (list, dict))})
PY
for run in 1 2 3; do
  "$floor" list --context rv
  t "snapshot --cluster" "$rv" --log-level warn snapshot --cluster rv --store "$store" --env bench \
    "${keys[@]}" "${trust[@]}" -o json > "$work/reports/snapshot-$run.json"
done
python3 -c "import json; r=json.load(open('$work/reports/snapshot-3.json')); print('snapshot', {k: r[k] for k in ('objects', 'bytes')})"
t "verify (cluster)" "$rv" --log-level warn verify latest --store "$store" --env bench "${trust[@]}" >/dev/null
for run in 1 2; do
  t "diff latest --cluster" "$rv" --log-level error diff latest --cluster rv --store "$store" --env bench \
    "${trust[@]}" -o json > "$work/reports/in-sync-$run.json" || true
done
python3 -c "import json; r=json.load(open('$work/reports/in-sync-2.json')); print('diff', {k: r[k] for k in ('in_sync', 'counts', 'unchanged', 'duration_ms')})"
t "diff FROM-DIR latest" "$rv" --log-level error diff "$id" latest --store "$store" --env bench \
  "${trust[@]}" -o json > "$work/reports/builds.json" || true
tests/bed/down --dir "$bed" >/dev/null 2>&1 || true
echo "done $(date +%T)"
