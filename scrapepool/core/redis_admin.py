"""``scrapepool frontier status|check|delete``: look at, verify and remove a shared crawl.

``check`` recounts the crawl's structures against the counters the scripts keep, the
invariants that exactly-once and termination rest on: every pending request is in a host
queue, every request in flight is held by a session, ``admitted = done + pending + in
flight``, and each host's in-flight count is what the sessions hold of it. It reads the
keys with SCAN and HSCAN, so it runs beside a live crawl; a crawl that changes while it
is read may show a passing difference, a finished or idle one none.
"""

import os
import time

from ..exceptions import ScrapepoolError, UsageError
from ..redis_store import crawl_prefix

__all__ = ["status", "check", "delete"]


def _machines(r, p, timeout):
    now_ms = time.time() * 1000
    sessions = dict(r.zrange(p + "hb", 0, -1, withscores=True))
    out = r.hgetall(p + "out")
    machines = {}
    for machine, epoch in r.hgetall(p + "sess").items():
        beat = sessions.get(f"{machine}#{epoch}")
        age = None if beat is None else round(max(0.0, now_ms - beat) / 1000, 1)
        machines[machine] = {"epoch": int(epoch), "silent_for": age,
                             "alive": age is not None and age < timeout}
    for machine, value in out.items():
        offset, records, path, _ = value.split("|", 3)
        machines.setdefault(machine, {"alive": False})
        machines[machine].update(output=path, offset=int(offset), records=int(records))
    return machines


def status(r, crawl_id, timeout):
    """The crawl's counters, state and machines, as a dict."""
    p = crawl_prefix(crawl_id)
    if not r.exists(p + "meta"):
        raise UsageError(f"no crawl {crawl_id!r} in this Redis")
    counters = {k: int(v) for k, v in r.hgetall(p + "n").items()}
    return {"crawl_id": crawl_id, "state": r.hget(p + "meta", "state"),
            **{k: counters.get(k, 0) for k in ("pending", "inflight", "admitted", "done")},
            "machines": _machines(r, p, timeout)}


def check(r, crawl_id):
    """The problems found, one line each (empty: the structures agree with the counters)."""
    p = crawl_prefix(crawl_id)
    if not r.exists(p + "meta"):
        raise UsageError(f"no crawl {crawl_id!r} in this Redis")
    n = {k: int(v) for k, v in r.hgetall(p + "n").items()}
    queued = sum(r.zcard(key) for key in r.scan_iter(match=p + "q:*", count=1000))
    held, held_pages, robots = 0, {}, 0
    flags = dict(r.hscan_iter(p + "fl", count=1000))
    for key in r.scan_iter(match=p + "m:*", count=1000):
        session = key[len(p) + 2:]
        for req_id, value in r.hscan_iter(key, count=1000):
            held += 1
            host, rest = value.split(" ", 1)
            owner, _, f = flags.get(req_id, "|").rpartition("|")
            if owner != session:
                yield f"request {req_id} is held by {session} but leased to {owner or 'nobody'}"
            if rest == "R":
                robots += 1
            elif f in ("0", "2"):  # an outcome frees its host slot
                held_pages[host] = held_pages.get(host, 0) + 1
    owned = sum(1 for v in flags.values() if not v.startswith("-|"))
    if n.get("pending", 0) != queued:
        yield f"pending is {n.get('pending', 0)} but the host queues hold {queued}"
    if n.get("inflight", 0) != held:
        yield f"inflight is {n.get('inflight', 0)} but the sessions hold {held}"
    if owned != held:
        yield f"{owned} leases in fl but the sessions hold {held}"
    pages_inflight = n.get("inflight", 0) - robots
    if n.get("admitted", 0) != n.get("done", 0) + n.get("pending", 0) + pages_inflight:
        yield (f"admitted {n.get('admitted', 0)} != done {n.get('done', 0)} + pending "
               f"{n.get('pending', 0)} + in flight {pages_inflight}")
    for key in r.scan_iter(match=p + "h:*", count=1000):
        host = key[len(p) + 2:]
        inflight = int(r.hget(key, "inflight") or 0)
        if inflight != held_pages.get(host, 0):
            yield f"host {host}: inflight {inflight} but the sessions hold {held_pages.get(host, 0)}"
    for machine, value in r.hgetall(p + "out").items():
        offset, _, path, _ = value.split("|", 3)
        if os.path.isfile(path) and os.path.getsize(path) < int(offset):
            yield f"machine {machine}: {path} is shorter than its committed offset {offset}"


def delete(r, crawl_id, timeout):
    """Delete every key of the crawl; refused while one of its machines is alive."""
    p = crawl_prefix(crawl_id)
    alive = [m for m, info in _machines(r, p, timeout).items() if info.get("alive")]
    if alive:
        raise ScrapepoolError(f"machine {', '.join(sorted(alive))} of crawl {crawl_id!r} is alive: "
                              "stop it first (or wait --session-timeout after it died)")
    keys = list(r.scan_iter(match=p + "*", count=1000))
    for i in range(0, len(keys), 1000):
        r.delete(*keys[i:i + 1000])
    return len(keys)
