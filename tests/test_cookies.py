"""Cookies across fetcher processes (issue 7): a CSRF login whose session cookie reaches every
protected page whichever fetcher sends it, separate cookie jars side by side, and cookies off."""

import pytest

from tests.real_world_sites import CRAWL_SETTINGS, LoginSite
from tests.real_world_spiders import CookieLoginSpider, TwoJarsSpider


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_login_with_csrf_then_every_protected_page_from_three_fetchers(site_server, crawl_spider):
    login = LoginSite(pages=12, delay=0.02)  # slow pages: the fetchers share them out
    server = site_server(login.site)
    result = crawl_spider(CookieLoginSpider, server, start="/login", workers=3, concurrency=2)
    stats, records = result.stats, result.records
    assert stats["finish_reason"] == "finished"
    (post,) = login.posts()
    assert post["csrf_token"] and post["username"] == "alice" and post["action"] == "login"
    # the 302 after the POST went to /account with the new session cookie it set
    assert [r for r in records if r["kind"] == "account"] == [
        {"kind": "account", "user": "alice", "url": server.url_for("/account")}]
    private = sorted(int(r["path"].rsplit("/", 1)[1]) for r in records if r["kind"] == "private")
    assert private == list(range(1, 13))
    assert {r["owner"] for r in records if r["kind"] == "private"} == {"alice"}
    assert [r for r in records if r["kind"] == "error"] == []
    assert server.count("/logout") == 0


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_two_cookie_jars_keep_two_sessions_apart(site_server, crawl_spider):
    login = LoginSite(pages=2)
    server = site_server(login.site)
    result = crawl_spider(TwoJarsSpider, server, start=[], workers=2, spider_kwargs={"base": server.url})
    stats, records = result.stats, result.records
    assert stats["finish_reason"] == "finished"
    assert sorted(p["username"] for p in login.posts()) == ["alice", "bob"]
    seen = sorted((r["kind"], r["jar"], r["as"], r.get("shown") or r.get("owner")) for r in records)
    assert seen == [("account", 1, "alice", "alice"), ("account", 2, "bob", "bob"),
                    ("private", 1, "alice", "alice"), ("private", 2, "bob", "bob")]


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_cookies_off_means_no_session(site_server, crawl_spider):
    login = LoginSite(pages=3)
    server = site_server(login.site)
    result = crawl_spider(CookieLoginSpider, server, start=["/login", "/private/1"], cookies=False)
    stats, records = result.stats, result.records
    assert stats["finish_reason"] == "finished"
    # the login POST fails its CSRF check (no session cookie), the protected page answers 403
    assert sorted((r["kind"], r["path"], r["status"]) for r in records) == [
        ("error", "login", 403), ("error", "private/1", 403)]
    assert login.cookies_sent() == 0
    assert server.count("/account") == 0
