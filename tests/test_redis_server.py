"""The redis-server fixture of the distributed tests (issue 14): it answers, it keeps its data
through a kill -9 thanks to the AOF, and it is gone once stopped (by PID)."""

import os
import signal

import psutil
import pytest

from tests.redis_server import (RedisServer, RedisStartError, free_port, new_crawl_id,  # noqa: F401
                                redis_server, requires_redis, start_redis)

pytestmark = [pytest.mark.timeout(60), requires_redis]


def test_the_fixture_answers_ping(redis_server):
    client = redis_server.client()
    try:
        assert client.ping() is True
        info = client.info("persistence")
        assert info["aof_enabled"] == 1
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("save") == {"save": ""}
    finally:
        client.close()
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert psutil.Process(redis_server.pid).name().startswith("redis-server")


def test_a_key_survives_a_kill_9_and_restart(redis_server):
    key = f"sp:{{{new_crawl_id('survive')}}}:probe"
    client = redis_server.client()
    try:
        client.set(key, "kept")
        client.rpush(key + ":list", "a", "b")
    finally:
        client.close()
    port, old_pid = redis_server.port, redis_server.pid
    redis_server.restart(kill=True)
    assert redis_server.port == port and redis_server.pid != old_pid
    assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE
    client = redis_server.client()
    try:
        assert client.get(key) == b"kept"
        assert client.lrange(key + ":list", 0, -1) == [b"a", b"b"]
        client.delete(key, key + ":list")
    finally:
        client.close()


def test_stop_ends_the_process_by_pid(tmp_path):
    server = start_redis(tmp_path / "own")
    pid = server.pid
    try:
        assert server.alive()
        assert psutil.pid_exists(pid)
    finally:
        server.stop()
    assert not server.running()
    assert not psutil.pid_exists(pid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_stop_kills_a_server_that_ignores_sigterm(tmp_path):
    server = start_redis(tmp_path / "stubborn")
    pid = server.pid
    os.kill(pid, signal.SIGSTOP)  # a stopped process does not act on SIGTERM... until SIGCONT
    try:
        server.stop(timeout=2.0)
    finally:
        if psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)
    assert not psutil.pid_exists(pid)


def test_a_server_without_aof(tmp_path):
    server = start_redis(tmp_path / "volatile", aof=False)
    try:
        client = server.client()
        try:
            assert client.info("persistence")["aof_enabled"] == 0
        finally:
            client.close()
    finally:
        server.stop()


def test_a_port_in_use_is_reported_not_hung(tmp_path):
    busy = start_redis(tmp_path / "first")
    try:
        clash = RedisServer(tmp_path / "second", port=busy.port)
        with pytest.raises(RedisStartError, match="(?i)in use"):
            clash.start()
        assert not clash.running()
    finally:
        busy.stop()


def test_a_probed_port_clash_is_retried(tmp_path, monkeypatch):
    busy = start_redis(tmp_path / "first")
    try:
        import tests.redis_server as mod
        ports = iter([busy.port, free_port()])
        monkeypatch.setattr(mod, "free_port", lambda: next(ports))
        server = RedisServer(tmp_path / "second").start()
        try:
            assert server.port != busy.port and server.alive()
        finally:
            server.stop()
    finally:
        busy.stop()
