"""The messages that cross process boundaries, one named type per kind, in one place.

Each is a NamedTuple of plain data: it pickles small and fast, can never drag a
session, a soup or a spider along (STYLE.md, traps 2-4), and its fields are read by
name, never by index. A receiver dispatches on ``type(msg)``. Every channel and what
travels on it:

coordinator -> fetchers, the job queue (jobqueue.py; a bounded window):
    Job, or None: the sentinel, one per live fetcher, meaning "finish and exit".

fetcher -> coordinator, one events Pipe per fetcher (``send`` pickles synchronously,
so what was sent before a crash is not lost, unlike ``Queue.put``):
    Claimed     right after the fetcher took the job
    Outcome     the request's outcome, its children (Child) and what the stats want;
                info["redirect"] = (url, method): not an outcome but a redirect, whose
                next hop the coordinator schedules
    Idle        the shared queue was empty for a while
    Log         a log record of the fetcher (spider code's too), for the coordinator's handlers
    Retire      past max_memory_mb: takes no new job, finishes its own, then Goodbye;
                the coordinator starts a replacement now
    Goodbye     after the sentinel (or Retire); nothing more follows
    Fatal       the spider cannot even be loaded here: the crawl stops

fetcher -> writer, one records Pipe per fetcher:
    Records     for every page job, also with no record, so the writer can mark the
                request committed (the coordinator sends it too, for the records it makes)

coordinator <-> writer, one duplex control Pipe:
    -> Records      records the coordinator makes (a poison page's error record)
    -> NewPipe      followed by a file descriptor: a new fetcher's records pipe
    -> Stop         read every pipe to its end, flush, exit
    <- Committed    durable in the output
    <- WriteFailed  the output cannot be written: fatal
    <- OutputClosed the reader of ``-o -`` went away (``| head``): the crawl ends, quietly
"""

from typing import NamedTuple


class Claimed(NamedTuple):
    req_id: int


class Outcome(NamedTuple):
    req_id: int
    #: HTTP status of the last response (None: no response).
    status: "int | None"
    #: None, or a short text for the record's ``error`` field.
    error: "str | None"
    #: None, or the error's kind for the stats (timeout, http_404, internal, ...).
    kind: "str | None"
    #: Child requests (Child tuples), already canonicalised and deduped within the page.
    children: list
    #: bytes, retries, started, final_url, records, spider_errors, cookies, redirect, ...
    info: dict


class Idle(NamedTuple):
    pass


class Log(NamedTuple):
    #: A log record made plain (scrapepool/_logrelay.py): handled by the coordinator's handlers.
    record: dict


class Retire(NamedTuple):
    rss_mb: int


class Goodbye(NamedTuple):
    pass


class Fatal(NamedTuple):
    text: str


class Records(NamedTuple):
    req_id: int
    records: list


class NewPipe(NamedTuple):
    pass


class Stop(NamedTuple):
    pass


class Committed(NamedTuple):
    req_ids: list
    #: Records written in this batch.
    n_records: int
    #: The output's committed offset (bytes, or rows for SQLite).
    offset: "int | None"


class WriteFailed(NamedTuple):
    text: str


class OutputClosed(NamedTuple):
    pass


#: Job kinds.
PAGE, ROBOTS = 0, 1


class Job(NamedTuple):
    """A request handed to the fetchers."""

    req_id: int
    url: str
    method: str
    headers: "dict | None"
    body: "bytes | None"
    callback: "str | None"
    meta: dict
    depth: int
    attempt: int
    errback: "str | None"
    #: Wall-clock time before which the request must not be sent (politeness).
    not_before: float
    kind: int = PAGE
    #: Cookie dicts of the request's jar for its host (None: no cookies, or cookies are off).
    cookies: "list | None" = None
    #: For a redirect hop: the URL first requested (the record's ``url``), else None.
    origin: "str | None" = None
    #: For a redirect hop: the URLs redirected to so far, this job's ``url`` last.
    hops: tuple = ()
    #: The request bypasses the dupefilter (Request(dont_filter=True)): its redirects too.
    dont_filter: bool = False


class Child(NamedTuple):
    """A child request, as a fetcher reports it: already canonicalised and deduped within its page."""

    fp: int
    url: str
    method: str
    headers: "dict | None"
    body: "bytes | None"
    callback: "str | None"
    meta: "dict | None"
    priority: int
    dont_filter: bool
    errback: "str | None"
