"""scrapepool against Scrapy on the same local site, one after the other.

    python benchmarks/compare.py                       # 2,000 pages, a site like the S1 scenario
    python benchmarks/compare.py --pages 5000 --reps 3

Builds a deterministic site (pages of ~24 KB with ~40 links each: repeated
spellings of ~9 internal targets, fragments, reordered queries, external
hosts, mailto:, tel:, javascript:), serves it on 127.0.0.1 with a threaded
server, and crawls it with two pairs of equivalent spiders: ``scrapepool crawl``
with the built-in spider (BS4 + lxml) against a Scrapy spider that parses each page
with BeautifulSoup(lxml) too (``scrapy_bs4_spider.py``), and a scrapepool user spider
with parsel selectors (``bench_spiders.py:SelectorSpider``) against Scrapy's native
selectors (``scrapy_css_spider.py``); the Scrapy ones if Scrapy is installed. Prints pages/s, CPU seconds, the peak RSS,
PSS and USS of each crawler's whole process tree (RSS counts the pages that
processes share once per process; PSS splits them, USS leaves them out), and
whether the output has every page exactly once. Then, for scrapepool, the CPU
each process kind used per page (coordinator, writer, fetchers), which is
where to look first when the figure disappoints. (The project's published figures come from the nginx harness in
../shared/bench, see README.md; this script is for reproducing the claim
anywhere, without nginx.)
"""

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import psutil
from w3lib.url import canonicalize_url

from scrapepool.testing.testserver import SiteServer

HERE = os.path.dirname(os.path.abspath(__file__))
WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
         "sigma tau upsilon phi chi psi omega").split()


def build_site(folder, n, seed=7):
    """Write n pages under folder; returns the list of their paths."""
    rnd = random.Random(seed)
    paths = ["/"] + [f"/p/{i:05d}.html" for i in range(1, n)]
    os.makedirs(os.path.join(folder, "p"), exist_ok=True)
    for i, path in enumerate(paths):
        targets = sorted({(i + 1) % n} | {rnd.randrange(n) for _ in range(8)})
        links = []
        for t in targets:
            name = f"{t:05d}.html"
            links += [f"/p/{name}", f"{name}" if i else f"p/{name}", f"/p/{name}#c", f"/p/./{name}"]
        links = [lk if "00000.html" not in lk else "/" for lk in links]  # page 0 is /
        links += ["#top", "", "mailto:a@example.com", "tel:+100", "javascript:void(0)",
                  "https://example.com/x", "http://example.org/y", "https://cdn.example.com/z"]
        text = " ".join(rnd.choice(WORDS) for _ in range(3000))
        body = (f"<!doctype html><html><head><title>Page {i}</title></head><body><h1>Page {i}</h1>"
                + "".join(f'<a href="{lk}">link</a> ' for lk in links)
                + f"<p>{text}</p></body></html>")
        name = "index.html" if path == "/" else path.lstrip("/")
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(body)
    return paths


def run(cmd, out, cwd):
    """Run cmd; returns (wall s, cpu s, peak tree memory {rss, pss, uss} in MB, exit status,
    {pid: (start time, command line, last CPU s)} of every process seen in the tree)."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = {"rss": 0, "pss": 0, "uss": 0}
    procs = {}
    stop = threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            total = dict.fromkeys(peak, 0)
            try:
                for p in [root] + root.children(recursive=True):
                    try:
                        with p.oneshot():
                            mem = p.memory_full_info()
                            cpu = p.cpu_times()
                            procs[p.pid] = (p.create_time(), " ".join(p.cmdline()), cpu.user + cpu.system)
                    except psutil.Error:
                        continue
                    for key in total:
                        total[key] += getattr(mem, key, 0)
            except psutil.Error:
                pass
            for key in peak:
                peak[key] = max(peak[key], total[key])
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        rc = proc.wait(timeout=1800)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait(10)
    stop.set()
    sampler.join(5)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return wall, cpu, {k: v / 1e6 for k, v in peak.items()}, rc, procs


def process_kinds(procs, root_pid):
    """CPU seconds by process kind of a scrapepool crawl (as last sampled: a lower bound).

    The engine starts the writer before the fetchers, so among the children that are
    not multiprocessing's resource tracker, the first started is the writer.
    """
    kids = sorted((start, pid) for pid, (start, cmdline, _) in procs.items()
                  if pid != root_pid and "resource_tracker" not in cmdline)
    kinds = {"coordinator": procs[root_pid][2] if root_pid in procs else 0.0, "writer": 0.0, "fetchers": 0.0}
    for i, (_, pid) in enumerate(kids):
        kinds["writer" if i == 0 else "fetchers"] += procs[pid][2]
    return kinds


def verify(out, expected):
    urls = []
    try:
        with open(out, encoding="utf-8") as f:
            urls = [canonicalize_url(json.loads(line)["url"]) for line in f if line.strip()]
    except (OSError, ValueError, KeyError):
        return False, 0
    got = set(urls)
    return len(urls) == len(got) and got == expected, len(got & expected)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--only", nargs="+", metavar="CRAWLER",
                    help="measure only these: scrapepool, scrapepool-css, scrapy+bs4, scrapy-css")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="scrapepool-compare-")
    try:
        paths = build_site(os.path.join(work, "site"), args.pages)
        rows, kinds = [], []
        with SiteServer(os.path.join(work, "site")) as server:
            expected = {canonicalize_url(server.url + p) for p in paths}
            seeds = os.path.join(work, "seeds.txt")
            with open(seeds, "w") as f:
                f.write(server.url + "/\n")
            def scrapepool(*spider):
                return lambda out: [
                    sys.executable, "-m", "scrapepool", "crawl", seeds, "-o", out, "--no-robots",
                    "-w", str(args.workers), "-c", str(args.concurrency), "-q", *spider]

            def scrapy(spider_file):
                return lambda out: [
                    sys.executable, "-m", "scrapy", "runspider", os.path.join(HERE, spider_file),
                    "-a", f"seeds={seeds}", "-O", f"{out}:jsonlines", "-s", "LOG_LEVEL=WARNING"]

            crawlers = [("scrapepool", scrapepool()),
                        ("scrapepool-css", scrapepool("-s", os.path.join(HERE, "bench_spiders.py:SelectorSpider")))]
            if shutil.which("scrapy") or _has_scrapy():
                crawlers += [("scrapy+bs4", scrapy("scrapy_bs4_spider.py")),
                             ("scrapy-css", scrapy("scrapy_css_spider.py"))]
            else:
                print("Scrapy is not installed: measuring scrapepool only (pip install scrapy)")
            crawlers = [c for c in crawlers if not args.only or c[0] in args.only]
            for name, make in crawlers:
                for rep in range(args.reps):
                    out = os.path.join(work, f"{name}-{rep}.jsonl")
                    cmd = make(out)
                    wall, cpu, mem, rc, procs = run(cmd, out, cwd=os.path.dirname(HERE))
                    ok, pages = verify(out, expected)
                    rows.append((name, rep + 1, pages, pages / wall if wall else 0, wall, cpu, mem,
                                 ok and rc == 0))
                    if name.startswith("scrapepool"):
                        root = min(procs, key=lambda pid: procs[pid][0]) if procs else None
                        kinds.append((name, rep + 1, pages, process_kinds(procs, root)))
        print(f"\n{'crawler':<14} {'rep':>3} {'pages':>6} {'pages/s':>8} {'wall s':>7} {'CPU s':>7} "
              f"{'peak MB: RSS':>12} {'PSS':>5} {'USS':>5}  verified")
        for name, rep, pages, rate, wall, cpu, mem, ok in rows:
            print(f"{name:<14} {rep:>3} {pages:>6} {rate:>8.1f} {wall:>7.1f} {cpu:>7.1f} {mem['rss']:>12.0f} "
                  f"{mem['pss']:>5.0f} {mem['uss']:>5.0f}  {'yes' if ok else 'NO'}")
        print("\nscrapepool, CPU ms per page by process kind (as last sampled, every 0.25 s: lower bounds):")
        for name, rep, pages, k in kinds:
            per = {key: 1000 * v / max(pages, 1) for key, v in k.items()}
            print(f"  {name} rep {rep}: coordinator {per['coordinator']:.2f}, writer {per['writer']:.2f}, "
                  f"fetchers {per['fetchers']:.2f} (all fetchers together)")
        return 0 if all(r[-1] for r in rows) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _has_scrapy():
    try:
        import scrapy  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
