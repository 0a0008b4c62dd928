"""Ending a "machine" (a whole ``scrapepool crawl`` process group) for good, shared by the
distributed tests and benchmarks/torture_distributed.py."""

import os
import signal
import subprocess

import psutil

__all__ = ["kill_process_group"]


def kill_process_group(proc, created):
    """SIGKILL what is left of the group led by ``proc`` (a Popen started with
    ``start_new_session``; ``created``: its leader's psutil create time).

    A killed leader leaves its fetchers and writer behind, reparented: they are found by their
    group, born after the leader (a recycled group id is someone else's).
    """
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
    for p in psutil.process_iter(["pid", "create_time"]):
        try:
            if os.getpgid(p.pid) == proc.pid and p.info["create_time"] >= created - 0.01:
                p.kill()
        except (ProcessLookupError, psutil.Error, OSError):
            pass
