"""Testing examples/login_spider.py against a local site with a CSRF login and a session cookie.

``crawl_spider`` (scrapepool's pytest plugin) serves the site on 127.0.0.1 and runs the real
engine: fetcher processes, writer, output file.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the site builder lives with the project's tests
    sys.path.insert(0, str(ROOT))

from login_spider import LoginSpider  # noqa: E402

from tests.real_world_sites import LoginSite  # noqa: E402


@pytest.mark.timeout(60)
def test_login_form_is_submitted_with_its_csrf_token(crawl_spider):
    site = LoginSite(pages=3)
    crawl_spider(LoginSpider, site.site, start="/login")
    (post,) = site.posts()
    with site.lock:
        issued = [s["csrf"] for s in site.sessions.values()]
    assert post["csrf_token"] in issued  # the hidden field of the login form, not of the search form
    assert post == {"csrf_token": post["csrf_token"], "username": "alice", "password": "wonderland",
                    "action": "login"}  # "remember" is unchecked: not sent


@pytest.mark.timeout(60)
def test_logged_in_crawl_reaches_every_protected_page(crawl_spider):
    site = LoginSite(pages=5)
    result = crawl_spider(LoginSpider, site.site, start="/login", workers=2,
                          spider_kwargs={"username": "bob", "password": "builder"})
    assert result.records[0] == {"kind": "account", "user": "bob"}
    protected = sorted(r["title"] for r in result.records if r["kind"] == "protected")
    assert protected == [f"Report {i}" for i in range(1, 6)]
    assert {r["owner"] for r in result.records if r["kind"] == "protected"} == {"bob"}
    assert result.count("/logout") == 0
