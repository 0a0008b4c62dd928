"""One exception hierarchy, rooted at :class:`ScrapepoolError`.

Every exception keeps all of its constructor arguments in ``args`` so that it
survives pickling across a process boundary (an exception that formats its
message in ``__init__`` fails to unpickle: STYLE.md, trap 5).
"""


class ScrapepoolError(Exception):
    """Base of every error scrapepool raises on purpose."""


class UsageError(ScrapepoolError):
    """The user asked for something that cannot work (bad option, seeds, spider ref).

    The CLI turns it into one line on stderr and exit status 2.
    """


class SpiderLoadError(UsageError):
    """A spider reference (``mod:Class`` or ``file.py:Class``) could not be loaded."""


class OutputError(ScrapepoolError):
    """The output cannot be opened or written; raised before any request is sent."""


class JobDirError(UsageError):
    """The job directory belongs to another crawl, or cannot be used."""


class FrontierLost(ScrapepoolError):
    """The crawl's shared state is gone from Redis (flushed, or restarted without its AOF).

    Fatal on purpose: starting again from the seeds would fetch and write everything twice."""


class CallbackError(ScrapepoolError):
    """A spider yielded a request whose callback is not one of its methods."""


class OutputClosed(ScrapepoolError):
    """The reader of ``-o -`` went away (``scrapepool crawl ... -o - | head``): nothing more
    can be delivered, so the crawl ends; the command exits 0 without a word, as Unix filters
    do when the pipe they write to closes."""


class WriterDied(ScrapepoolError):
    """The writer process ended without being asked to: the run cannot go on.

    Nothing committed is lost; running the same command with the same
    ``--job-dir`` completes the crawl.
    """

    def __init__(self, exitcode):
        super().__init__(exitcode)
        self.exitcode = exitcode

    def __str__(self):
        return f"the writer process died ({describe_exit(self.exitcode)})"


class PageTooLarge(ScrapepoolError):
    """A page has more elements than ``max_elements``: its tree is not built.

    The fetcher records the page with this error instead of running out of memory.
    """

    def __init__(self, elements, limit):
        super().__init__(elements, limit)
        self.elements, self.limit = elements, limit

    def __str__(self):
        return (f"page of ~{self.elements} elements, more than max-elements ({self.limit}): "
                "not parsed")


class HttpError(ScrapepoolError):
    """A response whose status the spider does not handle (Scrapy's ``HttpError``, from its
    HttpErrorMiddleware): an errback's ``failure.value``, with ``.response`` the Response."""

    def __init__(self, response, message=None):
        super().__init__(response, message)
        self.response = response
        self.message = message

    def __str__(self):
        return self.message or f"Ignoring non-200 response ({getattr(self.response, 'status', None)})"


class DownloadError(ScrapepoolError):
    """A request that failed without a response the spider could handle: an errback's
    ``failure.value``. ``kind`` says why (``truncated``, ``too_large``, ``redirect_loop``,
    ...: the stats' error kinds); its subclasses are the timeouts and connection errors."""

    def __init__(self, message, kind=None):
        super().__init__(message, kind)
        self.message, self.kind = message, kind

    def __str__(self):
        return self.message


class DownloadTimeout(DownloadError, TimeoutError):
    """The server did not answer (or send the body) in time: also a builtin ``TimeoutError``,
    as ``failure.check(TimeoutError)`` finds Scrapy's (twisted's) timeouts."""


class DownloadConnectionError(DownloadError, ConnectionError):
    """No connection (refused, reset, DNS lookup failed): also a builtin ``ConnectionError``."""


class RecordError(ScrapepoolError):
    """A record that cannot become plain data (see :mod:`scrapepool.spiders.records`).

    ``path`` names the field (``a.b[3]``; empty for the record itself), ``reason`` says why.
    """

    def __init__(self, path, reason):
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self):
        return f"field {self.path}: {self.reason}" if self.path else self.reason


class CloseSpider(ScrapepoolError):
    """Raised by a spider callback to stop the whole crawl gracefully."""

    def __init__(self, reason="cancelled"):
        super().__init__(reason)
        self.reason = reason


def describe_exit(exitcode):
    """Decode a ``Process.exitcode`` into words a user understands (rq does the same)."""
    import signal

    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name}"
    return f"exit code {exitcode}"
