"""Crawl statistics, counted by the coordinator and saved in the job DB."""

import resource
import sys
import time

__all__ = ["Stats"]


def peak_memory_mb():
    """Peak RSS of this process and of its waited-for children, in MB (the largest of each)."""
    scale = 1 if sys.platform == "darwin" else 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale
    return round((own + kids) / 1e6, 1)


class Stats:
    """Counters for one crawl; ``as_dict`` is what ``--stats`` writes."""

    def __init__(self):
        self.started = time.time()
        self.elapsed_before = 0.0
        #: Requests that reached a final outcome (robots.txt fetches not included).
        self.pages = 0
        self.records = 0
        self.requests = 0
        self.status = {}
        self.errors = {}
        self.retries = 0
        #: Redirect hops followed (each is a response; the request counts once in ``pages``).
        self.redirects = 0
        self.robots_refused = 0
        self.bytes = 0
        self.spider_errors = 0
        self.dropped = 0
        #: Malformed links that link extraction skipped (distinct per page).
        self.invalid_links = 0
        self.fetcher_crashes = 0
        #: Values the output could not hold (CSV: keys that are not columns), from the job DB.
        self.dropped_fields = 0
        #: Redirects that led to a URL already requested: ended there, as by Scrapy's dupefilter.
        self.redirects_to_seen = 0
        #: Fetchers replaced for growing past max_memory_mb (not crashes: nothing is lost).
        self.fetchers_replaced = 0
        self.finish_reason = None
        self.finished_at = None

    def outcome(self, status, kind, info):
        self.pages += 1
        key = str(status) if status is not None else "none"
        self.status[key] = self.status.get(key, 0) + 1
        if kind:
            self.errors[kind] = self.errors.get(kind, 0) + 1
        self.retries += info.get("retries", 0)
        self.bytes += info.get("bytes", 0)
        self.dropped += info.get("dropped", 0)
        self.invalid_links += info.get("invalid_links", 0)
        self.spider_errors += len(info.get("spider_errors", ()))

    @property
    def elapsed(self):
        end = self.finished_at or time.time()
        return self.elapsed_before + end - self.started

    def finish(self, reason):
        self.finish_reason = reason
        self.finished_at = time.time()

    def load(self, saved):
        """Continue the counts of an earlier run of the same job."""
        for key in ("pages", "records", "requests", "retries", "redirects", "robots_refused", "bytes",
                    "spider_errors", "dropped", "invalid_links", "fetcher_crashes",
                    "fetchers_replaced", "dropped_fields", "redirects_to_seen"):
            setattr(self, key, saved.get(key, 0))
        self.status = dict(saved.get("status", {}))
        self.errors = dict(saved.get("errors", {}))
        self.elapsed_before = saved.get("elapsed_s", 0.0)

    def as_dict(self):
        elapsed = self.elapsed
        return {
            "pages": self.pages,
            "records": self.records,
            "requests": self.requests,
            "status": dict(sorted(self.status.items())),
            "errors": dict(sorted(self.errors.items())),
            "retries": self.retries,
            "redirects": self.redirects,
            "redirects_to_seen": self.redirects_to_seen,
            "robots_refused": self.robots_refused,
            "spider_errors": self.spider_errors,
            "dropped": self.dropped,
            "dropped_fields": self.dropped_fields,
            "invalid_links": self.invalid_links,
            "fetcher_crashes": self.fetcher_crashes,
            "fetchers_replaced": self.fetchers_replaced,
            "bytes": self.bytes,
            "elapsed_s": round(elapsed, 3),
            "pages_per_s": round(self.pages / elapsed, 1) if elapsed > 0 else 0.0,
            "peak_memory_mb": peak_memory_mb(),
            "finish_reason": self.finish_reason,
        }
