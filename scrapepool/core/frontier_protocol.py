"""What the coordinator asks of a frontier: the interface, written down.

The engine (engine.py) calls only these operations, so a second implementation
can replace the local one (frontier.py: memory, spilling to the job database)
without touching the coordinator: the Redis frontier that several machines share
(DISTRIBUTED.md) is the one planned. Every method runs in the coordinator, between
two waits of its loop, and must not block for long: tens of milliseconds at most
(``flush`` included).
"""

from typing import Iterable, List, Optional, Protocol

from .._messages import Job

__all__ = ["FrontierAPI"]


class FrontierAPI(Protocol):
    #: Requests admitted and not handed out yet (termination: none pending, none in flight).
    pending: int
    #: Page requests admitted so far (``--max-pages`` counts these).
    admitted: int
    #: Requests robots.txt refused.
    robots_refused: int
    #: True when hosts are paced (delay, per-host concurrency or robots.txt): then
    #: ``next_due`` tells the coordinator how long it may sleep.
    polite: bool

    # -- admission ------------------------------------------------------------------------
    def admit(self, fp: int, url: str, method: str = "GET", headers=None, body=None, callback=None,
              meta=None, priority: int = 0, dont_filter: bool = False, errback=None,
              depth: int = 0) -> Optional[int]:
        """Admit a request if it passes the checks (seen, depth, page limit, domain);
        returns its req_id, or None."""

    def is_seen(self, fp: int) -> bool:
        """Whether a request of this fingerprint was admitted (or a redirect led to it)."""

    def mark_seen(self, fp: int) -> None:
        """A redirect's target: a link to it found later is not fetched again."""

    def resume(self) -> int:
        """Load a job begun before (seen set, counters); returns the requests to go."""

    # -- handing out ----------------------------------------------------------------------
    def next_job(self, now: float) -> Optional[Job]:
        """The next request to dispatch now (wall-clock ``now``), or None."""

    def next_due(self, now: float) -> Optional[float]:
        """Seconds until a waiting host becomes ready (None: none waits on time)."""

    def make_durable(self, req_id: int) -> None:
        """Write ahead: the request's row is durable before the job leaves the coordinator."""

    def take_refused_hops(self) -> List[Job]:
        """Redirect hops robots.txt refused since the last call: each ends its request
        with an error record (the coordinator writes it)."""

    # -- outcomes -------------------------------------------------------------------------
    def host_done(self, url: str, started: Optional[float], latency: Optional[float] = None,
                  status: Optional[int] = None) -> None:
        """A request to ``url``'s host is over: free its slot, start its delay (``latency``,
        ``status``: the download's, for AutoThrottle)."""

    def record_outcome(self, req_id: int) -> None:
        """The request has its outcome (its children were admitted just before)."""

    def redirect(self, job: Job, url: str, method: str, body, headers) -> None:
        """The next hop of a redirect: the same request, ahead of newer ones."""

    def requeue(self, job: Job, attempt: int) -> None:
        """A request lost with its fetcher goes back, ahead of newer ones."""

    def robots_arrived(self, url: str, status: Optional[int], text: Optional[str]) -> None:
        """robots.txt of ``url``'s host: its text, or None (missing, broken: allow all)."""

    def robots_lost(self, url: str) -> None:
        """The robots.txt request died with its fetcher: ask again."""

    # -- cookies --------------------------------------------------------------------------
    def cookies_changed(self, jar: str, changes: dict, jars) -> None:
        """A response changed cookie jar ``jar`` (``changes``: cookies.jar_changes; the
        coordinator's ``jars`` already hold them): durable with the outcome that made them."""

    def shared_jars(self) -> Optional[dict]:
        """Every cookie jar, when another machine changed one since the last call (a shared
        frontier); None: nothing new (always, for the local frontier)."""

    # -- durability -----------------------------------------------------------------------
    def keep(self, key: str, value) -> None:
        """Crawl state that must become durable with the outcomes that changed it (the
        cookie jars a login response changed): written by the next ``flush``."""

    def flush(self, kv: Optional[dict] = None) -> None:
        """Write what is buffered (admissions, outcomes, ``keep``s, ``kv``) in one transaction."""

    def output_end(self, local: Optional[int]) -> Optional[int]:
        """Where the output may be cut back to after a failure: ``local`` (the job DB's
        committed end) for the local frontier; for a shared one, the end Redis accepted, which
        may be past the job DB's (a kill between the two commits); None: unknown now, leave
        the file as it is (the next run's writer cuts it)."""


def _implements(frontier: FrontierAPI) -> Iterable[str]:
    """The interface's names ``frontier`` lacks (tests/test_frontier.py checks the local one)."""
    names = [n for n in vars(FrontierAPI) if not n.startswith("_")]
    names += list(FrontierAPI.__annotations__)
    return sorted({n for n in names if not hasattr(frontier, n)})
