"""DepthKeeper (scrapepool/core/depth.py): a request waits while a shorter path to it may turn up."""

from scrapepool.core import depth as depth_mod
from scrapepool.core.depth import DepthKeeper
from scrapepool.core.pending import Pending


def item(req_id, depth, hop=None):
    return (0, req_id, Pending(f"http://h/{req_id}", "GET", None, None, None, None, depth, 0, None, hop, False))


def test_a_request_two_levels_below_an_unfinished_page_waits_until_that_page_is_done():
    keeper = DepthKeeper()
    keeper.admitted(fp=1, req_id=1, depth=0, in_memory=True)
    keeper.admitted(fp=3, req_id=3, depth=2, in_memory=True)
    assert keeper.settle(item(1, 0)).depth == 0
    assert keeper.settle(item(3, 2)) is None  # page 1 (depth 0) may still link to it at depth 1
    assert [i[1] for i in keeper.held] == [3]
    released = keeper.done(1)
    assert [i[1] for i in released] == [3] and keeper.held == []
    assert keeper.settle(released[0]).depth == 2


def test_a_shorter_path_found_meanwhile_lowers_the_depth():
    keeper = DepthKeeper()
    keeper.admitted(fp=1, req_id=1, depth=0, in_memory=True)
    keeper.admitted(fp=9, req_id=9, depth=3, in_memory=True)
    keeper.seen_again(fp=9, depth=1)
    assert keeper.settle(item(1, 0)).depth == 0
    assert keeper.settle(item(9, 3)).depth == 1  # settled at its shortest depth


def test_hops_are_settled_already_and_nothing_is_held_after_a_resume():
    keeper = DepthKeeper()
    keeper.admitted(fp=1, req_id=1, depth=0, in_memory=True)
    assert keeper.settle(item(5, 4, hop=("http://h/o", ("http://h/5",)))).depth == 4
    keeper.disable()
    assert keeper.settle(item(6, 7)).depth == 7 and keeper.held == []


def test_held_requests_are_released_when_the_crawl_would_starve(monkeypatch):
    keeper = DepthKeeper()
    keeper.admitted(fp=1, req_id=1, depth=0, in_memory=True)
    keeper.admitted(fp=4, req_id=4, depth=2, in_memory=True)
    keeper.settle(item(1, 0))
    assert keeper.settle(item(4, 2)) is None
    assert keeper.starving(now=100.0) == []  # page 1 is under way: wait a while
    monkeypatch.setattr(depth_mod, "SETTLE_WAIT", 0.5)
    assert [i[1] for i in keeper.starving(now=100.6)] == [4]
    assert keeper.settle(item(4, 2)).depth == 2  # its level is given up on: no more holding
