#!/usr/bin/env bash
# Ad-hoc (seventeenth session): one bed cluster filled with the 99,660-object environment
# (`generate.py 660 50`), left running for the snapshot profiling and A/B runs in this
# folder. Needs /tmp/bin/rv-new and target/release/examples/floor. Tear down with
# `tests/bed/down --dir /tmp/snap100k/bed`.
set -euo pipefail
cd /work/main
work=/tmp/snap100k
namespaces=660
source docs/bench/fill-cluster.sh
echo ready
