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


def _generated(rnd, alphabet, pieces, n):
    return ["".join(rnd.choice(pieces) if rnd.random() < 0.5 else rnd.choice(alphabet)
                    for _ in range(rnd.randrange(0, 14))) for _ in range(n)]


def test_join_shortcuts_agree_with_urljoin():
    """join() concatenates for simple bases and hrefs instead of calling urljoin: the same
    answer wherever a shortcut is taken, on generated cases (dot and empty segments, queries,
    fragments, escapes, schemes, ports, upper case) and the benchmark site's spellings."""
    import random
    from urllib.parse import urljoin

    from scrapepool.urls import _SIMPLE_ABSOLUTE, _SIMPLE_HREF, join

    rnd = random.Random(15)
    pieces = ["/", "./", "../", ".", "..", "//", "?", "#", "&", "=", "%41", "%", ";", ":", "a", "B", "x.html",
              "http://", "https://", "HTTP://", "h.example", ":80", ":8080", "~", "_", "-", "+", " ", "@"]
    alphabet = "abcXYZ019._~-/?#&=%;:+@ "
    bases = ["http://127.0.0.1:18080/p/00001.html", "http://127.0.0.1:18080/", "https://h.example/a/b/",
             "http://127.0.0.1:18080/l/00007.html?sort=asc&view=grid", "http://h/a?", "http://h/a#f",
             "http://h/a//b/c.html", "http://h/a/./b/c", "http://h/a/../b/", "HTTP://H/a/b",
             "http://h/a?x=1#f",
             "http://u:p@h:81/d/e.html;p?q", "http://h/%7Ea/b.html", "http://h/.x/y", "http://h"]
    hrefs = ["00002.html", "/p/00002.html", "./x.html", "../", "/./p/x.html", "x.html?", "x.html#c",
             "http://127.0.0.1:18080/p/00003.html", "https://example.com/a", "x.html?b=2&a=1", "/", "a/",
             "http://h", "http://h?x", "http://h/a;p", "http://h/a#", "http://h/a?", "/a/..", "a/.",
             "%2e%2e/x", "#", "#top", "#a#b", "# x"]
    hrefs += [h.strip() for h in _generated(rnd, alphabet, pieces, 4000)]  # callers strip
    shortcuts = 0
    for base in bases + ["http://h/" + h for h in _generated(rnd, alphabet, pieces, 50)]:
        for href in hrefs:
            if not href or href[0] == "?" or "///" in href[:9] or "\\" in href[:9]:
                continue  # urljoin, or read as browsers do (test_edges_urls.py), before any shortcut
            if not (_SIMPLE_HREF.match(href) or _SIMPLE_ABSOLUTE.match(href) or href[0] == "#"):
                continue
            shortcuts += 1
            try:
                expected = urljoin(base, href)
            except ValueError:
                continue
            assert join(base, href) == expected, (base, href)
    assert shortcuts > 5000


def test_canonical_shortcut_agrees_with_w3lib():
    """canonical() builds the answer itself for URLs of a simple shape instead of calling
    w3lib: the same answer as the w3lib path on every generated URL."""
    import random

    from scrapepool.urls import _fast_canonical, canonical

    rnd = random.Random(15)
    pieces = ["/", "./", "../", ".", "..", "//", "?", "#", "&", "=", "a=1", "b=", "=x", "%41", "%2f",
              "%", ";", ":", "a", "B", "x.html", "~", "_", "-", "+", " ", "@", "é"]
    alphabet = "abcXYZ019._~-/?#&=%;:+@ "
    hosts = ["h", "127.0.0.1", "Example.com", "a_b.example", "xn--nxasmq6b.example", "xn--abc", "-a.b",
             "a..b", "a.", "h.example", "[::1]", "0x7f.1", "a-.b"]
    ports = ["", ":80", ":443", ":8080", ":0", ":080", ":65535", ":65536", ":99999", ":"]
    urls = ["http://127.0.0.1:18080/l/00007.html?view=grid&sort=asc#x", "http://h/a?b=2&a=1&a=0",
            "http://h/a?a=2&a=1", "http://h/a?a=1&a", "http://h/a?ab=1&a=2", "http://h/a?a-b=1&a=2"]
    simple = ["a", "x.html", "/", "b-c", "~d", "_", "?", "a=1", "&", "b=", "#", "q.", "0"]
    for _ in range(6000):
        scheme = rnd.choice(["http", "https", "HTTP"])
        path = _generated(rnd, alphabet if rnd.random() < 0.5 else "ab/.=&", pieces if rnd.random() < 0.5
                          else simple, 1)[0]
        host, port = (rnd.choice(hosts[:6]), rnd.choice(ports[:4])) if rnd.random() < 0.5 \
            else (rnd.choice(hosts), rnd.choice(ports))
        urls.append(f"{scheme}://{host}{port}/{path}")
    fast_used = 0
    for url in urls:
        fast = _fast_canonical(url)
        if fast is None:
            continue
        fast_used += 1
        assert fast == canonical.__wrapped__.__globals__["_slow_canonical"](url), url
    assert fast_used > 300


@pytest.mark.parametrize("href", ["http:#x", "HTTP://#X", "http:?q=1", "https:", "//", "//?q"])
def test_join_of_a_scheme_without_path_depends_on_the_page(href):
    """urljoin reads such an href as the base page itself (same scheme) with the href's query
    or fragment: the folder cache must not give one page's answer to another."""
    from urllib.parse import urljoin

    from scrapepool.urls import join

    for base in ["http://h/p/1.html", "http://h/p/2.html", "https://h/p/3.html"]:
        assert join(base, href) == urljoin(base, href)


def test_request_url_shortcut_agrees_with_w3lib():
    """request_url() skips safe_url_string for URLs it would not change: the same answer."""
    import random
    from urllib.parse import urldefrag

    from w3lib.url import safe_url_string

    from scrapepool.urls import _WIRE_SAFE, request_url

    rnd = random.Random(15)
    pieces = ["/", "?", "#", "&", "=", "%41", "%zz", "%", " ", "é", "[", "]", "|", "+", "~", "a", "B",
              ".", "..", ";", ":", "@", "'"]
    hosts = ["h", "127.0.0.1:18080", "Example.com", "h:80", "a_b.example", "[::1]:8080"]
    taken = 0
    for path in _generated(rnd, "abcXY019._~-/?#&=%+ ", pieces, 3000):
        url = f"{rnd.choice(['http', 'https', 'HTTP'])}://{rnd.choice(hosts)}/{path}"
        taken += bool(_WIRE_SAFE.match(url))
        assert request_url(url) == urldefrag(safe_url_string(url))[0], url
    assert taken > 300
