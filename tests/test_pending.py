"""PendingStore (scrapepool/core/pending.py): memory up to its cap, the job DB beyond, written ahead."""

from scrapepool.core.pending import AHEAD, Pending, PendingStore
from scrapepool.output.jobdb import JobDB


def entry(i):
    return Pending(f"http://h/{i}", "GET", None, None, None, None, 0, 0, None, None, False)


def test_past_its_cap_requests_wait_on_disk_and_come_back_in_order(tmp_path):
    db = JobDB(str(tmp_path), durable=False)
    store = PendingStore(db, memory_cap=4)
    for i in range(1, 11):
        assert store.add(i, fp=i, entry=entry(i), priority=0) == (i <= 4)
    assert len(store.heap) == 4 and store.on_disk == 6 and len(store) == 10
    order = []
    while True:
        if not store.heap:
            store.refill(held=0, settling=False)
        item = store.pop()
        if item is None:
            break
        order.append(item[1])
    assert order == list(range(1, 11)) and len(store) == 0
    db.close()


def test_make_durable_writes_ahead_only_what_is_not_yet_in_the_db(tmp_path):
    db = JobDB(str(tmp_path), durable=False)
    store = PendingStore(db)
    store.add(1, fp=11, entry=entry(1), priority=0)
    assert db.load_pending(0, 10) == []
    store.make_durable(1)
    assert [row[0] for row in db.load_pending(0, 10)] == [1]
    store.kv_pending["cookies"] = {"a": 1}
    store.make_durable(1)  # durable already: no write, the kv waits for the next flush
    assert db.get("cookies") is None
    store.flush()
    assert db.get("cookies") == {"a": 1}
    db.close()


def test_a_request_pushed_ahead_comes_before_newer_ones(tmp_path):
    db = JobDB(str(tmp_path), durable=False)
    store = PendingStore(db)
    store.add(1, fp=1, entry=entry(1), priority=5)
    store.push_ahead(9, entry(9))
    assert store.pop()[:2] == (AHEAD, 9)
    db.close()
