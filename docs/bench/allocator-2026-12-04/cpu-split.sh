#!/usr/bin/env bash
# Ad-hoc (eighteenth session): where the machine's CPU goes during a snapshot and during the
# raw LIST floor (and the decode floor: `floor list --decode`), on the bed left by ../snapshot-cpu-2026-12-04/fill-100k.sh. For each run:
# wall time, the client's CPU (user + system, from /usr/bin/time), and the CPU each bed
# process (kube-apiserver, etcd, the S3 server) spent during it (from /proc/PID/stat).
# Usage: cpu-split.sh BIN... (binaries in /tmp/bin), ROUNDS rounds (default 3).
set -euo pipefail
cd /work/main
work=/tmp/snap100k
source "$work/bed/env"
export KUBECONFIG="$work/bed/kubeconfig" ROUTEVAULT_S3_PATH_STYLE=true
store="s3://$ROUTEVAULT_TEST_BUCKET/bench"
keys=(--sign-key "$work/keys/bench.sign.key" --seal-to "$work/keys/bench.seal.pub")
trust=(--trust "$work/keys/bench.sign.pub")
tick=$(getconf CLK_TCK)
mapfile -t procs < <(python3 -c '
import json, sys
for p in json.load(open(sys.argv[1]))["processes"]:
    print(p["name"], p["pid"])' "$work/bed/bed.json")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() { # label command...
  local before=() name pid i=0
  for p in "${procs[@]}"; do before+=("$(ticks "${p#* }")"); done
  local tf t; tf=$(mktemp)
  /usr/bin/time -o "$tf" -f "%e %U %S %M" "${@:2}" >/dev/null 2>&1
  t=$(tail -1 "$tf"); rm -f "$tf"
  local line="$1: wall ${t%% *} s, client cpu $(awk '{printf "%.2f", $2 + $3}' <<<"$t") s, rss $(awk '{print $4}' <<<"$t") KB"
  for p in "${procs[@]}"; do
    name=${p% *}; pid=${p#* }
    line+=", $name $(awk -v a="${before[$i]}" -v b="$(ticks "$pid")" -v t="$tick" 'BEGIN{printf "%.2f", (b - a) / t}') s"
    i=$((i + 1))
  done
  echo "$line"
}
for run in $(seq "${ROUNDS:-3}"); do
  measure "list floor" /work/main/target/release/examples/floor list --context src
  measure "decode floor" /work/main/target/release/examples/floor list --context src --decode
  for bin in "$@"; do
    measure "snapshot $bin" /tmp/bin/$bin --log-level error snapshot --cluster src --store "$store" \
      --env bench "${keys[@]}" "${trust[@]}"
  done
done
