"""CPU per process kind of one ``scrapepool crawl``, as a wrapper the harness can run.

    python benchmarks/cpu_kinds.py --pages 5000 --json kinds.jsonl -- \\
        python -m scrapepool crawl SEEDS -o OUT.jsonl --no-robots -w 2 -c 16

Runs the command, samples every process of its tree every 0.1 s (psutil ``cpu_times``) and
prints, when it exits, the CPU seconds and ms per page of the coordinator (the command's own
process), the writer (the first child started that is not multiprocessing's resource
tracker) and the fetchers (the other children); ``--json`` appends the same as a JSON line.
A process's last 0.1 s can be missed (the figures are lower bounds, by < 0.1 s each); the
sampler's own CPU (~2% of one core) is the wrapper's, reported apart.
"""

import argparse
import json
import subprocess
import sys
import threading
import time

import psutil


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--json")
    ap.add_argument("--label", default="")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if cmd and cmd[0] == "python":
        cmd[0] = sys.executable
    proc = subprocess.Popen(cmd)
    seen = {}  # pid -> [create_time, cmdline, user, sys]
    stop = threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                procs = [root] + root.children(recursive=True)
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    with p.oneshot():
                        t = p.cpu_times()
                        row = seen.get(p.pid)
                        if row is None:
                            row = seen[p.pid] = [p.create_time(), " ".join(p.cmdline()), 0.0, 0.0]
                        row[2], row[3] = t.user, t.system
                except psutil.Error:
                    continue
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = proc.wait()
    stop.set()
    sampler.join(2)
    kids = sorted((row[0], pid) for pid, row in seen.items()
                  if pid != proc.pid and "resource_tracker" not in row[1])
    kinds = {"coordinator": [0.0, 0.0], "writer": [0.0, 0.0], "fetchers": [0.0, 0.0]}
    if proc.pid in seen:
        kinds["coordinator"] = seen[proc.pid][2:4]
    for i, (_, pid) in enumerate(kids):
        k = kinds["writer" if i == 0 else "fetchers"]
        k[0] += seen[pid][2]
        k[1] += seen[pid][3]
    own = psutil.Process().cpu_times()
    out = {"label": args.label, "pages": args.pages, "ts": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "wrapper_cpu_s": round(own.user + own.system, 3)}
    for name, (u, s) in kinds.items():
        out[f"{name}_user_s"] = round(u, 3)
        out[f"{name}_sys_s"] = round(s, 3)
        out[f"{name}_ms_per_page"] = round(1000 * (u + s) / args.pages, 3)
    out["all_ms_per_page"] = round(sum(out[f"{n}_ms_per_page"] for n in kinds), 3)
    print("cpu_kinds: " + json.dumps(out), file=sys.stderr)
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(out) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
