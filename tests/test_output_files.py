"""Output files as Scrapy writes them (issue 12): ``--fields``, fields CSV cannot hold, ``-o``
appends and ``-O`` overwrites, and ``.json`` is one JSON array, valid after every commit.

Exporter tests run in-process; crawl tests run the real engine against a real local server.
"""

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from multiprocessing import Pipe

import pytest
from conftest import ROBOTS, ROOT, SITE_FIELDS, _env, build_linked_site, load_jsonl

import scrapepool
from scrapepool import OutputError
from scrapepool.output.exporters import check_output, cut_output, open_exporter, output_format
from scrapepool.output.writer import Writer
from scrapepool.testing.testserver import Page
from tests.output_spiders import RECORDS, VaryingKeys

pytestmark = pytest.mark.timeout(60)

def export(path, records, **kw):
    ex = open_exporter(str(path), **kw)
    ex.open(None)
    ex.write(records)
    offset = ex.commit()
    ex.close()
    return ex, offset


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def read_sqlite(path):
    conn = sqlite3.connect(str(path))
    try:
        cols = [row[1] for row in conn.execute("PRAGMA table_info(records)")]
        rows = conn.execute("SELECT * FROM records ORDER BY rowid").fetchall()
    finally:
        conn.close()
    return cols, rows


def seeds_for(tmp_path, server, name="seeds.txt"):
    path = tmp_path / name
    path.write_text(server.url + "/\n", encoding="utf-8")
    return path


@pytest.fixture
def small_site(site_server):
    return site_server({"/": '<title>Home</title><a href="/a">a</a><a href="/b">b</a>',
                       "/a": "<title>A</title>", "/b": "<title>B</title>", "/robots.txt": ROBOTS})


# -- fields ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["o.jsonl", "o.json", "o.csv", "o.sqlite"])
def test_fields_are_exactly_those_in_that_order_in_every_format(tmp_path, name):
    path = tmp_path / name
    ex, _ = export(path, RECORDS, fields=("c", "a", "missing"))
    fmt = output_format(str(path))
    if fmt == "jsonl":
        got = load_jsonl(path)
    elif fmt == "json":
        got = json.loads(path.read_text(encoding="utf-8"))
    elif fmt == "csv":
        header, got = read_csv(path)
        assert header == ["c", "a", "missing"]
    else:
        cols, rows = read_sqlite(path)
        assert cols == ["c", "a", "missing"]
        got = [dict(zip(cols, row)) for row in rows]
    assert [list(r) for r in got] == [["c", "a", "missing"]] * 3
    if fmt == "csv":
        assert got == [{"c": "", "a": "1", "missing": ""}, {"c": "[1, 2]", "a": "", "missing": ""},
                       {"c": "", "a": "3", "missing": ""}]
    elif fmt == "sqlite":
        assert got == [{"c": None, "a": 1, "missing": None}, {"c": "[1, 2]", "a": None, "missing": None},
                       {"c": None, "a": 3, "missing": None}]
    else:
        assert got == [{"c": None, "a": 1, "missing": None}, {"c": [1, 2], "a": None, "missing": None},
                       {"c": None, "a": 3, "missing": None}]
    assert ex.dropped == {}  # fields left out on purpose are not "dropped"


def test_fields_on_stdout(capsys):
    ex = open_exporter("-", fields=("b",))
    ex.open(None)
    ex.write(RECORDS)
    ex.commit()
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [
        {"b": "x"}, {"b": "y"}, {"b": None}]


def test_csv_counts_the_values_of_each_key_it_cannot_hold(tmp_path):
    ex, _ = export(tmp_path / "o.csv", RECORDS)
    header, rows = read_csv(tmp_path / "o.csv")
    assert header == ["a", "b"]
    assert ex.dropped == {"c": 2, "d": 1}


def test_sqlite_columns_keep_their_case_and_a_merge_is_noted(tmp_path):
    path = tmp_path / "o.sqlite"
    ex, _ = export(path, [{"Title": "first"}, {"title": "second"}, {"Title": "p", "title": "q"}])
    cols, rows = read_sqlite(path)
    assert cols == ["Title"]
    assert rows == [("first",), ("second",), ("q",)]
    assert ex.merged == {"title": "Title"}
    assert ex.dropped == {"Title": 1}  # "p" lost: the record had both spellings


def test_fields_on_the_command_line(run_cli, tmp_path, small_site):
    seeds = seeds_for(tmp_path, small_site)
    rc, out, err = run_cli("crawl", seeds, "-o", "o.csv", "--fields", "title, url,nope", "-w", "1")
    assert rc == 0, err
    header, rows = read_csv(tmp_path / "o.csv")
    assert header == ["title", "url", "nope"]
    assert sorted(r["title"] for r in rows) == ["A", "B", "Home"]
    assert all(r["nope"] == "" for r in rows)


@pytest.mark.parametrize("value, word", [("", "no field"), ("a,,b", "empty"), ("a,b,a", "twice")])
def test_bad_fields_are_a_usage_error(run_cli, tmp_path, small_site, value, word):
    seeds = seeds_for(tmp_path, small_site)
    rc, out, err = run_cli("crawl", seeds, "--fields", value, "-w", "1")
    assert rc == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert word in err
    assert small_site.requests == []


def test_fields_sqlite_cannot_tell_apart_are_a_usage_error(run_cli, tmp_path, small_site):
    seeds = seeds_for(tmp_path, small_site)
    rc, out, err = run_cli("crawl", seeds, "--fields", "Title,title", "-o", "o.sqlite", "-w", "1")
    assert rc == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "Title" in err and "case" in err


def test_dropped_csv_fields_are_warned_once_each_and_counted(run_cli, tmp_path, site_server):
    server = site_server({"/": "<title>x</title>"})
    seeds = seeds_for(tmp_path, server)
    rc, out, err = run_cli("crawl", seeds, "-s", "tests.output_spiders:VaryingKeys", "-o", "o.csv",
                           "-w", "1", "--no-robots", "--stats", "stats.json")
    assert rc == 0, err
    assert "Traceback" not in err
    assert read_csv(tmp_path / "o.csv")[0] == ["a", "b"]
    for key, count in (("c", 2), ("d", 1)):
        lines = [line for line in err.splitlines() if f"'{key}'" in line]
        assert len(lines) == 1, err
        assert "WARNING" in lines[0] and str(count) in lines[0] and "--fields" in lines[0]
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["dropped_fields"] == 3


def test_no_dropped_fields_in_stats_of_a_clean_crawl(tmp_path, site_server):
    server = site_server({"/": "<title>x</title>"})
    stats = scrapepool.crawl(VaryingKeys, seeds=[server.url + "/"], output=str(tmp_path / "o.jsonl"),
                             workers=1, robots=False, progress=False)
    assert stats["dropped_fields"] == 0
    stats = scrapepool.crawl(VaryingKeys, seeds=[server.url + "/"], output=str(tmp_path / "o.csv"),
                             workers=1, robots=False, progress=False, fields=("a", "b", "c", "d"))
    assert stats["dropped_fields"] == 0
    assert read_csv(tmp_path / "o.csv")[0] == ["a", "b", "c", "d"]


def test_sqlite_merge_is_warned_about_in_a_crawl(run_cli, tmp_path, site_server):
    server = site_server({"/": "<title>x</title>"})
    seeds = seeds_for(tmp_path, server)
    rc, out, err = run_cli("crawl", seeds, "-s", "tests.output_spiders:CaseKeys", "-o", "o.sqlite",
                           "-w", "1", "--no-robots", "--stats", "stats.json")
    assert rc == 0, err
    assert read_sqlite(tmp_path / "o.sqlite") == (["Title"], [("first",), ("second",), ("q",)])
    merged = [line for line in err.splitlines() if "'title'" in line and "'Title'" in line]
    assert merged and all("WARNING" in line for line in merged), err
    assert json.loads((tmp_path / "stats.json").read_text())["dropped_fields"] == 1


# -- -o appends, -O overwrites -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["o.jsonl", "o.csv", "o.sqlite", "o.json"])
def test_dash_o_appends_and_dash_capital_o_overwrites(run_cli, tmp_path, small_site, name):
    seeds = seeds_for(tmp_path, small_site)
    path = tmp_path / name

    def records():
        fmt = output_format(str(path))
        if fmt == "jsonl":
            return load_jsonl(path)
        if fmt == "json":
            return json.loads(path.read_text(encoding="utf-8"))
        if fmt == "csv":
            header, rows = read_csv(path)
            assert header == SITE_FIELDS
            return rows
        cols, rows = read_sqlite(path)
        assert cols == SITE_FIELDS
        return rows

    for n, flag in ((3, "-o"), (6, "-o"), (3, "-O"), (3, "--overwrite-output")):
        rc, out, err = run_cli("crawl", seeds, flag, name, "-w", "1")
        assert rc == 0, err
        assert len(records()) == n, (flag, path.read_bytes()[:2000])
    if name == "o.csv":
        rc, out, err = run_cli("crawl", seeds, "-o", name, "-w", "1")
        assert path.read_text(encoding="utf-8").count("url,final_url") == 1  # one header


def test_dash_o_and_dash_capital_o_together_are_a_usage_error(run_cli, tmp_path, small_site):
    seeds = seeds_for(tmp_path, small_site)
    rc, out, err = run_cli("crawl", seeds, "-o", "a.jsonl", "-O", "b.jsonl", "-w", "1")
    assert rc == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "-o" in err and "-O" in err and "not both" in err
    assert small_site.requests == []


def test_appending_says_so(run_cli, tmp_path, small_site):
    seeds = seeds_for(tmp_path, small_site)
    (tmp_path / "o.jsonl").write_text('{"old": 1}\n')
    rc, out, err = run_cli("crawl", seeds, "-o", "o.jsonl", "-w", "1")
    assert rc == 0, err
    assert any("appending" in line and "o.jsonl" in line and "-O" in line for line in err.splitlines()), err
    assert load_jsonl(tmp_path / "o.jsonl")[0] == {"old": 1}


def test_python_api_appends_unless_told_to_overwrite(tmp_path, small_site):
    out = tmp_path / "o.jsonl"
    out.write_text('{"old": 1}\n')
    kw = dict(seeds=[small_site.url + "/"], output=str(out), workers=1, progress=False)
    scrapepool.crawl(**kw)
    assert len(load_jsonl(out)) == 4
    scrapepool.crawl(overwrite=True, **kw)
    assert len(load_jsonl(out)) == 3


@pytest.mark.parametrize("name, content, word", [
    ("o.json", '{"not": "an array"}\n', "array"),
    ("o.json", '[\n{"torn": ', "array"),
    ("o.sqlite", "not a database at all " * 100, "SQLite"),
    ("o.csv", "x,y\n1,2\n", "columns"),
])
def test_an_output_that_cannot_be_appended_to_fails_before_any_request(run_cli, tmp_path, small_site,
                                                                        name, content, word):
    seeds = seeds_for(tmp_path, small_site)
    (tmp_path / name).write_text(content)
    extra = ["--fields", "url,title"] if name.endswith(".csv") else []
    rc, out, err = run_cli("crawl", seeds, "-o", name, "-w", "1", *extra)
    assert rc == 1
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert name in err and word in err and "-O" in err
    assert small_site.requests == []
    assert (tmp_path / name).read_text() == content  # left alone
    rc, out, err = run_cli("crawl", seeds, "-O", name, "-w", "1", *extra)
    assert rc == 0, err


def test_csv_appended_without_fields_keeps_the_files_columns(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("b,a\r\nold,row")  # no newline at the end: a torn or hand-made file
    ex = open_exporter(str(path), append=True)
    ex.open(None)
    ex.write(RECORDS)
    ex.commit()
    ex.close()
    header, rows = read_csv(path)
    assert header == ["b", "a"]
    assert rows == [{"b": "old", "a": "row"}, {"b": "x", "a": "1"}, {"b": "y", "a": ""}, {"b": "", "a": "3"}]
    assert ex.dropped == {"c": 2, "d": 1}


def test_jsonl_appended_after_a_torn_line_starts_on_a_new_line(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text('{"old": 1}\n{"torn')
    ex = open_exporter(str(path), append=True)
    ex.open(None)
    ex.write([{"new": 1}])
    ex.commit()
    ex.close()
    assert path.read_text().splitlines() == ['{"old": 1}', '{"torn', '{"new": 1}']


def test_check_output_for_appending(tmp_path):
    good = tmp_path / "good.json"
    good.write_text('[\n{"a": 1}\n]\n')
    assert check_output(str(good), append=True) == "json"
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1}')
    assert check_output(str(bad)) == "json"  # overwriting it is fine
    with pytest.raises(OutputError, match="array"):
        check_output(str(bad), append=True)
    check_output(str(bad), append=True, resume=True)  # a resumed job repairs its own output


# -- a .json output is one JSON array ------------------------------------------------------------

def test_json_output_is_an_array_as_scrapy_writes_it(tmp_path):
    path = tmp_path / "o.json"
    ex, offset = export(path, [{"a": 1}, {"b": "é"}])
    assert path.read_text(encoding="utf-8") == '[\n{"a": 1},\n{"b": "é"}\n]\n'
    export(path, [])
    assert json.loads(path.read_text()) == []


def test_json_output_is_valid_after_every_commit_and_cut_back_to_one(tmp_path):
    path = tmp_path / "o.json"
    ex = open_exporter(str(path))
    ex.open(None)
    assert ex.commit() == 1  # just after "["
    assert json.loads(path.read_text()) == []
    ex.write([{"n": 1}])
    first = ex.commit()
    assert json.loads(path.read_text()) == [{"n": 1}]
    ex.write([{"n": 2}, {"n": 3}])
    ex.commit()
    assert json.loads(path.read_text()) == [{"n": 1}, {"n": 2}, {"n": 3}]
    ex.write([{"n": 4}])  # never committed
    ex.file.flush()
    ex.close()
    with open(path, "r+b") as f:  # a crash in the middle of a write
        f.seek(first)
        f.write(b',\n{"n": 2}, {"tor')
        f.truncate()
    cut_output(str(path), first)
    assert json.loads(path.read_text()) == [{"n": 1}]
    ex = open_exporter(str(path))
    ex.open(first)  # a resume
    ex.write([{"n": 5}])
    ex.commit()
    ex.close()
    assert json.loads(path.read_text()) == [{"n": 1}, {"n": 5}]


def test_json_appended_to_an_existing_array(tmp_path):
    path = tmp_path / "o.json"
    path.write_text('[{"old": 1}]   \n\n')
    ex = open_exporter(str(path), append=True)
    ex.open(None)
    ex.write([{"new": 2}])
    ex.commit()
    ex.close()
    assert json.loads(path.read_text()) == [{"old": 1}, {"new": 2}]
    path.write_text("[ ]")
    ex = open_exporter(str(path), append=True)
    ex.open(None)
    ex.write([{"new": 3}])
    ex.commit()
    ex.close()
    assert json.loads(path.read_text()) == [{"new": 3}]


def test_writer_appends_and_a_crash_before_the_first_commit_keeps_what_was_there(tmp_path):
    """The writer makes the starting point of an appended output durable before it writes."""
    out, job = tmp_path / "o.jsonl", tmp_path / "job"
    out.write_text('{"old": 1}\n')
    coordinator, control = Pipe(duplex=True)
    w = Writer(control, str(out), str(job), durable=False, append=True)
    w.exporter.write([{"never": "committed"}])  # then a crash: no commit, no finish
    w.exporter.close()
    w.db.close()
    assert load_jsonl(out) == [{"old": 1}, {"never": "committed"}]
    w = Writer(control, str(out), str(job), durable=False, append=True)  # the resumed job
    w.add(1, [{"new": 1}])
    w.flush()
    w.finish()
    assert load_jsonl(out) == [{"old": 1}, {"new": 1}]


# -- the real engine: a .json output through kill -9 and resume ----------------------------------

def test_json_output_through_kill_9_and_resume_is_one_valid_array(tmp_path, site_server):
    site = build_linked_site(80, robots=False)
    reached = threading.Event()
    served = []

    def slow(page):
        def serve(info):
            served.append(1)
            if len(served) >= 20:
                reached.set()
            return Page(page(info) if callable(page) else page, delay=0.02)
        return serve

    server = site_server({path: slow(page) for path, page in site.items()})
    seeds = seeds_for(tmp_path, server)
    out, job = tmp_path / "o.json", tmp_path / "job"
    cmd = [sys.executable, "-m", "scrapepool", "crawl", str(seeds), "-o", str(out), "--job-dir", str(job),
           "-w", "2", "-c", "2", "--no-robots", "-q"]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert reached.wait(30), proc.stderr.read() if proc.poll() is not None else "no request"
        os.killpg(proc.pid, signal.SIGKILL)
        # The kill landed mid-crawl: it is what ended the crawl (one over has exited 0 by itself).
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()
    # ... when only part of the site had been asked for and written.
    asked = {path.split("?")[0] for _, path in server.requests}
    assert len(served) >= 20 and len(asked) < len(site)
    assert (out.read_text(encoding="utf-8").count('"url": ') if out.exists() else 0) < len(site)
    before = len(server.requests)
    done = subprocess.run(cmd, cwd=str(ROOT), env=_env(), capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
    # ... and the resumed crawl did the rest: it asked for pages the killed one never reached.
    assert {path.split("?")[0] for _, path in server.requests[before:]} - asked
    records = json.loads(out.read_text(encoding="utf-8"))
    urls = sorted(r["url"].split("?")[0] for r in records)
    assert urls == sorted({server.url + p for p in site})


def test_crawl_site_returns_this_crawls_records_in_a_kept_output(tmp_path):
    """The pytest plugin's crawl_site reads its output back: it overwrites, never appends."""
    from scrapepool.testing.pytest_plugin import crawl_site

    site = {"/": "<title>x</title>"}
    out = tmp_path / "kept.jsonl"
    for _ in range(2):
        result = crawl_site(VaryingKeys, site, output=str(out))
        assert result.records == RECORDS


@pytest.mark.parametrize("name", ["out.jsonl", "out.csv", "out.json"])
def test_a_committed_end_past_the_file_is_refused_never_padded(tmp_path, name):
    """A file shorter than its committed end lost committed records (cut or replaced by
    someone else): reopening it there, or cutting "back" to there, must not pad it with NUL
    bytes and carry on as if nothing were missing."""
    path = tmp_path / name
    exporter = open_exporter(str(path), fsync=False)
    exporter.open(None)
    exporter.write([{"a": 1}, {"a": 2}])
    end = exporter.commit()
    exporter.close()
    before = path.read_bytes()
    cut_output(str(path), len(before) + 100)
    assert path.read_bytes() == before
    again = open_exporter(str(path), fsync=False)
    with pytest.raises(OutputError, match="before its committed end .*: records already committed are missing"):
        again.open(len(before) + 100)
    assert path.read_bytes() == before and end <= len(before)
