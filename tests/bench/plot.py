"""Plots tests/bench/scale's results: time and peak RSS against object count, routevault beside
its floors. Usage: plot.py SCALE_JSON OUT_PNG (needs matplotlib)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results = json.load(open(sys.argv[1]))
rows = results["sizes"]
objects = [r["objects"] for r in rows]

fig, (times, memory) = plt.subplots(1, 2, figsize=(12, 5))
for key, label, style in [
    ("list_floor_s", "LIST floor (raw, bytes only)", "k--x"),
    ("snapshot_s", "routevault snapshot --cluster (to S3)", "b-o"),
    ("apply_floor_s", "apply floor (raw SSA, 32 in flight)", "k:+"),
    ("restore_s", "routevault restore --cluster", "r-o"),
    ("verify_s", "routevault verify", "g-^"),
    ("diff_s", "routevault diff --cluster", "m-s"),
]:
    times.plot(objects, [r[key] for r in rows], style, label=label)
times.set_xscale("log")
times.set_yscale("log")
times.set_xlabel("routing objects")
times.set_ylabel("wall time (s)")
times.set_title("Time")
times.grid(True, which="both", alpha=0.3)
times.legend(fontsize=8)

for key, label, style in [
    ("snapshot_rss_mb", "snapshot --cluster", "b-o"),
    ("restore_rss_mb", "restore --cluster", "r-o"),
    ("verify_rss_mb", "verify", "g-^"),
    ("diff_rss_mb", "diff --cluster", "m-s"),
    ("from_dir_rss_mb", "snapshot --from-dir", "c-d"),
]:
    memory.plot(objects, [r[key] for r in rows], style, label=label)
memory.axhline(150, color="k", linestyle="--", label="target: 150 MB")
memory.set_xscale("log")
memory.set_xlabel("routing objects")
memory.set_ylabel("peak RSS (MB)")
memory.set_title("Memory")
memory.grid(True, which="both", alpha=0.3)
memory.legend(fontsize=8)

fig.suptitle(f"routevault at scale, {results['date']} (2 cores, bed control planes on loopback)")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
