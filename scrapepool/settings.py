"""Crawl settings: one frozen dataclass, plain data, sent as-is to every child process.

Each default is an UPPER_CASE constant with the reason for its value, as
Scrapy's ``default_settings.py`` does. The command line, ``crawl(**kwargs)``
and ``Spider.custom_settings`` all end up here.
"""

import dataclasses
import math
import os
from dataclasses import dataclass, field

from .exceptions import UsageError

__all__ = ["Settings"]

#: Fetcher processes. Parsing with BeautifulSoup is CPU-bound, so one per core.
WORKERS = os.cpu_count() or 2
#: Requests in flight per fetcher process (threads). Enough to hide network latency.
CONCURRENCY = 16


def _memory_mb():
    """Physical memory in MB, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2 ** 20
    except (AttributeError, OSError, ValueError):
        return None


#: Most fetcher processes a crawl may start. Each is a process of its own at 60-90 MB
#: (requests, BeautifulSoup, lxml, a page or two): ``-w 100000`` ran a 24 GB machine out of
#: memory before its first request. A fetcher parses on one CPU and waits on the network
#: with threads (``concurrency``), so more than a few per CPU only add memory: 8 per CPU,
#: and no more than fit in physical memory at 100 MB each, but never fewer than the default.
MAX_WORKERS = max(WORKERS, min(WORKERS * 8, (_memory_mb() or WORKERS * 800) // 100))
#: Most requests in flight per fetcher: each is a thread and a socket in every fetcher
#: process. Past a few hundred, threads contend for the GIL instead of hiding latency,
#: and -w x -c sockets run into the open-file limit (often 1,024 or 20,000).
MAX_CONCURRENCY = 512
#: Longest ``timeout`` and ``delay``, in seconds: one day. Anything longer is a hang, not a
#: setting, and past ~1e9 s a socket timeout overflows the platform's time_t.
MAX_SECONDS = 86400.0
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
#: Elements a page may have before it is recorded with an error instead of parsed. At
#: ~1.1 KB per BeautifulSoup node with its text, 250,000 elements are ~300 MB and ~3 s of
#: CPU; a big real page (a long table, a forum thread) has 10,000-50,000.
MAX_ELEMENTS = 250_000
#: RSS in MB past which a fetcher is replaced between requests. A fetcher runs at 60-90 MB
#: on ordinary pages and one tree at MAX_ELEMENTS adds ~300 MB; past 1 GB it holds memory
#: it will not give back (a leak in spider code, or a fragmented heap).
MAX_MEMORY_MB = 1024
#: See ``Settings.hang_margin``.
HANG_MARGIN = 60.0
#: Sent as User-Agent, and matched against robots.txt groups.
USER_AGENT = "scrapepool/0.1 (+https://pypi.org/project/scrapepool/)"
#: Default output path.
OUTPUT = "crawl.jsonl"
#: Seconds a machine of a shared crawl may stay silent before the requests it holds go to
#: the others: it heartbeats every second, so 15 s rides out a long GC pause or a slow
#: disk, and a dead machine's pages wait at most this long (DISTRIBUTED.md decision 2).
SESSION_TIMEOUT = 15.0
#: AutoThrottle, Scrapy's defaults: the first delay of a host (5 s, before any latency is
#: known), the largest it may grow to (60 s), and how many requests a host should have in
#: flight on average (1.0; above 1 the delay shrinks, but with a delay scrapepool keeps
#: one request to a host at a time, so 1.0 is what it can honour).
AUTOTHROTTLE_START_DELAY = 5.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0


@dataclass(frozen=True)
class Settings:
    """Everything a crawl is configured by (except the spider and the seeds)."""

    output: str = OUTPUT
    #: Replace an existing output file (``-O``); False: append to it (``-o``), as Scrapy does.
    #: A resumed job continues its own output either way.
    overwrite_output: bool = False
    #: Exactly these fields, in this order, in every output format (``--fields a,b``, Scrapy's
    #: FEED_EXPORT_FIELDS), a missing one as null; empty: each record's own (CSV: the first's).
    fields: tuple = ()
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
    #: Seconds a claimed request may run past its longest download (every try and back-off)
    #: for parsing and spider code before the coordinator takes it as lost. A 10 MB page
    #: of dense HTML parses in 20-30 s; a minute leaves room and still ends a hang.
    hang_margin: float = HANG_MARGIN
    #: A page with more elements than this is recorded with an error, not parsed
    #: (``response.soup`` raises PageTooLarge). 0 or None: no limit.
    max_elements: "int | None" = MAX_ELEMENTS
    #: A fetcher whose memory (RSS) is past this many MB after a request is replaced, as
    #: Celery's max-memory-per-child. 0 or None: never.
    max_memory_mb: "int | None" = MAX_MEMORY_MB
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
    #: A crawl shared by several machines: the Redis URL of its frontier (``--frontier``),
    #: the crawl's id in it, and this machine's id (default: host name and the output's path).
    frontier: "str | None" = None
    crawl_id: "str | None" = None
    machine_id: "str | None" = None
    session_timeout: float = SESSION_TIMEOUT
    #: Accept a Redis that does not persist (a throw-away crawl: a restart loses it).
    frontier_volatile: bool = False
    #: Adapt each host's delay to its latency, as Scrapy's AutoThrottle (``--autothrottle``):
    #: ``--delay`` is the smallest it may be.
    autothrottle: bool = False
    autothrottle_start_delay: float = AUTOTHROTTLE_START_DELAY
    autothrottle_max_delay: float = AUTOTHROTTLE_MAX_DELAY
    autothrottle_target_concurrency: float = AUTOTHROTTLE_TARGET_CONCURRENCY
    #: Write the crawl's HTML report here at the end (``--report``; also after Ctrl-C).
    report: "str | None" = None

    def __post_init__(self):
        # Checked here, before any process starts, so that the command line, crawl() and
        # custom_settings all get one clear error instead of a traceback in a child (or, for
        # nan, a crawl that silently never times out: every comparison with nan is False).
        def number(name, low, high=None, why="", integer=True, above=False, none=False, finite=True):
            value = getattr(self, name)
            if value is None and none:
                return
            if (isinstance(value, bool) or not isinstance(value, int if integer else (int, float))
                    or math.isnan(value) or (finite and math.isinf(value))
                    or (value <= low if above else value < low)):
                what = "an integer" if integer else "a finite number" if finite else "a number"
                raise UsageError(f"{name} must be {what} {'>' if above else '>='} {low}, not {value!r}")
            if high is not None and value > high:
                raise UsageError(f"{name} must be at most {high:g}{why}, not {value!r}")

        number("workers", 1, MAX_WORKERS, " on this machine (8 per CPU, 100 MB of memory each)")
        number("concurrency", 1, MAX_CONCURRENCY, " (a thread each, in every fetcher)")
        number("concurrency_per_host", 1, none=True)
        number("max_pages", 1, none=True)
        number("max_depth", 0, none=True)
        number("retries", 0)
        number("max_redirects", 0)
        number("max_bytes", 1)
        number("poison_limit", 1)
        number("timeout", 0, MAX_SECONDS, " seconds (a day)", integer=False, above=True)
        number("delay", 0, MAX_SECONDS, " seconds (a day)", integer=False)
        number("retry_backoff", 0, integer=False)
        number("http_cache_expire", 0, integer=False, none=True, finite=False)  # inf: never expires
        number("hang_margin", 0, MAX_SECONDS, " seconds (a day)", integer=False, above=True)
        number("max_elements", 0, none=True)  # 0 or None: no limit
        number("max_memory_mb", 0, none=True)  # 0 or None: never replaced
        number("session_timeout", 0, MAX_SECONDS, " seconds (a day)", integer=False, above=True)
        number("autothrottle_start_delay", 0, MAX_SECONDS, " seconds (a day)", integer=False)
        number("autothrottle_max_delay", 0, MAX_SECONDS, " seconds (a day)", integer=False)
        number("autothrottle_target_concurrency", 0, integer=False, above=True)
        self._check_frontier()
        object.__setattr__(self, "fields", self._check_fields(self.fields))
        if self.start_method not in ("spawn", "fork", "forkserver"):
            raise UsageError(f"start_method must be spawn, fork or forkserver, not {self.start_method!r}")
        object.__setattr__(self, "allowed_domains", tuple(self.allowed_domains))
        headers = self.headers.items() if isinstance(self.headers, dict) else self.headers
        object.__setattr__(self, "headers", tuple((str(k), str(v)) for k, v in headers))

    def _check_frontier(self):
        if self.frontier is None:
            if self.crawl_id is not None or self.machine_id is not None:
                raise UsageError("--crawl-id and --machine-id go with --frontier")
            return
        if self.autothrottle:
            raise UsageError("--autothrottle is not supported in a shared crawl (--frontier) yet: "
                             "give --delay and --concurrency-per-host")
        if not str(self.frontier).startswith(("redis://", "rediss://", "unix://")):
            raise UsageError(f"--frontier {self.frontier!r} must be a redis:// (or rediss://, unix://) URL")
        if not self.crawl_id:
            raise UsageError("--frontier needs --crawl-id: the name of the crawl the machines share")
        for name in ("crawl_id", "machine_id"):
            value = getattr(self, name)
            if value is not None and (not value or any(c in value for c in "{}|# \t\n")):
                raise UsageError(f"{name.replace('_', '-')} {value!r}: use letters, digits, '-', '_', '.'")
        if self.output == "-":
            raise UsageError("a shared crawl (--frontier) writes each machine's records to its own "
                             "file: give -o FILE, not -o -")

    def _check_fields(self, fields):
        """``fields`` as a tuple of names (a string is split at commas), each named once."""
        if fields is None:
            return ()
        if isinstance(fields, str):
            if not fields.strip():
                raise UsageError(f"fields names no field ({fields!r})")
            fields = fields.split(",")
        names = tuple(str(name).strip() for name in fields)
        if any(not name for name in names):
            raise UsageError(f"fields has an empty name: {','.join(names)!r}")
        seen = {}
        sqlite = os.path.splitext(str(self.output))[1].lower() in (".sqlite", ".db", ".sqlite3")
        for name in names:
            key = name.lower() if sqlite else name
            if key in seen:
                if seen[key] == name:
                    raise UsageError(f"fields names {name!r} twice")
                raise UsageError(f"fields {seen[key]!r} and {name!r} differ only in case, "
                                 "which SQLite column names ignore")
            seen[key] = name
        return names

    @classmethod
    def names(cls):
        return {f.name for f in dataclasses.fields(cls)}

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def as_report(self):
        """The settings as the report shows them, with secrets masked: a report is made to be
        passed around, so header values such as Authorization, a password in the Redis URL
        and spider arguments named like secrets never appear in it."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "headers":
                value = [(k, "***" if _secret(k) else v) for k, v in value]
            elif f.name == "spider_kwargs":
                value = {k: "***" if _secret(k) else v for k, v in value.items()}
            elif f.name == "frontier" and value:
                value = _mask_url(value)
            out[f.name] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        return out


_SECRET_WORDS = ("authorization", "cookie", "password", "passwd", "secret", "token", "key", "auth")


def _secret(name):
    name = str(name).lower()
    return any(word in name for word in _SECRET_WORDS)


def _mask_url(url):
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
