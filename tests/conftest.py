"""Shared fixtures: real local sites, a linked-site builder, a CLI runner, a JSON-lines reader.

Every crawl test talks to a real socket (scrapepool.testing.testserver.SiteServer on
127.0.0.1, port 0); nothing here mocks the network.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scrapepool.testing.testserver import Page

ROOT = Path(__file__).resolve().parents[1]

# `tests.spiders:Name` must import in spawned fetchers too: they inherit this sys.path.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Allow-all robots.txt served by every test site (the crawler asks for it once per host).
ROBOTS = Page("User-agent: *\nDisallow:\n", content_type="text/plain")

#: Every field of the stats dict the API and --stats return.
STATS_KEYS = {"pages", "records", "requests", "status", "errors", "retries", "redirects", "robots_refused",
              "spider_errors", "dropped", "dropped_fields", "invalid_links", "fetcher_crashes", "fetchers_replaced", "redirects_to_seen", "bytes", "elapsed_s", "pages_per_s",
              "peak_memory_mb", "finish_reason"}

#: The built-in SiteSpider's record fields, in order.
SITE_FIELDS = ["url", "final_url", "status", "error", "depth", "title", "links"]


def page_path(i):
    """Path of page ``i`` of a linked site: 0 is the home page."""
    return "/" if i == 0 else f"/pages/p{i}.html"


def build_linked_site(n, robots=True):
    """A site of ``n`` HTML pages, all reachable from "/", each linked under several spellings.

    Page i links to page i+1 (so every page is reachable) and to page 2i+1 and home. Each
    link is written four ways: relative, ``./``-relative with its query reordered, absolute
    (built from the Host header) with a fragment, and root-relative with a fragment and the
    query reordered. Pages other than home carry the query ``?a=1&b=2`` in their URL, so a
    crawler that does not canonicalise fetches them twice. The server matches a path with
    or without its query, so every spelling gets the same page.
    """
    assert n >= 2

    def spellings(src, dst, host):
        if dst == 0:
            rel = "../" if src else "./"
            return [rel, "./" if src == 0 else "../#top", f"http://{host}/#x", "/#"]
        name = f"p{dst}.html"
        here = "" if src else "pages/"
        return [f"{here}{name}?a=1&b=2",
                f"./{here}{name}?b=2&a=1",
                f"http://{host}/pages/{name}?a=1&b=2#top",
                f"/pages/{name}?b=2&a=1#frag"]

    def render(i):
        def page(info):
            host = info.headers.get("Host")
            targets = [j for j in ((i + 1) % n, (2 * i + 1) % n, 0) if j != i]
            links = "".join(f'<a href="{href}">to {j}</a>\n' for j in dict.fromkeys(targets)
                            for href in spellings(i, j, host))
            return f"<html><head><title>Page {i}</title></head><body>\n{links}</body></html>"
        return page

    site = {page_path(i): render(i) for i in range(n)}
    if robots:
        site["/robots.txt"] = ROBOTS
    return site


@pytest.fixture
def linked_site():
    """Builder: ``linked_site(n)`` -> site dict of n interlinked pages (see build_linked_site)."""
    return build_linked_site


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("COLUMNS", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_scrapepool(*args, cwd, stdin=None, env=None, timeout=50, text=True):
    """``python -m scrapepool ARGS`` in ``cwd`` -> (rc, stdout, stderr); ``stdin`` piped in
    (else none: a command that reads it gets EOF); bytes out with ``text=False``."""
    proc = subprocess.run([sys.executable, "-m", "scrapepool", *map(str, args)], cwd=str(cwd),
                          env=env or _env(), capture_output=True, text=text, timeout=timeout,
                          input=stdin, stdin=subprocess.DEVNULL if stdin is None else None)
    return proc.returncode, proc.stdout, proc.stderr


def package_source(src):
    """A copy of what a source distribution holds (the package, pyproject.toml, README.md) in
    the new folder ``src``, for tests that build or install the package as pip would."""
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "scrapepool", src / "scrapepool", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return src


def one_line(err):
    """The single line on stderr (and no traceback)."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def run_cli(tmp_path):
    """``run_cli(*args, cwd=None, timeout=50)`` runs ``python -m scrapepool ARGS`` -> (rc, stdout, stderr).

    ``cwd`` defaults to the test's tmp_path, so the default output (crawl.jsonl) lands there.
    """
    def run(*args, cwd=None, timeout=50):
        return run_scrapepool(*args, cwd=cwd or tmp_path, timeout=timeout)
    return run


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture
def read_jsonl():
    """``read_jsonl(path)`` -> list of the records of a JSON-lines file."""
    return load_jsonl


@pytest.fixture(scope="session")
def httpserver_listen_address():
    """pytest-httpserver's server on 127.0.0.1 (its default, "localhost", may resolve to ::1):
    the tests talk only to servers they start on 127.0.0.1."""
    return ("127.0.0.1", 0)
