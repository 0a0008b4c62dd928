"""URL canonical forms, request fingerprints and the allowed-domain rule.

These run in the fetchers, once per link, so they are cached: a site repeats
the same absolute links on every page, and w3lib's canonicalize_url costs ~20 us.
"""

import hashlib
from functools import lru_cache
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

__all__ = ["canonical", "fingerprint", "DomainFilter", "host_key", "check_seed_url"]

_HTTP = ("http", "https")
#: Entries of each URL cache. A site's repeated links (navigation, neighbours) fit in
#: a few hundred; larger caches were no faster on S1 and, churned by links that never
#: repeat, kept the fetchers' memory growing for the whole of a 50,000-page crawl
#: (58 -> 81 MB each with 16,384 entries; flat at 54 MB with 2,048).
CACHE_SIZE = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=CACHE_SIZE)
def canonical(url):
    """The canonical form used for dedupe, or None for a URL that is not http(s).

    Fragment dropped, query arguments sorted, empty query dropped, escapes
    normalised, scheme and host lower-cased, default port dropped; the path
    keeps its case (w3lib.url.canonicalize_url).
    """
    scheme = url[:6].lower()
    if not (scheme.startswith("http:") or scheme.startswith("https:")):
        return None
    try:
        canon = canonicalize_url(url)
        parts = urlsplit(canon)
        if not parts.hostname:
            return None
        port = parts.port
    except ValueError:
        return None
    if port is not None and port == _DEFAULT_PORTS.get(parts.scheme):
        netloc = parts.netloc.rsplit(":", 1)[0]
        canon = urlunsplit(parts._replace(netloc=netloc))
    return canon


@lru_cache(maxsize=CACHE_SIZE)
def _join_dir(base_dir, href):
    return urljoin(base_dir, href)


def join(base, href):
    """``urljoin(base, href)``, cached where the answer depends only on the base's folder.

    A site spells the same relative links on every page of a folder, and
    ``urljoin`` costs ~25 us; an href with a path or a host resolves the same
    against ``http://h/dir/page.html`` as against ``http://h/dir/``.
    """
    if not href or href[0] in "?#":
        return urljoin(base, href)
    end = len(base)
    for ch in "?#":
        i = base.find(ch)
        if i != -1 and i < end:
            end = i
    slash = base.rfind("/", 0, end)
    if slash < base.find("//") + 2:
        return urljoin(base, href)  # no path at all: http://host
    return _join_dir(base[:slash + 1], href)


def request_url(url):
    """The URL as it is sent: escaped for the wire, without its fragment."""
    return urldefrag(safe_url_string(url))[0]


def fingerprint(canon, method="GET", body=None):
    """A 63-bit fingerprint of a request: method, canonical URL and body, as Scrapy's.

    Eight bytes of SHA-1 keep a 1,000,000-URL seen set small (a Python int per
    URL) with a collision chance around 1e-7 at that size.
    """
    h = hashlib.sha1(method.encode("ascii"))
    h.update(b" ")
    h.update(canon.encode("utf-8"))
    if body:
        h.update(b" ")
        h.update(body)
    return int.from_bytes(h.digest()[:8], "big") >> 1


def host_key(url):
    """``host:port`` of an http(s) URL, lower-cased, with the default port made explicit.

    This is the unit of politeness, robots.txt and the default allowed domain:
    another port is another site.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 80)
    return f"{host}:{port}"


@lru_cache(maxsize=4096)
def _host_key_cached(origin):
    """host_key of ``scheme://netloc`` (the part of a URL before its path), cached per origin."""
    return host_key(origin)


def check_seed_url(url):
    """The reason ``url`` cannot be a seed, or None if it can."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "contains spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"cannot be parsed ({exc})"
    if parts.scheme.lower() not in _HTTP:
        return "is not an http or https URL"
    if not parts.hostname:
        return "has no host"
    try:
        port = parts.port
    except ValueError:
        return "has a bad port"
    if port == 0:
        return "has a bad port"
    return None


class DomainFilter:
    """Which URLs the crawl may request.

    Entries are either ``host:port`` (exactly that site: the default, taken
    from the seeds) or a bare domain (that host on any port, and its
    subdomains), as ``--allow-domain`` and Scrapy's ``allowed_domains`` give.
    An empty filter allows everything.
    """

    def __init__(self, entries=()):
        self.sites = set()
        self.domains = set()
        for entry in entries:
            entry = entry.strip().lower().rstrip(".")
            if "://" in entry:
                self.sites.add(host_key(entry))
            elif ":" in entry:
                self.sites.add(entry)
            elif entry:
                self.domains.add(entry)

    def __bool__(self):
        return bool(self.sites or self.domains)

    def allows(self, url):
        if not (self.sites or self.domains):
            return True
        try:
            key = _host_key_cached(url[:url.find("/", url.find("//") + 2) % (len(url) + 1)])
        except ValueError:
            return False
        if key in self.sites:
            return True
        host = key.rsplit(":", 1)[0]
        for domain in self.domains:
            if host == domain or host.endswith("." + domain):
                return True
        return False
