"""RedisFrontier (core/redis_frontier.py) driven in-process against a real redis-server, where
a crawl through machine processes would hit a case only by chance."""

import threading
import time

import pytest

from scrapepool.urls import canonical, fingerprint
from tests.redis_server import new_crawl_id, redis_server  # noqa: F401
from tests.test_redis_commit import joined_frontier

pytestmark = pytest.mark.timeout(60)


def lease(frontier, n, timeout=10.0):
    """``n`` jobs from ``frontier`` (it asks Redis at most every POLL_EVERY s): a bounded poll."""
    jobs, deadline, pause = [], time.monotonic() + timeout, threading.Event()
    while len(jobs) < n:
        assert time.monotonic() < deadline, f"leased {len(jobs)} of {n}"
        job = frontier.next_job(time.time())
        if job is None:
            pause.wait(0.01)
        else:
            jobs.append(job)
    return jobs


def test_cookies_a_redirect_response_set_reach_the_machine_that_takes_the_next_hop(
        tmp_path, redis_server):  # noqa: F811
    """A login POST answered by a 302 with Set-Cookie: the session cookie must be in Redis by
    the time another machine can lease the hop (the test of the whole crawl, test_distributed's
    login test, failed 1 run in 6 when the hop went to another machine)."""
    cid = new_crawl_id("redirect-cookie")
    base = "http://127.0.0.1:9"
    m0, db0 = joined_frontier(tmp_path, redis_server.url, cid, "m0")
    m0.admit(fingerprint(canonical(base + "/login"), "POST", b"u=a"), base + "/login", "POST", body=b"u=a")
    m0.seeded()
    job = m0.next_job(time.time())
    assert job is not None and job.url == base + "/login"
    cookie = {"name": "sid", "value": "logged-in", "domain": "127.0.0.1", "path": "/", "secure": False,
              "expires": None, "version": 0, "rest": {}}
    m0.cookies_changed("", {"set": [cookie], "del": []}, None)
    target = base + "/account"
    m0.mark_seen(fingerprint(canonical(target), "GET", None))
    m0.redirect(job, target, "GET", None, None)
    m0.flush()
    m1, db1 = joined_frontier(tmp_path, redis_server.url, cid, "m1")
    hop = m1.next_job(time.time())
    assert hop is not None and hop.url == target
    jars = m1.shared_jars()
    assert jars is not None and [c["value"] for c in jars.get("", [])] == ["logged-in"]
    db0.close()
    db1.close()


def test_a_link_found_by_an_outcome_redis_refused_is_sent_again_later(tmp_path, redis_server):  # noqa: F811
    """The machine's "sent" cache must hold only links Redis took. An outcome of a request its
    session lost (reaped while Redis or the machine was silent) is refused whole, children
    included; if its links stayed in the cache, the page that re-finds them after the rejoin
    would not send them, and they would never be crawled (found by the Redis-frozen test:
    4 pages missing from a finished crawl)."""
    cid = new_crawl_id("sent-cache")
    base = "http://127.0.0.1:9"
    m0, db0 = joined_frontier(tmp_path, redis_server.url, cid, "m0")
    pages = {name: base + "/" + name for name in ("a", "b", "c")}
    fp = {name: fingerprint(canonical(url), "GET", None) for name, url in pages.items()}
    for name in ("a", "b"):
        m0.admit(fp[name], pages[name])
    m0.seeded()
    jobs = {job.url: job for job in lease(m0, 2)}
    assert set(jobs) == {pages["a"], pages["b"]}
    old = m0.session
    m0.scripts["leave"](keys=m0.keys, args=[old])  # its session ends: both go back to the queue
    m0._rejoin()
    assert m0.session != old
    # "b"'s outcome, of the old session, comes in after the rejoin: Redis refuses it, "c" too.
    m0.admit(fp["c"], pages["c"], depth=1)
    m0.record_outcome(jobs[pages["b"]].req_id)
    m0.flush()
    assert not m0.is_seen(fp["c"])
    # "a" again, under the new session: its outcome finds "c" once more, and must send it.
    assert {job.url for job in lease(m0, 2)} == {pages["a"], pages["b"]}
    m0.admit(fp["c"], pages["c"], depth=1)
    m0.record_outcome(next(req for req, epoch in m0.held.items() if epoch == m0.epoch))
    m0.flush()
    assert m0.is_seen(fp["c"]), "a link Redis never took was held back as sent"
    db0.close()


def test_a_redis_silent_since_the_joins_reaps_nobody_when_it_answers_again(tmp_path, redis_server):  # noqa: F811
    """Two machines join; nothing reaches Redis for longer than the session timeout (Redis
    frozen before the first heartbeat: no heartbeat had told it anyone was alive yet). The
    first heartbeat after the silence must not reap the other machine: it was Redis that was
    silent. (A reap there, in the Redis-frozen crawl test, fetched pages twice.)"""
    cid = new_crawl_id("silent-since-join")
    m0, db0 = joined_frontier(tmp_path, redis_server.url, cid, "m0", session_timeout=1.0)
    m1, db1 = joined_frontier(tmp_path, redis_server.url, cid, "m1", session_timeout=1.0)
    m0.admit(fingerprint(canonical("http://127.0.0.1:9/a"), "GET", None), "http://127.0.0.1:9/a")
    m0.seeded()
    lease(m0, 1)
    threading.Event().wait(2.0)  # the silence itself (past the timeout and the 1.5 s floor)
    alive, _status, reaped = m1._call("heartbeat", [m1.session, m1.timeout_ms, 1])
    assert alive == 1 and reaped == 0, f"{reaped} requests of a machine that was not silent were reaped"
    alive, _status, _reaped = m0._call("heartbeat", [m0.session, m0.timeout_ms, 0])
    assert alive == 1, "the machine was fenced for Redis's silence"
    db0.close()
    db1.close()
