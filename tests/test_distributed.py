"""One crawl shared by several machines through a Redis frontier (issue 14), for real.

A "machine" is a whole ``python -m scrapepool crawl ... --frontier redis://...`` process group
(coordinator, fetcher, writer), started in its own session so that a test can kill -9 or
SIGSTOP all of it at once. The Redis is a real ``redis-server`` (tests/redis_server.py: AOF on,
``appendfsync always``), shared by the tests of this run: each crawl has its own ``--crawl-id``.
The site is the project's SiteServer; its request log tells which pages were fetched and how
often, and ``Stamps`` gives the server-side start time of every request.

What every test checks in the end: the union of the machines' output files holds each page's
record exactly once (no page missing, none twice), every machine ended by itself with status 0,
and ``scrapepool frontier check`` agrees with ``frontier status`` (state ``finished``).

Every wait has a deadline (``wait_until`` polls with a short pause); the one fixed wait is
holding a machine frozen past its session timeout, done with ``threading.Event().wait``.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from scrapepool.settings import POISON_LIMIT
from scrapepool.testing.testserver import Page, SiteServer
from tests.conftest import _env, one_line
from tests.process_groups import kill_process_group
from tests.real_world_sites import LoginSite
from tests.redis_server import (RedisServer, free_port, new_crawl_id, redis_server,  # noqa: F401
                                requires_redis, start_redis)
from tests.web_sites import Stamps

ROOT = Path(__file__).resolve().parents[1]

#: --session-timeout of every machine: short, so a dead machine's pages come back fast.
SESSION_TIMEOUT = 2
#: Longest a machine may take to end by itself (any test's crawl takes a few seconds).
MACHINE_WAIT = 60
#: Longest wait for a condition in the middle of a crawl.
CONDITION_WAIT = 30

pytestmark = [pytest.mark.timeout(120), requires_redis]


# -- the site ---------------------------------------------------------------------------------------

def page_path(i):
    return "/" if i == 0 else f"/p/{i}.html"


def tree_site(n, delay=0.0, cross=True):
    """``n`` small pages, all reachable from "/": page i links to its children 3i+1..3i+3, to its
    parent and to home, and (``cross``) to page (7i+3) mod n, so that the machines discover the
    same URLs many times over. ``delay``: seconds each answer takes (a crawl that lasts).

    Without ``cross`` it is a tree plus links back up, so every page has one depth (its depth in
    the tree) whatever the crawl order.
    """
    site = {}
    for i in range(n):
        targets = [j for j in (3 * i + 1, 3 * i + 2, 3 * i + 3) if j < n]
        targets += [(i - 1) // 3 if i else 0, 0]
        if cross:
            targets.append((7 * i + 3) % n)
        links = "".join(f'<a href="{page_path(j)}">page {j}</a>\n' for j in dict.fromkeys(targets) if j != i)
        body = f"<html><head><title>Page {i}</title></head><body>\n{links}</body></html>"
        site[page_path(i)] = Page(body, delay=delay)
    return site


def tree_depth(i):
    depth = 0
    while i:
        i = (i - 1) // 3
        depth += 1
    return depth


@pytest.fixture
def serve():
    """``serve(site)`` -> a started SiteServer, stopped after the test."""
    started = []

    def start(site):
        server = SiteServer(site).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def seeds_file(tmp_path, *urls, name="seeds.txt"):
    path = tmp_path / name
    path.write_text("".join(u + "\n" for u in urls), encoding="utf-8")
    return path


def path_of(url):
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def page_requests(server):
    """Paths the server was asked for (robots.txt left out: the machines run --no-robots anyway)."""
    with server._lock:
        return [p for _, p in server.requests if p != "/robots.txt"]


# -- machines ---------------------------------------------------------------------------------------

def wait_until(condition, what, timeout=CONDITION_WAIT, every=0.05):
    """Poll ``condition`` every ``every`` s until it holds; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: a bounded pause between two polls
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        pause.wait(every)


class Machine:
    """One machine of a shared crawl: ``scrapepool crawl`` in its own process group, in ``cwd``.

    ``start()`` may be called again once it ended (the same command, rerun); each run's stdout
    and stderr go to ``<name>.<run>.out|err`` in ``cwd``.
    """

    def __init__(self, cwd, name, seeds, frontier, crawl_id, *extra, session_timeout=SESSION_TIMEOUT,
                 robots=False, workers=1, concurrency=4):
        self.cwd = Path(cwd)
        self.name = name
        self.output = self.cwd / f"{name}.jsonl"
        self.args = ["crawl", str(seeds), "--frontier", frontier, "--crawl-id", crawl_id,
                     "--machine-id", name, "-o", self.output.name, "--job-dir", f"job-{name}",
                     "-w", str(workers), "-c", str(concurrency), "--session-timeout", str(session_timeout)]
        if not robots:
            self.args.append("--no-robots")
        self.args += [str(a) for a in extra]
        self.runs = []  # (Popen, psutil create time) of every start
        self.proc = None

    @property
    def command(self):
        return [sys.executable, "-m", "scrapepool", *self.args]

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        run = len(self.runs)
        with open(self.cwd / f"{self.name}.{run}.out", "wb") as out, \
                open(self.cwd / f"{self.name}.{run}.err", "wb") as err:
            self.proc = subprocess.Popen(self.command, cwd=str(self.cwd), env=_env(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, start_new_session=True)
        try:
            created = psutil.Process(self.proc.pid).create_time()
        except psutil.NoSuchProcess:
            created = time.time() - 1
        self.runs.append((self.proc, created))
        return self

    @property
    def pgid(self):
        return self.proc.pid  # start_new_session: the leader's pid is the group's id

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=MACHINE_WAIT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} did not end within {timeout} s; stderr: {self.stderr()[-2000:]}")

    def signal_group(self, sig):
        os.killpg(self.pgid, sig)

    def stderr(self, run=-1):
        run = run % len(self.runs)
        return (self.cwd / f"{self.name}.{run}.err").read_text(errors="replace")

    def lines(self):
        """Complete lines in the output so far (the file may end in a half-written one)."""
        try:
            return self.output.read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    def records(self):
        if not self.output.exists():
            return []
        with open(self.output, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def cleanup(self):
        """SIGKILL whatever is left of every run's process group (only processes started by it)."""
        for proc, created in self.runs:
            kill_process_group(proc, created)


@pytest.fixture
def cluster(tmp_path, redis_server):
    """``cluster.machine(name, seeds, crawl_id, *extra, ...)`` -> a Machine (not started); every
    machine's process groups are SIGKILLed after the test, whatever happened."""

    class Cluster:
        def __init__(self):
            self.machines = []

        def machine(self, name, seeds, crawl_id, *extra, frontier=None, **kw):
            m = Machine(tmp_path, name, seeds, frontier or redis_server.url, crawl_id, *extra, **kw)
            self.machines.append(m)
            return m

        def start(self, count, seeds, crawl_id, *extra, **kw):
            machines = [self.machine(f"m{i}", seeds, crawl_id, *extra, **kw) for i in range(count)]
            for m in machines:
                m.start()
            return machines

    c = Cluster()
    try:
        yield c
    finally:
        for m in c.machines:
            m.cleanup()


def finish_all(machines, timeout=MACHINE_WAIT):
    """Wait for every machine to end by itself; all must exit 0."""
    deadline = time.monotonic() + timeout
    codes = {m.name: m.wait(max(1.0, deadline - time.monotonic())) for m in machines}
    bad = {name: rc for name, rc in codes.items() if rc != 0}
    assert not bad, "machines failed: " + "; ".join(
        f"{m.name} exit {m.proc.returncode}: {m.stderr()[-1500:]}" for m in machines if m.name in bad)


def union(machines, expected):
    """Assert the machines' outputs together hold each path of ``expected`` exactly once."""
    counts = Counter()
    per_machine = {}
    for m in machines:
        records = m.records()
        per_machine[m.name] = len(records)
        counts.update(path_of(r["url"]) for r in records)
    expected = set(expected)
    missing = sorted(expected - set(counts))
    twice = {p: c for p, c in counts.items() if c > 1}
    extra = sorted(set(counts) - expected)
    assert not missing and not twice and not extra, (
        f"{len(missing)} missing {missing[:10]}, {len(twice)} duplicated {dict(list(twice.items())[:10])}, "
        f"{len(extra)} unexpected {extra[:10]}; records per machine {per_machine}")
    return per_machine


# -- the frontier commands --------------------------------------------------------------------------

def frontier_cmd(command, url, crawl_id, cwd, timeout=30):
    proc = subprocess.run([sys.executable, "-m", "scrapepool", "frontier", command, "--frontier", url,
                           "--crawl-id", crawl_id], cwd=str(cwd), env=_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def status_of(url, crawl_id, cwd):
    rc, out, err = frontier_cmd("status", url, crawl_id, cwd)
    assert rc == 0, f"frontier status exit {rc}: {err}"
    try:
        return json.loads(out)
    except ValueError:
        pytest.fail(f"frontier status did not print one JSON object: {out!r}")


def assert_finished_and_consistent(url, crawl_id, cwd, pages=None):
    """``frontier check`` passes and ``frontier status`` says finished, nothing pending or held."""
    rc, out, err = frontier_cmd("check", url, crawl_id, cwd)
    assert rc == 0, f"frontier check exit {rc}: {out}{err}"
    status = status_of(url, crawl_id, cwd)
    assert status.get("state") == "finished", status
    assert status.get("pending") == 0 and status.get("inflight") == 0, status
    assert status.get("admitted") == status.get("done"), status
    if pages is not None:
        assert status.get("done") == pages, status
    return status


def crawl_keys(server, crawl_id):
    """The crawl's keys in ``server`` (a RedisServer), by SCAN."""
    client = server.client()
    try:
        return [k.decode() for k in client.scan_iter(match=f"sp:{{{crawl_id}}}:*", count=1000)]
    finally:
        client.close()



# -- sharing a crawl --------------------------------------------------------------------------------

N = 240  # pages of the shared-crawl site
DELAY = 0.05  # seconds each answer takes: one machine alone (-c 4) needs ~3 s for the site


def test_three_machines_share_a_crawl_exactly_once(tmp_path, serve, cluster, redis_server):
    site = tree_site(N, delay=DELAY)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("share")
    machines = cluster.start(3, seeds, cid)
    finish_all(machines)
    per_machine = union(machines, site)
    assert all(n > 0 for n in per_machine.values()), f"a machine did no work: {per_machine}"
    requests = Counter(page_requests(server))
    assert set(requests) == set(site)
    fetched_twice = {p: c for p, c in requests.items() if c > 1}
    assert not fetched_twice, f"fetched more than once without any fault: {fetched_twice}"
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=N)


def test_a_killed_machine_is_replaced_then_rejoins(tmp_path, serve, cluster, redis_server):
    site = tree_site(N, delay=DELAY)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("kill9")
    machines = cluster.start(3, seeds, cid)
    victim = machines[1]
    wait_until(lambda: victim.lines() >= 3 or not victim.running(), "the victim's first records")
    assert victim.running(), f"{victim.name} ended before the kill: {victim.stderr()[-1500:]}"
    done_before = sum(m.lines() for m in machines)
    assert done_before < N, "the crawl was over before the kill: make the site slower"
    victim.signal_group(signal.SIGKILL)
    assert victim.wait(10) == -signal.SIGKILL
    finish_all([m for m in machines if m is not victim])
    # The same command again: it cuts its uncommitted tail, sees the crawl finished, exits 0.
    victim.start()
    finish_all(machines)
    union(machines, site)
    assert set(page_requests(server)) == set(site)
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=N)


def test_a_frozen_machine_is_fenced_then_rejoins(tmp_path, serve, cluster, redis_server):
    site = tree_site(N, delay=DELAY)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("sigstop")
    machines = cluster.start(3, seeds, cid)
    victim = machines[2]
    others = [m for m in machines if m is not victim]
    wait_until(lambda: victim.lines() >= 3 or not victim.running(), "the victim's first records")
    assert victim.running(), f"{victim.name} ended before the freeze: {victim.stderr()[-1500:]}"
    assert sum(m.lines() for m in machines) < N, "the crawl was over before the freeze: make the site slower"
    victim.signal_group(signal.SIGSTOP)
    try:
        frozen_at = time.monotonic()
        before = sum(m.lines() for m in others)
        # The others go on while it is frozen (progress, or the end of the crawl's work)...
        wait_until(lambda: sum(m.lines() for m in others) > before or not all(m.running() for m in others),
                   "the other machines' progress while one is frozen")
        # ...and it stays frozen past its session timeout (the one wait that must last).
        left = SESSION_TIMEOUT + 2 - (time.monotonic() - frozen_at)
        if left > 0:
            threading.Event().wait(left)
    finally:
        victim.signal_group(signal.SIGCONT)
    finish_all(machines)
    union(machines, site)
    assert set(page_requests(server)) == set(site)
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=N)


def test_max_pages_is_exact_across_machines(tmp_path, serve, cluster, redis_server):
    site = tree_site(N, delay=0.1)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("maxpages")
    machines = cluster.start(3, seeds, cid, "--max-pages", 50)
    finish_all(machines)
    records = [r for m in machines for r in m.records()]
    paths = Counter(path_of(r["url"]) for r in records)
    assert len(records) == 50, f"{len(records)} records, per machine {[m.lines() for m in machines]}"
    assert len(paths) == 50 and set(paths) <= set(site)
    requests = page_requests(server)
    assert len(requests) == 50 and len(set(requests)) == 50, Counter(requests).most_common(5)
    assert_finished_and_consistent(redis_server.url, cid, tmp_path)


def test_max_depth_gives_the_records_and_depths_of_a_local_crawl(tmp_path, serve, cluster, redis_server):
    site = tree_site(121, delay=0.02, cross=False)  # a tree: every page has one depth
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    local = subprocess.run([sys.executable, "-m", "scrapepool", "crawl", str(seeds), "-o", "local.jsonl",
                            "-w", "1", "-c", "4", "--no-robots", "--max-depth", "3", "-q"],
                           cwd=str(tmp_path), env=_env(), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=MACHINE_WAIT)
    assert local.returncode == 0, local.stderr
    with open(tmp_path / "local.jsonl", encoding="utf-8") as f:
        local_depths = {path_of(r["url"]): r["depth"] for r in map(json.loads, f)}
    expected = {page_path(i): tree_depth(i) for i in range(121) if tree_depth(i) <= 3}
    assert local_depths == expected  # the local crawl is the reference: check the reference
    cid = new_crawl_id("maxdepth")
    machines = cluster.start(3, seeds, cid, "--max-depth", 3)
    finish_all(machines)
    union(machines, expected)
    shared_depths = {path_of(r["url"]): r["depth"] for m in machines for r in m.records()}
    assert shared_depths == local_depths
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=len(expected))


# -- politeness across machines ---------------------------------------------------------------------

def test_delay_holds_across_machines(tmp_path, serve, cluster, redis_server):
    stamps = Stamps()
    site = tree_site(15)
    server = serve(stamps.wrap(site))
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("delay")
    machines = cluster.start(3, seeds, cid, "--delay", 0.2)
    finish_all(machines)
    per_machine = union(machines, site)
    assert len(stamps.times()) == 15
    gaps = stamps.gaps()
    assert min(gaps) >= 0.2 - 0.05, f"server-side gaps between requests: {sorted(gaps)[:5]}"
    busy = [name for name, n in per_machine.items() if n]
    assert len(busy) >= 2, f"one machine did the whole crawl, the delay was not shared: {per_machine}"
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=15)


def test_concurrency_per_host_holds_across_machines(tmp_path, serve, cluster, redis_server):
    stamps = Stamps(hold=0.05)  # each answer takes 50 ms: requests overlap unless held back
    site = tree_site(40)
    server = serve(stamps.wrap(site))
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("per-host")
    machines = cluster.start(3, seeds, cid, "--concurrency-per-host", 2)
    finish_all(machines)
    per_machine = union(machines, site)
    assert stamps.max_inflight == 2, f"{stamps.max_inflight} requests in flight at once to the host"
    # Which machines did the work is not asserted: a machine that frees a slot of the host
    # leases it again in its next call, before the others poll (no turn-taking among machines
    # yet: with one host and a limit, one machine often does the whole crawl). The limit held
    # for the three machines competing for the host's slots all along.
    assert sum(per_machine.values()) == 40
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=40)


def test_robots_txt_is_fetched_once_and_its_crawl_delay_obeyed_by_all(tmp_path, serve, cluster, redis_server):
    stamps = Stamps()
    site = tree_site(12)
    # /p/5.html is linked from page 1: robots.txt disallows it.
    robots = Page("User-agent: *\nCrawl-delay: 0.2\nDisallow: /p/5.html\n", content_type="text/plain")
    server = serve(stamps.wrap({**site, "/robots.txt": robots}))
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("robots")
    machines = cluster.start(3, seeds, cid, robots=True)
    finish_all(machines)
    allowed = set(site) - {"/p/5.html"}
    union(machines, allowed)
    assert server.count("/robots.txt") == 1, f"robots.txt fetched {server.count('/robots.txt')} times"
    assert server.count("/p/5.html") == 0, "a disallowed page was fetched"
    gaps = stamps.gaps(skip_robots=True)
    assert min(gaps) >= 0.2 - 0.05, f"server-side gaps between page requests: {sorted(gaps)[:5]}"
    assert_finished_and_consistent(redis_server.url, cid, tmp_path)


def test_a_login_on_one_machine_reaches_the_pages_of_all(tmp_path, serve, cluster, redis_server):
    """The CSRF login of tests/test_cookies.py, shared: one machine logs in (its session cookie
    goes to Redis with the outcome), and every machine's requests for the protected pages carry
    it (without it they answer 403)."""
    login = LoginSite(pages=40, delay=0.05)
    server = serve(login.site)
    seeds = seeds_file(tmp_path, server.url + "/login")
    cid = new_crawl_id("cookies")
    machines = cluster.start(3, seeds, cid, "-s", "tests.real_world_spiders:CookieLoginSpider")
    finish_all(machines)
    records = {m.name: m.records() for m in machines}
    every = [r for rs in records.values() for r in rs]
    assert [r["user"] for r in every if r["kind"] == "account"] == ["alice"]
    private = Counter(r["path"] for r in every if r["kind"] == "private")
    assert sorted(private) == sorted(f"private/{i}" for i in range(1, 41)) and set(private.values()) == {1}
    assert {r["owner"] for r in every if r["kind"] == "private"} == {"alice"}
    assert [r for r in every if r["kind"] == "error"] == []
    working = [name for name, rs in records.items() if any(r["kind"] == "private" for r in rs)]
    assert len(working) >= 2, f"the protected pages were all read by {working}: nothing was shared"
    assert len(login.posts()) == 1
    assert_finished_and_consistent(redis_server.url, cid, tmp_path)


def test_a_page_that_kills_its_machine_is_given_up_after_poison_limit_deaths(
        tmp_path, serve, cluster, redis_server):
    """A page whose parsing SIGKILLs the whole machine: each machine that takes it dies (its
    session is reaped, or the machine's rerun finds it). A death with several requests open
    makes them suspects, each then tried alone; a death with one open is that page's fault.
    After ``poison_limit`` such deaths the next machine records it as an error instead of
    fetching it again, and no innocent page beside it is given up. Dead machines are rerun
    (the same command), as an operator or a supervisor would."""
    site = tree_site(30, delay=0.02)
    site["/poison"] = Page("<html><body>boom</body></html>")
    site["/"] = Page(site["/"].body.replace("</body>", '<a href="/poison">x</a></body>'))
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("poison")
    machines = cluster.start(2, seeds, cid, "-s", "tests.fault_spiders:KillsItsMachine")
    deaths = 0
    deadline = time.monotonic() + MACHINE_WAIT
    pause = threading.Event()  # never set: a bounded pause between two polls
    while any(m.running() or m.proc.returncode != 0 for m in machines):
        assert time.monotonic() < deadline, f"not over after {deaths} deaths"
        for m in machines:
            rc = None if m.running() else m.proc.returncode
            if rc == -signal.SIGKILL:
                deaths += 1
                assert deaths <= POISON_LIMIT + 1, f"{deaths} machine deaths: the page was not given up"
                m.start()
            elif rc not in (None, 0):
                pytest.fail(f"{m.name} exit {rc}: {m.stderr()[-1500:]}")
        pause.wait(0.05)
    # One death with the poison page among others (at most), then POISON_LIMIT with it alone.
    assert deaths in (POISON_LIMIT, POISON_LIMIT + 1)
    union(machines, site)
    errors = {path_of(r["url"]): r["error"] for m in machines for r in m.records() if r["error"]}
    assert list(errors) == ["/poison"] and "died" in errors["/poison"], errors
    assert server.count("/poison") == deaths
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=len(site))


# -- faults of the Redis ----------------------------------------------------------------------------

def test_redis_killed_and_restarted_on_its_aof_mid_crawl(tmp_path, serve, cluster, redis_server):
    site = tree_site(N, delay=DELAY)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("redis-kill9")
    machines = cluster.start(3, seeds, cid)
    wait_until(lambda: sum(m.lines() for m in machines) >= 40 or not all(m.running() for m in machines),
               "40 records written")
    assert all(m.running() for m in machines), "a machine ended before Redis was killed"
    assert sum(m.lines() for m in machines) < N, "the crawl was over before Redis was killed"
    old_pid = redis_server.pid
    redis_server.restart(kill=True)  # SIGKILL, then the same dir (its AOF) and port
    assert redis_server.pid != old_pid
    finish_all(machines)
    union(machines, site)
    assert set(page_requests(server)) == set(site)
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=N)


def stderr_says(machine, text):
    return text in machine.stderr()


def test_redis_down_for_a_while_the_machines_wait_then_go_on(tmp_path, serve, cluster, redis_server):
    """Redis killed and kept down past redis-py's own retries (~5 s): every machine notes the
    outage, holds what it has (no crash, no new work), and goes on once Redis is back on its AOF.
    All machines were alive the whole time, so none is reaped: no page is fetched twice."""
    site = tree_site(N, delay=DELAY)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("redis-down")
    machines = cluster.start(2, seeds, cid, session_timeout=4)
    wait_until(lambda: sum(m.lines() for m in machines) >= 30 or not all(m.running() for m in machines),
               "30 records written")
    assert all(m.running() for m in machines), "a machine ended before Redis went down"
    redis_server.kill()
    try:
        wait_until(lambda: all(stderr_says(m, "Redis unreachable") for m in machines),
                   "every machine noting the outage", timeout=40)
        assert all(m.running() for m in machines), [m.stderr()[-800:] for m in machines]
    finally:
        redis_server.start()  # the same directory and port: its AOF
    finish_all(machines)
    union(machines, site)
    for m in machines:
        assert "Redis is back" in m.stderr() and "Traceback" not in m.stderr(), m.stderr()[-2000:]
    fetched_twice = {p: c for p, c in Counter(page_requests(server)).items() if c > 1}
    assert not fetched_twice, f"a machine was reaped though it was alive: {fetched_twice}"
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=N)


def test_redis_frozen_past_the_session_timeout_reaps_nobody(tmp_path, serve, cluster, redis_server):
    """A Redis that stops answering (SIGSTOP) longer than the session timeout: when it answers
    again, the machines' heartbeats are all old, but it was Redis that was silent, not them:
    nobody is reaped, nothing is fetched twice, the crawl ends exactly-once."""
    site = tree_site(N, delay=DELAY)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("redis-frozen")
    machines = cluster.start(2, seeds, cid)
    # Frozen as soon as both joined, before their first heartbeat (1 s): Redis must know it
    # was silent from the joins alone.
    wait_until(lambda: all(stderr_says(m, "joined crawl") for m in machines) or not all(m.running() for m in machines),
               "both machines joined")
    assert all(m.running() for m in machines), "a machine ended before Redis was frozen"
    os.kill(redis_server.pid, signal.SIGSTOP)
    try:
        threading.Event().wait(SESSION_TIMEOUT * 3)  # the freeze itself: the one wait that must last
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    finish_all(machines)
    union(machines, site)
    for m in machines:
        assert "Traceback" not in m.stderr(), m.stderr()[-2000:]
    fetched_twice = {p: c for p, c in Counter(page_requests(server)).items() if c > 1}
    assert not fetched_twice, f"a machine was reaped though only Redis was silent: {fetched_twice}"
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=N)


def test_a_redis_that_lost_the_crawl_stops_every_machine_never_starts_over(tmp_path, serve, cluster, redis_server):
    site = tree_site(N, delay=DELAY)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("lost")
    machines = cluster.start(3, seeds, cid)
    wait_until(lambda: sum(m.lines() for m in machines) >= 40 or not all(m.running() for m in machines),
               "40 records written")
    assert all(m.running() for m in machines), "a machine ended before Redis lost the crawl"
    port = redis_server.port
    redis_server.kill()
    empty = RedisServer(tmp_path / "empty-redis", port=port)  # the same address, without the AOF
    try:
        empty.start()
        deadline = time.monotonic() + MACHINE_WAIT
        codes = {m.name: m.wait(max(1.0, deadline - time.monotonic())) for m in machines}
        assert all(rc not in (0, None) for rc in codes.values()), f"exit statuses {codes}"
        for m in machines:
            err = m.stderr()
            assert "Traceback" not in err, err[-3000:]
            assert cid in err.strip().splitlines()[-1], f"{m.name}'s last line: {err[-500:]!r}"
        assert server.count("/") == 1, "the crawl started over from its seeds"
        assert not crawl_keys(empty, cid), "the crawl was made again in the empty Redis"
        # Each page at most once in the outputs, even though the crawl could not finish.
        twice = {p: c for p, c in Counter(path_of(r["url"]) for m in machines for r in m.records()).items()
                 if c > 1}
        assert not twice, twice
        # The same command again, against the Redis that lost the crawl: refused, not started over.
        again = machines[0]
        again.start()
        rc = again.wait()
        assert rc not in (0, None), f"a rerun after the loss exited {rc}: {again.stderr()[-1500:]}"
        assert "Traceback" not in again.stderr()
        assert server.count("/") == 1, "a rerun started the crawl over from its seeds"
    finally:
        empty.stop()
        redis_server.start()  # back on its own AOF, for the other tests


# -- identity, usage errors, frontier commands ------------------------------------------------------

def test_a_machine_with_other_crawl_settings_is_refused(tmp_path, serve, cluster, redis_server):
    site = tree_site(30, delay=0.12)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    other_seeds = seeds_file(tmp_path, server.url + "/p/1.html", name="other-seeds.txt")
    cid = new_crawl_id("mismatch")
    first = cluster.machine("m0", seeds, cid, "--max-depth", 5, concurrency=1).start()
    wait_until(lambda: first.lines() >= 1 or not first.running(), "the first machine's first record")
    assert first.running(), f"the first machine ended early: {first.stderr()[-1500:]}"
    differing = {
        "max-depth": cluster.machine("depth", seeds, cid, "--max-depth", 4),
        "max-pages": cluster.machine("pages", seeds, cid, "--max-depth", 5, "--max-pages", 10),
        "delay": cluster.machine("delay", seeds, cid, "--max-depth", 5, "--delay", 0.1),
        "robots": cluster.machine("robots", seeds, cid, "--max-depth", 5, robots=True),
        "seeds": cluster.machine("seeds", other_seeds, cid, "--max-depth", 5),
        "spider": cluster.machine("spider", seeds, cid, "--max-depth", 5, "-s", "tests.spiders:TwoCallbacks"),
        "domains": cluster.machine("domains", seeds, cid, "--max-depth", 5, "--allow-domain", "example.com"),
    }
    # Fetch-only settings may differ per machine.
    fetch_only = cluster.machine("fetch-only", seeds, cid, "--max-depth", 5, "--timeout", 10,
                                 concurrency=1, workers=1)
    for m in [*differing.values(), fetch_only]:
        m.start()
    problems = []
    for setting, m in differing.items():
        rc = m.wait()
        err = m.stderr()
        lines = err.strip().splitlines()
        if rc != 2 or len(lines) != 1 or "Traceback" in err:
            problems.append(f"different {setting}: exit {rc}, stderr {err[-800:]!r}")
        elif setting not in lines[0].replace("_", "-"):
            problems.append(f"different {setting}: the line does not name it: {lines[0]!r}")
        elif m.records():
            problems.append(f"different {setting}: wrote {len(m.records())} records")
    assert not problems, "\n".join(problems)
    finish_all([first, fetch_only])
    union([first, fetch_only], site)
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=30)


def test_a_redis_without_aof_is_refused_unless_volatile(tmp_path, serve, cluster):
    site = tree_site(20)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    volatile = start_redis(tmp_path / "volatile-redis", aof=False)
    try:
        cid = new_crawl_id("no-aof")
        refused = cluster.machine("refused", seeds, cid, frontier=volatile.url).start()
        assert refused.wait() == 2
        line = one_line(refused.stderr())
        assert any(word in line.lower() for word in ("aof", "appendonly", "persist")), line
        assert not refused.records()
        assert not crawl_keys(volatile, cid), "a refused machine left keys behind"
        allowed = cluster.machine("allowed", seeds, cid, "--frontier-volatile", frontier=volatile.url).start()
        finish_all([allowed])
        union([allowed], site)
        assert_finished_and_consistent(volatile.url, cid, tmp_path, pages=20)
    finally:
        volatile.stop()


def test_a_redis_that_does_not_fsync_every_write_is_warned_of(tmp_path, serve, cluster):
    site = tree_site(10)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    everysec = RedisServer(tmp_path / "everysec-redis", appendfsync="everysec")
    try:
        everysec.start()
        machine = cluster.machine("m0", seeds, new_crawl_id("everysec"), frontier=everysec.url).start()
        finish_all([machine])
        union([machine], site)
        warnings = [line for line in machine.stderr().splitlines() if "appendfsync everysec" in line]
        assert len(warnings) == 1 and "twice" in warnings[0], machine.stderr()
    finally:
        everysec.stop()


def run_crawl_cli(tmp_path, *args, timeout=30):
    proc = subprocess.run([sys.executable, "-m", "scrapepool", "crawl", *map(str, args)], cwd=str(tmp_path),
                          env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("case", ["unreachable", "not-redis-url", "no-crawl-id"])
def test_bad_frontier_arguments_exit_2_with_one_line(tmp_path, redis_server, case):
    seeds = seeds_file(tmp_path, "http://127.0.0.1:9/")  # never fetched: the crawl does not start
    common = ["--machine-id", "m0", "-o", "m0.jsonl", "--job-dir", "job-m0", "-w", "1", "--no-robots"]
    if case == "unreachable":
        args = ["--frontier", f"redis://127.0.0.1:{free_port()}/0", "--crawl-id", new_crawl_id("bad")]
    elif case == "not-redis-url":
        args = ["--frontier", f"http://127.0.0.1:{redis_server.port}/", "--crawl-id", new_crawl_id("bad")]
    else:
        args = ["--frontier", redis_server.url]
    rc, out, err = run_crawl_cli(tmp_path, seeds, *args, *common)
    assert rc == 2, (rc, out, err)
    line = one_line(err)
    if case == "no-crawl-id":
        assert "crawl-id" in line, line


def test_without_the_redis_extra_the_frontier_is_refused_in_one_line(tmp_path):
    """redis-py not importable (the ``redis`` extra not installed): exit 2, one line saying
    what to install. ``sys.modules["redis"] = None`` makes ``import redis`` fail as if absent."""
    seeds = seeds_file(tmp_path, "http://127.0.0.1:9/")
    code = ("import sys; sys.modules['redis'] = None; from scrapepool.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "crawl", str(seeds), "--frontier", "redis://127.0.0.1:9/0",
                           "--crawl-id", "x", "-o", "out.jsonl", "--no-robots"], cwd=str(tmp_path), env=_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "scrapepool[redis]" in one_line(proc.stderr)


def test_frontier_delete_is_refused_while_a_machine_is_alive_then_removes_every_key(
        tmp_path, serve, cluster, redis_server):
    site = tree_site(12, delay=0.15)
    server = serve(site)
    seeds = seeds_file(tmp_path, server.url + "/")
    cid = new_crawl_id("delete")
    machine = cluster.machine("m0", seeds, cid, concurrency=1).start()
    wait_until(lambda: machine.lines() >= 1 or not machine.running(), "the machine's first record")
    assert machine.running(), f"the machine ended early: {machine.stderr()[-1500:]}"
    rc, out, err = frontier_cmd("delete", redis_server.url, cid, tmp_path)
    assert rc == 1, (rc, out, err)
    one_line(err + out)
    assert crawl_keys(redis_server, cid), "delete was refused but the keys are gone"
    status = status_of(redis_server.url, cid, tmp_path)
    assert status.get("state") != "finished" and status.get("machines"), status
    finish_all([machine])
    union([machine], site)
    assert_finished_and_consistent(redis_server.url, cid, tmp_path, pages=12)
    rc, out, err = frontier_cmd("delete", redis_server.url, cid, tmp_path)
    assert rc == 0, (rc, out, err)
    assert crawl_keys(redis_server, cid) == []
