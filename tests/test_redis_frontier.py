"""RedisFrontier (core/redis_frontier.py) driven in-process against a real redis-server, where
a crawl through machine processes would hit a case only by chance."""

import time

import pytest

from scrapepool.urls import canonical, fingerprint
from tests.redis_server import new_crawl_id, redis_server  # noqa: F401
from tests.test_redis_commit import joined_frontier

pytestmark = pytest.mark.timeout(60)


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
