"""URL canonical forms, request fingerprints and the allowed-domain rule.

These run in the fetchers, once per link, so they are cached: a site repeats
the same absolute links on every page, and w3lib's canonicalize_url costs ~20 us.
"""

import base64
import hashlib
import ipaddress
import re
from functools import lru_cache
from urllib.parse import unquote, urldefrag, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

__all__ = ["canonical", "fingerprint", "DomainFilter", "host_key", "check_seed_url", "InvalidURL",
           "resolve", "location_url", "split_credentials", "same_origin", "is_http"]

_HTTP = ("http", "https")
#: Entries of each URL cache. A site's repeated links (navigation, neighbours) fit in
#: a few hundred; larger caches were no faster on S1 and, churned by links that never
#: repeat, kept the fetchers' memory growing for the whole of a 50,000-page crawl
#: (58 -> 81 MB each with 16,384 entries; flat at 54 MB with 2,048).
CACHE_SIZE = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: A host name after IDNA (w3lib's canonicalize_url encodes non-ASCII ones): letters, digits,
#: hyphens and dots, and the underscores real sites use. Anything else (a space, a control
#: character, ``<``, ``%``) is not a host one can look up: WHATWG's forbidden host code points.
_HOST_RE = re.compile(r"[a-z0-9_.-]+\Z")
#: Two or more slashes or backslashes where an authority starts (``///host/path``, ``\\host``,
#: ``http:///host``): browsers skip them all and read ``host`` as the host (WHATWG's "special
#: authority ignore slashes" state), while urljoin and w3lib read an empty host.
_AUTHORITY_SLASHES = re.compile(r"(?:(https?):)?[/\\]{2,}", re.I)


class InvalidURL(ValueError):
    """An http(s) URL that cannot be requested: no host or not a host, a bad port, broken brackets."""


def is_http(url):
    """Whether ``url`` names the http or https scheme (well-formed or not)."""
    return url[:6].lower().startswith(("http:", "https:"))


#: A URL that is canonical already but for its fragment, its default port or the order of a
#: plain query: lower-case scheme and host name, a port without leading zero, a path of
#: unreserved characters (RFC 3986) without dot segments or empty ones, a query of
#: ``name=value`` pairs of unreserved characters. w3lib would give it back unchanged (but
#: sorted, without the fragment); :func:`_fast_canonical` builds that answer directly.
_SIMPLE_URL = re.compile(r"(https?)://([a-z0-9_][a-z0-9_.-]*)(?::([1-9][0-9]{0,4}))?"
                         r"(/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*/)*(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*)?)"
                         r"(?:\?((?:[A-Za-z0-9._~-]+=[A-Za-z0-9._~-]*)"
                         r"(?:&[A-Za-z0-9._~-]+=[A-Za-z0-9._~-]*)*)?)?"
                         r"(?:#.*)?\Z", re.S)


def _fast_canonical(url):
    """``canonical(url)`` for a URL of :data:`_SIMPLE_URL`'s shape, else None (ask w3lib).

    A site's links are mostly of that shape, and the site's pages link to thousands of
    distinct URLs, more than the cache holds: on the benchmark site (S1) half the links
    missed it, and w3lib's canonicalize_url costs ~20 us a URL, this ~2 us.
    tests/test_urls.py checks it against the w3lib path on generated URLs.
    """
    m = _SIMPLE_URL.match(url)
    if m is None:
        return None
    scheme, host, port, path, query = m.groups()
    if host.endswith(".") or ".." in host:
        return None  # w3lib's IDNA step has its own view of empty labels
    if port is not None:
        number = int(port)
        if number > 65535:
            return None
        port = "" if number == _DEFAULT_PORTS[scheme] else ":" + port
    else:
        port = ""
    if query:
        if "&" in query:
            query = "&".join(sorted(query.split("&"), key=lambda pair: pair.split("=", 1)))
        return f"{scheme}://{host}{port}{path}?{query}"
    return f"{scheme}://{host}{port}{path}"


@lru_cache(maxsize=CACHE_SIZE)
def canonical(url):
    """The canonical form used for dedupe, or None for a URL that is not http(s) or is malformed.

    Fragment dropped, query arguments sorted, empty query dropped, escapes
    normalised, scheme and host lower-cased, default port dropped; the path
    keeps its case (w3lib.url.canonicalize_url).

    Malformed means no request can be made of it: no host, a host that is not a
    host name nor an IP address, a port out of 1-65535 (port 0 names no server),
    brackets that do not hold an IPv6 address. Every admission and every link
    extraction goes through here, so one answer (None) keeps all of them from
    raising on such a URL; :func:`resolve` tells malformed from not-http apart.
    """
    if not is_http(url):
        return None
    fast = _fast_canonical(url)
    return fast if fast is not None else _slow_canonical(url)


def _slow_canonical(url):
    """:func:`canonical` through w3lib (any http(s) URL)."""
    try:
        canon = canonicalize_url(url)
        parts = urlsplit(canon)
        host = parts.hostname
        if not host:
            return None
        port = parts.port
    except ValueError:
        return None
    if port == 0:
        return None
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
    elif not _HOST_RE.match(host):
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
    Raises ValueError for what urljoin cannot parse (``http://[::1``).
    """
    head = href[:9]
    if "///" in head or "\\" in head:  # a cheap test first: this runs for every link
        fixed = _authority_slashes(base, href)
        if fixed is not None:
            return urljoin(base, fixed)
    if not href or href[0] in "?#":
        if href[:1] == "#" and _WIRE_SAFE.match(base):
            # The page itself (``#top``: 1 link in 8 on S1): urljoin gives the base back
            # with the href's fragment when urlparse/urlunparse keep the base as it is.
            return base + href if len(href) > 1 else base
        return urljoin(base, href)
    end = len(base)
    for ch in "?#":
        i = base.find(ch)
        if i != -1 and i < end:
            end = i
    slash = base.rfind("/", 0, end)
    if slash < base.find("//") + 2:
        return urljoin(base, href)  # no path at all: http://host
    base_dir = base[:slash + 1]
    m = _SIMPLE_HREF.match(href)
    if m is not None:
        origin = _simple_origin(base_dir)
        if origin is not None:
            return _simple_join(origin, base_dir, m)
    elif _SIMPLE_ABSOLUTE.match(href):
        return href
    elif ":" in href or href[:2] == "//":
        parts = urlsplit(href)
        if not parts.netloc and not parts.path:
            return urljoin(base, href)  # "http:#x", "//": the base page itself, not its folder
    return _join_dir(base_dir, href)


#: An href whose path urljoin resolves against a simple base folder (:func:`_simple_origin`)
#: by concatenation and, where it has ``.`` or ``..`` segments, urljoin's own segment rule
#: (:func:`_simple_join`): a path of unreserved characters and escapes without empty
#: segments, absolute (``/a/b``) or relative (``a/b``), then a query and a fragment of
#: characters urljoin keeps as they are (an empty one it drops).
_SIMPLE_HREF = re.compile(r"(/?(?:[A-Za-z0-9._~%-]+/)*[A-Za-z0-9._~%-]*)"
                          r"(?:\?([A-Za-z0-9._~%=&+-]*))?(?:#([A-Za-z0-9._~%=&+/-]*))?\Z")
#: An absolute http(s) href that urljoin gives back unchanged (no params, no empty query or
#: fragment for urlunparse to drop).
_SIMPLE_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9_.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._~%-]*)*"
                              r"(?:\?[A-Za-z0-9._~%=&+-]+)?(?:#[A-Za-z0-9._~%=&+/-]+)?\Z")
_SIMPLE_DIR = re.compile(r"(https?://[^/?#\\]+)((?:/[A-Za-z0-9_~%-][A-Za-z0-9._~%-]*)*/)\Z")


def _simple_join(origin, base_dir, m):
    """``urljoin(base, href)`` for an href of :data:`_SIMPLE_HREF` (match ``m``) on a page in
    the simple folder ``base_dir`` of ``origin``: the steps of CPython's urljoin for such an
    href, without its two urlparse calls and the rebuild (~25 us a link; this ~1.5 us)."""
    path, query, fragment = m.groups()
    if "/." in path or path[:1] == ".":
        segments = path.split("/")
        if "." in segments or ".." in segments:
            if path[:1] != "/":
                segments = base_dir[len(origin):].split("/")[:-1] + segments
                segments[1:-1] = filter(None, segments[1:-1])
            resolved = []
            for seg in segments:
                if seg == "..":
                    if resolved:
                        resolved.pop()
                elif seg != ".":
                    resolved.append(seg)
            if segments[-1] in (".", ".."):
                resolved.append("")
            path = "/".join(resolved) or "/"
            if path[:1] != "/":
                path = "/" + path
            url = origin + path
        else:
            url = origin + path if path[:1] == "/" else base_dir + path
    else:
        url = origin + path if path[:1] == "/" else base_dir + path
    if query:
        url += "?" + query
    if fragment:
        url += "#" + fragment
    return url


@lru_cache(maxsize=256)
def _simple_origin(base_dir):
    """``scheme://netloc`` of a base folder whose path urljoin keeps as it is (lower-case
    scheme, no dot or empty segments), else None: then urljoin runs.

    ``urljoin`` costs ~25 us a link and the benchmark site's pages link to more distinct
    hrefs than a cache holds; this shape covers nearly all of them, at ~1 us.
    tests/test_urls.py checks the shortcut against urljoin on generated hrefs and bases.
    """
    m = _SIMPLE_DIR.match(base_dir)
    return None if m is None else m.group(1)


def _authority_slashes(base, href):
    """``href`` with the slashes before its host made ``//``, or None when they are already.

    ``///host/path`` and ``http:\\\\host`` name the host ``host`` in a browser and in
    Scrapy's redirects; urljoin would read an empty host, or a path on the base's host.
    """
    m = _AUTHORITY_SLASHES.match(href)
    if m is None:
        return None
    scheme = m.group(1)
    slashes = m.group(0)[len(scheme) + 1:] if scheme else m.group(0)
    if slashes == "//":
        return None  # the usual spelling: urljoin reads it right
    return f"{scheme or urlsplit(base).scheme}://{href[m.end():]}"


def resolve(base, href):
    """The absolute URL of a link ``href`` on a page whose base URL is ``base``, and its
    canonical form: ``(url, canon)``, ``canon`` None for a URL that is not http(s)
    (``mailto:``, ``ftp:``: not followed, and not an error either).

    :raises InvalidURL: for a malformed http(s) URL (see :func:`canonical`), or one
        urljoin cannot even parse.
    """
    try:
        url = join(base, href)
    except ValueError as exc:
        raise InvalidURL(f"{href!r}: {exc}") from None
    canon = canonical(url)
    if canon is None and is_http(url):
        raise InvalidURL(f"{href!r} is not a valid URL")
    return url, canon


def location_url(base, location):
    """The absolute URL a ``Location`` header names, as browsers and Scrapy read it.

    http.client decodes header bytes as latin-1, so the text here holds the bytes the
    server sent: they are taken back as bytes and given to w3lib, which reads UTF-8 and
    percent-encodes every byte that is not part of valid UTF-8 (``/caf\\xc3\\xa9`` ->
    ``/caf%C3%A9``, ``/caf\\xe9`` -> ``/caf%E9``); escapes already there stay as they are.

    :raises InvalidURL: for a Location that is no URL, or a malformed http(s) one.
    """
    location = location.strip()
    # Before w3lib, which reads ``///host/path`` as the path /host/path.
    location = _authority_slashes(base, location) or location
    try:
        raw = location.encode("latin-1")
    except UnicodeEncodeError:
        raw = location  # text that never was header bytes (a cache, a test): characters already
    try:
        url, _ = resolve(base, safe_url_string(raw))
    except InvalidURL:
        raise
    except ValueError as exc:  # w3lib's own parse (brackets, ports), a UnicodeError
        raise InvalidURL(f"{location!r}: {exc}") from None
    return url


def split_credentials(url):
    """``url`` without a ``user:password@`` and the Basic ``Authorization`` value it held:
    ``(url, authorization)``, ``authorization`` None when it had none.

    A record's URL must never show a password, and a URL's credentials are what
    requests and browsers send as Basic auth. The user and password are
    percent-decoded, then encoded as UTF-8 (RFC 7617's charset; urllib3's
    make_headers encodes latin-1, which cannot hold every password).
    """
    if "@" not in url:
        return url, None
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url, None
        clean = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    except ValueError:
        return url, None  # malformed: refused later, with nothing to send
    if not parts.username and not parts.password:
        return clean, None  # a bare "@": nothing to send
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return clean, "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def same_origin(a, b):
    """Whether two http(s) URLs have the same origin: scheme, host and port (the default one made explicit)."""
    try:
        return (urlsplit(a).scheme.lower() == urlsplit(b).scheme.lower()
                and host_key(a) == host_key(b))
    except ValueError:
        return False


#: A URL that w3lib's safe_url_string gives back unchanged (lower-case host, characters it
#: never escapes) and that has no fragment to drop: the request URL of nearly every page.
_WIRE_SAFE = re.compile(r"https?://[a-z0-9_.-]+(?::[0-9]+)?/[A-Za-z0-9._~/=&%+-]*"
                        r"(?:\?[A-Za-z0-9._~/?=&%+-]+)?\Z")


def request_url(url):
    """The URL as it is sent: escaped for the wire, without its fragment.

    safe_url_string costs ~10 us a request (S1: ~0.02 ms of the fetchers' ~2 ms a page);
    a URL that it would not change skips it (tests/test_urls.py compares the two)."""
    if _WIRE_SAFE.match(url):
        return url
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
    another port is another site. Cached per origin (the URL up to its path): the
    coordinator asks it for every outcome, and urlsplit costs ~5 us.
    """
    cut = url.find("/", url.find("//") + 2)
    return _host_key_cached(url if cut == -1 else url[:cut])


@lru_cache(maxsize=4096)
def _host_key_cached(origin):
    """host_key of ``scheme://netloc`` (the part of a URL before its path), cached per origin."""
    parts = urlsplit(origin)
    host = (parts.hostname or "").lower()
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 80)
    return f"{host}:{port}"


#: White space (str.isspace: the same characters as ``\s`` on str) and control characters.
#: One regex search instead of a Python loop over the characters: 0.5 us instead of 5 us
#: for a 100-character URL, a quarter of reading a seeds file.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def check_seed_url(url):
    """The reason ``url`` cannot be a seed, or None if it can."""
    if _SPACE_OR_CONTROL.search(url):
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
    if canonical(url) is None:
        return "is not a valid URL (its host is not a host name or IP address)"
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
