"""Downloading one request: redirects, retries, the whole-response timeout, the size cap.

Runs in a fetcher thread, with that thread's own ``urllib3.PoolManager`` (its
pools hold sockets, so it is built in the child and never shared between
threads), and a ``urllib3.ProxyManager`` per proxy the environment names. A
page's redirect is not followed here: the fetcher hands the next hop back to
the coordinator, whose frontier checks it against robots.txt and the host's
delay like any request (``redirect_target`` is the check both share). Only
robots.txt itself is followed hop by hop here.
"""

import os
import random
import socket
import threading
import time
import types
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from urllib.request import getproxies

import urllib3
from requests import PreparedRequest
from requests.certs import where as ca_bundle
from requests.cookies import create_cookie, extract_cookies_to_jar, get_cookie_header
from requests.structures import CaseInsensitiveDict
from requests.utils import (
    default_headers,
    get_auth_from_url,
    get_environ_proxies,
    prepend_scheme_if_needed,
    select_proxy,
    urldefragauth,
)
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..settings import RETRY_AFTER_MAX, RETRY_BACKOFF_MAX
from ..urls import InvalidURL, canonical, location_url, request_url, same_origin, split_credentials
from .cookies import jar_changes, jar_from_dicts

__all__ = ["Downloader", "FetchResult", "REDIRECT_STATUSES", "download_budget", "redirect_method",
           "redirect_request", "redirect_target"]

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
RETRY_STATUSES = (429, 500, 502, 503, 504)
#: Statuses whose responses never have a body, whatever their Content-Length says.
NO_BODY_STATUSES = (204, 304)
CHUNK = 64 * 1024
DEFAULT_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en",
}


class FetchResult:
    """What came of one request, after redirects and retries."""

    __slots__ = ("final_url", "status", "headers", "body", "error", "kind", "retries", "chain",
                 "started", "cookies", "latency")

    def __init__(self, final_url, status=None, headers=None, body=b"", error=None, kind=None,
                 chain=(), started=0.0):
        self.final_url = final_url
        self.status = status
        self.headers = headers if headers is not None else {}
        self.body = body
        #: None, or a short text for the record's ``error`` field.
        self.error = error
        #: None, or the error's kind for the stats (timeout, connection, truncated, ...).
        self.kind = kind
        self.retries = 0
        #: Every URL of the redirect chain after the first.
        self.chain = list(chain)
        #: Wall time the host had the request by: when the answer's headers came in (or the
        #: try failed). Politeness delays run from here, not from when the try began: a slow
        #: connect would otherwise eat into the gap the server sees between two requests.
        self.started = started
        #: What the responses changed in the request's cookies (see cookies.jar_changes), or None.
        self.cookies = None
        #: Seconds the last try took, from sending the request to the whole body (None: not
        #: downloaded, e.g. served from the HTTP cache). The report's per-host latency.
        self.latency = None


class _Fail(Exception):
    """One try failed; ``retry`` says whether another try may help."""

    def __init__(self, kind, error, retry, status=None, chain=(), final_url=None):
        super().__init__(kind, error, retry, status, chain, final_url)
        self.kind, self.error, self.retry = kind, error, retry
        self.status, self.chain, self.final_url = status, chain, final_url


class _Watchdog:
    """Shuts down the socket of a response whose headers are not in by its deadline.

    Socket timeouts bound each read, not their sum: a server that sends its
    status line and headers a byte at a time keeps ``http.client`` reading
    for ever. One thread per process watches every fetcher thread's header
    read (the body loop checks the deadline itself); a socket shut down
    makes the blocked read return at once.
    """

    def __init__(self):
        self.started = False
        self.start_lock = threading.Lock()
        self.cond = threading.Condition()
        self.entries = {}
        self.wake_at = None

    def watch(self, sock, deadline):
        if not self.started:
            with self.start_lock:
                if not self.started:
                    threading.Thread(target=self._run, name="scrapepool-watchdog", daemon=True).start()
                    self.started = True
        key = object()
        with self.cond:
            self.entries[key] = (deadline, sock)
            if self.wake_at is None or deadline < self.wake_at:
                self.cond.notify()
        return key

    def unwatch(self, key):
        with self.cond:
            self.entries.pop(key, None)

    def _run(self):
        with self.cond:
            while True:
                now = time.monotonic()
                for key, (deadline, sock) in list(self.entries.items()):
                    if deadline <= now:
                        del self.entries[key]
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                self.wake_at = min((d for d, _ in self.entries.values()), default=None)
                self.cond.wait(None if self.wake_at is None else self.wake_at - now)


_WATCHDOG = _Watchdog()
# A forked child has no watchdog thread (only the forking thread survives a fork).
os.register_at_fork(after_in_child=_WATCHDOG.__init__)
#: The deadline of the response this thread is downloading (set by ``Downloader._try``).
_current = threading.local()


class _WatchedHeaders:
    """``getresponse`` (the status line and headers) under the watchdog."""

    def getresponse(self):
        deadline = getattr(_current, "deadline", None)
        if deadline is None or self.sock is None:
            return super().getresponse()
        key = _WATCHDOG.watch(self.sock, deadline)
        try:
            return super().getresponse()
        finally:
            _WATCHDOG.unwatch(key)


class _HTTPConnection(_WatchedHeaders, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedHeaders, HTTPSConnection):
    pass


# urllib3's pools, with the connections above. ``ConnectionCls`` is the pool's documented
# attribute for its connection class, and a PoolManager makes its pools from its own
# ``pool_classes_by_scheme`` (set per instance "so other PoolManagers can override them", in
# urllib3's words). The same pools as before, without requests' adapter in between.
class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


def _pool_kw():
    """What a requests Session's HTTPAdapter gives its PoolManager (8 pools of at most 4 idle
    connections, not blocking), and TLS checked as requests checks it: certificates required,
    against the certifi bundle (``requests.certs.where``)."""
    return {"num_pools": 8, "maxsize": 4, "block": False, "cert_reqs": "CERT_REQUIRED",
            "ca_certs": ca_bundle()}


class Downloader:
    """One per fetcher thread."""

    def __init__(self, settings, domain_filter, stop_event=None):
        self.settings = settings
        self.domains = domain_filter
        self.stop = stop_event or threading.Event()
        #: When the last try's answer began (see FetchResult.started).
        self._answered = None
        #: Sent with every request, below the request's own: requests' defaults (User-Agent,
        #: Accept-Encoding, Connection), ours, ``--user-agent`` and ``--header``.
        self.headers = default_headers()
        self.headers.update(DEFAULT_HEADERS)
        self.headers["User-Agent"] = settings.user_agent
        self.headers.update(dict(settings.headers))
        #: ``session.headers`` is ``headers`` (fetcher.py adds the spider's default headers there).
        self.session = types.SimpleNamespace(headers=self.headers)
        self.pools = urllib3.PoolManager(**_pool_kw())
        self.pools.pool_classes_by_scheme = _POOL_CLASSES
        # Looking proxies up in the environment costs ~0.5 ms per request (no_proxy, the
        # system's bypass list): only done when the environment names a proxy at all.
        self._env_proxies = bool(getproxies())
        #: proxy URL -> its ProxyManager (made on first use, as requests' HTTPAdapter does).
        self._proxy_managers = {}

    def close(self):
        self.pools.clear()
        for manager in self._proxy_managers.values():
            manager.clear()
        self._proxy_managers.clear()

    def fetch(self, url, method="GET", headers=None, body=None, not_before=0.0, cookies=None,
              follow_redirects=False, retries=None, timeout=None, max_bytes=None):
        """Download ``url``; never raises for network or HTTP trouble, it returns it.

        :param cookies: cookie dicts to send (None: cookies are off). Redirect hops and
            retries share one jar, so a login's redirect keeps its new session cookie.
        :param follow_redirects: follow redirects here (robots.txt); otherwise a 3xx
            response is the result.
        :param retries: retries of this request (None: the ``retries`` setting); Scrapy's
            ``max_retry_times`` / ``dont_retry`` request meta.
        :param timeout: whole-response seconds of each try (None: the ``timeout`` setting);
            Scrapy's ``download_timeout``.
        :param max_bytes: largest body (None: the ``max_bytes`` setting; ``math.inf``: no
            limit); Scrapy's ``download_maxsize``.
        """
        jar = jar_from_dicts(cookies) if cookies is not None else None
        if jar is not None and headers and "Cookie" in headers:
            # A request's own cookies join its jar (an explicit Cookie header would
            # otherwise hide the jar's cookies from requests).
            headers = dict(headers)
            host = urlsplit(url).hostname or ""
            for pair in headers.pop("Cookie").split(";"):
                name, sep, value = pair.strip().partition("=")
                if sep and name:
                    jar.set_cookie(create_cookie(name, value, domain=host, path="/"))
        result = self._fetch(url, method, headers, body, not_before, jar, follow_redirects,
                             retries, timeout, max_bytes)
        if jar is not None:
            result.cookies = jar_changes(cookies, jar)
        return result

    def _fetch(self, url, method, headers, body, not_before, jar, follow, retries=None, timeout=None,
               max_bytes=None):
        s = self.settings
        retries = s.retries if retries is None else retries
        timeout = s.timeout if timeout is None else timeout
        attempt = 0
        while True:
            wait = not_before - time.time()
            if wait > 0:
                if attempt == 0:
                    time.sleep(wait)  # the host's delay: kept even while the crawl stops
                elif self.stop.wait(wait):  # a back-off, cut short by Ctrl-C
                    return _interrupted(url, attempt)
            self._answered = None
            began = time.monotonic()
            try:
                result = self._try(url, method, headers, body, jar, follow, timeout, max_bytes)
                result.started = self._answered
                result.latency = time.monotonic() - began
            except _Fail as fail:
                result = FetchResult(fail.final_url or url, fail.status, error=fail.error,
                                     kind=fail.kind, chain=fail.chain, started=self._answered or time.time())
                result.latency = time.monotonic() - began
                if not fail.retry:
                    result.retries = attempt
                    return result
            else:
                if result.status not in RETRY_STATUSES:
                    result.retries = attempt
                    return result
            if attempt >= retries:
                result.retries = attempt
                return result
            if self.stop.is_set():
                return _interrupted(url, attempt + 1)
            attempt += 1
            not_before = time.time() + self._backoff(attempt, result)

    def _backoff(self, attempt, result):
        s = self.settings
        delay = min(s.retry_backoff * (2 ** (attempt - 1)), RETRY_BACKOFF_MAX)
        delay = delay * (0.5 + random.random())
        if result.status in (429, 503):
            after = _retry_after(result.headers.get("Retry-After") if result.headers else None)
            if after is not None:
                delay = max(delay, min(after, RETRY_AFTER_MAX))
        return max(delay, s.delay)

    def _try(self, url, method, headers, body, jar=None, follow=False, timeout=None, max_bytes=None):
        s = self.settings
        timeout = s.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        chain = []
        visited = {canonical(url)} if follow else None
        current = url
        status = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Fail("timeout", f"timed out after {timeout:g}s", True, status, chain, current)
            _current.deadline = deadline
            try:
                wire, resp = self._send(method, current, headers, body, jar, remaining)
            except urllib3.exceptions.NewConnectionError as exc:
                raise _Fail("connection", f"connection error: {_short(exc)}", True, status, chain, current)
            except urllib3.exceptions.TimeoutError:
                raise _Fail("timeout", f"timed out after {timeout:g}s", True, status, chain, current)
            except (ValueError, UnicodeError) as exc:  # urllib3's LocationValueError included
                raise _Fail("invalid_url", f"invalid URL: {exc}", False, None, chain, current)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if time.monotonic() >= deadline:  # the watchdog cut the headers off
                    raise _Fail("timeout", f"timed out after {timeout:g}s", True, status, chain, current)
                raise _Fail("connection", f"connection error: {_short(exc)}", True, status, chain, current)
            finally:
                _current.deadline = None
            self._answered = time.time()
            done = False
            try:
                status = resp.status
                if jar is not None and ("Set-Cookie" in resp.headers or "Set-Cookie2" in resp.headers):
                    # The only headers http.cookiejar reads; most responses have neither, and
                    # the call costs ~15 us even then (its mock request and response objects).
                    extract_cookies_to_jar(jar, wire, resp)
                location = resp.headers.get("Location")
                if follow and status in REDIRECT_STATUSES and location:
                    target, kind, error = redirect_target(current, location, visited, len(chain),
                                                          self.domains, s.max_redirects)
                    if kind is not None:
                        raise _Fail(kind, error, False, status, chain, current)
                    target, method, headers, body = redirect_request(status, method, headers, body,
                                                                     current, target)
                    visited.add(canonical(target))
                    chain.append(target)
                    current = target
                    continue
                data = self._read_body(resp, deadline, status, chain, current, method, timeout, max_bytes)
                done = True
                return FetchResult(current, status, resp.headers, data, chain=chain)
            finally:
                if not done:
                    resp.close()  # a body not read to its end: the connection cannot be reused
                resp.release_conn()

    def _send(self, method, url, headers, body, jar, remaining):
        """One exchange on the thread's pools; returns (the request sent, urllib3 response).

        What requests' ``HTTPAdapter.send`` does, on urllib3's public API, without the layers
        a crawler pays for on every page and never uses (hooks, settings merged per request,
        auth, a second copy of the headers): the same pools, TLS checks, proxies and cookie
        rules (measured against nginx when this replaced ``Session.request``: 0.56 ms of CPU a
        download instead of 0.72 ms). The request is a ``requests.PreparedRequest`` (method,
        URL and headers as they go out): the type requests' cookie helpers take.
        """
        wire = PreparedRequest()
        wire.method = method
        wire.url = request_url(url)
        wire.headers = CaseInsensitiveDict(self.headers)
        if headers:
            wire.headers.update(headers)
        for name in [k for k, v in wire.headers.items() if v is None]:
            del wire.headers[name]
        if jar:  # an empty jar sends nothing (and its header costs ~25 us to work out)
            cookie = get_cookie_header(jar, wire)
            if cookie:
                wire.headers["Cookie"] = cookie
        if body is not None and "Content-Length" not in wire.headers:
            wire.headers["Content-Length"] = str(len(body))
        elif body is None and method in ("POST", "PUT", "PATCH"):
            wire.headers["Content-Length"] = "0"
        proxy = select_proxy(wire.url, get_environ_proxies(wire.url)) if self._env_proxies else None
        if proxy:
            proxy = prepend_scheme_if_needed(proxy, "http")
            manager = self._proxy_manager(proxy)
        else:
            manager = self.pools
        pool = manager.connection_from_url(wire.url)
        resp = pool.urlopen(method, _request_target(wire.url, proxy), body=body, headers=wire.headers,
                            redirect=False, assert_same_host=False, preload_content=False,
                            decode_content=False, retries=False,
                            timeout=urllib3.Timeout(connect=remaining, read=remaining))
        return wire, resp

    def _proxy_manager(self, proxy):
        """The ProxyManager of ``proxy`` (a URL with its scheme), as requests' HTTPAdapter makes it:
        credentials in the URL become the Proxy-Authorization header; socks:// needs PySocks."""
        manager = self._proxy_managers.get(proxy)
        if manager is not None:
            return manager
        if not urllib3.util.parse_url(proxy).host:
            raise ValueError(f"invalid proxy URL {proxy!r}: no host")
        username, password = get_auth_from_url(proxy)
        if proxy.lower().startswith("socks"):
            try:
                from urllib3.contrib.socks import SOCKSProxyManager
            except ImportError:
                raise OSError("missing dependencies for SOCKS support (pip install PySocks)") from None
            # Its pools are SOCKS pools: the header watchdog does not apply through a SOCKS proxy
            # (the whole-response deadline of the body still does).
            manager = SOCKSProxyManager(proxy, username=username, password=password, **_pool_kw())
        else:
            proxy_headers = (urllib3.util.make_headers(proxy_basic_auth=f"{username}:{password}")
                             if username else None)
            manager = urllib3.ProxyManager(proxy, proxy_headers=proxy_headers, **_pool_kw())
            manager.pool_classes_by_scheme = _POOL_CLASSES
        self._proxy_managers[proxy] = manager
        return manager

    def _read_body(self, resp, deadline, status, chain, url, method="GET", timeout=None, max_bytes=None):
        s = self.settings
        timeout = s.timeout if timeout is None else timeout
        max_bytes = s.max_bytes if max_bytes is None else max_bytes
        if method == "HEAD" or status in NO_BODY_STATUSES:
            # No body by the protocol (RFC 9110 9.3.2, 15.3.5, 15.4.5): the Content-Length is the
            # one a GET would have. http.client reads nothing; neither size check applies.
            expected = None
        else:
            length = resp.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
        if expected is not None and expected > max_bytes:
            raise _Fail("too_large", f"body of {expected} bytes is larger than max-bytes ({max_bytes})",
                        False, status, chain, url)
        raw = resp
        parts = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Fail("timeout", f"timed out after {timeout:g}s while reading the body",
                            True, status, chain, url)
            _set_timeout(raw, remaining)
            try:
                chunk = raw.read1(CHUNK, decode_content=True)
            except (socket.timeout, urllib3.exceptions.TimeoutError) as exc:
                raise _Fail("timeout", f"timed out after {timeout:g}s while reading the body",
                            True, status, chain, url) from exc
            except Exception as exc:  # urllib3 ProtocolError / IncompleteRead / ReadTimeoutError
                text = _short(exc)
                if "timed out" in text.lower():
                    raise _Fail("timeout", f"timed out after {timeout:g}s while reading the body",
                                True, status, chain, url) from exc
                raise _Fail("truncated", f"body cut short: {text}", True, status, chain, url) from exc
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise _Fail("too_large", f"body larger than max-bytes ({max_bytes}), cut",
                            False, status, chain, url)
        received = raw.tell()
        if expected is not None and received < expected and "Content-Encoding" not in resp.headers:
            raise _Fail("truncated", f"body cut short: {received} of {expected} bytes", True, status, chain, url)
        return b"".join(parts)


def download_budget(retries, timeout):
    """The longest a request's tries and back-offs can take: every try to its whole-response
    ``timeout``, every back-off at the Retry-After cap. The coordinator's bound on a request
    (engine ``_longest``) is this for the settings, plus the politeness wait and a margin."""
    return (retries + 1) * timeout + retries * RETRY_AFTER_MAX


def _request_target(url, proxy):
    """The request line's target, as requests' ``HTTPAdapter.request_url`` makes it: the path and
    query, or the absolute URL for an http:// URL sent through an HTTP proxy (not SOCKS)."""
    parts = urlsplit(url)
    if proxy and parts.scheme != "https" and not proxy.lower().startswith("socks"):
        return urldefragauth(url)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    if path.startswith("//"):  # would read as a host to urllib3
        path = "/" + path.lstrip("/")
    return path


def _interrupted(url, attempt):
    """The result of a request whose retry the first Ctrl-C cancelled: not an outcome (the
    coordinator leaves the request pending, so a resume tries it again)."""
    result = FetchResult(url, error="interrupted before a retry", kind="interrupted")
    result.retries = attempt - 1
    return result


def redirect_target(current, location, visited, hops, domains, max_redirects):
    """Where a redirect from ``current`` leads: ``(target, None, None)`` to follow it,
    or ``(target, kind, error)`` when it must not be followed.

    :param visited: canonical URLs of the chain so far (the first request's included).
    :param hops: redirects followed so far.

    Never raises: a Location that is no URL (``http://[::1``, port 0) is the error
    ``invalid_redirect``, not an exception that would take a fetcher thread down.
    The Location is read as browsers read it (see :func:`scrapepool.urls.location_url`).
    """
    try:
        target = location_url(current, location)
    except InvalidURL as exc:
        return location, "invalid_redirect", f"invalid redirect location: {exc}"
    canon = canonical(target)
    if canon is None:
        return target, "redirect", f"redirect to a non-http URL {target}"
    if not domains.allows(target):
        return target, "offsite_redirect", f"redirect to {target} outside the allowed domains not followed"
    if canon in visited:
        return target, "redirect_loop", f"redirect loop at {target}"
    if hops >= max_redirects:
        return target, "too_many_redirects", f"more than {max_redirects} redirects"
    return target, None, None


#: Request headers that describe the body: they go with it when a redirect turns the request into a GET.
BODY_HEADERS = frozenset(("content-type", "content-length", "content-encoding", "content-language",
                          "content-location"))
#: Request headers that carry credentials: never sent on to another origin.
CREDENTIAL_HEADERS = frozenset(("authorization", "proxy-authorization", "cookie"))


def redirect_request(status, method, headers, body, from_url, to_url):
    """The request of a redirect's next hop: ``(url, method, headers, body)``.

    What Scrapy's RedirectMiddleware and browsers do, for both paths that follow
    redirects (a page's hops through the coordinator, robots.txt's inside
    :meth:`Downloader._try`):

    - a 303, or a 301/302 after a POST, becomes a GET (:func:`redirect_method`): its
      body goes, and with it the headers that describe a body (:data:`BODY_HEADERS`);
      a stray Content-Length would make the server wait for a body that never comes;
    - to another origin (scheme, host or port), the request's own ``Authorization``,
      ``Proxy-Authorization`` and ``Cookie`` headers are dropped: a token meant for one
      site must not go to whatever site a redirect names (the crawl's cookie jar still
      sends each site its own cookies);
    - a ``user:password@`` in ``to_url`` becomes the Basic ``Authorization`` of the hop
      and leaves its URL (as :class:`~scrapepool.spiders.http.Request` does).

    ``headers`` is the request's own headers (a dict or None), left unchanged; the
    session's defaults (``--header``, ``Spider.default_headers``) go with every request
    anyway, as Scrapy's DefaultHeadersMiddleware adds them to every hop.
    """
    new_method = redirect_method(status, method)
    drop = set()
    if new_method != method:
        body = None
        drop |= BODY_HEADERS
    url, auth = split_credentials(to_url)
    if not same_origin(from_url, url):
        drop |= CREDENTIAL_HEADERS
    if headers and drop:
        headers = {k: v for k, v in headers.items() if k.lower() not in drop}
    if auth is not None:
        headers = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
        headers["Authorization"] = auth
    return url, new_method, headers or None, body


def redirect_method(status, method):
    """The method of the next hop: 303 (and 301/302 after a POST, as browsers do) turn into GET.

    A HEAD stays a HEAD (the fetch standard and Scrapy): it asks about the resource, and a
    GET would download the body it meant to avoid.
    """
    if method != "HEAD" and (status == 303 or (status in (301, 302) and method == "POST")):
        return "GET"
    return method


def _set_timeout(raw, seconds):
    """Bound the next socket read by what is left of the whole-response time.

    A per-read timeout alone lets a server that trickles a byte a second go on
    for ever; this makes the whole response end at the deadline.
    """
    conn = getattr(raw, "connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.settimeout(max(seconds, 0.001))
        except OSError:
            pass


def _retry_after(value):
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def _short(exc):
    text = str(exc) or type(exc).__name__
    # urllib3 wraps the cause in long reprs; the last clause is the one a user needs.
    text = text.replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."
