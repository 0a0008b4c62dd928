"""CPU per page of link extraction: BeautifulSoup's tree against lxml's (parsel's), issue 15.

    .venv/bin/python benchmarks/link_extraction.py [--pages 500] [--page-kb 25] [--repeat 3] [--rev HEAD]

Builds the benchmark harness's site (``../shared/bench/make_site.py``: ~40 links a page,
25 KiB) when it is there, else ``benchmarks/compare.py``'s, in a temporary folder, and
times in this one process (``time.process_time`` around each page's work, median of
``--repeat`` runs over every page; fresh Responses, the text decoded, the URL caches warm):

- the trees: ``response.soup`` (make_soup) and ``response.selector`` (parsel);
- the built-in spider's work, page_links + the title: the soup walk it was (the reference
  in tests/test_link_paths.py) and the lxml walk it is, each on a tree already built, and
  in all with its tree;
- ``LinkExtractor().extract_links`` likewise, the soup's (the reference, which shares
  today's filters) and lxml's; with ``--rev``, also the whole extractor as it was then.
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from scrapepool.spiders.builtin import page_links, page_title  # noqa: E402
from scrapepool.spiders.http import Response  # noqa: E402
from scrapepool.spiders.rules import LinkExtractor  # noqa: E402
from tests.test_link_paths import SoupLinkExtractor, soup_page_links, soup_title  # noqa: E402

BENCH = os.path.join(ROOT, "..", "shared", "bench")
HOST = "http://127.0.0.1:18080"


def build_pages(folder, n, page_kb):
    """``[(url, body bytes)]`` of a site of n pages, and which generator made it."""
    if os.path.exists(os.path.join(BENCH, "make_site.py")):
        sys.path.insert(0, BENCH)
        import make_site

        make_site.build(n, 1, page_kb, folder)
        source = f"../shared/bench/make_site.py -n {n} --page-kb {page_kb} --seed 1"
    else:
        sys.path.insert(0, HERE)
        from compare import build_site

        build_site(folder, n)
        source = f"benchmarks/compare.py build_site({n})"
    pages = []
    for top, _, files in os.walk(folder):
        for name in sorted(files):
            if not name.endswith(".html"):
                continue
            path = os.path.relpath(os.path.join(top, name), folder).replace(os.sep, "/")
            url = f"{HOST}/" if path == "index.html" else f"{HOST}/{path}"
            with open(os.path.join(folder, path), "rb") as f:
                pages.append((url, f.read()))
    return sorted(pages)[:n], source


def response_of(url, body):
    response = Response(url, 200, {"Content-Type": "text/html; charset=utf-8"}, body)
    response.text  # noqa: B018 - decoded before the clock starts: both trees read the text
    return response


def timed(pages, prepare, work, repeat):
    """Median CPU ms per page of ``work(response)`` over all pages, each on a fresh Response
    after ``prepare`` (untimed). One page's trees at a time, as in a fetcher: a thousand
    soups kept alive would make the garbage collector's passes, and the soup, look dearer."""
    runs = []
    for _ in range(repeat):
        total = 0.0
        for url, body in pages:
            response = response_of(url, body)
            prepare(response)
            t0 = time.process_time()
            work(response)
            total += time.process_time() - t0
        runs.append(total * 1000 / len(pages))
    return statistics.median(runs), runs


def nothing(response):
    pass


def soup(response):
    return response.soup


def selector(response):
    return response.selector


def both(response):
    response.soup  # noqa: B018
    response.selector  # noqa: B018


def builtin_old(response):
    soup_page_links(response)
    soup_title(response)


def builtin_new(response):
    page_links(response)
    page_title(response)


def extractor_at(rev):
    """LinkExtractor as it was at git revision ``rev`` (its rules.py, with today's imports)."""
    source = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:scrapepool/spiders/rules.py"],
                            check=True, capture_output=True, text=True).stdout
    fd, path = tempfile.mkstemp(suffix=".py")
    with os.fdopen(fd, "w") as f:
        f.write(source)
    try:
        spec = importlib.util.spec_from_file_location("scrapepool.spiders._rules_at_rev", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        os.unlink(path)
    return module.LinkExtractor()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=500)
    ap.add_argument("--page-kb", type=float, default=25.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rev", help="also time LinkExtractor as it was at this git revision (e.g. HEAD)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        pages, source = build_pages(folder, args.pages, args.page_kb)
    old_ex, new_ex = SoupLinkExtractor(), LinkExtractor()
    old_extract, new_extract = old_ex.extract_links, new_ex.extract_links
    # The same answers, and the URL caches warm for both.
    for url, body in pages:
        response_a, response_b = response_of(url, body), response_of(url, body)
        assert list(soup_page_links(response_a)) == list(page_links(response_b)), response_a.url
        assert soup_title(response_a) == page_title(response_b), response_a.url
        assert old_extract(response_a) == new_extract(response_b), response_a.url
    cases = [
        ("soup build (response.soup)", nothing, soup),
        ("selector build (response.selector)", nothing, selector),
        ("page_links + title, soup walk (old), tree built", soup, builtin_old),
        ("page_links + title, lxml walk (new), tree built", selector, builtin_new),
        ("page_links + title, old in all (soup + walk)", nothing, builtin_old),
        ("page_links + title, new in all (selector + walk)", nothing, builtin_new),
        ("LinkExtractor, soup (old), tree built", soup, old_extract),
        ("LinkExtractor, lxml (new), tree built", selector, new_extract),
        ("LinkExtractor, old in all", nothing, old_extract),
        ("LinkExtractor, new in all", nothing, new_extract),
    ]
    if args.rev:
        rev_extract = extractor_at(args.rev).extract_links
        for url, body in pages:
            assert rev_extract(response_of(url, body)) == new_extract(response_of(url, body)), url
        cases += [(f"LinkExtractor at {args.rev}, tree built", soup, rev_extract),
                  (f"LinkExtractor at {args.rev}, in all", nothing, rev_extract)]
    kb = sum(len(body) for _, body in pages) / len(pages) / 1024
    links = sum(body.count(b"<a ") for _, body in pages) / len(pages)
    print(f"{len(pages)} pages from {source}: {kb:.1f} KiB, ~{links:.0f} <a> a page; "
          f"CPU ms/page, median of {args.repeat} [runs]")
    for label, prepare, work in cases:
        median, runs = timed(pages, prepare, work, args.repeat)
        print(f"  {label:50s} {median:6.3f}  [{', '.join(f'{r:.3f}' for r in runs)}]")


if __name__ == "__main__":
    main()
