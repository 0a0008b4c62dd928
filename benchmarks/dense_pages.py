"""Peak memory of a crawl of pages of dense HTML, just under the default --max-bytes.

Issue 12: one 10 MB page of dense markup cost a fetcher 1.4-1.8 GB and 20-30 s of CPU,
and eight of them with -w 2 peaked at 3 GB. This serves ``--pages`` such pages (plus a
home page linking to them) on 127.0.0.1, crawls them with the built-in spider through
the real CLI, samples the RSS of the whole process tree every 0.2 s with psutil, and
prints the peak, the time, and what the records say.

    python benchmarks/dense_pages.py --pages 8 -w 2                  # the defaults
    python benchmarks/dense_pages.py --pages 8 -w 2 --max-elements 0 # no tree budget
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from scrapepool.testing.testserver import Page, SiteServer  # noqa: E402


def tree_rss(proc):
    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("-w", "--workers", type=int, default=2)
    ap.add_argument("--bytes", type=int, default=10 * 1024 * 1024 - 4096, help="size of each page")
    ap.add_argument("--max-elements", type=int, default=None, help="0: no limit")
    ap.add_argument("--max-memory-mb", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()

    unit = "<b>x</b>"
    dense = ("<html><head><title>dense</title></head><body>" + unit * (args.bytes // len(unit))
             + "</body></html>").encode()
    site = {"/robots.txt": Page("User-agent: *\nDisallow:\n", content_type="text/plain"),
            "/": "".join(f'<a href="/d{i}">{i}</a>' for i in range(args.pages))}
    for i in range(args.pages):
        site[f"/d{i}"] = dense
    with SiteServer(site) as server, tempfile.TemporaryDirectory() as tmp:
        seeds = os.path.join(tmp, "seeds.txt")
        with open(seeds, "w") as f:
            f.write(server.url + "/\n")
        out = os.path.join(tmp, "out.jsonl")
        stats_path = os.path.join(tmp, "stats.json")
        cmd = [sys.executable, "-m", "scrapepool", "crawl", seeds, "-o", out, "-w", str(args.workers),
               "-q", "--stats", stats_path, "--timeout", "120"]
        env = dict(os.environ, PYTHONPATH=ROOT)
        if args.max_elements is not None:
            cmd += ["--max-elements", str(args.max_elements)]
        if args.max_memory_mb is not None:
            cmd += ["--max-memory", str(args.max_memory_mb)]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ps = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(ps))
            if time.monotonic() - started > args.timeout:
                proc.kill()
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        err = proc.stderr.read().decode(errors="replace").strip()
        stats = json.load(open(stats_path)) if os.path.exists(stats_path) else {}
        records = [json.loads(line) for line in open(out)] if os.path.exists(out) else []
    print(json.dumps({"pages": args.pages, "page_bytes": len(dense), "workers": args.workers,
                      "options": cmd[cmd.index("--timeout") + 2:], "exit": proc.returncode, "elapsed_s": round(elapsed, 1),
                      "peak_tree_rss_mb": round(peak / 1e6), "records": len(records),
                      "errors": stats.get("errors"), "fetchers_replaced": stats.get("fetchers_replaced"),
                      "stderr": err[-300:]}, indent=1))


if __name__ == "__main__":
    main()
