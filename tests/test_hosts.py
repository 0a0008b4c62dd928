"""HostGate (scrapepool/core/hosts.py): robots.txt first, then one host's requests at its pace."""

from scrapepool._messages import ROBOTS, Job
from scrapepool.core.hosts import HostGate
from scrapepool.core.pending import Pending
from scrapepool.settings import Settings


def entry(path, hop=None):
    return Pending(f"http://h:1{path}", "GET", None, None, None, None, 0, 0, None, hop, False)


def make_job(req_id, e, not_before):
    return Job(req_id, e.url, e.method, None, None, None, {}, e.depth, 0, None, not_before)


def gate(**kw):
    refused = []
    return HostGate(Settings(**kw), make_job, refused.append), refused


def test_robots_txt_is_asked_first_and_its_rules_apply_to_the_parked_requests():
    g, refused = gate(robots=True)
    robots = g.route(1, entry("/a"), now=0.0)
    assert robots.kind == ROBOTS and robots.url == "http://h:1/robots.txt" and robots.req_id < 0
    assert g.route(2, entry("/private/b"), now=0.0) is None  # parked: robots.txt not in yet
    assert g.waiting == 2 and g.from_waiting(0.0) is None
    g.host_done(robots.url, 0.0)
    g.robots_arrived(robots.url, 200, "User-agent: *\nDisallow: /private\n")
    assert g.from_waiting(0.0).url == "http://h:1/a"
    assert g.from_waiting(0.0) is None and refused == [2] and g.robots_refused == 1 and g.waiting == 0


def test_a_refused_redirect_hop_is_kept_for_the_engine():
    g, refused = gate(robots=True)
    g.robots_arrived(g.route(1, entry("/x"), 0.0).url, 200, "User-agent: *\nDisallow: /x\n")
    assert g.from_waiting(0.0) is None and refused == [1]
    hop = entry("/x", hop=("http://h:1/start", ("http://h:1/x",)))
    assert g.route(2, hop, 0.0) is None and refused == [1]
    assert [j.req_id for j in g.take_refused_hops()] == [2] and g.take_refused_hops() == []


def test_the_delay_paces_one_host_and_next_due_says_when():
    g, _ = gate(robots=False, delay=2.0)
    first = g.route(1, entry("/1"), now=100.0)
    assert first is not None and g.route(2, entry("/2"), now=100.0) is None
    g.host_done(first.url, started=100.0)
    assert g.from_waiting(101.0) is None and g.next_due(101.0) == 1.0
    second = g.from_waiting(102.0)
    assert second.req_id == 2 and second.not_before == 102.0


def test_a_robots_txt_lost_with_its_fetcher_is_asked_again():
    g, _ = gate(robots=True)
    robots = g.route(1, entry("/a"), 0.0)
    assert g.robots_lost(robots.url) == (1, entry("/a"))  # back to the heap: it asks again
    again = g.route(1, entry("/a"), 0.0)
    assert again.kind == ROBOTS and again.req_id != robots.req_id
