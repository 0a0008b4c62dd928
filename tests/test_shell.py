"""``scrapepool shell``, driven as a user drives it without a terminal: ``-c CODE``, a script on
stdin, and (through a pseudo-terminal) the interactive console; against a real server on 127.0.0.1."""

import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time

import pytest
from conftest import ROOT, _env, one_line, run_scrapepool

from scrapepool.testing.testserver import Page

pytestmark = pytest.mark.timeout(60)

ROBOTS = Page("User-agent: *\nDisallow: /private\n", content_type="text/plain")


def echo_headers(info):
    return Page(json.dumps(info.headers), content_type="application/json")


def login(info):
    return Page("<title>in</title>", headers={"Set-Cookie": "session=s3cret; Path=/"})


@pytest.fixture
def site(site_server):
    return site_server({
        "/": '<!DOCTYPE html><html><head><title>Home</title></head><body><h1>Hi</h1>'
             '<a href="/a">A</a><a href="/b">B</a></body></html>',
        "/a": "<html><head><title>Page A</title></head></html>",
        "/old": Page("", status=302, headers={"Location": "/a"}),
        "/private": "<title>Private</title>",
        "/missing": Page("<title>Gone</title>", status=404),
        "/headers": echo_headers,
        "/login": login,
        "/robots.txt": ROBOTS,
    })


def shell(*args, stdin="", cwd=None, env=None, timeout=30):
    """``scrapepool shell ARGS`` with ``stdin`` piped in -> (rc, stdout, stderr)."""
    return run_scrapepool("shell", *args, stdin=stdin, cwd=cwd or ROOT, env=env, timeout=timeout)



def closed_port():
    """A port of 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- -c ------------------------------------------------------------------------------------------

def test_c_prints_a_selectors_value(site):
    rc, out, err = shell(site.url, "-c", 'response.css("title::text").get()')
    assert (rc, out) == (0, "Home\n"), err


def test_c_runs_statements_and_sees_the_namespace(site):
    code = "print(response.status, request.url == response.url, settings.robots, type(spider).__name__)"
    rc, out, err = shell(site.url_for("/a"), "-c", code)
    assert (rc, out) == (0, "200 True True Spider\n"), err


def test_c_error_in_the_code_is_one_line_and_exit_1(site):
    rc, out, err = shell(site.url, "-c", "response.nope")
    assert rc == 1 and out == ""
    assert one_line(err) == ("scrapepool: error: <-c>, line 1: AttributeError: "
                             "'Response' object has no attribute 'nope'")


def test_shelp_lists_the_objects_and_shortcuts():
    rc, out, err = shell("-c", "shelp()")
    assert rc == 0, err
    for name in ("response", "request", "settings", "spider", "fetch(url", "view(response)", "shelp()"):
        assert name in out


# -- failures ------------------------------------------------------------------------------------

def test_failed_fetch_with_c_is_one_line_and_exit_1():
    url = f"http://127.0.0.1:{closed_port()}/"
    rc, out, err = shell(url, "--retries", "0", "-c", "response")
    assert rc == 1 and out == ""
    line = one_line(err)
    assert line.startswith(f"scrapepool: error: {url}: connection error") and "refused" in line


def test_failed_fetch_still_opens_the_shell_with_no_response(site):
    url = f"http://127.0.0.1:{closed_port()}/"
    script = f"print(response, request.url)\nfetch({site.url_for('/a')!r})\nresponse.status\n"
    rc, out, err = shell(url, "--retries", "0", stdin=script)
    assert rc == 0, err
    assert out.splitlines()[0] == f"None {url}"
    assert out.splitlines()[-1] == "200"
    assert "connection error" in err and "Traceback" not in err


def test_robots_txt_is_obeyed_unless_no_robots(site):
    rc, out, err = shell(site.url_for("/private"), "-c", "response")
    assert rc == 1 and "forbidden by robots.txt" in one_line(err)
    assert site.count("/private") == 0
    rc, out, err = shell(site.url_for("/private"), "--no-robots", "-c", 'response.css("title::text").get()')
    assert (rc, out) == (0, "Private\n"), err
    assert site.count("/private") == 1


def test_a_target_that_cannot_be_fetched_is_a_usage_error():
    rc, out, err = shell("ftp://127.0.0.1/x", "-c", "1")
    assert rc == 2 and "only http://, https:// and file://" in one_line(err)


# -- script on stdin -----------------------------------------------------------------------------

def test_script_on_stdin_runs_blocks_and_echoes_expressions(site):
    script = ("response.status\n"
              "for href in response.css('a::attr(href)').getall():\n"
              "    print(href)\n"
              "n = len(response.css('a'))\n"
              "n\n"
              "None\n")
    rc, out, err = shell(site.url, stdin=script)
    assert rc == 0, err
    assert out.splitlines() == ["200", "/a", "/b", "2"]


def test_script_error_names_its_line_and_exits_1(site):
    rc, out, err = shell(site.url, stdin="print('before')\nx = 1\nundefined_name\nprint('after')\n")
    assert rc == 1 and out == "before\n"
    assert err.strip().splitlines()[-1] == \
        "scrapepool: error: <stdin>, line 3: NameError: name 'undefined_name' is not defined"


def test_fetch_rebinds_response_and_request(site):
    script = (f"fetch({site.url_for('/a')!r})\n"
              "print(request.url, response.css('title::text').get())\n"
              f"fetch(Request({site.url_for('/headers')!r}, headers={{'X-Mine': 'yes'}}))\n"
              "print(response.json()['X-Mine'])\n")
    rc, out, err = shell(site.url, stdin=script)
    assert rc == 0, err
    assert out.splitlines() == [f"{site.url_for('/a')} Page A", "yes"]


def test_redirects_followed_or_not(site):
    rc, out, err = shell(site.url_for("/old"), "-c", "response.status, response.url, response.meta")
    assert rc == 0, err
    assert out.strip() == repr((200, site.url_for("/a"), {"redirect_urls": [site.url_for("/old")],
                                                          "redirect_reasons": [302]}))
    rc, out, err = shell(site.url_for("/old"), "--no-redirect", "-c",
                         "response.status, response.headers['Location']")
    assert (rc, out.strip()) == (0, "(302, '/a')"), err
    script = f"fetch({site.url_for('/old')!r}, redirect=False)\nresponse.status\n"
    rc, out, err = shell(site.url, stdin=script)
    assert (rc, out.strip()) == (0, "302"), err


def test_any_status_is_a_response(site):
    rc, out, err = shell(site.url_for("/missing"), "-c", 'response.status, response.css("title::text").get()')
    assert (rc, out.strip()) == (0, "(404, 'Gone')"), err


# -- the crawl's settings ------------------------------------------------------------------------

def test_headers_user_agent_project_file_and_set(site, tmp_path):
    (tmp_path / "scrapepool.toml").write_text('user_agent = "from-the-project/1.0"\n', encoding="utf-8")
    code = "h = response.json(); print(h['User-Agent'], h.get('X-Token'), h.get('Accept-Language'))"
    rc, out, err = shell(site.url_for("/headers"), "-H", "X-Token: t1", "--header", "Accept-Language: fr",
                         "-c", code, cwd=tmp_path)
    assert (rc, out) == (0, "from-the-project/1.0 t1 fr\n"), err
    rc, out, err = shell(site.url_for("/headers"), "--set", "USER_AGENT=set-agent", "-c", code, cwd=tmp_path)
    assert (rc, out) == (0, "set-agent None en\n"), err


def test_cookies_are_kept_between_fetches_unless_no_cookies(site):
    script = f"fetch({site.url_for('/headers')!r})\nprint(response.json().get('Cookie'))\n"
    rc, out, err = shell(site.url_for("/login"), stdin=script)
    assert (rc, out) == (0, "session=s3cret\n"), err
    rc, out, err = shell(site.url_for("/login"), "--no-cookies", stdin=script)
    assert (rc, out) == (0, "None\n"), err


def test_http_cache_serves_the_second_shell(site, tmp_path):
    cache = tmp_path / "cache"
    for _ in range(2):
        rc, out, err = shell(site.url_for("/a"), "--http-cache", cache, "-c",
                             'response.css("title::text").get()')
        assert (rc, out) == (0, "Page A\n"), err
    assert site.count("/a") == 1
    assert site.count("/robots.txt") == 1  # robots.txt is cached too, as in a crawl


# -- local files ---------------------------------------------------------------------------------

def test_local_files_by_path_dot_path_and_file_url(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>Local</title></head><body><a href='x.html'>x</a></body></html>",
                    encoding="utf-8")
    show = ("print(response.status, response.headers['Content-Type'], response.css('title::text').get(), "
            "response.url)\n")
    targets = ("./page.html", str(page), page.as_uri())
    script = show + "".join(f"fetch({target!r})\n" + show for target in targets)
    rc, out, err = shell("page.html", stdin=script, cwd=tmp_path)
    assert rc == 0, err
    assert out.splitlines() == [f"200 text/html Local {page.as_uri()}"] * 4


def test_a_missing_file_is_one_line_and_exit_1(tmp_path):
    rc, out, err = shell("./nothing-here.html", "-c", "response", cwd=tmp_path)
    assert rc == 1 and out == ""
    assert one_line(err) == f"scrapepool: error: cannot read {tmp_path / 'nothing-here.html'}: " \
                            "No such file or directory"


# -- view ----------------------------------------------------------------------------------------

def test_view_opens_the_page_with_a_base_in_the_browser(site):
    env = _env()
    env["BROWSER"] = f"{sys.executable} -c \"import sys; print('OPENED', sys.argv[1])\" %s"
    rc, out, err = shell(site.url, "-c", "view(response)", env=env)
    assert rc == 0, err
    opened, path = out.splitlines()
    assert opened == "OPENED file://" + path
    try:
        with open(path, "rb") as f:
            body = f.read()
        # After the doctype (a base before it would put the browser in quirks mode).
        assert body.startswith(f'<!DOCTYPE html><base href="{site.url}"><html>'.encode())
    finally:
        os.unlink(path)


def test_view_without_a_browser_returns_the_path_and_does_not_hang(site):
    env = {k: v for k, v in _env().items() if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY")}
    rc, out, err = shell(site.url, "-c", "view()", env=env, timeout=20)
    assert rc == 0, err
    path = out.strip()
    try:
        assert path.endswith(".html") and f"the page is at {path}" in err
    finally:
        os.unlink(path)


# -- the interactive console ---------------------------------------------------------------------

def test_interactive_console_on_a_terminal(site):
    """On a terminal: the standard console (SCRAPEPOOL_SHELL=python), the help as its banner,
    fetch() rebinding response; exit() ends it with status 0."""
    env = _env()
    env["SCRAPEPOOL_SHELL"] = "python"
    env["TERM"] = "dumb"
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "scrapepool", "shell", site.url], stdin=slave,
                            stdout=slave, stderr=slave, cwd=str(ROOT), env=env, close_fds=True)
    os.close(slave)
    seen = b""

    def read_until(marker, timeout=20):
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} in {seen!r}"
            ready, _, _ = select.select([master], [], [], left)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the other side closed
                    break
                if not chunk:
                    break
                seen += chunk
        return seen

    try:
        read_until(b">>> ")
        assert b"Available scrapepool objects" in seen and b"fetched (200)" in seen
        os.write(master, f"fetch({site.url_for('/a')!r})\n".encode())
        os.write(master, b"print('TITLE=' + response.css('title::text').get())\n")
        read_until(b"TITLE=Page A")
        os.write(master, b"exit()\n")
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"Traceback" not in seen
    assert re.search(rb"fetched \(200\) GET http://127\.0\.0\.1:\d+/a", seen)


def test_a_spiders_settings_and_default_headers(site, tmp_path):
    """``-s file.py:Class``, as Scrapy's ``shell --spider``: its custom_settings and default_headers
    apply, and it is ``spider`` in the namespace."""
    (tmp_path / "myspider.py").write_text(
        "from scrapepool import Spider\n\n\n"
        "class MySpider(Spider):\n"
        "    name = 'myspider'\n"
        "    custom_settings = {'USER_AGENT': 'myspider-agent'}\n"
        "    default_headers = {'X-From-Spider': 'yes'}\n", encoding="utf-8")
    code = "spider.name, response.json()['User-Agent'], response.json()['X-From-Spider']"
    rc, out, err = shell(site.url_for("/headers"), "-s", "myspider.py:MySpider", "-c", code, cwd=tmp_path)
    assert (rc, out.strip()) == (0, "('myspider', 'myspider-agent', 'yes')"), err
