"""One page fetched in this process with a crawl's settings: what ``shell`` and ``fetch`` show.

The crawl's own path, without its processes, so that a page looks here as it will to
a spider:

- the fetcher's :class:`~scrapepool.net.downloader.Downloader` (headers, user agent,
  ``Spider.default_headers``, timeouts, retries, the size cap, proxies) and the
  request meta keys it honours (``download_timeout``, ``dont_retry``...);
- robots.txt read once per host and obeyed as the coordinator obeys it (a missing,
  broken or unreachable one allows everything; ``--no-robots`` and
  ``meta["dont_obey_robotstxt"]`` skip it): Scrapy's shell obeys ``ROBOTSTXT_OBEY`` too;
- redirects followed hop by hop under the crawl's rules (``redirect_target``,
  ``redirect_request``), each hop checked against its host's robots.txt as the
  coordinator checks it, and ``redirect_urls`` / ``redirect_reasons`` in ``response.meta``;
- cookies kept from one fetch to the next in one session (``meta["cookiejar"]`` jars);
- the HTTP cache (``--http-cache``) read and written under the crawl's keys, one entry
  per hop, so a shell replays a crawl's cache and the other way round;
- the Response built by the fetcher's own :func:`~scrapepool.net.fetcher.build_response`.

A local file (a path or a ``file://`` URL) becomes a 200 Response of its bytes, its
Content-Type guessed from its extension.
"""

import mimetypes
import os
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from ..exceptions import DownloadError, UsageError
from ..net.cookies import CookieJars, jar_key
from ..net.downloader import REDIRECT_STATUSES, Downloader, FetchResult, redirect_request, redirect_target
from ..net.fetcher import build_response, request_limits
from ..spiders.http import Request, failure_value, split_cb_kwargs
from ..urls import DomainFilter, canonical, check_seed_url, host_key

__all__ = ["PageFetcher", "resolve_target"]

#: Bytes of robots.txt read, as the crawl reads them (the fetcher cuts it there too).
ROBOTS_MAX = 512 * 1024
#: Extensions read as HTML whatever the platform's MIME table says.
HTML_EXTENSIONS = (".html", ".htm", ".xhtml")
#: An argument that starts so is a file's path, as in Scrapy's shell (``./file.html``).
PATH_PREFIXES = ("./", "../", "/", "~", ".\\", "..\\")


def resolve_target(arg):
    """The URL that a ``shell`` or ``fetch`` argument means.

    An http(s) or file URL is taken as it is; a path that exists, starts like one
    (``./``, ``../``, ``/``, ``~``) or ends in ``.html``/``.htm`` is a file; anything
    else is a host name (``example.com/page``), to which ``http://`` is added, as
    Scrapy's ``guess_scheme`` does. Scrapy reads ``index.html`` as ``http://index.html``;
    here a file is what the user almost always means by it.

    :raises UsageError: for what cannot be fetched (another scheme, a malformed URL).
    """
    text = str(arg).strip()
    if not text:
        raise UsageError("give a URL or a file's path")
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme == "file":
            return text
        if scheme not in ("http", "https"):
            raise UsageError(f"{text!r}: only http://, https:// and file:// URLs, or a file's path, "
                             "can be fetched")
        url = text
    else:
        path = os.path.expanduser(text)
        if text.startswith(PATH_PREFIXES) or os.path.exists(path) or text.lower().endswith(HTML_EXTENSIONS):
            return Path(path).resolve().as_uri()
        url = "http://" + text
    reason = check_seed_url(url)
    if reason:
        raise UsageError(f"{text!r} {reason}")
    return url


class PageFetcher:
    """Fetches requests one at a time, in this thread, with ``settings`` (a Settings).

    :param spider: the spider whose ``default_headers`` go with every request (as in
        a crawl) and which the Response names; None: none.
    """

    def __init__(self, settings, spider=None):
        self.settings = settings
        self.spider = spider
        # An empty filter: a shell follows a redirect anywhere, as Scrapy's does (its
        # offsite filtering belongs to a spider's crawl, not to one page asked for).
        self.downloader = Downloader(settings, DomainFilter(()))
        spider_headers = getattr(spider, "default_headers", None) or {}
        own = dict(settings.headers)
        self.downloader.session.headers.update({k: v for k, v in spider_headers.items() if k not in own})
        self.cookies = CookieJars() if settings.cookies else None
        self.cache = None
        if settings.http_cache:
            from ..net.httpcache import HttpCache

            self.cache = HttpCache(settings.http_cache, settings.http_cache_expire)
        #: host:port -> a Protego parser, or True (allow all).
        self.robots = {}

    def close(self):
        self.downloader.close()

    def sent_headers(self, request):
        """The headers ``request`` goes out with (but for cookies): defaults, then its own."""
        headers = dict(self.downloader.headers)
        headers.update(request.headers or {})
        return {k: v for k, v in headers.items() if v is not None}

    def fetch(self, request, redirect=True):
        """The Response to ``request`` (a Request, or a URL), of any status.

        :param redirect: follow redirects (unless ``meta["dont_redirect"]``); False: a 3xx
            is the Response, as ``--no-redirect``.
        :raises DownloadError: (DownloadTimeout, DownloadConnectionError) when no response
            came: its message starts with the URL. A refusal by robots.txt is one too
            (kind ``robots``), as Scrapy's shell reports its IgnoreRequest.
        """
        if isinstance(request, str):
            request = Request(request)
        meta, cb_kwargs = split_cb_kwargs(request.meta)
        if urlsplit(request.url).scheme.lower() == "file":
            return build_response(read_file(request.url), self.settings, request.url, meta, 0, self.spider,
                                  cb_kwargs)
        origin = url = request.url
        method, headers, body = request.method, request.headers, request.body
        limits = request_limits(meta, self.settings)
        follow = redirect and not meta.get("dont_redirect", False)
        visited = {canonical(url)}
        hops, reasons = [], []
        while True:
            self._check_robots(url, meta)
            result = self._download(url, method, headers, body, meta, limits)
            if result.error is not None:
                raise failure_value(result.kind, f"{url}: {result.error}")
            location = result.headers.get("Location") if result.status in REDIRECT_STATUSES else None
            if not (follow and location):
                break
            target, kind, error = redirect_target(url, location, visited, len(hops), self.downloader.domains,
                                                  self.settings.max_redirects)
            if kind is not None:
                raise DownloadError(f"{url}: {error}", kind)
            target, method, headers, body = redirect_request(result.status, method, headers, body, url,
                                                             target)
            visited.add(canonical(target))
            hops.append(target)
            reasons.append(result.status)
            url = target
        if hops:  # as the fetcher (and Scrapy's RedirectMiddleware) tells a callback
            meta = {**meta, "redirect_urls": [origin, *hops[:-1]], "redirect_reasons": reasons}
        return build_response(result, self.settings, origin, meta, 0, self.spider, cb_kwargs)

    # -- inside ---------------------------------------------------------------------------
    def _download(self, url, method, headers, body, meta, limits):
        if self.cache is not None:
            hit = self.cache.lookup(method, url, body)
            if hit is not None:
                return hit
        cookies = None
        key = jar_key(meta)
        if self.cookies is not None:
            cookies = self.cookies.for_host(key, urlsplit(url).hostname or "") or []
        result = self.downloader.fetch(url, method, headers, body, cookies=cookies, **limits)
        if self.cookies is not None and result.cookies:
            self.cookies.update(key, result.cookies)
        if self.cache is not None and result.error is None:
            self.cache.store(method, url, body, result)
        return result

    def _check_robots(self, url, meta):
        if not self.settings.robots or meta.get("dont_obey_robotstxt", False):
            return
        key = host_key(url)
        parser = self.robots.get(key)
        if parser is None:
            parser = self.robots[key] = self._read_robots(url)
        if parser is not True and not parser.can_fetch(url, self.settings.user_agent):
            raise DownloadError(f"{url}: forbidden by robots.txt (--no-robots fetches it anyway)", "robots")

    def _read_robots(self, url):
        """The host's robots.txt as the crawl reads it: redirects followed, no cookies, the
        cache used; anything but a 200 (missing, broken, unreachable) allows everything."""
        from protego import Protego

        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        result = self.cache.lookup("GET", robots_url) if self.cache is not None else None
        if result is None:
            result = self.downloader.fetch(robots_url, follow_redirects=True)
            if self.cache is not None and result.error is None:
                self.cache.store("GET", robots_url, None, result)
        if result.error is None and result.status == 200:
            return Protego.parse(result.body[:ROBOTS_MAX].decode("utf-8", "replace"))
        return True


def read_file(url):
    """A file:// URL's file as a 200 FetchResult; its Content-Type from its extension
    (HTML for .html/.htm), none when unknown (then the Response sniffs the body).

    :raises DownloadError: when it cannot be read (its message names the path and why).
    """
    from requests.structures import CaseInsensitiveDict

    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise UsageError(f"{url}: a file:// URL names a file of this machine (file:///path)")
    path = url2pathname(parts.path)
    try:
        with open(path, "rb") as f:
            body = f.read()
    except OSError as exc:
        raise DownloadError(f"cannot read {path}: {exc.strerror or exc}", "file") from None
    headers = CaseInsensitiveDict()
    ctype = "text/html" if path.lower().endswith(HTML_EXTENSIONS[:2]) else mimetypes.guess_type(path)[0]
    if ctype:
        headers["Content-Type"] = ctype
    return FetchResult(url, 200, headers, body)
