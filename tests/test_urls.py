"""Canonical URLs, request fingerprints, the allowed-domain rule and seed checks (scrapepool.urls)."""

import subprocess
import sys

import pytest

from scrapepool.urls import DomainFilter, canonical, check_seed_url, fingerprint, host_key


@pytest.mark.parametrize("url, expected", [
    ("http://example.com/a#frag", "http://example.com/a"),
    ("http://example.com/a?b=2&a=1", "http://example.com/a?a=1&b=2"),
    ("http://example.com/a?", "http://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com:80/a", "https://example.com:80/a"),  # 80 is not https's default
    ("HTTP://EXAMPLE.Com/Path/To/Page.HTML", "http://example.com/Path/To/Page.HTML"),
    ("http://example.com/a%2fb", "http://example.com/a%2Fb"),
    ("http://example.com/a b", "http://example.com/a%20b"),
    ("http://[::1]:80/x", "http://[::1]/x"),
])
def test_canonical(url, expected):
    assert canonical(url) == expected


def test_canonical_forms_agree():
    spellings = ["http://Example.com:80/p?y=2&x=1#top", "http://example.com/p?x=1&y=2",
                 "HTTP://EXAMPLE.COM/p?x=1&y=2#", "http://example.com:80/p?y=2&x=1"]
    assert len({canonical(u) for u in spellings}) == 1
    assert canonical("http://example.com/P?x=1&y=2") != canonical(spellings[0])  # path case is kept


@pytest.mark.parametrize("url", ["ftp://example.com/", "mailto:a@example.com", "javascript:void(0)",
                                 "data:text/html,x", "//example.com/a", "/relative", "http://", "https:///x",
                                 "http://example.com:99999/", "http://example.com:port/"])
def test_canonical_of_a_non_http_url_is_none(url):
    assert canonical(url) is None


def test_fingerprint_is_stable_and_method_sensitive():
    canon = canonical("http://example.com/a?x=1")
    fp = fingerprint(canon)
    assert fp == fingerprint(canon, "GET") == fingerprint(canon, "GET", None) == fingerprint(canon, "GET", b"")
    assert isinstance(fp, int) and 0 <= fp < 2 ** 63
    assert fingerprint(canon, "POST") != fp
    assert fingerprint(canon, "POST", b"a=1") != fingerprint(canon, "POST", b"a=2")
    assert fingerprint(canon, "POST", b"a=1") != fingerprint(canon, "POST")
    assert fingerprint(canonical("http://example.com/b?x=1")) != fp
    # the same in another process (no hash randomisation): a job dir resumes with the same seen set
    code = "from scrapepool.urls import fingerprint; print(fingerprint('http://example.com/a?x=1'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert int(other.stdout) == fp


@pytest.mark.parametrize("url, key", [
    ("http://Example.com/a", "example.com:80"),
    ("https://example.com/a", "example.com:443"),
    ("http://example.com:8080", "example.com:8080"),
    ("http://127.0.0.1:5000/x", "127.0.0.1:5000"),
])
def test_host_key(url, key):
    assert host_key(url) == key


def test_domain_filter_host_port_is_exact():
    f = DomainFilter(["127.0.0.1:8000"])
    assert f.allows("http://127.0.0.1:8000/x")
    assert not f.allows("http://127.0.0.1:8001/x")
    assert not f.allows("http://localhost:8000/x")
    assert not f.allows("http://127.0.0.1/x")


def test_domain_filter_localhost_and_loopback_are_distinct():
    f = DomainFilter(["localhost:8000"])
    assert f.allows("http://LOCALHOST:8000/")
    assert not f.allows("http://127.0.0.1:8000/")
    g = DomainFilter(["127.0.0.1"])
    assert g.allows("http://127.0.0.1:1234/") and not g.allows("http://localhost:1234/")


def test_domain_filter_bare_domain_allows_subdomains_and_any_port():
    f = DomainFilter(["Example.com."])
    for url in ("http://example.com/", "https://example.com/", "http://example.com:8080/",
                "http://www.example.com/", "http://a.b.EXAMPLE.com/x"):
        assert f.allows(url), url
    for url in ("http://badexample.com/", "http://example.com.evil.net/", "http://example.org/",
                "http://com/"):
        assert not f.allows(url), url


def test_domain_filter_default_ports_and_url_entries():
    f = DomainFilter(["example.com:80", "https://secure.example.org/"])
    assert f.allows("http://example.com/") and f.allows("http://example.com:80/")
    assert not f.allows("https://example.com/")  # port 443
    assert f.allows("https://secure.example.org/x") and not f.allows("http://secure.example.org/x")


def test_empty_domain_filter_allows_everything():
    f = DomainFilter([])
    assert not f
    assert f.allows("http://anything.example/")
    assert DomainFilter(["example.com"])


def test_domain_filter_bad_port_is_refused():
    assert not DomainFilter(["example.com"]).allows("http://example.com:99999/")


@pytest.mark.parametrize("url", ["http://example.com/", "https://example.com:8443/a?b=c#d",
                                 "HTTP://127.0.0.1:1/", "http://[::1]:8000/"])
def test_good_seed(url):
    assert check_seed_url(url) is None


@pytest.mark.parametrize("url, reason", [
    ("ftp://example.com/", "not an http or https URL"),
    ("example.com/page", "not an http or https URL"),
    ("mailto:a@example.com", "not an http or https URL"),
    ("http://", "no host"),
    ("http:///path", "no host"),
    ("http://example.com:99999/", "bad port"),
    ("http://example.com:0/", "bad port"),
    ("http://example.com:abc/", "bad port"),
    ("http://example.com/a b", "spaces or control characters"),
    ("http://example.com/\tb", "spaces or control characters"),
    ("http://example.com/\x00", "spaces or control characters"),
    ("http://example.com/\x7f", "spaces or control characters"),
    ("http://[::1/", "cannot be parsed"),
])
def test_bad_seed_reasons(url, reason):
    assert reason in check_seed_url(url)
