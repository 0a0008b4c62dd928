"""JobDir (scrapepool/core/jobdir.py): which crawl a job directory belongs to."""

import os

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
    assert JobDir(s, "a.py:S", ["http://h/"]).open() is True
    with pytest.raises(JobDirError, match="its seeds differ"):
        JobDir(s, "a.py:S", ["http://other/"]).open()
    with pytest.raises(JobDirError, match="its spider differs"):
        JobDir(s, "b.py:S", ["http://h/"]).open()
    assert JobDir(s.replace(restart=True), "b.py:S", ["http://h/"]).open() is False


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
