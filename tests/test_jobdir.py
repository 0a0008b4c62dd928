"""JobDir (scrapepool/core/jobdir.py): which crawl a job directory belongs to."""

import os
import signal
import subprocess
import sys

import pytest

from scrapepool.core.jobdir import JobDir
from scrapepool.exceptions import JobDirError
from scrapepool.settings import Settings


def test_a_job_is_resumed_only_by_the_same_crawl_and_restart_starts_over(tmp_path):
    s = Settings(job_dir=str(tmp_path / "job"), output=str(tmp_path / "o.jsonl"))
    first = JobDir(s, "a.py:S", ["http://h/"])
    assert first.open() is False
    first.db.put("identity", first.identity)
    first.close()
    again = JobDir(s, "a.py:S", ["http://h/"])
    assert again.open() is True
    again.close()
    for ref, seeds, why in (("a.py:S", ["http://other/"], "its seeds differ"),
                            ("b.py:S", ["http://h/"], "its spider differs")):
        other = JobDir(s, ref, seeds)
        with pytest.raises(JobDirError, match=why):
            other.open()
        other.close()
    assert JobDir(s.replace(restart=True), "b.py:S", ["http://h/"]).open() is False


def test_one_run_at_a_time_and_a_killed_run_leaves_the_dir_free(tmp_path):
    s = Settings(job_dir=str(tmp_path / "job"), output=str(tmp_path / "o.jsonl"))
    first = JobDir(s, None, ["http://h/"])
    first.open()
    second = JobDir(s, None, ["http://h/"])
    with pytest.raises(JobDirError, match="in use by another run"):
        second.open()
    second.close()
    first.close()
    third = JobDir(s, None, ["http://h/"])
    third.open()
    third.close()
    # A process holding the dir, killed with SIGKILL: the kernel drops its lock.
    code = ("import sys; from scrapepool.core.jobdir import JobDir; from scrapepool.settings import Settings; "
            "j = JobDir(Settings(job_dir=sys.argv[1], output=sys.argv[2]), None, ['http://h/']); j.open(); "
            "print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, s.job_dir, s.output], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        blocked = JobDir(s, None, ["http://h/"])
        with pytest.raises(JobDirError, match="in use"):
            blocked.open()
        blocked.close()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
    free = JobDir(s, None, ["http://h/"])
    free.open()
    free.close()


def test_without_a_job_dir_the_state_lives_in_a_temporary_folder_removed_at_the_end(tmp_path):
    job = JobDir(Settings(output=str(tmp_path / "o.jsonl")), None, ["http://h/"])
    job.open()
    folder = job.folder
    assert os.path.isdir(folder) and job.identity["spider"] == "builtin:SiteSpider"
    job.close()
    assert not os.path.exists(folder)


def test_a_file_in_the_way_is_one_clear_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(JobDirError, match="is not a folder"):
        JobDir(Settings(job_dir=str(tmp_path / "f")), None, ["http://h/"]).open()
