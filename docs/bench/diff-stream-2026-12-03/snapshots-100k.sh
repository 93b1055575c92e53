#!/usr/bin/env bash
# Ad-hoc (sixteenth session): `diff A B` between two 99,660-object snapshots in a local store,
# the build before this session's change (rv-old: the second snapshot held as a side of its
# own) and after it (rv-new: its objects compared as they are read), interleaved
# old/new/new/old. B differs from A: one namespace file removed (151 objects), 50 Ingresses
# edited and one Ingress added. Peak RSS is the figure; reports must be identical but for the
# duration. Needs /tmp/bin/rv-old and /tmp/bin/rv-new (release builds).
set -euo pipefail
cd /work/main
work=/tmp/dsnap100k
rm -rf "$work" && mkdir -p "$work/reports"
python3 tests/bench/generate.py "$work/a" 660 50 >/dev/null
cp -r "$work/a" "$work/b"
# The generator writes one file per namespace: drop one, edit 50 Ingresses of another.
files=("$work/b"/*.yaml)
rm "${files[0]}"
python3 - "${files[1]}" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
# Every host of this namespace's Ingresses moves to another domain.
edited = text.replace(".example.com", ".example.net")
assert edited != text, "no host to edit"
edited += """---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: added-by-the-bench
  namespace: %s
spec:
  ingressClassName: nginx
  rules:
  - host: added.example.org
""" % re.search(r"namespace: ([a-z0-9-]+)", text).group(1)
open(path, "w").write(edited)
PY
/tmp/bin/rv-new keygen --out "$work/keys" --name bench >/dev/null
ids=()
for build in a b; do
  ids+=("$(/tmp/bin/rv-new --log-level warn snapshot --from-dir "$work/$build" --store "$work/store" \
    --env d --build-id "$build" --sign-key "$work/keys/bench.sign.key" \
    --seal-to "$work/keys/bench.seal.pub" | tail -1)")
done
echo "snapshots: ${ids[*]}"
for run in 1 2; do
  for b in rv-old rv-new rv-new rv-old; do
    /usr/bin/time -f "diff-snapshots $b %e s %M KB" /tmp/bin/$b --log-level warn diff "${ids[0]}" "${ids[1]}" \
      --store "$work/store" --env d --trust "$work/keys/bench.sign.pub" -o json \
      > "$work/reports/$b.json" || [ $? -eq 1 ]
  done
done
for b in rv-old rv-new; do
  python3 -c "import json; r=json.load(open('$work/reports/$b.json')); r.pop('duration_ms'); print(json.dumps(r, sort_keys=True))" > "$work/reports/$b.norm"
done
cmp "$work/reports/rv-old.norm" "$work/reports/rv-new.norm" && echo "reports identical"
python3 -c "import json; r=json.load(open('$work/reports/rv-new.json')); print({k: v for k, v in r.items() if k not in ('differences', 'warnings')})"
