"""Kill the machines of a shared crawl, and its Redis, at random moments; restart them; check the output.

    .venv/bin/python benchmarks/torture_distributed.py --pages 2000 --kills 12 --machines 3
    .venv/bin/python benchmarks/torture_distributed.py --seed 7 --freezes 2 --session-timeout 3

A local site of N linked pages (benchmarks/torture.py's site, each answer delayed by --delay,
100 ms by default: a crawl that lasts through the faults) is served on 127.0.0.1; a redis-server
of our own runs on a free port in a temporary directory (AOF on, ``appendfsync always``:
tests/redis_server.py); M machines run ``scrapepool crawl --frontier redis://... --crawl-id ID
--machine-id mI``, each in a session of its own. K times, after a random gap, a victim is
picked at random, Redis or one of the M machines alike (a machine among those running then):

- a machine: SIGKILL to its whole process group (coordinator, fetcher, writer at once); the same
  command is run again after a random pause (at once, within --session-timeout, or past it);
- Redis: SIGKILL by PID, started again on its AOF and port after a random pause (at once, a
  moment, or longer than --session-timeout).

--freezes F more times, a machine's whole group is SIGSTOPped past its session timeout, then
SIGCONTed (it is fenced and joins again). Then the crawl is left to finish: every machine must end
by itself with status 0 (one that ended before the others is fine). Then:

- missing:    pages of the site with no record in the union of the outputs (must be 0)
- duplicated: pages with more than one record in the union (must be 0)
- extra:      records of URLs that are not pages of the site (must be 0)
- errors:     error records, i.e. pages given up (as poison, ...): every page answers 200 (must be 0)
- re-fetched: page requests the server saw more than once, against a bound: the sum over the
  machine kills and freezes of what the victim's session held in Redis at that moment (``P m:<sess>``
  read right after the SIGKILL/SIGSTOP, before anyone can reap it: every request leased and not
  done, whether queued on the machine, being fetched, or fetched and not committed), plus for
  each Redis kill the crawl's whole ``inflight`` counter read just before it (must be <= bound)
- ``scrapepool frontier check`` exits 0, and ``frontier status`` says finished, nothing pending
  or in flight, admitted == done == pages
- no Traceback on any machine's stderr

Two refusals at start (exit 2, one line, nothing written) are tolerated, counted, and the command
is run again a second later (--strict makes them failures): "in use by a live machine" (a rerun
while its dead session still looks alive; since the job dir is held by flock a rerun takes its
old session over at once, so this is not expected) and "cannot reach Redis" (started while Redis
was down). Redis is only killed once every running machine has joined (its session has a
heartbeat since the run started; at most --join-wait s), to make the second one rare.

Exit status 0 only when all hold. The run's directory (every run's stdout and stderr, the outputs,
the Redis log and AOF, requests.txt: the server's count of each path, events.log with the seed and
the commands) is kept under --evidence on a failure (or always with --keep), else deleted.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from torture import make_site

from scrapepool.redis_store import crawl_prefix
from scrapepool.testing.testserver import Page, SiteServer
from tests.conftest import _env as child_env  # the machines import the scrapepool next to this script
from tests.process_groups import kill_process_group
from tests.redis_server import RedisServer

BUSY = "in use by a live machine"
UNREACHABLE = "cannot reach Redis"


def site_pages(n, delay):
    """benchmarks/torture.py's site, each answer taking ``delay`` s."""
    return {path: Page(body, delay=delay) for path, body in make_site(n).items()}


def path_of(url):
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


class Log:
    """Lines on stdout and in ``events.log``, stamped with the seconds since the start."""

    def __init__(self, path):
        self.t0 = time.monotonic()
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by main)

    def __call__(self, msg):
        line = f"[{time.monotonic() - self.t0:7.2f}s] {msg}"
        print(line, flush=True)
        self.file.write(line + "\n")
        self.file.flush()


class Machine:
    """One machine: ``scrapepool crawl`` in its own session, in ``work``; each run's stdout and
    stderr go to ``<name>.<run>.out|err``."""

    def __init__(self, work, name, command):
        self.work = work
        self.name = name
        self.command = command
        self.output = work / f"{name}.jsonl"
        self.runs = []  # dicts: proc, created (psutil), wall (time.time at start), ended, how
        self.restart_at = None  # time.monotonic() of a scheduled start
        self.thaw_at = None  # time.monotonic() of a scheduled SIGCONT (None: not frozen)

    @property
    def run(self):
        return self.runs[-1] if self.runs else None

    def start(self):
        assert not self.running(), f"{self.name} is running"
        n = len(self.runs)
        with open(self.work / f"{self.name}.{n}.out", "wb") as out, \
                open(self.work / f"{self.name}.{n}.err", "wb") as err:
            wall = time.time()
            proc = subprocess.Popen(self.command, cwd=str(self.work), env=child_env(), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
        try:
            created = psutil.Process(proc.pid).create_time()
        except psutil.NoSuchProcess:
            created = wall - 1
        self.runs.append({"proc": proc, "created": created, "wall": wall, "started": time.monotonic(),
                          "ended": False, "how": None})
        return self

    def running(self):
        return self.run is not None and self.run["proc"].poll() is None

    def signal(self, sig):
        os.killpg(self.run["proc"].pid, sig)  # start_new_session: the leader's pid is the group's id

    def stderr(self, run=-1):
        try:
            return (self.work / f"{self.name}.{run % len(self.runs)}.err").read_text(errors="replace")
        except (OSError, ZeroDivisionError):
            return ""

    def records(self):
        """(records, lines that are not JSON)."""
        if not self.output.exists():
            return [], []
        good, bad = [], []
        with open(self.output, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    try:
                        good.append(json.loads(line))
                    except ValueError:
                        bad.append(line[:200])
        return good, bad

    def cleanup(self):
        """SIGKILL whatever is left of every run's process group (only processes it started)."""
        for run in self.runs:
            kill_process_group(run["proc"], run["created"])


class Frontier:
    """Short reads of the crawl's keys (a new connection each time: Redis may have restarted)."""

    def __init__(self, server, crawl_id):
        self.server = server
        self.p = crawl_prefix(crawl_id)

    def _client(self):
        return redis.Redis(host="127.0.0.1", port=self.server.port, db=0, decode_responses=True,
                           socket_timeout=5, socket_connect_timeout=5)

    def counters(self):
        r = self._client()
        try:
            return {k: int(v) for k, v in r.hgetall(self.p + "n").items()}
        except redis.RedisError:
            return {}
        finally:
            r.close()

    def session_of(self, machine):
        """(session, requests it holds, its last heartbeat in ms or None)."""
        r = self._client()
        try:
            epoch = r.hget(self.p + "sess", machine)
            if epoch is None:
                return None, 0, None
            session = f"{machine}#{epoch}"
            return session, r.hlen(self.p + "m:" + session), r.zscore(self.p + "hb", session)
        finally:
            r.close()


def frontier_cmd(action, url, crawl_id, session_timeout, cwd, timeout=60):
    proc = subprocess.run([sys.executable, "-m", "scrapepool", "frontier", action, "--frontier", url,
                           "--crawl-id", crawl_id, "--session-timeout", str(session_timeout)],
                          cwd=str(cwd), env=child_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout, proc.stderr


class Torture:
    """The schedule of faults and the bookkeeping of what they may cost."""

    def __init__(self, args, rnd, machines, server, frontier, log):
        self.args = args
        self.rnd = rnd
        self.machines = machines
        self.server = server
        self.frontier = frontier
        self.log = log
        self.counts = Counter()  # machine-kill, redis-kill, freeze, refused-busy, ...
        self.bound = Counter()  # what the faults of each kind may cost in re-fetches
        self.dead_sessions = set()  # sessions counted at a kill: they hold nothing more after it
        self.failures = []
        self.waiting_since = 0.0  # when the fault due now fell due

    # -- the victims ------------------------------------------------------------------------------
    def done_so_far(self):
        n = self.frontier.counters()
        return f"{n.get('done', '?')} done, {n.get('pending', '?')} pending, {n.get('inflight', '?')} in flight"

    def kill_machine(self, m):
        m.signal(signal.SIGKILL)
        rc = m.run["proc"].wait(10)
        if rc != -signal.SIGKILL:
            return False  # it had ended by itself just before: poll() tells how
        m.run["ended"], m.run["how"] = True, "killed"
        session, held, _ = self.frontier.session_of(m.name)  # nobody reaps it for a session timeout
        if session in self.dead_sessions:
            held = 0  # killed again before it joined: its old session was counted already
        self.dead_sessions.add(session)
        self.bound["machine-kill"] += held
        S = self.args.session_timeout
        pause = self.rnd.choice([0.0, self.rnd.uniform(0.2, S), S + self.rnd.uniform(0.5, 2.0)])
        m.restart_at = time.monotonic() + pause
        self.counts["machine-kill"] += 1
        self.log(f"SIGKILL {m.name} (session {session} held {held}; {self.done_so_far()}); "
                 f"restart in {pause:.1f}s")
        return True

    def freeze_machine(self, m):
        m.signal(signal.SIGSTOP)
        session, held, _ = self.frontier.session_of(m.name)
        self.bound["freeze"] += held
        hold = self.args.session_timeout + self.rnd.uniform(1.5, 3.0)
        m.thaw_at = time.monotonic() + hold
        self.counts["freeze"] += 1
        self.log(f"SIGSTOP {m.name} for {hold:.1f}s (session {session} held {held}; {self.done_so_far()})")

    def kill_redis(self):
        n = self.frontier.counters()
        held = n.get("inflight", 0)
        self.bound["redis-kill"] += held
        S = self.args.session_timeout
        pause = self.rnd.choice([0.0, self.rnd.uniform(0.1, 1.0), S + self.rnd.uniform(0.5, 2.0)])
        old = self.server.pid
        self.server.kill()
        self.counts["redis-kill"] += 1
        self.log(f"SIGKILL redis-server pid {old} ({n.get('done', '?')} done, {held} in flight); "
                 f"down for {pause:.1f}s")
        if pause:
            threading.Event().wait(pause)  # the outage itself: the one wait that must last
        self.server.start()  # the same directory (its AOF) and port
        n = self.frontier.counters()
        self.log(f"redis-server back, pid {self.server.pid} ({n.get('done', '?')} done, "
                 f"{n.get('inflight', '?')} in flight)")

    def joined(self, m):
        """The running machine ``m`` has a session with a heartbeat since its run started."""
        try:
            _, _, beat = self.frontier.session_of(m.name)
        except redis.RedisError:
            return False
        return beat is not None and beat / 1000 >= m.run["wall"] and time.monotonic() - m.run["started"] > 1.0

    def strike(self, kind):
        """One fault of ``kind`` ("machine", "redis" or "freeze"); False when it cannot be struck
        now (no machine awake; a machine not joined yet, for Redis: at most --join-wait s)."""
        awake = [m for m in self.machines if m.running() and m.thaw_at is None]
        if kind == "redis":
            waited = time.monotonic() - self.waiting_since
            if waited < self.args.join_wait and not all(self.joined(m) for m in self.machines if m.running()):
                return False
            self.kill_redis()
            return True
        if not awake:
            return False
        victim = self.rnd.choice(awake)
        if kind == "freeze":
            self.freeze_machine(victim)
            return True
        return self.kill_machine(victim)

    # -- the machines' own ends, restarts and thaws -------------------------------------------------
    def poll(self, now):
        for m in self.machines:
            run = m.run
            if run is None or run["ended"] or run["proc"].poll() is None:
                continue
            run["ended"] = True
            rc = run["proc"].returncode
            err = m.stderr()
            if rc == 0:
                run["how"] = "exit 0"
                self.log(f"{m.name} ended by itself, exit 0 (run {len(m.runs) - 1})")
                continue
            run["how"] = f"exit {rc}"
            lines = err.strip().splitlines()
            refusal = rc == 2 and len(lines) == 1 and "Traceback" not in err and not self.args.strict
            if refusal and BUSY in lines[0]:
                self.counts["refused-busy"] += 1
                m.restart_at = now + 1.0
                self.log(f"{m.name} refused, its dead session is still alive in Redis: run again in 1.0s")
            elif refusal and UNREACHABLE in lines[0]:
                self.counts["refused-redis-down"] += 1
                m.restart_at = now + 1.0
                self.log(f"{m.name} refused, Redis was down at its start: run again in 1.0s")
            else:
                self.failures.append(f"{m.name} run {len(m.runs) - 1} exited {rc}: {err[-1500:]}")
                self.log(f"FAILURE: {m.name} run {len(m.runs) - 1} exited {rc}")
        for m in self.machines:
            if m.thaw_at is not None and now >= m.thaw_at:
                m.thaw_at = None
                m.signal(signal.SIGCONT)
                self.log(f"SIGCONT {m.name} ({self.done_so_far()})")
            if m.restart_at is not None and now >= m.restart_at and not m.running():
                m.restart_at = None
                m.start()
                self.counts["restart"] += 1
                self.log(f"{m.name} started again (run {len(m.runs) - 1})")

    def scheduled(self):
        return [t for m in self.machines for t in (m.restart_at, m.thaw_at) if t is not None]

    def over(self):
        """No machine runs and none is due to run: the crawl ended (or every machine failed)."""
        return not any(m.running() for m in self.machines) and not self.scheduled()

    def run(self, plan, deadline):
        """Strike ``plan`` (kinds) at random gaps, then let the machines end; False on a timeout."""
        a = self.args
        pause = threading.Event()  # never set: a bounded pause between two polls
        next_at = time.monotonic() + self.rnd.uniform(a.min_gap, a.max_gap)
        self.waiting_since = next_at
        finish_by = None
        while True:
            now = time.monotonic()
            self.poll(now)
            if plan and now >= next_at:
                if self.over():
                    self.counts["skipped"] += len(plan)
                    self.log(f"the crawl is over: {len(plan)} fault(s) not struck")
                    plan = []
                elif self.strike(plan[0]):
                    plan = plan[1:]
                    next_at = self.waiting_since = time.monotonic() + self.rnd.uniform(a.min_gap, a.max_gap)
                else:
                    next_at = now + 0.2  # no victim right now (all down, frozen, joining): try again soon
                continue
            if not plan:
                if finish_by is None:
                    finish_by = now + a.finish_timeout
                    self.log(f"faults done: every machine must now end by itself within {a.finish_timeout:.0f}s")
                if self.over():
                    return True
                if now >= finish_by:
                    self.failures.append(f"machines still running {a.finish_timeout:.0f}s after the last fault: "
                                         + ", ".join(m.name for m in self.machines if m.running()))
                    return False
            if now >= deadline:
                self.failures.append(f"the run took more than --timeout {a.timeout:.0f}s")
                return False
            pause.wait(0.05)


def check_outputs(machines, site):
    """(missing, duplicated, extra, failed, records per machine, lines that are not JSON)."""
    counts = Counter()
    per_machine = {}
    broken = []
    failed = []  # error records: a page given up (every page of the site answers 200)
    for m in machines:
        records, bad = m.records()
        per_machine[m.name] = len(records)
        broken += [f"{m.name}: {line!r}" for line in bad]
        counts.update(path_of(r.get("url", "")) for r in records)
        failed += [f"{m.name}: {r.get('url')} status {r.get('status')} error {r.get('error')!r}"
                   for r in records if r.get("status") != 200 or r.get("error")]
    expected = set(site)
    missing = sorted(expected - set(counts))
    duplicated = {p: c for p, c in counts.items() if c > 1}
    extra = sorted(set(counts) - expected)
    return missing, duplicated, extra, failed, per_machine, broken


def check_frontier(url, crawl_id, session_timeout, work, pages):
    """Problems with ``frontier check`` and ``frontier status`` (empty: none), and the status."""
    problems = []
    rc, out, err = frontier_cmd("check", url, crawl_id, session_timeout, work)
    if rc != 0:
        problems.append(f"frontier check exit {rc}: {(out + err).strip()[-1500:]}")
    rc, out, err = frontier_cmd("status", url, crawl_id, session_timeout, work)
    try:
        status = json.loads(out)
    except ValueError:
        return problems + [f"frontier status exit {rc}: {(out + err).strip()[-800:]}"], {}
    want = {"state": "finished", "pending": 0, "inflight": 0, "admitted": pages, "done": pages}
    wrong = {k: status.get(k) for k, v in want.items() if status.get(k) != v}
    if wrong:
        problems.append(f"frontier status: {wrong}, expected {want}")
    return problems, status


def git(*args):
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, timeout=30, check=False).stdout


def source_state():
    """The commit and a digest of the uncommitted changes under scrapepool/ (others edit it too)."""
    if not (ROOT / ".git").exists():
        return f"source: {ROOT}/scrapepool (not a git checkout)"
    diff = git("diff", "HEAD", "--", "scrapepool")
    changed = git("diff", "HEAD", "--name-only", "--", "scrapepool").decode().split()
    return (f"HEAD {git('rev-parse', '--short', 'HEAD').decode().strip()}, uncommitted in scrapepool/: "
            f"{', '.join(changed) or 'none'} (diff sha1 {hashlib.sha1(diff).hexdigest()[:12]})")


def keep_evidence(work, evidence, seed):
    dest = Path(evidence) / f"distributed-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(work, dest, symlinks=True, ignore_dangling_symlinks=True)
    (dest / "scrapepool.diff").write_bytes(git("diff", "HEAD", "--", "scrapepool"))  # the code that ran
    return dest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--delay", type=float, default=0.1, help="seconds each answer takes")
    ap.add_argument("--machines", type=int, default=3)
    ap.add_argument("--kills", type=int, default=12, help="SIGKILLs, of a machine or of Redis")
    ap.add_argument("--freezes", type=int, default=2, help="SIGSTOPs of a machine past its session timeout")
    ap.add_argument("--workers", type=int, default=1, help="-w of each machine")
    ap.add_argument("--concurrency", type=int, default=4, help="-c of each machine")
    ap.add_argument("--session-timeout", type=float, default=3.0)
    ap.add_argument("--min-gap", type=float, default=0.3, help="shortest time between two faults (s)")
    ap.add_argument("--max-gap", type=float, default=3.0, help="longest time between two faults (s)")
    ap.add_argument("--join-wait", type=float, default=10.0,
                    help="longest wait for every running machine to have joined before a Redis kill (s)")
    ap.add_argument("--finish-timeout", type=float, default=120, help="bound on the end after the last fault (s)")
    ap.add_argument("--timeout", type=float, default=900, help="bound on the whole run (s)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--strict", action="store_true", help="a refused start (exit 2, one line) is a failure")
    ap.add_argument("--evidence", default="/work/torture-evidence", help="where a failed run's directory is kept")
    ap.add_argument("--keep", action="store_true", help="keep the run's directory even when all holds")
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(1_000_000)
    rnd = random.Random(args.seed)
    started = time.monotonic()
    deadline = started + args.timeout
    site = site_pages(args.pages, args.delay)
    work = Path(tempfile.mkdtemp(prefix="scrapepool-torture-distributed-"))
    log = Log(work / "events.log")
    crawl_id = f"torture-{args.seed}-{os.getpid()}"
    log(f"seed {args.seed}, argv {sys.argv[1:]}, directory {work}")
    log(source_state())
    server = RedisServer(work / "redis")
    machines = []
    failures = []
    try:
        server.start()
        frontier = Frontier(server, crawl_id)
        with SiteServer(site) as web:
            seeds = work / "seeds.txt"
            seeds.write_text(web.url + "/\n", encoding="utf-8")
            for i in range(args.machines):
                name = f"m{i}"
                command = [sys.executable, "-m", "scrapepool", "crawl", str(seeds), "--frontier", server.url,
                           "--crawl-id", crawl_id, "--machine-id", name, "-o", f"{name}.jsonl",
                           "--job-dir", f"job-{name}", "--no-robots", "-w", str(args.workers),
                           "-c", str(args.concurrency), "--session-timeout", str(args.session_timeout)]
                machines.append(Machine(work, name, command))
            log(f"site {web.url}: {len(site)} pages, {args.delay * 1000:.0f} ms each; redis {server.url} "
                f"(pid {server.pid}); command: {' '.join(machines[0].command)}")
            for m in machines:
                m.start()
            # Each kill's victim: Redis or one of the machines, alike (the machine is drawn when it
            # falls due, among those running).
            plan = ["redis" if rnd.randrange(args.machines + 1) == 0 else "machine" for _ in range(args.kills)]
            plan += ["freeze"] * args.freezes
            rnd.shuffle(plan)
            torture = Torture(args, rnd, machines, server, frontier, log)
            torture.run(plan, deadline)
            failures += torture.failures
            with web._lock:
                requests = Counter(p for _, p in web.requests if p != "/robots.txt")
            with open(work / "requests.txt", "w", encoding="utf-8") as f:  # the server's log, for evidence
                f.writelines(f"{c} {p}\n" for p, c in requests.most_common())
        wall = time.monotonic() - started
        missing, duplicated, extra, failed, per_machine, broken = check_outputs(machines, site)
        refetched = sum(c - 1 for c in requests.values() if c > 1)
        never = sorted(set(site) - set(requests))
        problems, _ = check_frontier(server.url, crawl_id, args.session_timeout, work, len(site))
        failures += problems
        tracebacks = [f"{m.name} run {i}" for m in machines for i in range(len(m.runs))
                      if "Traceback" in m.stderr(i)]
        if tracebacks:
            failures.append("Traceback on the stderr of " + ", ".join(tracebacks))
        if broken:
            failures.append(f"{len(broken)} output lines are not JSON: {broken[:3]}")
        if missing or duplicated or extra:
            failures.append(f"{len(missing)} missing {missing[:10]}, {len(duplicated)} duplicated "
                            f"{dict(list(duplicated.items())[:10])}, {len(extra)} extra {extra[:10]}")
        bound = sum(torture.bound.values())
        if failed:
            failures.append(f"{len(failed)} error records (pages given up): {failed[:5]}")
        if refetched > bound:
            failures.append(f"re-fetched {refetched} > bound {bound}: "
                            f"{[(p, c) for p, c in requests.most_common(10) if c > 1]}")
        c = torture.counts
        runs = {m.name: [r["how"] for r in m.runs] for m in machines}
        log(f"runs: {runs}")
        log(f"records per machine {per_machine}; pages never requested {len(never)}")
        log(f"pages {len(site)}, machines {args.machines}, faults: machine kills {c['machine-kill']}, "
            f"redis kills {c['redis-kill']}, freezes {c['freeze']}, not struck {c['skipped']}; restarts "
            f"{c['restart']}, refused (busy {c['refused-busy']}, redis down {c['refused-redis-down']}): "
            f"missing {len(missing)}, duplicated {len(duplicated)}, extra {len(extra)}, error records {len(failed)}, "
            f"re-fetched {refetched} (bound {bound}: {dict(torture.bound)}), wall {wall:.1f}s")
    except Exception as exc:
        failures.append(f"the script failed: {exc!r}")
        raise
    finally:
        for m in machines:
            m.cleanup()
        server.stop()
        for line in failures:
            log(f"FAILURE: {line}")
        log.file.close()
        if failures:
            print(f"evidence kept in {keep_evidence(work, args.evidence, args.seed)}", flush=True)
        elif args.keep:
            print(f"kept: {work}", flush=True)
        if failures or not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("OK" if not failures else f"FAILED ({len(failures)})", flush=True)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
