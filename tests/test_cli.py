"""The command line, run as a real subprocess: ``python -m scrapepool ...``."""

import csv
import json
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ROBOTS, SITE_FIELDS, STATS_KEYS, one_line

import scrapepool

pytestmark = pytest.mark.timeout(60)

SPIDERS_FILE = Path(__file__).resolve().parent / "spiders.py"


@pytest.fixture
def small_site(site_server):
    return site_server({
        "/": '<html><head><title>Café ✓</title></head><a href="/a">a</a><a href="/b">b</a></html>',
        "/a": "<title>A</title>", "/b": "<title>B</title>", "/robots.txt": ROBOTS})


def seeds_file(tmp_path, *lines, name="seeds.txt"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path



# -- usage errors: exit 2, one line ------------------------------------------------------------

def test_missing_seeds_file(run_cli, tmp_path):
    rc, out, err = run_cli("crawl", "nope.txt", "-w", "1")
    assert rc == 2
    line = one_line(err)
    assert "nope.txt" in line and "not found" in line
    assert out == ""


def test_unreadable_seeds_file(run_cli, tmp_path):
    (tmp_path / "adir").mkdir()
    rc, out, err = run_cli("crawl", "adir", "-w", "1")
    assert rc == 2
    line = one_line(err)
    assert "adir" in line and "seeds file" in line


def test_seeds_file_without_a_url(run_cli, tmp_path):
    seeds = seeds_file(tmp_path, "# only comments", "", "   ", "  # indented comment")
    rc, out, err = run_cli("crawl", seeds, "-w", "1")
    assert rc == 2
    assert "no valid start URL" in one_line(err)


def test_seeds_file_with_only_bad_lines(run_cli, tmp_path):
    seeds = seeds_file(tmp_path, "ftp://example.com/", "example.com/no-scheme")
    rc, out, err = run_cli("crawl", seeds, "-w", "1")
    assert rc == 2 and "Traceback" not in err
    assert "seeds.txt:1:" in err and "seeds.txt:2:" in err
    assert sum("error" in line and "no valid start URL" in line for line in err.splitlines()) == 1


def test_bad_seed_lines_are_reported_with_their_number_and_skipped(run_cli, tmp_path, small_site, read_jsonl):
    base = small_site.url
    lines = ["# seeds", "", "ftp://example.com/", "http://", f"{base}/a", "http://127.0.0.1:99999/",
             f"http://127.0.0.1:{small_site.port}/with space", f"{base}/\x07bell", "   ", f"  {base}/  "]
    bad = {3: "not an http", 4: "no host", 6: "bad port", 7: "spaces", 8: "control"}
    seeds = seeds_file(tmp_path, *lines)
    rc, out, err = run_cli("crawl", "seeds.txt", "-w", "1", "-c", "2", "-o", "out.jsonl")
    assert rc == 0, err
    assert "Traceback" not in err
    for number, reason in bad.items():
        reported = [line for line in err.splitlines() if f"seeds.txt:{number}:" in line]
        assert len(reported) == 1, (number, err)
        assert reason in reported[0]
    for number in (1, 2, 5, 9, 10):
        assert f"seeds.txt:{number}:" not in err
    records = read_jsonl(tmp_path / "out.jsonl")
    assert sorted(urlsplit(r["url"]).path for r in records) == ["/", "/a", "/b"]
    assert small_site.count("/with space") == small_site.count("/with%20space") == 0


def test_seeds_file_with_a_byte_order_mark(run_cli, tmp_path, small_site, read_jsonl):
    (tmp_path / "seeds.txt").write_bytes(b"\xef\xbb\xbf" + f"{small_site.url}/a\n".encode())
    rc, out, err = run_cli("crawl", "seeds.txt", "-w", "1", "--max-depth", "0", "-o", "o.jsonl")
    assert rc == 0, err
    assert [urlsplit(r["url"]).path for r in read_jsonl(tmp_path / "o.jsonl")] == ["/a"]


@pytest.mark.parametrize("spider, words", [
    ("missing_file.py:Spider", ["missing_file.py", "not found"]),
    ("no_such_module_xyz:Spider", ["no_such_module_xyz", "not found"]),
    ("tests.spiders:NoSuchClass", ["tests.spiders", "NoSuchClass"]),
    ("tests.spiders:NotASpider", ["NotASpider", "not a Spider"]),
    (f"{SPIDERS_FILE}:not_a_class", ["not_a_class", "not a Spider"]),
    ("no-colon", ["no-colon", "module:Class"]),
])
def test_bad_spider_reference(run_cli, tmp_path, small_site, spider, words):
    seeds = seeds_file(tmp_path, small_site.url + "/")
    rc, out, err = run_cli("crawl", seeds, "-s", spider, "-w", "1")
    assert rc == 2
    line = one_line(err)
    for word in words:
        assert word in line
    assert small_site.requests == []


@pytest.mark.parametrize("args, word", [
    (["-w", "many"], "-w"),
    (["-w", "0"], "workers"),
    (["--max-depth", "-1"], "max_depth"),
    (["--start-method", "thread"], "start-method"),
    (["--no-such-option"], "--no-such-option"),
])
def test_bad_options(run_cli, tmp_path, small_site, args, word):
    seeds = seeds_file(tmp_path, small_site.url + "/")
    rc, out, err = run_cli("crawl", seeds, *args)
    assert rc == 2
    assert word in one_line(err)
    assert small_site.requests == []


def test_no_command_is_a_usage_error(run_cli):
    rc, out, err = run_cli()
    assert rc == 2 and "crawl" in err and "Traceback" not in err


# -- fatal errors: exit 1 --------------------------------------------------------------------

@pytest.mark.parametrize("output", ["missing/out.jsonl", "missing/out.csv", "missing/out.sqlite", "adir.jsonl"])
def test_unwritable_output_fails_before_any_request(run_cli, tmp_path, small_site, output):
    (tmp_path / "adir.jsonl").mkdir()  # an output path that is a folder
    seeds = seeds_file(tmp_path, small_site.url + "/")
    rc, out, err = run_cli("crawl", seeds, "-o", output, "-w", "1")
    assert rc == 1
    line = one_line(err)
    assert output.split("/")[0] in line
    assert small_site.requests == []  # not even robots.txt


# -- outputs, read back ---------------------------------------------------------------------

def check_records(records, server):
    assert sorted(urlsplit(r["url"]).path for r in records) == ["/", "/a", "/b"]
    home = next(r for r in records if urlsplit(r["url"]).path == "/")
    assert home["title"] == "Café ✓"
    assert str(home["status"]) == "200" and str(home["links"]) == "2"
    assert str(home["depth"]) == "0"


def test_output_jsonl(run_cli, tmp_path, small_site, read_jsonl):
    seeds = seeds_file(tmp_path, small_site.url + "/")
    rc, out, err = run_cli("crawl", seeds, "-o", "out.jsonl", "-w", "2", "-c", "2")
    assert rc == 0, err
    assert "Traceback" not in err
    raw = (tmp_path / "out.jsonl").read_bytes()
    assert "Café ✓".encode() in raw  # UTF-8, not \u escapes
    records = read_jsonl(tmp_path / "out.jsonl")
    assert all(list(r) == SITE_FIELDS for r in records)
    check_records(records, small_site)
    assert out == ""


def test_output_csv(run_cli, tmp_path, small_site):
    seeds = seeds_file(tmp_path, small_site.url + "/")
    rc, out, err = run_cli("crawl", seeds, "-o", "out.csv", "-w", "1", "-c", "2")
    assert rc == 0, err
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == SITE_FIELDS
    assert len(rows) == 3
    check_records(rows, small_site)
    assert all(r["error"] == "" for r in rows)  # None is an empty cell


def test_output_sqlite(run_cli, tmp_path, small_site):
    seeds = seeds_file(tmp_path, small_site.url + "/")
    rc, out, err = run_cli("crawl", seeds, "-o", "out.sqlite", "-w", "1", "-c", "2")
    assert rc == 0, err
    conn = sqlite3.connect(tmp_path / "out.sqlite")
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(records)")]
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM records")]
    finally:
        conn.close()
    assert columns == SITE_FIELDS
    assert len(rows) == 3
    check_records(rows, small_site)
    assert all(r["status"] == 200 and r["error"] is None for r in rows)


def test_output_stdout(run_cli, tmp_path, small_site):
    seeds = seeds_file(tmp_path, small_site.url + "/")
    rc, out, err = run_cli("crawl", seeds, "-o", "-", "-w", "2", "-c", "2")
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]  # nothing but records on stdout
    check_records(records, small_site)
    assert "Café ✓" in out
    assert not (tmp_path / "crawl.jsonl").exists()


def test_default_output_and_stats_file(run_cli, tmp_path, small_site, read_jsonl):
    seeds = seeds_file(tmp_path, small_site.url + "/")
    rc, out, err = run_cli("crawl", seeds, "--stats", "stats.json", "-q", "-w", "1", "--start-method", "fork")
    assert rc == 0, err
    assert err == "" and out == ""  # -q: errors only
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert set(stats) == STATS_KEYS
    assert stats["pages"] == stats["records"] == 3
    assert stats["finish_reason"] == "finished"
    assert len(read_jsonl(tmp_path / "crawl.jsonl")) == 3


def test_spider_error_is_logged_with_its_url_and_the_crawl_goes_on(run_cli, tmp_path, site_server, read_jsonl):
    server = site_server({"/": '<a href="/bad">b</a><a href="/ok">o</a>', "/bad": "b", "/ok": "o",
                          "/robots.txt": ROBOTS})
    seeds = seeds_file(tmp_path, server.url + "/")
    rc, out, err = run_cli("crawl", seeds, "-s", "tests.spiders:RaisesOnBad", "-o", "o.jsonl", "-w", "1",
                           "--stats", "s.json")
    assert rc == 0, err
    assert "Traceback" not in err
    logged = [line for line in err.splitlines() if server.url + "/bad" in line and "ValueError" in line]
    assert len(logged) == 1
    assert sorted(urlsplit(r["url"]).path for r in read_jsonl(tmp_path / "o.jsonl")) == ["/", "/bad", "/ok"]
    assert json.loads((tmp_path / "s.json").read_text())["spider_errors"] == 1


def test_user_spider_from_a_file_with_a_relative_path(run_cli, tmp_path, site_server, read_jsonl):
    (tmp_path / "myspider.py").write_text(
        "from scrapepool import Spider\n\n"
        "class Titles(Spider):\n"
        "    def parse(self, response):\n"
        "        yield {'title': response.soup.title.string, 'depth': response.depth}\n"
        "        for a in response.select('a'):\n"
        "            yield response.follow(a, callback=self.parse)\n")
    server = site_server({"/": '<title>home</title><a href="/x">x</a>', "/x": "<title>x</title>",
                          "/robots.txt": ROBOTS})
    seeds = seeds_file(tmp_path, server.url + "/")
    rc, out, err = run_cli("crawl", seeds, "-s", "myspider.py:Titles", "-o", "o.jsonl", "-w", "2")
    assert rc == 0, err
    assert sorted((r["depth"], r["title"]) for r in read_jsonl(tmp_path / "o.jsonl")) == [(0, "home"), (1, "x")]


def test_version(run_cli):
    rc, out, err = run_cli("--version")
    assert rc == 0
    assert out.strip() == f"scrapepool {scrapepool.__version__}"


def test_spider_arguments_and_start_requests_without_a_seeds_file(run_cli, tmp_path, small_site, read_jsonl):
    urls = f"{small_site.url}/a,{small_site.url}/b"
    rc, out, err = run_cli("crawl", "-s", "tests.spiders:StartUrlsSpider", "-a", f"urls={urls}",
                           "-o", "o.jsonl", "-w", "1")
    assert rc == 0, err
    assert sorted(r["url"] for r in read_jsonl(tmp_path / "o.jsonl")) == urls.split(",")
    assert small_site.count("/") == 0


def test_usage_error_creates_no_output_file(run_cli, tmp_path):
    seeds = seeds_file(tmp_path, "# nothing to crawl")
    rc, out, err = run_cli("crawl", seeds)
    assert rc == 2
    assert not (tmp_path / "crawl.jsonl").exists()
