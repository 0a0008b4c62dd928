"""The last lines of the ledger and the frontier's pieces (issue 13: every line executed), each
driven through its public methods with an outcome that could go wrong. Pure unit tests.

- ledger.py: an entry describes its stage (what the engine's debug logs print);
- pending.py: the disk is not read while held-back requests fill the heap's low mark;
- hosts.py: an outcome or a robots.txt for a host never routed changes nothing;
- frontier.py: a robots.txt lost with its fetcher is asked again, its parked requests kept.
"""

from scrapepool._messages import ROBOTS, Job
from scrapepool.core.frontier import Frontier
from scrapepool.core.hosts import HostGate
from scrapepool.core.ledger import HERE, Ledger
from scrapepool.core.pending import Pending, PendingStore
from scrapepool.output.jobdb import JobDB
from scrapepool.settings import Settings
from scrapepool.urls import DomainFilter, canonical, fingerprint


def job(req_id, url=None):
    return Job(req_id, url or f"http://127.0.0.1:9/p{req_id}", "GET", None, None, None, {}, 0, 0, None, 0.0)


def entry(url):
    return Pending(url, "GET", None, None, None, None, 0, 0, None, None, False)


# -- ledger.py -------------------------------------------------------------------------------
def test_an_entry_shows_its_request_stage_and_fetcher():
    led = Ledger()
    led.dispatch(job(7), 50, now=1.0)
    assert repr(led.get(7)) == "<Entry 7 queued pid=None>"
    led.claim(7, pid=4242, deadline=9.0)
    assert repr(led.get(7)) == "<Entry 7 claimed pid=4242>"
    led.committed([7])
    assert repr(led.get(7)) == "<Entry 7 committed pid=4242>"
    led.end_here(job(8), now=2.0)
    assert repr(led.get(8)) == f"<Entry 8 outcome pid={HERE}>"


# -- pending.py ------------------------------------------------------------------------------
def test_requests_held_for_their_depth_keep_the_disk_from_being_read_while_others_settle(tmp_path):
    db = JobDB(str(tmp_path), durable=False)
    store = PendingStore(db, memory_cap=8)  # low mark: 8 // 4 = 2
    for i in range(1, 11):
        store.add(i, fp=i, entry=entry(f"http://h/{i}"), priority=0)
    assert (len(store.heap), store.on_disk) == (8, 2)
    while len(store.heap) > 2:
        store.pop()
    # 2 in the heap + 1 held back > 2, and a settled request is under way: its release will come.
    assert store.refill(held=1, settling=True) == []
    assert (len(store.heap), store.on_disk, store.disk_cursor) == (2, 2, 8)
    assert db.load_pending(0, 100) == []  # not even flushed: nothing was read
    # The same heap with nothing settling (nothing would ever release them): the disk is read.
    read = store.refill(held=1, settling=False)
    assert [req_id for req_id, _ in read] == [9, 10]
    assert (len(store.heap), store.on_disk, store.disk_cursor) == (4, 0, None)
    db.close()


# -- hosts.py --------------------------------------------------------------------------------
def test_an_outcome_or_a_robots_txt_for_a_host_never_routed_changes_nothing():
    refused = []
    gate = HostGate(Settings(robots=True, delay=5.0),
                    lambda req_id, e, nb: Job(req_id, e.url, "GET", None, None, None, {}, 0, 0, None, nb),
                    refused.append)
    gate.host_done("http://elsewhere:2/x", started=100.0)
    gate.robots_arrived("http://elsewhere:2/robots.txt", 200, "User-agent: *\nDisallow: /\n")
    assert gate.hosts == {} and gate.waiting == 0
    # The host's first request still asks its robots.txt first, and is not held by a delay
    # that the stray host_done would have started.
    robots = gate.route(1, entry("http://elsewhere:2/x"), now=100.5)
    assert robots.kind == ROBOTS and robots.url == "http://elsewhere:2/robots.txt"
    gate.robots_arrived(robots.url, 404, None)
    page = gate.from_waiting(100.5)
    assert page.req_id == 1 and page.not_before == 100.5 and refused == []


# -- frontier.py -----------------------------------------------------------------------------
def make_frontier(tmp_path):
    db = JobDB(str(tmp_path / "job"), durable=False)
    return Frontier(db, Settings(robots=True), DomainFilter(["127.0.0.1:80"]))


def admit(f, url):
    return f.admit(fingerprint(canonical(url)), url)


def test_a_robots_txt_lost_with_its_fetcher_is_asked_again_and_its_host_keeps_every_request(tmp_path):
    f = make_frontier(tmp_path)
    a, b = admit(f, "http://127.0.0.1/a"), admit(f, "http://127.0.0.1/b")
    robots = f.next_job(0.0)
    assert robots.kind == ROBOTS and f.next_job(0.0) is None  # /a and /b parked for robots.txt
    assert f.pending == 2
    f.host_done(robots.url, None)
    f.robots_lost(robots.url)
    assert f.pending == 2  # one parked request went back to the heap, none was dropped
    again = f.next_job(0.0)
    assert again.kind == ROBOTS and again.req_id != robots.req_id
    assert again.url == robots.url and f.next_job(0.0) is None
    f.robots_lost(again.url)  # lost a second time: asked a third time
    third = f.next_job(0.0)
    assert third.kind == ROBOTS and third.req_id not in (robots.req_id, again.req_id)
    f.robots_arrived(third.url, None, None)  # unreachable: allow all (Scrapy's rule)
    f.robots_lost(third.url)  # a late loss report once robots.txt is known: nothing to ask again
    jobs = [f.next_job(0.0), f.next_job(0.0)]
    assert sorted(j.req_id for j in jobs) == [a, b] and f.next_job(0.0) is None
    assert f.pending == 0 and f.robots_refused == 0
    f.db.close()


def test_a_crawl_delay_larger_than_the_delay_paces_the_host():
    gate = HostGate(Settings(robots=True, delay=0.5),
                    lambda req_id, e, nb: Job(req_id, e.url, "GET", None, None, None, {}, 0, 0, None, nb),
                    [].append)
    robots = gate.route(1, entry("http://h:1/a"), now=0.0)
    gate.route(2, entry("http://h:1/b"), now=0.0)
    gate.robots_arrived(robots.url, 200, "User-agent: *\nCrawl-delay: 3\n")
    first = gate.from_waiting(10.0)
    gate.host_done(first.url, started=10.0)
    assert gate.from_waiting(12.0) is None and gate.next_due(12.0) == 1.0  # 3 s, not 0.5
    assert gate.from_waiting(13.0).req_id == 2
