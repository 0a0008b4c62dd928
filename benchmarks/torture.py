"""Kill a crawl with SIGKILL again and again, resume it each time, and check the output.

    python benchmarks/torture.py                 # 5,000 pages, 10 kills
    python benchmarks/torture.py --pages 500 --kills 3 --format csv

A local site of N linked pages is served on 127.0.0.1; ``scrapepool crawl``
runs with ``--job-dir`` in a session of its own; at a random moment the whole
process group gets SIGKILL (coordinator, fetchers and writer at once); the
same command is run again; after K kills the crawl is left to finish. Then:

- missing:    pages of the site with no record (must be 0)
- duplicated: pages with more than one record (must be 0)
- re-fetched: page requests the server saw more than once (bounded by what
  was in flight at each kill)

Exit status 0 only when nothing is missing or duplicated.
"""

import argparse
import csv
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

from w3lib.url import canonicalize_url

from scrapepool.testing.testserver import SiteServer


def make_site(n, links=8, seed=1):
    """N pages, each linking to `links` others (and always to the next), all reachable from /."""
    rnd = random.Random(seed)
    site = {}
    for i in range(n):
        targets = {(i + 1) % n} | {rnd.randrange(n) for _ in range(links - 1)}
        body = "".join(f'<a href="/p/{t}.html">page {t}</a> ' for t in sorted(targets))
        path = "/" if i == 0 else f"/p/{i}.html"
        site[path] = f"<html><head><title>Page {i}</title></head><body>{body}<p>{'x' * 2000}</p></body></html>"
    # page 0 is "/", and links to /p/0.html name it too: serve the same page there
    site["/p/0.html"] = site["/"]
    return site


def read_urls(path, fmt):
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as f:
            return [json.loads(line)["url"] for line in f if line.strip()]
    if fmt == "csv":
        with open(path, encoding="utf-8", newline="") as f:
            return [row["url"] for row in csv.DictReader(f)]
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT url FROM records")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--format", choices=("jsonl", "csv", "sqlite"), default="jsonl")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--min-wait", type=float, default=0.5, help="earliest kill after a start (s)")
    ap.add_argument("--max-wait", type=float, default=4.0, help="latest kill after a start (s)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=600, help="bound on the whole run (s)")
    args = ap.parse_args(argv)
    rnd = random.Random(args.seed)
    site = make_site(args.pages)
    work = tempfile.mkdtemp(prefix="scrapepool-torture-")
    out = os.path.join(work, f"out.{args.format}")
    seeds = os.path.join(work, "seeds.txt")
    deadline = time.monotonic() + args.timeout
    with SiteServer(site) as server:
        with open(seeds, "w") as f:
            f.write(server.url + "/\n")
        cmd = [sys.executable, "-m", "scrapepool", "crawl", seeds, "-o", out, "--job-dir",
               os.path.join(work, "job"), "-w", str(args.workers), "-c", "8", "--no-robots", "-q"]
        kills = 0
        runs = 0
        while True:
            runs += 1
            proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            if kills < args.kills:
                done = threading.Event()
                threading.Thread(target=lambda: (proc.wait(), done.set()), daemon=True).start()
                wait = rnd.uniform(args.min_wait, args.max_wait)
                if not done.wait(wait):
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
                    kills += 1
                    pages = len(set(server.requests))
                    print(f"kill {kills}: SIGKILL to the whole group after {wait:.2f}s "
                          f"({pages} distinct requests so far)", flush=True)
                    continue
            try:
                rc = proc.wait(max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                print("timed out", file=sys.stderr)
                return 1
            err = proc.stderr.read().decode(errors="replace").strip()
            if rc != 0:
                print(f"run {runs} exited {rc}: {err}", file=sys.stderr)
                return 1
            break
        requests = Counter(path for method, path in server.requests if path != "/robots.txt")
        base = server.url
    urls = read_urls(out, args.format)
    got = Counter(canonicalize_url(u) for u in urls)
    expected = {canonicalize_url(base + path) for path in site}
    missing = expected - set(got)
    duplicated = {u: c for u, c in got.items() if c > 1}
    refetched = sum(c - 1 for c in requests.values() if c > 1)
    print(f"pages {len(expected)}, records {len(urls)}, kills {kills}, runs {runs}: "
          f"missing {len(missing)}, duplicated {len(duplicated)}, re-fetched {refetched}")
    return 0 if not missing and not duplicated else 1


if __name__ == "__main__":
    sys.exit(main())
