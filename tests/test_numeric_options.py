"""Numeric options are checked before anything starts (issue 12): one line on stderr, exit 2.

The checks live in ``Settings.__post_init__``, so ``scrapepool.crawl(**settings)`` gets them too.
"""

import math

import pytest
from conftest import ROBOTS

from scrapepool import Settings, UsageError
from scrapepool.settings import MAX_CONCURRENCY, MAX_WORKERS, WORKERS

pytestmark = pytest.mark.timeout(60)

BAD = [
    (["--timeout", "inf"], "timeout"),
    (["--timeout", "nan"], "timeout"),
    (["--timeout", "-1"], "timeout"),
    (["--timeout", "100000"], "timeout"),  # past a day; at ~1e9 s sockets overflow time_t
    (["--delay", "nan"], "delay"),
    (["--delay", "inf"], "delay"),
    (["--delay", "-0.5"], "delay"),
    (["--delay", "100000"], "delay"),
    (["--max-bytes", "0"], "max_bytes"),
    (["--max-bytes", "-1"], "max_bytes"),
    (["--max-redirects", "-1"], "max_redirects"),
    (["--http-cache-expire", "-5"], "http_cache_expire"),
    (["--http-cache-expire", "nan"], "http_cache_expire"),
    (["--retries", "-1"], "retries"),
    (["-c", "0"], "concurrency"),
    (["-c", "-1"], "concurrency"),
    (["-c", "100000"], "concurrency"),
    (["-w", "-1"], "workers"),
    (["-w", "100000"], "workers"),
    (["--concurrency-per-host", "0"], "concurrency_per_host"),
    (["--max-pages", "0"], "max_pages"),
]


@pytest.fixture
def seeds(tmp_path, site_server):
    server = site_server({"/": "<title>x</title>", "/robots.txt": ROBOTS})
    path = tmp_path / "seeds.txt"
    path.write_text(server.url + "/\n")
    return path, server


@pytest.mark.parametrize("args, word", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_number_is_one_line_and_exit_2(run_cli, seeds, args, word):
    path, server = seeds
    rc, out, err = run_cli("crawl", path, "-o", "o.jsonl", *args, timeout=30)
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("scrapepool: error: ") and word in lines[0], lines[0]
    assert args[-1] in lines[0]  # the value given is named back
    assert server.requests == []


@pytest.mark.parametrize("name, value", [
    ("timeout", math.inf), ("timeout", math.nan), ("delay", math.nan), ("retry_backoff", math.inf),
    ("max_bytes", 0), ("max_redirects", -1), ("http_cache_expire", -5.0), ("http_cache_expire", math.nan),
    ("retries", -1), ("concurrency", MAX_CONCURRENCY + 1), ("workers", MAX_WORKERS + 1), ("max_bytes", 1.5),
    ("poison_limit", 0),
])
def test_settings_refuse_bad_numbers(name, value):
    with pytest.raises(UsageError, match=name):
        Settings(**{name: value})


def test_good_numbers_pass():
    s = Settings(timeout=0.5, delay=0, max_bytes=1, max_redirects=0, http_cache_expire=0, retries=0,
                 concurrency=MAX_CONCURRENCY, workers=MAX_WORKERS)
    assert s.max_redirects == 0
    assert Settings(http_cache_expire=math.inf).http_cache_expire == math.inf  # never expires
    assert 1 <= WORKERS <= MAX_WORKERS
