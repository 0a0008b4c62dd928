"""The frontier on its own: admission order, the memory cap and its spill to the job DB,
robots.txt parking and per-host delays (pure unit tests, no processes)."""

import pytest
from conftest import build_linked_site

from scrapepool._messages import ROBOTS
from scrapepool.core import pending as pending_mod
from scrapepool.core.frontier import Frontier
from scrapepool.output.jobdb import JobDB
from scrapepool.settings import Settings
from scrapepool.urls import DomainFilter, canonical, fingerprint


def make(tmp_path, cap=10, **settings):
    db = JobDB(str(tmp_path / "job"), durable=False)
    s = Settings(robots=False, **settings)
    return Frontier(db, s, DomainFilter(["127.0.0.1:80"]), memory_cap=cap)


def admit(f, url, depth=0, **kw):
    return f.admit(fingerprint(canonical(url)), url, depth=depth, **kw)


def drain(f, now=0.0):
    jobs = []
    while True:
        job = f.next_job(now)
        if job is None:
            return jobs
        jobs.append(job)


def test_admission_dedupes_and_orders_breadth_first(tmp_path):
    f = make(tmp_path)
    assert admit(f, "http://127.0.0.1/a") == 1
    assert admit(f, "http://127.0.0.1/a#x") is None  # same canonical URL... once the caller canonicalises
    assert admit(f, "http://127.0.0.1/b", depth=1) == 2
    assert admit(f, "http://127.0.0.1/c", priority=5) == 3
    assert [j.url for j in drain(f)] == ["http://127.0.0.1/c", "http://127.0.0.1/a", "http://127.0.0.1/b"]


def test_spill_beyond_the_memory_cap_keeps_every_request_in_order(tmp_path):
    f = make(tmp_path, cap=10)
    for i in range(100):
        admit(f, f"http://127.0.0.1/p{i}")
    assert len(f.store.heap) == 10 and f.store.on_disk == 90 and f.pending == 100
    jobs = drain(f)
    assert [j.req_id for j in jobs] == list(range(1, 101))
    assert f.pending == 0


def test_limits_are_exact_and_depth_refusals_are_not_marked_seen(tmp_path):
    f = make(tmp_path, max_depth=1, max_pages=3)
    assert admit(f, "http://127.0.0.1/deep", depth=2) is None
    assert admit(f, "http://127.0.0.1/deep", depth=1) is not None  # a shorter path still admits it
    assert admit(f, "http://127.0.0.1/x") and admit(f, "http://127.0.0.1/y")
    assert admit(f, "http://127.0.0.1/z") is None  # max_pages
    assert f.admitted == 3


def test_offsite_requests_are_refused(tmp_path):
    f = make(tmp_path)
    assert admit(f, "http://localhost/a") is None
    assert admit(f, "http://127.0.0.1:8080/a") is None


def test_robots_is_asked_first_and_parks_the_host(tmp_path):
    db = JobDB(str(tmp_path / "job"), durable=False)
    f = Frontier(db, Settings(), DomainFilter(["127.0.0.1:80"]))
    admit(f, "http://127.0.0.1/a")
    admit(f, "http://127.0.0.1/private/b")
    robots = f.next_job(0.0)
    assert robots.kind == ROBOTS and robots.url == "http://127.0.0.1/robots.txt"
    assert f.next_job(0.0) is None  # the host waits for its robots.txt
    f.host_done(robots.url, 0.0)
    f.robots_arrived(robots.url, 200, "User-agent: *\nDisallow: /private\n")
    jobs = drain(f)
    assert [j.url for j in jobs] == ["http://127.0.0.1/a"]
    assert f.robots_refused == 1 and f.pending == 0


def test_delay_allows_one_request_per_host_at_a_time(tmp_path):
    f = make(tmp_path, delay=2.0)
    for p in ("a", "b"):
        admit(f, f"http://127.0.0.1/{p}")
    first = f.next_job(100.0)
    assert first is not None and f.next_job(100.0) is None
    f.host_done(first.url, started=100.0)
    assert f.next_job(100.5) is None          # too soon
    assert f.next_due(100.5) == pytest.approx(1.5)
    second = f.next_job(102.0)
    assert second is not None and second.not_before >= 102.0


@pytest.mark.timeout(60)
def test_a_crawl_larger_than_the_memory_cap(crawl_spider, site_server, monkeypatch):
    monkeypatch.setattr(pending_mod, "MEMORY_CAP", 8)
    site = build_linked_site(80)
    server = site_server(site)
    result = crawl_spider(None, server, workers=2, concurrency=2, robots=True)
    stats = result.stats
    urls = [r["url"].split("?")[0] for r in result.records]
    assert len(urls) == len(set(urls)) == 80
    assert stats["finish_reason"] == "finished"


def test_the_local_frontier_has_every_operation_of_the_frontier_interface(tmp_path):
    from scrapepool.core.frontier_protocol import FrontierAPI, _implements
    from scrapepool.output.jobdb import JobDB
    from scrapepool.settings import Settings
    from scrapepool.urls import DomainFilter

    db = JobDB(str(tmp_path), durable=False)
    frontier = Frontier(db, Settings(), DomainFilter(["127.0.0.1:9"]))
    assert _implements(frontier) == []
    assert {"admit", "next_job", "redirect", "requeue", "take_refused_hops", "keep"} <= set(vars(FrontierAPI))
    db.close()
