"""The frontier's paths that only real crawls reached (requeue, redirect hops, dont_filter, kept
state, depth after a resume, a slice read back from disk while depths are tracked), as unit
tests: with tests/test_cover_core.py and the existing unit tests, every line of frontier.py,
pending.py, depth.py, hosts.py and ledger.py runs without a process."""

from scrapepool._messages import Job
from scrapepool.core.depth import DepthKeeper
from scrapepool.core.frontier import Frontier
from scrapepool.core.pending import AHEAD, Pending
from scrapepool.output.jobdb import JobDB
from scrapepool.settings import Settings
from scrapepool.urls import DomainFilter, canonical, fingerprint


def make(tmp_path, cap=None, **settings):
    db = JobDB(str(tmp_path / "job"), durable=False)
    return Frontier(db, Settings(robots=False, **settings), DomainFilter(["127.0.0.1:80"]), memory_cap=cap)


def fp(url):
    return fingerprint(canonical(url))


def admit(f, url, **kw):
    return f.admit(fp(url), url, **kw)


def test_a_request_requeued_after_a_death_comes_first_with_its_attempts_written_ahead(tmp_path):
    f = make(tmp_path)
    a, b = admit(f, "http://127.0.0.1/a"), admit(f, "http://127.0.0.1/b")
    first = f.next_job(0.0)
    assert first.req_id == a
    f.requeue(first, attempt=2)
    again = f.next_job(0.0)
    assert (again.req_id, again.url, again.attempt) == (a, first.url, 2)  # ahead of /b
    assert f.next_job(0.0).req_id == b
    f.flush()
    rows = {row[0]: row for row in f.db.load_pending(0, 10)}
    assert rows[a][10] == 2 and rows[b][10] == 0  # attempts column: durable for a resume
    f.requeue(again, attempt=0)  # not counted (it was only downloading beside a poison page)
    assert f.store.attempts == [] and f.next_job(0.0).attempt == 0
    f.db.close()


def test_a_redirect_hop_is_the_same_request_for_the_next_url_and_a_requeued_hop_keeps_its_path(tmp_path):
    f = make(tmp_path)
    a = admit(f, "http://127.0.0.1/old", headers={"Authorization": "x", "X-Keep": "1"}, meta={"k": 1})
    admit(f, "http://127.0.0.1/later")
    job = f.next_job(0.0)
    f.mark_seen(fp("http://127.0.0.1/new"))
    assert f.is_seen(fp("http://127.0.0.1/new")) and not f.is_seen(fp("http://127.0.0.1/nowhere"))
    f.redirect(job, "http://127.0.0.1/new", "GET", None, {"X-Keep": "1"})
    assert f.admitted == 2  # a hop is no new admission
    hop = f.next_job(0.0)
    assert (hop.req_id, hop.url, hop.origin, hop.hops) == (a, "http://127.0.0.1/new", "http://127.0.0.1/old",
                                                           ("http://127.0.0.1/new",))
    assert hop.headers == {"X-Keep": "1"} and hop.meta == {"k": 1}
    f.requeue(hop, attempt=1)  # its fetcher died during the hop
    back = f.next_job(0.0)
    assert (back.req_id, back.url, back.origin, back.hops, back.attempt) == (
        a, "http://127.0.0.1/new", "http://127.0.0.1/old", ("http://127.0.0.1/new",), 1)
    assert back.headers == {"X-Keep": "1"}
    f.db.close()


def test_dont_filter_admits_a_seen_url_again_without_a_fingerprint(tmp_path):
    f = make(tmp_path)
    url = "http://127.0.0.1/form"
    first = admit(f, url)
    assert admit(f, url) is None
    second = admit(f, url, dont_filter=True)
    assert second not in (None, first) and f.admitted == 2
    f.flush()
    fps = dict(f.db.conn.execute("SELECT req_id, fp FROM requests").fetchall())
    assert fps[first] is not None and fps[second] is None  # it bypasses the seen set, on disk too
    assert [f.next_job(0.0).req_id for _ in range(2)] == [first, second]
    f.db.close()


def test_kept_state_becomes_durable_with_the_next_flush_only(tmp_path):
    f = make(tmp_path)
    f.keep("cookies", {"jar": ["a=1"]})
    assert f.db.get("cookies") is None
    f.flush({"stats": {"pages": 1}})
    assert f.db.get("cookies") == {"jar": ["a=1"]} and f.db.get("stats") == {"pages": 1}
    f.db.close()


def test_after_a_resume_depths_are_not_counted_and_nothing_is_held():
    keeper = DepthKeeper()
    keeper.disable()
    keeper.admitted(fp=1, req_id=1, depth=0, in_memory=True)
    keeper.admitted(fp=9, req_id=9, depth=5, in_memory=True)
    keeper.seen_again(fp=9, depth=1)
    assert keeper.levels == {} and keeper.unsettled_fp == {}
    deep = (0, 9, Pending("http://h/9", "GET", None, None, None, None, 5, 0, None, None, False))
    assert keeper.settle(deep).depth == 5  # neither held nor lowered
    assert keeper.done(9) == [] and keeper.done(1) == []


def test_requests_read_back_from_disk_can_still_have_their_depth_lowered(tmp_path):
    f = make(tmp_path, cap=4)  # refilled when the heap is down to 4 // 4 = 1
    root = admit(f, "http://127.0.0.1/")
    for i in range(1, 4):
        admit(f, f"http://127.0.0.1/d{i}", depth=1)  # in memory with the root
    for i in (4, 5):
        admit(f, f"http://127.0.0.1/e{i}", depth=2)  # past the cap: on disk only
    assert f.store.on_disk == 2
    assert [f.next_job(0.0).req_id for _ in range(4)] == [root, 2, 3, 4]
    # The heap is empty: the slice read back from disk is tracked, and held (depth 2 while
    # the root, depth 0, is not done: it may still link to them at depth 1).
    assert f.next_job(0.0) is None and f.store.on_disk == 0 and len(f.depth.held) == 2
    assert admit(f, "http://127.0.0.1/e5", depth=1) is None  # the root links to e5: seen, depth 2 -> 1
    f.record_outcome(root)
    jobs = [f.next_job(0.0) for _ in range(2)]
    assert {j.url.rsplit("/", 1)[1]: j.depth for j in jobs} == {"e4": 2, "e5": 1}
    assert f.next_job(0.0) is None and f.pending == 0
    f.db.close()


def test_the_requeue_and_redirect_items_go_ahead_of_any_priority(tmp_path):
    f = make(tmp_path)
    admit(f, "http://127.0.0.1/urgent", priority=10**6)
    job = Job(99, "http://127.0.0.1/retry", "GET", None, None, None, {}, 0, 0, None, 0.0)
    f.requeue(job, attempt=1)
    assert f.store.heap[0][0] == AHEAD
    assert f.next_job(0.0).req_id == 99
    f.db.close()
