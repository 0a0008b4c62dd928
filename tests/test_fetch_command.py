"""``scrapepool fetch URL``, run as a subprocess against a real server on 127.0.0.1."""

import socket

import pytest
from conftest import ROOT, one_line, run_scrapepool

from scrapepool.testing.testserver import Page

pytestmark = pytest.mark.timeout(60)

#: Not UTF-8, no newline at the end: printed byte for byte or not at all.
BODY = b"<html><title>caf\xe9</title>\x00\xff</html>"


@pytest.fixture
def site(site_server):
    return site_server({
        "/": Page(BODY, content_type="text/html; charset=latin-1", headers={"X-Served-By": "test"}),
        "/old": Page("", status=301, headers={"Location": "/"}),
        "/missing": Page("no such page", status=404, content_type="text/plain"),
        "/private": "secret",
        "/robots.txt": Page("User-agent: *\nDisallow: /private\n", content_type="text/plain"),
    })


def fetch(*args, cwd=None, timeout=30):
    """``scrapepool fetch ARGS`` -> (rc, stdout bytes, stderr text)."""
    rc, out, err = run_scrapepool("fetch", *args, cwd=cwd or ROOT, timeout=timeout, text=False)
    return rc, out, err.decode("utf-8", "replace")



def test_prints_the_body_byte_for_byte(site):
    rc, out, err = fetch(site.url_for("/"))
    assert (rc, out) == (0, BODY), err


def test_headers_prints_what_was_sent_and_received(site):
    rc, out, err = fetch(site.url_for("/"), "--headers", "-H", "X-Token: t1", "--user-agent", "agent/2")
    assert rc == 0, err
    lines = out.decode().splitlines()
    sent, received = lines[:lines.index(">")], lines[lines.index(">") + 1:]
    assert "> User-Agent: agent/2" in sent and "> X-Token: t1" in sent
    assert "< X-Served-By: test" in received and "< Content-Type: text/html; charset=latin-1" in received
    assert BODY not in out


def test_redirects_are_followed_unless_no_redirect(site):
    rc, out, err = fetch(site.url_for("/old"))
    assert (rc, out) == (0, BODY), err
    rc, out, err = fetch(site.url_for("/old"), "--no-redirect", "--headers")
    assert rc == 0, err
    assert "< Location: /" in out.decode().splitlines()
    assert site.count("/") == 1  # only the first, followed, fetch reached it


def test_an_error_status_is_printed_with_exit_0(site):
    rc, out, err = fetch(site.url_for("/missing"))
    assert (rc, out) == (0, b"no such page"), err


def test_no_response_is_one_line_and_exit_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, out, err = fetch(f"http://127.0.0.1:{port}/", "--retries", "0")
    assert rc == 1 and out == b""
    assert one_line(err).startswith(f"scrapepool: error: http://127.0.0.1:{port}/: connection error")


def test_robots_txt_is_obeyed_unless_no_robots(site):
    rc, out, err = fetch(site.url_for("/private"))
    assert rc == 1 and out == b"" and "forbidden by robots.txt" in one_line(err)
    rc, out, err = fetch(site.url_for("/private"), "--no-robots")
    assert (rc, out) == (0, b"secret"), err


def test_a_local_file(tmp_path):
    (tmp_path / "page.html").write_bytes(BODY)
    rc, out, err = fetch("page.html", cwd=tmp_path)
    assert (rc, out) == (0, BODY), err


@pytest.mark.parametrize("args, words", [
    (("ftp://127.0.0.1/",), "only http://"),
    (("http://127.0.0.1:0/",), "bad port"),
    ((), "required: URL|FILE"),
    (("http://127.0.0.1/", "--set", "nope=1"), "no such setting"),
])
def test_bad_arguments_are_one_line_and_exit_2(args, words):
    rc, out, err = fetch(*args)
    assert rc == 2 and out == b""
    assert words in one_line(err)
