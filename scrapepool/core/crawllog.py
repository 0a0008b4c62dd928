"""What the HTML report shows that the stats do not: the crawl over time, per host, per
depth, per callback, per process kind. Kept by the coordinator, saved in the job DB.

Everything here comes from messages the coordinator reads anyway (outcomes, commits)
and from one look at the children's peak memory every few seconds, so keeping it costs
the crawl nothing measurable: ``outcome`` is a few dict updates per page (~1 us against
the ~4 ms a page costs on S1). It stays small on long crawls: the time series halves its
resolution when it grows past ``MAX_POINTS`` and each host keeps at most
``LATENCY_SAMPLES`` latencies (a reservoir: a fair sample of all of them), so a
million-page crawl of 10,000 hosts saves ~2 MB.
"""

import random
import resource
import sys
import time

__all__ = ["CrawlLog", "LATENCY_SAMPLES", "MAX_POINTS", "SAMPLE_EVERY"]

#: Seconds between two points of the time series (and two looks at the children's memory).
SAMPLE_EVERY = 2.0
#: Points kept; past this, every second point goes (a 10-hour crawl: 18,000 s / 1,000 = 18 s).
MAX_POINTS = 1000
#: Latencies kept per host, for its p50 and p95.
LATENCY_SAMPLES = 200
#: Example URLs kept per error kind.
EXAMPLES = 5


def _vm_hwm_mb(pid):
    """Peak RSS of a live process in MB (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class CrawlLog:
    """Tallies for the report; ``as_dict``/``load`` carry them across a resume."""

    def __init__(self):
        self.started = time.time()
        #: Seconds of earlier runs of the same job (the series goes on after them).
        self.offset = 0.0
        #: Runs of this job before this one (a resume adds one).
        self.resumed = 0
        #: [seconds since the job began, pages, records, bytes, errors], cumulative.
        self.points = []
        self.every = SAMPLE_EVERY
        self._next = 0.0
        #: host -> [requests, errors, latencies seen, latency sample]
        self.hosts = {}
        self.depths = {}
        #: callback name -> [pages, records, spider errors]
        self.callbacks = {}
        #: error kind -> example URLs
        self.examples = {}
        #: process kind -> peak RSS (MB)
        self.memory = {}
        self._rng = random.Random(0)

    def outcome(self, url, host, depth, callback, status, kind, info):
        latency = info.get("latency")
        h = self.hosts.get(host)
        if h is None:
            h = self.hosts[host] = [0, 0, 0, []]
        h[0] += 1
        if kind:
            h[1] += 1
            urls = self.examples.setdefault(kind, [])
            if len(urls) < EXAMPLES:
                urls.append(url)
        if latency is not None:
            h[2] += 1
            sample = h[3]
            if len(sample) < LATENCY_SAMPLES:
                sample.append(latency)
            else:
                j = self._rng.randrange(h[2])
                if j < LATENCY_SAMPLES:
                    sample[j] = latency
        self.depths[depth] = self.depths.get(depth, 0) + 1
        c = self.callbacks.get(callback or "parse")
        if c is None:
            c = self.callbacks[callback or "parse"] = [0, 0, 0]
        c[0] += 1
        c[1] += info.get("records", 0)
        c[2] += len(info.get("spider_errors", ()))

    def due(self, now_wall):
        """Whether a point is due (one every ``SAMPLE_EVERY`` s): the caller then calls
        :meth:`sample`, and only then looks up the children's pids."""
        if now_wall < self._next:
            return False
        self._next = now_wall + self.every
        return True

    def sample(self, now_wall, stats, pids=()):
        t = round(self.offset + now_wall - self.started, 2)
        errors = sum(stats.errors.values())
        point = [t, stats.pages, stats.records, stats.bytes, errors]
        if self.points and self.points[-1][0] == t:
            self.points[-1] = point
        else:
            self.points.append(point)
        if len(self.points) > MAX_POINTS:
            self.points = self.points[::2] + ([self.points[-1]] if len(self.points) % 2 == 0 else [])
            self.every *= 2
        scale = 1 if sys.platform == "darwin" else 1024
        self._peak("coordinator", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6)
        for kind, pid in pids:
            mb = _vm_hwm_mb(pid)
            if mb is not None:
                self._peak(kind, mb * 1.048576)  # MiB -> MB, as the stats say it

    def _peak(self, kind, mb):
        if mb > self.memory.get(kind, 0):
            self.memory[kind] = round(mb, 1)

    def as_dict(self, now_wall=None):
        now_wall = time.time() if now_wall is None else now_wall
        return {
            "elapsed": round(self.offset + now_wall - self.started, 3),
            "resumed": self.resumed,
            "every": self.every,
            "points": self.points,
            "hosts": {h: [v[0], v[1], v[2], [round(x, 4) for x in v[3]]] for h, v in self.hosts.items()},
            "depths": {str(d): n for d, n in sorted(self.depths.items())},
            "callbacks": self.callbacks,
            "examples": self.examples,
            "memory": self.memory,
        }

    def load(self, saved):
        """Go on from an earlier run of the same job (``saved``: its ``as_dict``)."""
        if not saved:
            return
        self.offset = saved.get("elapsed", 0.0)
        self.resumed = saved.get("resumed", 0) + 1
        self.every = saved.get("every", SAMPLE_EVERY)
        self.points = [list(p) for p in saved.get("points", [])]
        self.hosts = {h: [v[0], v[1], v[2], list(v[3])] for h, v in saved.get("hosts", {}).items()}
        self.depths = {int(d): n for d, n in saved.get("depths", {}).items()}
        self.callbacks = {k: list(v) for k, v in saved.get("callbacks", {}).items()}
        self.examples = {k: list(v) for k, v in saved.get("examples", {}).items()}
        self.memory = dict(saved.get("memory", {}))
