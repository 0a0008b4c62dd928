"""How much memory the coordinator's seen set takes for a crawl of N URLs.

    python benchmarks/seen_memory.py [N]      # default 1,000,000

The seen set holds one 63-bit fingerprint (a Python int) per admitted
request; this builds one the way the frontier does and reports the growth of
this process's RSS.
"""

import sys

import psutil

from scrapepool.urls import fingerprint


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    proc = psutil.Process()
    before = proc.memory_info().rss
    seen = set()
    for i in range(n):
        seen.add(fingerprint(f"http://example.com/p/{i}.html?a=1&b=2"))
    after = proc.memory_info().rss
    print(f"{n:,} fingerprints in the seen set: {(after - before) / 1e6:.1f} MB "
          f"({(after - before) / n:.0f} bytes each)")


if __name__ == "__main__":
    main()
