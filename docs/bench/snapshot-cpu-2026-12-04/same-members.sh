#!/usr/bin/env bash
# Ad-hoc (seventeenth session): the changed writer and normalisation must write the same
# artifact members. Snapshots the bed's cluster (left by fill-100k.sh) and the generated folder
# with two builds, Secrets in plaintext (sealed values carry random nonces) to local stores,
# and compares the members: from a folder member by member, from the cluster as a multiset
# (Secrets stream from 8 namespaces at once, so their order varies between runs).
# Usage: same-members.sh A B (binaries in /tmp/bin).
set -euo pipefail
work=/tmp/snap100k
source "$work/bed/env"
export KUBECONFIG="$work/bed/kubeconfig"
for b in "$1" "$2"; do
  for source in cluster dir; do
    out=/tmp/members-$b-$source
    rm -rf "$out"
    from=(--cluster src)
    [ "$source" = dir ] && from=(--from-dir "$work/manifests")
    /tmp/bin/$b --log-level error snapshot "${from[@]}" --store "$out/store" --env cmp \
      --sign-key "$work/keys/bench.sign.key" --secrets plaintext >/dev/null 2>&1
    mkdir -p "$out/x"
    zstd -dc "$out"/store/cmp/*.tar.zst | tar -x -C "$out/x"
  done
done
diff -rq "/tmp/members-$1-dir/x/objects" "/tmp/members-$2-dir/x/objects" && echo "from-dir: members identical"
for b in "$1" "$2"; do
  (cd "/tmp/members-$b-cluster/x/objects" && echo "cluster $b: $(ls | wc -l) members, multiset $(sha256sum -- * | awk '{print $1}' | sort | sha256sum | cut -c1-16)")
done
