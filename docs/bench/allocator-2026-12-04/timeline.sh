#!/usr/bin/env bash
# Ad-hoc (eighteenth session): how busy the 2 cores are during one `snapshot --cluster` at
# 100k (bed of ../snapshot-cpu-2026-12-04/fill-100k.sh). Samples every 100 ms: the cores in use
# (from /proc/stat), the snapshot's and each bed process's share (from /proc/PID/stat), and
# prints the snapshot's info log lines (JSON, with times) after. Usage: timeline.sh BIN.
set -euo pipefail
work=/tmp/snap100k
source "$work/bed/env"
export KUBECONFIG="$work/bed/kubeconfig" ROUTEVAULT_S3_PATH_STYLE=true
store="s3://$ROUTEVAULT_TEST_BUCKET/bench"
python3 - "$1" "$work" "$store" <<'PY'
import json, os, subprocess, sys, time
binary, work, store = sys.argv[1:4]
tick = os.sysconf("SC_CLK_TCK")
procs = {p["name"]: p["pid"] for p in json.load(open(f"{work}/bed/bed.json"))["processes"]}
def cpu(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / tick
    except OSError:
        return 0.0
def busy():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / tick, sum(f) / tick
log = open("/tmp/timeline-log.json", "w")
start = time.time()
child = subprocess.Popen([f"/tmp/bin/{binary}", "--log-level", os.environ.get("LOG_LEVEL", "info"), "--log-format", "json",
    "snapshot", "--cluster", "src", "--store", store, "--env", "bench",
    "--sign-key", f"{work}/keys/bench.sign.key", "--seal-to", f"{work}/keys/bench.seal.pub",
    "--trust", f"{work}/keys/bench.sign.pub"], stdout=subprocess.DEVNULL, stderr=log)
last = (busy(), cpu(child.pid), {n: cpu(p) for n, p in procs.items()})
print("t(s)  cores-busy  snapshot  " + "  ".join(procs))
while child.poll() is None:
    time.sleep(0.1)
    now = (busy(), cpu(child.pid), {n: cpu(p) for n, p in procs.items()})
    (b1, t1), (b0, t0) = now[0], last[0]
    span = time.time() - start
    cores = (b1 - b0) / ((t1 - t0) / os.cpu_count()) if t1 > t0 else 0
    parts = "  ".join(f"{(now[2][n] - last[2][n]) / 0.1:5.2f}" for n in procs)
    print(f"{span:5.2f}  {cores:5.2f}  {(now[1] - last[1]) / 0.1:5.2f}  {parts}")
    last = now
log.close()
for line in open("/tmp/timeline-log.json"):
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    print(entry.get("timestamp", "")[11:23], entry.get("fields", {}))
PY
