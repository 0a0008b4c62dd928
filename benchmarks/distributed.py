"""The cost of the Redis frontier: one crawl in local mode and on 1, 2 and 3 machines.

    .venv/bin/python benchmarks/distributed.py --reps 3          # the S1 site, ~4 min
    .venv/bin/python benchmarks/distributed.py --pages 500 --reps 1 --machines 1,2
    .venv/bin/python benchmarks/distributed.py --rev HEAD   # a commit's code, not the working tree

The site is the S1 scenario of the benchmark harness (../shared/bench: ``make_site.py``
builds 5,000 pages of ~24 KB, ``server.py`` serves them with nginx on 127.0.0.1:18080);
generated sites and scratch go to $BENCH_WORK (or --work). Each run crawls the whole
site with ``scrapepool crawl --no-robots`` on the same CPU budget: every process of the
run, redis-server included, is pinned (taskset) to the same CPUs (--cpus, default all
this process may use: 2 here), and the fetchers are split between the machines:

- local:       -w 2 -c 16, no Redis
- 1 machine:   -w 2 -c 16 --frontier ...
- N machines:  -w max(1, 2 // N) -c ceil(16 / N) each (2: -w 1 -c 8; 3: -w 1 -c 6), all at
               once, each its own process group, output, job dir and --machine-id. Three
               machines need three fetchers (one each, so two share a CPU); -c 6 keeps the
               machines alike. -c counts requests in flight per fetcher, so this split has
               16 (2 machines) and 18 (3) in flight against local's 32; --same-inflight gives
               every fetcher ceil(32 / fetchers) instead (2: -c 16; 3: -c 11).

Local mode runs without --job-dir, as users run it (--local-job-dir: with one, its output
fsynced per batch as the machines' is). Each distributed run gets a fresh redis-server
(own port and folder, --appendonly yes --appendfsync always as the tests, or
--appendfsync everysec) and a new --crawl-id; it is stopped by PID. The
configurations are interleaved (local, 1, 2, 3, local, 1, ...), since the machine drifts
10-20% from hour to hour. Per run:

- pages/s: distinct pages of the union of the outputs / wall time (first start to the
  last machine's exit). Every one of the site's URLs (its urls.txt) must be there exactly
  once: 0 missing, 0 duplicated, nothing else; a run that is not is reported failed.
- CPU ms/page: user+sys of every machine's process tree, from os.wait4 on each machine
  (the coordinator reaps its fetchers and writer, so their time is in its children's
  rusage), plus Redis's own (INFO cpu: used_cpu_user + used_cpu_sys, and _children).
  nginx's CPU is not in it (shown in the JSON lines as server_cpu_s). The JSON lines split
  Redis's CPU: redis_cpu_sys_s (system: sockets, AOF write and fsync) and redis_exec_s
  (time inside the commands the clients sent: the scripts, whole).
- Redis commands/page: every command Redis executed (INFO commandstats, Lua's calls
  included), this script's own INFO left out.
- round trips/page: commands sent by clients: EVALSHA + EVAL + every command the Lua
  scripts never call (INFO, CONFIG, CLIENT, SCRIPT ...). A command both the scripts and
  a client send (the writer's one HGET of its output offset at start) counts as Lua's: an
  undercount of a few per machine and run. Cross-check in the JSON lines: Redis's
  total_writes_processed (reply writes, about one per round trip).
- Redis bytes per URL seen: used_memory after the crawl minus before it, over the URLs
  in the seen set (the sum of SCARD of ``sp:{ID}:s:*``). It holds fixed costs too (the
  Lua VM and script cache, ~0.4 MB; the clients), so "keys only" divides the MEMORY USAGE
  of the crawl's keys instead; seen_b_per_url in the JSON lines is the seen set alone.
  (The seen set is 2**15 buckets: ~100 B per URL while they hold one URL each, ~9 B
  once they hold hundreds, past ~10M URLs: DISTRIBUTED.md section 7.)
- other / idle CPU: CPU time the whole machine spent beyond this run's processes (crawl,
  Redis, nginx, this script), in cores: foreign load (other crawls, tests) and kernel work
  charged to no process; and the CPU time left idle (idle + iowait), in cores.

At the end: a markdown table of medians (min-max) per configuration, 1 machine against
local mode (median of the ratios of each interleaved pair), and how many machines like
the 1-machine one a Redis core serves: 1 / (Redis CPU per page) pages/s, divided by the
1-machine pages/s. One JSON line per run on stdout (and appended to --json).
"""

import argparse
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import psutil
import redis
from w3lib.url import canonicalize_url

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_BENCH = os.path.join(os.path.dirname(ROOT), "shared", "bench")
WORKERS, CONCURRENCY = 2, 16  # local mode, and the whole budget split between machines
REDIS_START_TIMEOUT = 15.0
POLL = 0.05


# -- the site and its server --------------------------------------------------------------

def load_harness(bench):
    """The harness's make_site and server modules (../shared/bench)."""
    if not os.path.exists(os.path.join(bench, "make_site.py")):
        sys.exit(f"error: no benchmark harness in {bench} (--bench DIR)")
    sys.path.insert(0, bench)
    import make_site
    import server
    return make_site, server


def ensure_site(make_site, work, pages, page_kb):
    """The site's folder under work/sites (the harness's naming: reused by its run.py)."""
    folder = os.path.join(work, "sites", f"n{pages}_{page_kb:g}k")
    if not os.path.exists(os.path.join(folder, "site.json")):
        print(f"# generating {folder} ...", file=sys.stderr, flush=True)
        make_site.build(pages, 1, page_kb, folder)
    return folder


def expected_urls(folder, base):
    with open(os.path.join(folder, "urls.txt"), encoding="utf-8") as f:
        return {canonicalize_url(base + line.strip()) for line in f if line.strip()}


# -- redis-server -------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A fresh redis-server (AOF, fsync always) in its own folder, pinned; stopped by PID."""

    def __init__(self, folder, cpus, appendfsync="always"):
        self.folder = folder
        self.cpus = cpus
        self.appendfsync = appendfsync
        self.proc = None
        self.port = None

    def start(self):
        for _ in range(5):  # another process may take the port before redis-server binds it
            self.port = free_port()
            cmd = taskset(self.cpus) + [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.folder,
                "--daemonize", "no", "--save", "", "--logfile", "", "--protected-mode", "no",
                "--appendonly", "yes", "--appendfsync", self.appendfsync]
            with open(os.path.join(self.folder, "redis.log"), "ab") as log:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            if self._ready():
                return self
            self.stop()
        raise RuntimeError(f"redis-server did not start; see {self.folder}/redis.log")

    def _ready(self):
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        try:
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if client.info("server").get("process_id") == self.proc.pid:
                        return True
                except redis.RedisError:
                    pass
                time.sleep(POLL)
            return False
        finally:
            client.close()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        return redis.Redis(port=self.port, socket_timeout=10, socket_connect_timeout=5,
                           decode_responses=True)

    def stop(self, timeout=10):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)


def lua_commands():
    """The commands the frontier's Lua scripts call (lower case), in the code the machines run."""
    from scrapepool.redis_store import PRELUDE, SCRIPTS

    text = PRELUDE + "".join(SCRIPTS.values())
    return {c.lower() for c in re.findall(r"redis\.p?call\(\s*['\"]([A-Za-z]+)['\"]", text)}


def redis_counters(info, lua):
    """CPU s, commands, client commands, reply writes, used_memory, AOF size from INFO all."""
    stats = {k[len("cmdstat_"):]: v for k, v in info.items() if k.startswith("cmdstat_")}
    sent = [v for name, v in stats.items() if name in ("evalsha", "eval") or name.split("|")[0] not in lua]
    return {"cpu": sum(info.get(k, 0.0) for k in ("used_cpu_user", "used_cpu_sys",
                                                  "used_cpu_user_children", "used_cpu_sys_children")),
            "cpu_sys": info.get("used_cpu_sys", 0.0),
            "exec": sum(v["usec"] for v in sent) / 1e6,  # in the commands the clients sent (scripts whole)
            "commands": sum(v["calls"] for v in stats.values()), "client_commands": sum(v["calls"] for v in sent),
            "info_calls": stats.get("info", {}).get("calls", 0), "writes": info.get("total_writes_processed", 0),
            "memory": info["used_memory"], "aof": info.get("aof_current_size", 0),
            "lua_vm": info.get("used_memory_vm_eval", info.get("used_memory_lua", 0)),
            "scripts": info.get("used_memory_scripts", 0)}


def crawl_keys(client, crawl_id):
    """(URLs in the crawl's seen set, bytes its keys take, bytes all its keys take)."""
    prefix = f"sp:{{{crawl_id}}}:"
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    sizes = dict(zip(keys, pipe.execute()))
    seen_keys = [k for k in keys if k.startswith(prefix + "s:")]
    for key in seen_keys:
        pipe.scard(key)
    seen = sum(pipe.execute())
    return seen, sum(sizes[k] or 0 for k in seen_keys), sum(v or 0 for v in sizes.values())


def frontier_status(url, crawl_id, env):
    proc = subprocess.run([sys.executable, "-m", "scrapepool", "frontier", "status", "--frontier", url,
                           "--crawl-id", crawl_id], check=False, capture_output=True, text=True, timeout=60,
                          env=env)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return {"error": (proc.stderr or proc.stdout).strip()[-300:]}


# -- machines -----------------------------------------------------------------------------

def taskset(cpus):
    return ["taskset", "-c", ",".join(map(str, cpus))]


def split(n, same_inflight):
    """[(workers, concurrency)] of each of the n machines of a run (n = 0: local mode)."""
    if n <= 1:
        return [(WORKERS, CONCURRENCY)]
    w = max(1, WORKERS // n)
    c = math.ceil(WORKERS * CONCURRENCY / (n * w)) if same_inflight else math.ceil(CONCURRENCY / n)
    return [(w, c)] * n


def machine_cmd(seeds, folder, i, w, c, cpus, shared, job_dir=False):
    name = f"m{i}"
    cmd = taskset(cpus) + [sys.executable, "-m", "scrapepool", "crawl", seeds,
                           "-o", os.path.join(folder, f"out-{name}.jsonl"), "--no-robots",
                           "-w", str(w), "-c", str(c), "--stats", os.path.join(folder, f"stats-{name}.json")]
    if shared:
        url, crawl_id = shared
        cmd += ["--frontier", url, "--crawl-id", crawl_id, "--machine-id", name]
    if shared or job_dir:
        cmd += ["--job-dir", os.path.join(folder, f"job-{name}")]
    return cmd


def fetcher_pins(pid):
    """CPUs the coordinator's pinned children (the fetchers) keep to."""
    try:
        kids = psutil.Process(pid).children()
        return sorted(p.cpu_affinity()[0] for p in kids if len(p.cpu_affinity()) == 1)
    except psutil.Error:
        return []


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


def wait_machines(procs, t0, timeout):
    """Reap every machine (os.wait4: its tree's CPU), SIGKILL them all past the timeout.

    Returns ({pid: (exit code, CPU s, end time)}, timed out, {pid: fetcher CPUs})."""
    ended, pins, timed_out = {}, {}, False
    deadline = t0 + timeout
    next_pins = t0 + 1.0
    while len(ended) < len(procs):
        now = time.monotonic()
        if now >= deadline and not timed_out:
            timed_out = True
            for p in procs:
                if p.pid not in ended:
                    kill_group(p.pid)
            deadline = now + 10  # bounded reaping after SIGKILL
        elif now >= deadline:
            raise RuntimeError("machines still alive 10 s after SIGKILL")
        if now >= next_pins:  # once each machine's fetchers are up
            next_pins = now + 1.0
            for p in procs:
                if not pins.get(p.pid) and p.pid not in ended:
                    pins[p.pid] = fetcher_pins(p.pid)
        for p in procs:
            if p.pid in ended:
                continue
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                p.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
                ended[p.pid] = (p.returncode, ru.ru_utime + ru.ru_stime, time.monotonic(), ru.ru_utime)
        time.sleep(POLL)
    return ended, timed_out, pins


def machine_cpu():
    """(busy, idle, user) CPU seconds of the whole machine so far."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0)
    return busy, t.idle + getattr(t, "iowait", 0), t.user + t.nice


def own_cpu():
    """(CPU s, user CPU s) of this process."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_utime


# -- the code under test ------------------------------------------------------------------

def git(*args):
    return subprocess.run(["git", "-C", ROOT, *args], check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def code_under_test(rev, scratch):
    """(environment for the crawls, description): the working tree as installed, or ``rev``'s
    scrapepool/ exported into the scratch folder and put first on PYTHONPATH."""
    env = dict(os.environ)
    if rev is None:
        try:
            dirty = bool(git("status", "--porcelain", "--", "scrapepool"))
            return env, f"working tree at {git('rev-parse', '--short', 'HEAD')}" + (
                " + uncommitted changes in scrapepool/" if dirty else "")
        except (OSError, subprocess.CalledProcessError):
            return env, "working tree (not a git checkout)"
    sha = git("rev-parse", rev)
    code = os.path.join(scratch, "code")
    os.makedirs(code)
    archive = subprocess.run(["git", "-C", ROOT, "archive", sha, "scrapepool"], check=True,
                             capture_output=True, timeout=60).stdout
    subprocess.run(["tar", "-x", "-C", code], input=archive, check=True, timeout=60)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, env.get("PYTHONPATH")]))
    sys.path.insert(0, code)  # lua_commands() reads the same scripts
    return env, f"git {sha[:10]} ({rev})"


# -- one run ------------------------------------------------------------------------------

def verify(folder, n, expected):
    """Records of the union of the outputs against the site's URLs."""
    counts, per_machine, extra, non200 = {}, [], 0, 0
    for i in range(n):
        path = os.path.join(folder, f"out-m{i}.jsonl")
        lines = 0
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    lines += 1
                    rec = json.loads(line)
                    url = canonicalize_url(rec.get("url", ""))
                    if url in expected:
                        counts[url] = counts.get(url, 0) + 1
                    else:
                        extra += 1
                    non200 += rec.get("status", 200) != 200
        per_machine.append(lines)
    missing = len(expected) - len(counts)
    duplicated = sum(c - 1 for c in counts.values())
    return {"pages": len(counts), "missing": missing, "duplicated": duplicated, "extra": extra,
            "non_200": non200, "records_per_machine": per_machine,
            "exactly_once": missing == 0 and duplicated == 0 and extra == 0}


def start_machines(cmds, folder, env):
    """Start each machine in a session of its own (its process group is killed on failure)."""
    procs = []
    try:
        for i, cmd in enumerate(cmds):
            with open(os.path.join(folder, f"m{i}.log"), "wb") as log:
                procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                              stdin=subprocess.DEVNULL, start_new_session=True))
    except BaseException:
        stop_machines(procs)
        raise
    return procs


def stop_machines(procs):
    for p in procs:
        kill_group(p.pid)
        if p.returncode is None:
            p.wait(10)


def redis_figures(before, after, client, crawl_id, pages, env, url):
    """What Redis did and holds for the crawl (counters: ``redis_counters`` before and after)."""
    seen, seen_bytes, keys_bytes = crawl_keys(client, crawl_id)
    own = after["info_calls"] - before["info_calls"]  # this script's INFO before the run
    res = {"redis_cpu_s": round(after["cpu"] - before["cpu"], 3),
           "redis_cpu_sys_s": round(after["cpu_sys"] - before["cpu_sys"], 3),
           "redis_exec_s": round(after["exec"] - before["exec"], 3),
           "redis_commands": after["commands"] - before["commands"] - own,
           "round_trips": after["client_commands"] - before["client_commands"] - own,
           "reply_writes": after["writes"] - before["writes"] - own,
           "redis_memory_delta": after["memory"] - before["memory"],
           "aof_bytes": after["aof"] - before["aof"],
           "seen_urls": seen, "seen_bytes": seen_bytes, "keys_bytes": keys_bytes,
           "lua_vm_bytes": after["lua_vm"], "scripts_bytes": after["scripts"],
           "status": {k: v for k, v in frontier_status(url, crawl_id, env).items() if k != "machines"}}
    pages, seen = max(pages, 1), max(seen, 1)
    res.update({"redis_cmds_per_page": round(res["redis_commands"] / pages, 2),
                "round_trips_per_page": round(res["round_trips"] / pages, 3),
                "redis_b_per_url": round(res["redis_memory_delta"] / seen, 1),
                "seen_b_per_url": round(seen_bytes / seen, 1),
                "keys_b_per_url": round(keys_bytes / seen, 1),
                "aof_b_per_page": round(res["aof_bytes"] / pages)})
    return res


class Meter:
    """The machine's CPU (busy, idle, user), this script's and nginx's, from start() to stop()."""

    def __init__(self, nginx):
        self.nginx = nginx

    def _read(self):
        return (*machine_cpu(), *own_cpu(), self.nginx.cpu_s())

    def start(self):
        self.t0 = self._read()

    def stop(self):
        self.delta = [b - a for a, b in zip(self.t0, self._read())]

    def other(self, cpu, user):
        """(CPU s, user CPU s) the machine spent beyond ``cpu`` (``user`` of it user time),
        this script and nginx; and the idle CPU s."""
        busy, idle, m_user, own, own_user, nginx = self.delta
        return busy - own - nginx - cpu, m_user - own_user - user, idle


def run(config, rep, args, site):
    """One crawl of the site in configuration ``config`` (0: local mode, else machines)."""
    folder = tempfile.mkdtemp(prefix=f"run-{config}-{rep}-", dir=site["scratch"])
    shares = split(config, args.same_inflight)
    client = rds = shared = None
    if config:
        os.makedirs(os.path.join(folder, "redis"))
        rds = Redis(os.path.join(folder, "redis"), args.cpus, args.appendfsync).start()
        client = rds.client()
        shared = (rds.url, f"bench-{config}m-{rep}-{uuid.uuid4().hex[:8]}")
        before = redis_counters(client.info("all"), site["lua"])
    try:
        cmds = [machine_cmd(site["seeds"], folder, i, w, c, args.cpus, shared, args.local_job_dir)
                for i, (w, c) in enumerate(shares)]
        meter = Meter(site["nginx"])
        meter.start()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        procs = start_machines(cmds, folder, site["env"])
        try:
            ended, timed_out, pins = wait_machines(procs, t0, args.timeout)
        except BaseException:
            stop_machines(procs)
            raise
        wall = max(e[2] for e in ended.values()) - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        after = redis_counters(client.info("all"), site["lua"]) if config else None
        meter.stop()
        leftovers = sum(kill_group(p.pid) for p in procs)  # anything still alive in a machine's group
        crawl_cpu = sum(e[1] for e in ended.values())
        res = {"config": label(config), "rep": rep + 1, "code": site["code"],
               "machines": [f"-w {w} -c {c}" for w, c in shares],
               "wall_s": round(wall, 2), "timed_out": timed_out,
               "exit_codes": [ended[p.pid][0] for p in procs], "leftover_groups": leftovers,
               "crawl_cpu_s": round(crawl_cpu, 2),
               "rusage_children_cpu_s": round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 2),
               "server_cpu_s": round(meter.delta[-1], 2),
               "fetcher_cpus": [pins.get(p.pid, []) for p in procs]}
        res.update(verify(folder, len(shares), site["expected"]))
        pages = max(res["pages"], 1)
        redis_cpu = redis_user = 0.0
        if config:
            res.update(redis_figures(before, after, client, shared[1], res["pages"], site["env"], rds.url))
            redis_cpu, redis_user = res["redis_cpu_s"], res["redis_cpu_s"] - res["redis_cpu_sys_s"]
        other, other_user, idle = meter.other(crawl_cpu + redis_cpu,
                                              sum(e[3] for e in ended.values()) + redis_user)
        res.update({"pages_per_s": round(res["pages"] / wall, 1),
                    "cpu_ms_per_page": round(1000 * (crawl_cpu + redis_cpu) / pages, 3),
                    "redis_cpu_ms_per_page": round(1000 * redis_cpu / pages, 4),
                    "other_load_cores": round(other / wall, 2),
                    "other_user_cores": round(other_user / wall, 2),  # the rest of it is system time
                    "idle_cores": round(idle / wall, 2),
                    "ok": (res["exactly_once"] and not timed_out and not leftovers
                           and all(e[0] == 0 for e in ended.values()))})
        if res["ok"] and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            res["folder"] = folder
        return res
    finally:
        if client is not None:
            client.close()
        if rds is not None:
            rds.stop()


def label(config):
    return "local" if config == 0 else f"{config} machine" + ("s" if config > 1 else "")


# -- the report ---------------------------------------------------------------------------

def med(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt.format(m)
    return f"{fmt.format(m)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def table(rows, configs):
    out = [("| config | per machine | pages/s | wall s | CPU ms/page (incl. Redis) | Redis CPU ms/page "
            "| Redis cmds/page | round trips/page | Redis B/URL seen (keys only) | other / idle CPU (cores) | exactly once |"),
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for config in configs:
        rs = [r for r in rows if r["config"] == label(config)]
        if not rs:
            continue
        dist = config > 0
        once = sum(r["exactly_once"] for r in rs)
        checks = ", ".join(f"{r['pages']}/{r['missing']}/{r['duplicated']}" for r in rs)
        out.append("| " + " | ".join([
            label(config), ", ".join(sorted(set(rs[0]["machines"]))),
            med([r["pages_per_s"] for r in rs], "{:.1f}"), med([r["wall_s"] for r in rs], "{:.2f}"),
            med([r["cpu_ms_per_page"] for r in rs], "{:.2f}"),
            med([r["redis_cpu_ms_per_page"] for r in rs], "{:.3f}") if dist else "-",
            med([r["redis_cmds_per_page"] for r in rs], "{:.1f}") if dist else "-",
            med([r["round_trips_per_page"] for r in rs], "{:.3f}") if dist else "-",
            (med([r["redis_b_per_url"] for r in rs], "{:.0f}") + " (keys "
             + med([r["keys_b_per_url"] for r in rs], "{:.0f}") + ")") if dist else "-",
            med([r["other_load_cores"] for r in rs], "{:.2f}") + " / " + med([r["idle_cores"] for r in rs], "{:.2f}"),
            f"{once}/{len(rs)} ({checks})"]) + " |")
    out.append("\nexactly once: runs with every page once; (pages/missing/duplicated) of each run.")
    return "\n".join(out)


def conclusions(rows, reps):
    """1 machine against local mode, and how many such machines one Redis core serves."""
    lines = []
    by = {(r["config"], r["rep"]): r for r in rows if r["ok"]}
    ratios = [by[(label(1), k)]["pages_per_s"] / by[(label(0), k)]["pages_per_s"]
              for k in range(1, reps + 1) if (label(0), k) in by and (label(1), k) in by]
    if ratios:
        pct = [100 * (x - 1) for x in ratios]
        lines.append(f"1 machine vs local mode: {statistics.median(pct):+.1f}% pages/s (median of "
                     f"{len(pct)} interleaved pairs: {', '.join(f'{p:+.1f}%' for p in pct)})")
    one = [r["pages_per_s"] for r in rows if r["config"] == label(1) and r["ok"]]
    for config in sorted({int(r["config"].split()[0]) for r in rows if r["config"] != "local"}):
        rs = [r for r in rows if r["config"] == label(config) and r["ok"]]
        if not rs:
            continue
        per_page = statistics.median(r["redis_cpu_s"] / r["pages"] for r in rs)
        capacity = 1 / per_page if per_page > 0 else float("inf")
        machine = statistics.median(one) if one else statistics.median(r["pages_per_s"] for r in rs)
        lines.append(f"{label(config)}: Redis CPU {1e6 * per_page:.0f} us/page -> one Redis core "
                     f"serves {capacity:,.0f} pages/s = {capacity / machine:.0f} machines of "
                     f"{machine:.0f} pages/s (the 1-machine median)")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="interleaved rounds of every configuration")
    ap.add_argument("--machines", default="1,2,3", help="machine counts to run beside local mode")
    ap.add_argument("--no-local", action="store_true", help="skip local mode")
    ap.add_argument("--pages", type=int, default=5000, help="site size (5000: S1)")
    ap.add_argument("--page-kb", type=float, default=25.0)
    ap.add_argument("--cpus", default=None, help="CPUs of the budget, e.g. 0,1 (default: all allowed)")
    ap.add_argument("--same-inflight", action="store_true",
                    help="split -c so that every run has as many requests in flight as local mode")
    ap.add_argument("--local-job-dir", action="store_true",
                    help="local mode with --job-dir too (its output fsynced per batch, as the machines')")
    ap.add_argument("--appendfsync", choices=("always", "everysec"), default="always",
                    help="Redis's AOF fsync policy (default: always, as the tests)")
    ap.add_argument("--timeout", type=float, default=600, help="bound on one run (s)")
    ap.add_argument("--bench", default=os.environ.get("SCRAPEPOOL_BENCH", DEFAULT_BENCH),
                    help="the benchmark harness folder (make_site.py, server.py)")
    ap.add_argument("--work", default=os.environ.get("BENCH_WORK"),
                    help="sites and scratch (default: $BENCH_WORK, else ~/.cache/scrapepool-bench)")
    ap.add_argument("--rev", help="crawl with this git revision of scrapepool/ (exported to the scratch "
                                  "folder), not the working tree, which others may be editing")
    ap.add_argument("--json", help="append one JSON line per run here")
    ap.add_argument("--keep", action="store_true", help="keep every run's folder (failed ones are kept)")
    args = ap.parse_args(argv)
    args.cpus = (sorted(int(c) for c in args.cpus.split(",")) if args.cpus
                 else sorted(os.sched_getaffinity(0)))
    machines = [int(m) for m in args.machines.split(",") if m.strip()]
    configs = ([] if args.no_local else [0]) + machines
    if shutil.which("redis-server") is None or shutil.which("taskset") is None:
        sys.exit("error: needs redis-server and taskset on PATH")
    work = os.path.abspath(args.work or os.path.expanduser("~/.cache/scrapepool-bench"))
    make_site, server = load_harness(os.path.abspath(args.bench))
    folder = ensure_site(make_site, work, args.pages, args.page_kb)
    scratch = os.path.join(work, ".run", f"distributed-{time.strftime('%Y%m%d-%H%M%S')}")
    os.makedirs(scratch)
    env, code = code_under_test(args.rev, scratch)
    nginx = server.Nginx(folder, prefix=os.path.join(scratch, "nginx"))
    print(f"# site {folder}, CPUs {args.cpus}, configs {[label(c) for c in configs]} x {args.reps}, "
          f"scrapepool: {code}, scratch {scratch}", file=sys.stderr, flush=True)
    rows = []
    with nginx:
        seeds = os.path.join(scratch, "seeds.txt")
        with open(seeds, "w") as f:
            f.write(nginx.base + "/\n")
        site = {"seeds": seeds, "scratch": scratch, "nginx": nginx, "lua": lua_commands(), "env": env, "code": code,
                "expected": expected_urls(folder, nginx.base)}
        for rep in range(args.reps):
            for config in configs:
                res = run(config, rep, args, site)
                rows.append(res)
                line = json.dumps(res)
                print(line, flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(line + "\n")
    print()
    print(f"{len(site['expected'])} pages of ~{args.page_kb:g} KiB, CPUs {args.cpus}, scrapepool: {code}, "
          f"median (min-max) of {args.reps} interleaved repetitions, {time.strftime('%Y-%m-%d %H:%M')}")
    print(table(rows, configs))
    print()
    print(conclusions(rows, args.reps))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
