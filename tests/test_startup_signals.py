"""Ctrl-C and SIGTERM during the CLI's start-up stop it at once (issue 12).

Before the engine runs (parsing, reading seeds, loading the spider, building
settings) nothing needs finishing: the command ends with 130 / 143 and one line,
instead of noting the signal and crawling to the end. Each test waits for a
marker that the CLI prints from inside the phase it interrupts.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import _env

pytestmark = pytest.mark.timeout(120)


class Stderr:
    """Reads a process's stderr in a thread; ``wait_for(text)`` waits until a line has it."""

    def __init__(self, proc):
        self.lines = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append(None)  # end of stream
            self.changed.notify_all()

    def wait_for(self, text, timeout=60):
        with self.changed:
            return self.changed.wait_for(
                lambda: any(line is None or text in line for line in self.lines), timeout)

    def text(self):
        self.thread.join(10)
        return "".join(line for line in self.lines if line)


def start(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "scrapepool", *map(str, args)], cwd=str(cwd), env=_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def stop_and_check(proc, err, sig, code, marker):
    try:
        assert err.wait_for(marker), err.text()
        assert proc.poll() is None, err.text()  # still starting up: the signal lands there
        sent = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    text = err.text()
    assert rc == code, text
    assert took < 5, took
    assert "Traceback" not in text
    last = text.strip().splitlines()[-1]
    assert last.startswith("scrapepool: ") and signal.Signals(sig).name in last, text
    assert sum(line.startswith("scrapepool: ") for line in text.splitlines()) == 1, text


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_reading_a_big_seeds_file(tmp_path, sig, code):
    seeds = tmp_path / "seeds.txt"
    with open(seeds, "w") as f:
        f.write("not-a-url-but-a-marker\n")  # reported at once, before the other lines are checked
        for i in range(300_000):
            f.write(f"http://127.0.0.1:9/catalogue/category/books/item-{i}/index.html?page={i}&sort=asc\n")
    proc = start(["crawl", seeds, "-o", "out.jsonl", "-w", "1"], tmp_path)
    stop_and_check(proc, Stderr(proc), sig, code, "not-a-url-but-a-marker")
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_loading_the_spider(tmp_path, sig, code):
    (tmp_path / "slow_spider.py").write_text(
        "import sys, threading\n"
        "print('slow_spider: importing', file=sys.stderr, flush=True)\n"
        "threading.Event().wait(100)  # an import that takes its time (a model, a big table...)\n"
        "from scrapepool import Spider\n\n"
        "class Slow(Spider):\n"
        "    pass\n")
    proc = start(["crawl", "-s", "slow_spider.py:Slow", "-o", "out.jsonl", "-w", "1"], tmp_path)
    stop_and_check(proc, Stderr(proc), sig, code, "slow_spider: importing")
