"""The messages that cross process boundaries, all plain tuples, in one place.

Plain tuples pickle small and fast, and can never drag a session, a soup or a
spider along (STYLE.md, traps 2-4). Every channel and what travels on it:

coordinator -> fetchers, the shared ``multiprocessing.Queue`` (a bounded window):
    ``Job`` tuples, or ``None``: the sentinel, one per live fetcher, meaning "finish and exit".

fetcher -> coordinator, one events Pipe per fetcher (``send`` pickles
synchronously, so what was sent before a crash is not lost, unlike ``Queue.put``):
    (CLAIMED, req_id)                 right after the fetcher took the job
    (OUTCOME, req_id, status, error, kind, children, info)
                                      info["redirect"] = (url, method): not an outcome but
                                      a redirect, whose next hop the coordinator schedules
    (IDLE,)                           the shared queue was empty for a while
    (RETIRE, rss_mb)                  past max_memory_mb: takes no new job, finishes its own,
                                      then GOODBYE; the coordinator starts a replacement now
    (GOODBYE,)                        after the sentinel (or RETIRE); nothing more follows
    (FATAL, text)                     the spider cannot even be loaded here: the crawl stops

fetcher -> writer, one records Pipe per fetcher:
    (req_id, [record, ...])           for every page job, also with no record, so the
                                      writer can mark the request committed

coordinator <-> writer, one duplex control Pipe:
    -> (W_RECORDS, req_id, [records]) records the coordinator makes (a poison page's error record)
    -> (W_PIPE,)  followed by a file descriptor: a new fetcher's records pipe
    -> (W_STOP,)                      read every pipe to its end, flush, exit
    <- (W_COMMITTED, [req_ids], n_records, offset)  durable in the output
    <- (W_FAILED, text)               the output cannot be written: fatal
"""

from typing import NamedTuple

CLAIMED, OUTCOME, IDLE, GOODBYE, FATAL, RETIRE = "C", "O", "I", "G", "F", "R"
W_RECORDS, W_PIPE, W_STOP, W_COMMITTED, W_FAILED = "r", "p", "s", "c", "f"

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


#: A child request, as a fetcher reports it: already canonicalised and deduped within its page.
#: (fingerprint, url, method, headers, body, callback, meta, priority, dont_filter, errback)
CHILD_FIELDS = ("fp", "url", "method", "headers", "body", "callback", "meta", "priority",
                "dont_filter", "errback")
