"""The ledger (scrapepool/core/ledger.py) through every interleaving that matters for exactly-once.

A request is done exactly when both its outcome and its commit arrived, in either order;
whatever dies in between, it is retried (removed from the ledger, for the frontier to
requeue) or done, never both, never neither. The last tests resume a job from its job DB
after a crash at each step of a request's life.
"""

import pytest

from scrapepool._messages import Job
from scrapepool.core.frontier import Frontier
from scrapepool.core.ledger import CLAIMED, COMMITTED, HERE, OUTCOME, QUEUED, Ledger
from scrapepool.output.jobdb import JobDB
from scrapepool.settings import Settings
from scrapepool.urls import DomainFilter, canonical, fingerprint


def job(req_id, url=None):
    return Job(req_id, url or f"http://127.0.0.1:9/p{req_id}", "GET", None, None, None, {}, 0, 0, None, 0.0)


def ledger_with(*ids, size=100):
    led = Ledger()
    for i in ids:
        led.dispatch(job(i), size, now=float(i))
    return led


def test_outcome_then_commit_is_done_and_the_window_counts_claims():
    led = ledger_with(1, 2)
    assert (led.in_queue, led.queued_bytes) == (2, 200)
    assert led.get(1).stage == QUEUED
    assert led.claim(1, pid=10, deadline=5.0)
    assert not led.claim(1, pid=11)  # a second claim changes nothing
    assert (led.in_queue, led.queued_bytes) == (1, 100)
    assert led.get(1).stage == CLAIMED
    assert led.outcome(1) is not None
    assert led.get(1).stage == OUTCOME and 1 in led
    assert led.committed([1]) == 1
    assert 1 not in led and len(led) == 1


def test_commit_before_outcome_waits_for_the_outcome():
    led = ledger_with(1)
    led.claim(1, pid=10)
    assert led.committed([1]) == 0
    assert led.get(1).stage == COMMITTED
    assert led.outcome(1) is not None
    assert 1 not in led


def test_commit_before_the_claim_is_read_keeps_the_window_right():
    """The writer's pipe may be read before the fetcher's Claimed: the queue count still drops once."""
    led = ledger_with(1)
    led.committed([1])
    assert led.in_queue == 1
    led.claim(1, pid=10)
    assert led.in_queue == 0
    led.outcome(1)
    assert len(led) == 0 and led.in_queue == 0 and led.queued_bytes == 0


def test_outcome_before_its_claim_counts_the_claim():
    led = ledger_with(1)
    assert led.outcome(1) is not None
    assert led.in_queue == 0 and led.queued_bytes == 0
    assert not led.claim(1, pid=10) or led.in_queue == 0


def test_a_second_outcome_is_not_taken():
    led = ledger_with(1)
    led.claim(1, pid=10)
    assert led.outcome(1) is not None
    assert led.outcome(1) is None  # the request ran twice after a crash: first outcome wins
    assert led.outcome(99) is None  # unknown


def test_death_between_claim_and_outcome_loses_only_that_fetchers_unfinished_requests():
    led = ledger_with(1, 2, 3, 4)
    for i, pid in ((1, 10), (2, 10), (3, 11), (4, 10)):
        led.claim(i, pid)
    led.outcome(4)  # its outcome is in: not lost, waits for its commit
    lost = led.lost_with(10)
    assert sorted(e.job.req_id for e in lost) == [1, 2]
    assert sorted(e.job.req_id for e in led.entries()) == [3, 4]
    led.committed([1, 2, 4])  # a late commit of a lost request changes nothing
    assert sorted(e.job.req_id for e in led.entries()) == [3]


def test_death_before_the_claim_is_found_by_dispatch_time():
    led = ledger_with(1, 2, 3)  # dispatched at t=1, 2, 3
    led.claim(2, pid=10)
    lost = led.unclaimed(before=2.5)
    assert [e.job.req_id for e in lost] == [1]
    assert led.in_queue == 1 and led.queued_bytes == 100  # 3 is still queued
    assert sorted(e.job.req_id for e in led.entries()) == [2, 3]


def test_redirect_releases_the_entry_and_a_death_afterwards_finds_nothing():
    led = ledger_with(1)
    led.claim(1, pid=10)
    assert led.release(1).job.req_id == 1  # the next hop goes back to the frontier
    assert led.lost_with(10) == []
    led.dispatch(job(1, "http://127.0.0.1:9/hop"), 50, now=9.0)  # the hop, same req_id
    led.claim(1, pid=11)
    assert [e.job.url for e in led.lost_with(11)] == ["http://127.0.0.1:9/hop"]
    assert len(led) == 0 and led.in_queue == 0


def test_release_of_an_unclaimed_entry_frees_its_queue_slot():
    led = ledger_with(1)
    led.release(1)
    assert (led.in_queue, led.queued_bytes, len(led)) == (0, 0, 0)


def test_ended_here_waits_for_its_commit_and_is_never_lost():
    led = Ledger()
    led.end_here(job(7), now=0.0)
    assert led.get(7).pid == HERE and led.get(7).stage == OUTCOME
    assert led.lost_with(HERE) == []
    assert led.overdue(now=1e9) == []
    assert led.outcome(7) is None
    led.committed([7])
    assert len(led) == 0


def test_overdue_reports_each_late_claim_once():
    led = ledger_with(1, 2, 3)
    led.claim(1, pid=10, deadline=5.0)
    led.claim(2, pid=10, deadline=50.0)
    led.claim(3, pid=11, deadline=5.0)
    led.outcome(3)
    assert [e.job.req_id for e in led.overdue(now=6.0)] == [1]
    assert led.overdue(now=7.0) == []
    lost = led.lost_with(10)  # its fetcher is killed for it
    assert {e.job.req_id: e.overdue for e in lost} == {1: True, 2: False}


# -- resume from the job DB after a crash at any step ----------------------------------------

STEPS = ["admitted", "dispatched", "outcome", "committed", "outcome+committed"]


def _frontier(folder):
    db = JobDB(str(folder), durable=True)
    return db, Frontier(db, Settings(robots=False), DomainFilter(["127.0.0.1:9"]))


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_resumes_with_the_request_pending_unless_it_is_done(tmp_path, step):
    db, frontier = _frontier(tmp_path)
    url = "http://127.0.0.1:9/a"
    fp = fingerprint(canonical(url), "GET", None)
    req_id = frontier.admit(fp, url)
    frontier.flush({"identity": {}})
    led = Ledger()
    j = frontier.next_job(0.0)
    assert j.req_id == req_id
    frontier.make_durable(j.req_id)
    led.dispatch(j, 10, 0.0)
    led.claim(req_id, pid=10)
    if "outcome" in step:
        led.outcome(req_id)
        frontier.record_outcome(req_id)
        frontier.flush()
    if "committed" in step:
        db.commit_output([req_id], 0, 1)  # what the writer does, in its own connection
        led.committed([req_id])
    done = req_id not in led
    assert done == (step == "outcome+committed")
    db.close()  # kill -9: nothing else is written

    db, again = _frontier(tmp_path)
    todo = again.resume()
    assert again.is_seen(fp)  # never admitted twice
    assert todo == (0 if done else 1)
    resumed = again.next_job(0.0)
    assert (resumed is None) == done
    if resumed is not None:
        assert resumed.req_id == req_id and resumed.url == url
    db.close()
