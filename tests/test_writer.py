"""Exporters (scrapepool.output.exporters) and the writer's bookkeeping (scrapepool.output.writer), in-process."""

import csv
import json
import sqlite3
from multiprocessing import Pipe

import pytest

from scrapepool import OutputError
from scrapepool import _messages as m
from scrapepool.output.exporters import check_output, cut_output, open_exporter, output_format
from scrapepool.output.writer import CommittedSet, Writer

UNICODE = "héllo ✓ 日本 Привет"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def read_sqlite(path):
    conn = sqlite3.connect(path)
    try:
        cols = [row[1] for row in conn.execute("PRAGMA table_info(records)")]
        rows = conn.execute("SELECT * FROM records ORDER BY rowid").fetchall()
    finally:
        conn.close()
    return cols, rows


# -- formats and early checks ------------------------------------------------------------------

@pytest.mark.parametrize("path, fmt", [("-", "stdout"), ("a.jsonl", "jsonl"), ("a.JL", "jsonl"),
                                       ("a.ndjson", "jsonl"), ("a.csv", "csv"), ("a.sqlite", "sqlite"),
                                       ("a.db", "sqlite"), ("a.sqlite3", "sqlite")])
def test_output_format(path, fmt):
    assert output_format(path) == fmt


def test_unknown_format_is_refused():
    with pytest.raises(OutputError, match="out.txt"):
        output_format("out.txt")


def test_check_output(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        check_output(str(tmp_path / "missing" / "o.jsonl"))
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(OutputError, match="folder"):
        check_output(str(tmp_path / "d.csv"))
    existing = tmp_path / "old.jsonl"
    existing.write_text('{"keep": 1}\n')
    assert check_output(str(existing)) == "jsonl"
    assert existing.read_text() == '{"keep": 1}\n'  # checking never truncates
    assert check_output("-") == "stdout"


# -- JSON lines --------------------------------------------------------------------------------

def test_jsonl_write_commit_close(tmp_path):
    path = tmp_path / "o.jsonl"
    ex = open_exporter(str(path))
    ex.open(None)
    ex.write([{"a": 1, "text": UNICODE}, {"nested": {"x": [1, 2]}, "none": None}])
    offset = ex.commit()
    ex.close()
    raw = path.read_bytes()
    assert offset == len(raw)
    assert UNICODE.encode("utf-8") in raw and b"\\u" not in raw  # UTF-8, not ASCII escapes
    assert [json.loads(line) for line in raw.decode().splitlines()] == [
        {"a": 1, "text": UNICODE}, {"nested": {"x": [1, 2]}, "none": None}]


def test_jsonl_odd_values_are_serialised(tmp_path):
    path = tmp_path / "o.jsonl"
    ex = open_exporter(str(path))
    ex.open(None)
    ex.write([{"t": (1, 2), "b": "é".encode(), "s": {3}}])
    ex.commit()
    ex.close()
    assert json.loads(path.read_text(encoding="utf-8")) == {"t": [1, 2], "b": "é", "s": [3]}


def test_jsonl_open_none_starts_empty(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text('{"old": 1}\n')
    ex = open_exporter(str(path))
    ex.open(None)
    assert ex.commit() == 0
    ex.close()
    assert path.read_bytes() == b""


def test_jsonl_reopen_with_offset_cuts_a_torn_tail(tmp_path):
    path = tmp_path / "o.jsonl"
    ex = open_exporter(str(path))
    ex.open(None)
    ex.write([{"n": 1}, {"n": 2}])
    offset = ex.commit()
    ex.write([{"n": 3}])  # written, never committed
    ex.close()
    with open(path, "ab") as f:
        f.write(b'{"n": 4, "torn')  # a half-written last line
    ex = open_exporter(str(path))
    ex.open(offset)
    ex.write([{"n": 5}])
    end = ex.commit()
    ex.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["n"] for line in lines] == [1, 2, 5]
    assert end == path.stat().st_size


def test_cut_output(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2')
    cut_output(str(path), len(b'{"n": 1}\n'))
    assert path.read_bytes() == b'{"n": 1}\n'
    cut_output(str(path), None)  # nothing committed known: left alone
    assert path.read_bytes() == b'{"n": 1}\n'


# -- CSV ---------------------------------------------------------------------------------------

def test_csv_header_is_the_first_records_keys(tmp_path):
    path = tmp_path / "o.csv"
    ex = open_exporter(str(path))
    ex.open(None)
    ex.write([{"url": "u1", "title": UNICODE, "tags": ["a", "b"], "none": None},
              {"title": "t2, with \"quotes\"\nand a newline", "url": "u2", "extra": "dropped"}])
    ex.commit()
    ex.close()
    fields, rows = read_csv(path)
    assert fields == ["url", "title", "tags", "none"]
    assert rows[0] == {"url": "u1", "title": UNICODE, "tags": '["a", "b"]', "none": ""}
    assert rows[1] == {"url": "u2", "title": "t2, with \"quotes\"\nand a newline", "tags": "", "none": ""}
    assert ex.dropped == {"extra": 1}  # values of keys that are not columns, per key


def test_csv_reopen_with_offset_keeps_one_header(tmp_path):
    path = tmp_path / "o.csv"
    ex = open_exporter(str(path))
    ex.open(None)
    ex.write([{"a": 1, "b": 2}])
    offset = ex.commit()
    ex.write([{"a": "lost", "b": "lost"}])
    ex.close()
    with open(path, "ab") as f:
        f.write(b"torn,li")
    ex = open_exporter(str(path))
    ex.open(offset)
    ex.write([{"b": 4, "a": 3}])
    ex.commit()
    ex.close()
    fields, rows = read_csv(path)
    assert fields == ["a", "b"]
    assert rows == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]


# -- SQLite ------------------------------------------------------------------------------------

def test_sqlite_one_column_per_field(tmp_path):
    path = tmp_path / "o.sqlite"
    ex = open_exporter(str(path))
    ex.open(None)
    ex.write([{"url": "u1", "n": 1, "nested": {"k": [1]}}, {"url": "u2", "later": UNICODE}])
    assert ex.commit() == 2
    ex.close()
    cols, rows = read_sqlite(path)
    assert cols == ["url", "n", "nested", "later"]
    assert rows == [("u1", 1, '{"k": [1]}', None), ("u2", None, None, UNICODE)]


def test_sqlite_reopen_with_offset_drops_uncommitted_rows(tmp_path):
    path = tmp_path / "o.sqlite"
    ex = open_exporter(str(path))
    ex.open(None)
    ex.write([{"n": 1}, {"n": 2}])
    offset = ex.commit()
    ex.write([{"n": 3}])
    ex.commit()  # committed to SQLite, but the job DB only knows `offset`
    ex.close()
    ex = open_exporter(str(path))
    ex.open(offset)
    ex.write([{"n": 4}])
    assert ex.commit() == 3
    ex.close()
    assert read_sqlite(path)[1] == [(1,), (2,), (4,)]


def test_sqlite_open_none_starts_over(tmp_path):
    path = tmp_path / "o.db"
    for n in (1, 2):
        ex = open_exporter(str(path))
        ex.open(None)
        ex.write([{"n": n}])
        ex.commit()
        ex.close()
    assert read_sqlite(path)[1] == [(2,)]


def test_sqlite_empty_record(tmp_path):
    path = tmp_path / "o.sqlite"
    ex = open_exporter(str(path))
    ex.open(None)
    ex.write([{"n": 1}, {}])
    ex.commit()
    ex.close()
    assert read_sqlite(path)[1] == [(1,), (None,)]


def test_sqlite_fields_differing_only_in_case(tmp_path):
    path = tmp_path / "o.sqlite"
    ex = open_exporter(str(path))
    ex.open(None)
    ex.write([{"Name": "a", "name": "b"}])
    ex.commit()
    ex.close()
    assert len(read_sqlite(path)[1]) == 1


# -- stdout ------------------------------------------------------------------------------------

def test_stdout_exporter(capsys):
    ex = open_exporter("-")
    ex.open(None)
    ex.write([{"a": UNICODE}, {"b": 2}])
    offset = ex.commit()
    ex.close()
    out = capsys.readouterr().out
    assert out.splitlines() == [json.dumps({"a": UNICODE}, ensure_ascii=False), '{"b": 2}']
    assert offset == len(out)


# -- the writer's bookkeeping -------------------------------------------------------------------

def test_committed_set():
    s = CommittedSet([1, 5, 8191])
    assert 1 in s and 5 in s and 8191 in s
    assert 0 not in s and 2 not in s and 8190 not in s and 8192 not in s
    big = 10 ** 6 + 3
    assert big not in s  # beyond the bitmap: not committed, no error
    s.add(big)
    s.add(8192)
    assert big in s and 8192 in s and big - 1 not in s and big + 1 not in s
    assert 1 in s and 8191 in s  # growing kept the old bits
    for i in range(100, 200, 7):
        s.add(i)
    assert [i for i in range(100, 200) if i in s] == list(range(100, 200, 7))


def test_writer_drops_a_request_committed_before(tmp_path):
    """A request fetched twice (after a crash) is written once, even across a restart of the writer."""
    out, job = tmp_path / "o.jsonl", tmp_path / "job"
    coordinator, control = Pipe(duplex=True)
    w = Writer(control, str(out), str(job), durable=False)
    w.add(1, [{"req": 1, "n": 1}, {"req": 1, "n": 2}])
    w.add(2, [])
    w.add(1, [{"req": 1, "n": "again"}])
    w.flush()
    msg = coordinator.recv()
    assert type(msg) is m.Committed
    ids, n_records, offset = msg
    assert (ids, n_records, offset) == ([1, 2, 1], 2, out.stat().st_size)
    w.add(3, [{"req": 3}])
    w.flush()
    assert coordinator.recv()[:2] == ([3], 1)
    w.finish()
    with open(out, "ab") as f:
        f.write(b'{"torn": ')  # as if a crash cut a write short

    w = Writer(control, str(out), str(job), durable=False)  # a resumed job: same job folder
    w.add(1, [{"req": 1, "n": "third time"}])
    w.add(4, [{"req": 4}])
    w.flush()
    assert coordinator.recv()[:2] == ([1, 4], 1)
    w.finish()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records == [{"req": 1, "n": 1}, {"req": 1, "n": 2}, {"req": 3}, {"req": 4}]
