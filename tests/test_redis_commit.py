"""The writer's side of a shared crawl (output/redis_commit.py) and the output end a machine
cuts back to (RedisFrontier.output_end), against a real redis-server.

Both were found by the distributed torture run (benchmarks/torture_distributed.py): a writer
started while Redis restarted died ("cannot reach Redis") instead of waiting, and the
machine's stop then cut its file back to the job DB's end, which lags Redis's by the last
batch when a kill fell between the two commits: committed records were cut off for good.
"""

import threading

import pytest

from scrapepool.core.redis_frontier import RedisFrontier, identity_of
from scrapepool.output.jobdb import JobDB
from scrapepool.output.redis_commit import RedisCommitter
from scrapepool.redis_store import connect
from scrapepool.settings import Settings
from scrapepool.urls import DomainFilter
from tests.redis_server import new_crawl_id, redis_server  # noqa: F401

pytestmark = pytest.mark.timeout(60)


def joined_frontier(tmp_path, url, crawl_id, machine="m0", **settings):
    settings = Settings(frontier=url, crawl_id=crawl_id, machine_id=machine, workers=1, robots=False,
                        **settings)
    db = JobDB(str(tmp_path / f"job-{machine}"), True)
    frontier = RedisFrontier(connect(url), db, settings, DomainFilter(()), machine,
                             identity_of(settings, None, ["http://127.0.0.1:9/"], ()))
    frontier.join()
    return frontier, db


def test_a_writer_started_while_redis_is_down_waits_for_it(tmp_path, redis_server):  # noqa: F811
    cid = new_crawl_id("writer-outage")
    frontier, db = joined_frontier(tmp_path, redis_server.url, cid)
    db.close()
    redis_server.kill()
    made = {}
    connected = threading.Event()

    def make():
        try:
            made["committer"] = RedisCommitter(redis_server.url, cid, "m0")
        except BaseException as exc:  # noqa: B036 - the test reports whatever it was
            made["error"] = exc
        connected.set()

    thread = threading.Thread(target=make, daemon=True)
    thread.start()
    try:
        # Redis is down for the committer's first tries: it must still be trying.
        assert not connected.wait(0.5), f"gave up at once: {made.get('error')!r}"
    finally:
        redis_server.start()  # its AOF: the crawl is still there
    assert connected.wait(30), "did not reach Redis once it was back"
    assert "error" not in made, made["error"]
    committer = made["committer"]
    assert committer.durable_end() is None
    assert committer.commit(0, 0, str(tmp_path / "out.jsonl"), []) == []


def test_the_output_end_after_a_failure_is_redis_s_not_the_lagging_job_db_s(tmp_path, redis_server):  # noqa: F811
    cid = new_crawl_id("output-end")
    frontier, db = joined_frontier(tmp_path, redis_server.url, cid)
    committer = RedisCommitter(redis_server.url, cid, "m0")
    assert frontier.output_end(100) == 100  # nothing committed in Redis yet: the local end
    assert committer.commit(1234, 3, str(tmp_path / "out.jsonl"), []) == []
    # The job DB still says 100 (a kill fell between the two commits): Redis's end wins.
    assert frontier.output_end(100) == 1234
    db.close()
