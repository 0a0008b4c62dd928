"""Crawl settings: one frozen dataclass, plain data, sent as-is to every child process.

Each default is an UPPER_CASE constant with the reason for its value, as
Scrapy's ``default_settings.py`` does. The command line, ``crawl(**kwargs)``
and ``Spider.custom_settings`` all end up here.
"""

import dataclasses
import os
from dataclasses import dataclass, field

from .exceptions import UsageError

__all__ = ["Settings"]

#: Fetcher processes. Parsing with BeautifulSoup is CPU-bound, so one per core.
WORKERS = os.cpu_count() or 2
#: Requests in flight per fetcher process (threads). Enough to hide network latency.
CONCURRENCY = 16
#: Seconds for a whole response: connect, headers and every byte of the body.
TIMEOUT = 30.0
#: Retries after the first try, for connection errors, timeouts and 429/5xx (Scrapy's RETRY_TIMES).
RETRIES = 2
#: First retry backoff in seconds; doubles each try, with jitter, capped at RETRY_BACKOFF_MAX.
RETRY_BACKOFF = 0.5
RETRY_BACKOFF_MAX = 10.0
#: Cap on a Retry-After header we honour, in seconds.
RETRY_AFTER_MAX = 30.0
#: Redirect hops followed before the request ends in an error.
MAX_REDIRECTS = 10
#: Largest body read, in bytes (Scrapy's DOWNLOAD_MAXSIZE is 1 GB; 10 MB keeps memory flat).
MAX_BYTES = 10 * 1024 * 1024
#: A request whose fetcher dies this many times is given up (a "poison" page).
POISON_LIMIT = 3
#: Sent as User-Agent, and matched against robots.txt groups.
USER_AGENT = "scrapepool/0.1 (+https://pypi.org/project/scrapepool/)"
#: Default output path.
OUTPUT = "crawl.jsonl"


@dataclass(frozen=True)
class Settings:
    """Everything a crawl is configured by (except the spider and the seeds)."""

    output: str = OUTPUT
    workers: int = WORKERS
    concurrency: int = CONCURRENCY
    #: None: no limit. Seeds are depth 0.
    max_depth: "int | None" = None
    #: None: no limit. Counts requests admitted, so it is exact in records for the site spider.
    max_pages: "int | None" = None
    #: ``host:port`` entries or bare domains; empty: the seeds' host:port.
    allowed_domains: tuple = ()
    #: Minimum seconds between two requests to one host, across all fetchers.
    delay: float = 0.0
    #: At most this many requests in flight to one host; None: only -w x -c.
    concurrency_per_host: "int | None" = None
    timeout: float = TIMEOUT
    retries: int = RETRIES
    retry_backoff: float = RETRY_BACKOFF
    max_redirects: int = MAX_REDIRECTS
    max_bytes: int = MAX_BYTES
    user_agent: str = USER_AGENT
    #: Extra default request headers.
    headers: tuple = ()
    robots: bool = True
    #: Also seed the crawl from the sitemaps named in each seed site's robots.txt.
    sitemap: bool = False
    #: Keep the cookies responses set, per jar (``meta["cookiejar"]``), for the whole crawl.
    cookies: bool = True
    poison_limit: int = POISON_LIMIT
    #: Keep each fetcher process on one CPU (Linux). Its threads then hand the GIL over on
    #: one core instead of dragging the parse's working set between cores.
    pin_cpus: bool = True
    #: "spawn" (default: safe with threads in the parent), "fork" or "forkserver".
    start_method: str = "spawn"
    job_dir: "str | None" = None
    restart: bool = False
    stats_path: "str | None" = None
    #: Live progress on a terminal, a log line every 10 s otherwise; False: neither.
    progress: bool = True
    #: Folder of the HTTP cache (None: no cache): responses are stored, and served from it.
    http_cache: "str | None" = None
    #: Seconds a cached response stays fresh (None: for ever).
    http_cache_expire: "float | None" = None
    #: Extra record pipelines (``mod:Class`` strings), after the spider's own.
    pipelines: tuple = ()
    spider_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        def positive(name, value, allow_none=False, integer=True):
            if value is None and allow_none:
                return
            kind = int if integer else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind) or value < (1 if integer else 0):
                raise UsageError(f"{name} must be a {'positive integer' if integer else 'number >= 0'}, not {value!r}")

        positive("workers", self.workers)
        positive("concurrency", self.concurrency)
        positive("concurrency_per_host", self.concurrency_per_host, allow_none=True)
        positive("max_pages", self.max_pages, allow_none=True)
        if self.max_depth is not None and (not isinstance(self.max_depth, int) or self.max_depth < 0):
            raise UsageError(f"max_depth must be an integer >= 0, not {self.max_depth!r}")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise UsageError(f"retries must be an integer >= 0, not {self.retries!r}")
        for name in ("delay", "timeout", "retry_backoff"):
            positive(name, getattr(self, name), integer=False)
        if self.timeout <= 0:
            raise UsageError("timeout must be > 0")
        if self.start_method not in ("spawn", "fork", "forkserver"):
            raise UsageError(f"start_method must be spawn, fork or forkserver, not {self.start_method!r}")
        object.__setattr__(self, "allowed_domains", tuple(self.allowed_domains))
        headers = self.headers.items() if isinstance(self.headers, dict) else self.headers
        object.__setattr__(self, "headers", tuple((str(k), str(v)) for k, v in headers))

    @classmethod
    def names(cls):
        return {f.name for f in dataclasses.fields(cls)}

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
