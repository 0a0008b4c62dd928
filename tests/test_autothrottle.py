"""AutoThrottle (``--autothrottle``, core/hosts.py): each host's delay follows its latency,
with Scrapy's rule (scrapy/extensions/throttle.py ``_adjust_delay``), checked on the rule
itself and at a real server whose latency changes in the middle of a crawl."""

import json
import statistics
import subprocess
import sys
import threading
import time

import pytest

from scrapepool.core.hosts import HostGate
from scrapepool.exceptions import UsageError
from scrapepool.settings import Settings
from scrapepool.testing.testserver import Page
from tests.conftest import _env


def gate(**settings):
    s = Settings(autothrottle=True, robots=False, **settings)
    return HostGate(s, make_job=lambda req_id, entry, now: None, refuse=lambda req_id: None)


def delay_after(g, *answers):
    g.hosts.clear()
    g.route(1, type("E", (), {"url": "http://h/", "hop": None, "depth": 0})(), time.time())
    for latency, status in answers:
        g.host_done("http://h/", time.time(), latency, status)
    return g.hosts["h"].delay if "h" in g.hosts else next(iter(g.hosts.values())).delay


def test_the_delay_moves_halfway_to_latency_over_target_concurrency():
    g = gate(autothrottle_start_delay=5.0)
    assert delay_after(g) == 5.0  # Scrapy's start delay, before any latency is known
    assert delay_after(g, (1.0, 200)) == pytest.approx(3.0)  # (5 + 1) / 2
    assert delay_after(g, (1.0, 200), (1.0, 200)) == pytest.approx(2.0)  # (3 + 1) / 2
    g = gate(autothrottle_start_delay=0.0, autothrottle_target_concurrency=2.0)
    assert delay_after(g, (1.0, 200)) == pytest.approx(0.5)  # never below latency / target


def test_bounds_and_error_answers():
    g = gate(autothrottle_start_delay=0.0, delay=0.3, autothrottle_max_delay=2.0)
    assert delay_after(g, (0.01, 200)) == pytest.approx(0.3)  # --delay is the floor
    assert delay_after(g, (30.0, 200)) == pytest.approx(2.0)  # the max delay is the ceiling
    # A fast error never shortens the delay; a slow one lengthens it.
    assert delay_after(g, (1.0, 200), (0.01, 500)) == pytest.approx(1.0)
    assert delay_after(g, (1.0, 200), (1.8, 503)) == pytest.approx(1.8)


def test_not_in_a_shared_crawl_yet():
    with pytest.raises(UsageError, match="autothrottle"):
        Settings(autothrottle=True, frontier="redis://127.0.0.1:6379/0", crawl_id="c")


class Latency:
    """A site of a chain of pages whose answers take ``fast`` s for the first ``switch``
    requests, then ``slow`` s; it notes when each request came in (server side)."""

    def __init__(self, pages, switch, fast, slow):
        self.lock = threading.Lock()
        self.times = []
        self.switch, self.fast, self.slow = switch, fast, slow
        self.site = {("/" if i == 0 else f"/p/{i}"): self._page(i, pages) for i in range(pages)}

    def _page(self, i, pages):
        link = f'<a href="/p/{i + 1}">next</a>' if i + 1 < pages else ""

        def serve(info):
            with self.lock:
                self.times.append(time.monotonic())
                n = len(self.times)
            return Page(f"<html><body>{link}</body></html>", delay=self.fast if n <= self.switch else self.slow)
        return serve


@pytest.mark.timeout(90)
def test_the_delay_follows_a_latency_that_changes_mid_crawl(tmp_path, site_server):
    site = Latency(pages=28, switch=14, fast=0.02, slow=0.3)
    server = site_server(site.site)
    (tmp_path / "seeds.txt").write_text(server.url + "/\n")
    proc = subprocess.run([sys.executable, "-m", "scrapepool", "crawl", "seeds.txt", "-o", "out.jsonl", "--no-robots",
                           "-w", "1", "-c", "4", "--autothrottle", "--set", "autothrottle_start_delay=0",
                           "--stats", "stats.json"], cwd=str(tmp_path), env=_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=80)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "stats.json").read_text())["pages"] == 28
    gaps = [b - a for a, b in zip(site.times, site.times[1:])]
    # Server-side gap between two requests = the previous answer's latency + the delay.
    fast = statistics.median(gaps[3:13])
    slow = statistics.median(gaps[-8:])
    assert fast < 0.15, f"the fast phase was throttled: gaps {gaps[:14]}"
    assert slow - 0.3 > 0.15, f"the delay did not follow the latency up: gaps {gaps[14:]}"


@pytest.mark.parametrize(("latency", "target", "start", "expected"), [
    (2.0, 2.0, 1.0, 1.0), (1.0, 2.0, 1.0, 0.75), (4.0, 2.0, 1.0, 2.0), (2.0, 1.0, 1.0, 2.0),
    (2.0, 4.0, 1.0, 0.75), (2.0, 2.0, 0.5, 1.0), (2.0, 2.0, 2.0, 1.5)])
def test_scrapy_s_adjustment_table(latency, target, start, expected):
    """Scrapy's tests/test_extension_throttle.py::test_adjustment, row by row."""
    g = gate(autothrottle_start_delay=start, autothrottle_target_concurrency=target)
    assert delay_after(g, (latency, 200)) == pytest.approx(expected)


@pytest.mark.parametrize(("mindelay", "maxdelay", "expected"), [(0.5, 2.0, 1.0), (0.25, 0.5, 0.5), (2.0, 4.0, 2.0)])
def test_scrapy_s_adjustment_limits(mindelay, maxdelay, expected):
    """Scrapy's test_adjustment_limits (latency 2, target concurrency 2, slot delay 1)."""
    g = gate(autothrottle_start_delay=1.0, autothrottle_target_concurrency=2.0, delay=mindelay,
             autothrottle_max_delay=maxdelay)
    assert delay_after(g, (2.0, 200)) == pytest.approx(expected)


@pytest.mark.parametrize(("latency", "expected"), [(2.0, 1.0), (1.0, 1.0), (4.0, 2.0)])
def test_scrapy_s_adjustment_bad_response(latency, expected):
    """Scrapy's test_adjustment_bad_response (a 400; target concurrency 2, slot delay 1)."""
    g = gate(autothrottle_start_delay=1.0, autothrottle_target_concurrency=2.0)
    assert delay_after(g, (latency, 400)) == pytest.approx(expected)


@pytest.mark.parametrize("value", [0.0, -1.0])
def test_scrapy_s_target_concurrency_invalid(value):
    """Scrapy's test_target_concurrency_invalid (NotConfigured there, one UsageError here)."""
    with pytest.raises(UsageError, match="autothrottle_target_concurrency"):
        Settings(autothrottle=True, autothrottle_target_concurrency=value)
