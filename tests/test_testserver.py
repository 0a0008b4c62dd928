import http.client
import socket
import threading
import time

import pytest
import requests

from scrapepool.testing.testserver import Page, SiteServer

pytestmark = pytest.mark.timeout(60)


def peer_port(info):
    return str(info.client[1])


@pytest.fixture
def server():
    site = {
        "/": "<html><title>home</title><p>héllo</p></html>",
        "/raw": b"<p>raw bytes</p>",
        "/created": Page(body="made", status=201, headers={"X-Test": "yes"}),
        "/data.json": Page(body=b'{"a": 1}', content_type="application/json"),
        "/override": Page(body="plain", headers={"Content-Type": "text/plain"}),
        "/redirect": Page(status=302, headers={"Location": "/"}),
        "/echo": lambda info: Page(body=info.method.encode() + b" " + info.path.encode() + b" " + info.body,
                                   content_type="text/plain"),
        "/gone": lambda info: None,
        "/boom": lambda info: 1 / 0,
        "/port": peer_port,
        "/search?q=a": "exact A",
        "/search": "any search",
    }
    with SiteServer(site) as s:
        yield s


def test_str_bytes_and_page_bodies(server):
    r = requests.get(server.url + "/", timeout=5)
    assert (r.status_code, r.text) == (200, "<html><title>home</title><p>héllo</p></html>")
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(r.headers["Content-Length"]) == len(r.content)

    r = requests.get(server.url_for("/raw"), timeout=5)
    assert (r.status_code, r.content, r.headers["Content-Type"]) == (200, b"<p>raw bytes</p>", "text/html")

    r = requests.get(server.url_for("created"), timeout=5)
    assert (r.status_code, r.text, r.headers["X-Test"]) == (201, "made", "yes")

    r = requests.get(server.url_for("/data.json"), timeout=5)
    assert r.headers["Content-Type"] == "application/json" and r.json() == {"a": 1}

    r = requests.get(server.url_for("/override"), timeout=5)
    assert r.headers["Content-Type"] == "text/plain"

    r = requests.get(server.url_for("/redirect"), timeout=5)
    assert r.history[0].status_code == 302 and r.url == server.url + "/"


def test_callable_pages_see_the_request(server):
    r = requests.post(server.url_for("/echo?x=1"), data=b"payload", timeout=5)
    assert r.text == "POST /echo?x=1 payload"
    assert requests.get(server.url_for("/gone"), timeout=5).status_code == 404
    r = requests.get(server.url_for("/boom"), timeout=5)
    assert r.status_code == 500 and "ZeroDivisionError" in r.text


def test_head_sends_length_but_no_body(server):
    # A raw socket: http.client discards whatever follows a HEAD answer, hiding a leaked body.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"HEAD /created HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201") and b"Content-Length: 4" in head and rest == b""


def test_unknown_path_is_404_with_html(server):
    r = requests.get(server.url_for("/nope"), timeout=5)
    assert r.status_code == 404 and "Not Found" in r.text
    assert r.headers["Content-Type"].startswith("text/html")


def test_query_matched_exactly_first_then_without_query(server):
    get = lambda path: requests.get(server.url_for(path), timeout=5).text
    assert get("/search?q=a") == "exact A"
    assert get("/search?q=b") == "any search"
    assert get("/search") == "any search"


def test_request_log_count_and_reset(server):
    for path in ("/search?q=a", "/search?q=b", "/search", "/nope"):
        requests.get(server.url_for(path), timeout=5)
    requests.post(server.url_for("/echo"), data=b"x", timeout=5)
    assert server.requests == [("GET", "/search?q=a"), ("GET", "/search?q=b"), ("GET", "/search"),
                               ("GET", "/nope"), ("POST", "/echo")]
    assert server.count("/search") == 3
    assert server.count("/search?q=a") == 1
    assert server.count("/nope") == 1
    assert server.count("/never") == 0
    server.reset()
    assert server.requests == [] and server.count("/search") == 0


def test_keep_alive_reuses_one_connection(server):
    with requests.Session() as session:
        first = session.get(server.url_for("/port"), timeout=5)
        second = session.get(server.url_for("/port"), timeout=5)
        assert "close" not in first.headers.get("Connection", "").lower()
        assert first.text == second.text
        # Control: asking to close forces a new connection, so the check above can fail.
        third = session.get(server.url_for("/port"), headers={"Connection": "close"}, timeout=5)
        assert third.headers["Connection"] == "close"
        fourth = session.get(server.url_for("/port"), timeout=5)
        assert third.text != fourth.text


def test_directory_site(tmp_path):
    root = tmp_path / "www"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<h1>root</h1>", encoding="utf-8")
    (root / "sub" / "index.html").write_text("<h1>sub</h1>", encoding="utf-8")
    (root / "style.css").write_text("p{}", encoding="utf-8")
    (root / "data.json").write_text("[1]", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("classified contents", encoding="utf-8")

    with SiteServer(root) as s:
        assert requests.get(s.url + "/", timeout=5).text == "<h1>root</h1>"
        assert requests.get(s.url_for("/sub/"), timeout=5).text == "<h1>sub</h1>"
        assert requests.get(s.url_for("/index.html?v=2"), timeout=5).text == "<h1>root</h1>"
        css = requests.get(s.url_for("/style.css"), timeout=5)
        assert css.headers["Content-Type"].startswith("text/css") and css.text == "p{}"
        assert requests.get(s.url_for("/data.json"), timeout=5).json() == [1]
        assert requests.get(s.url_for("/missing.html"), timeout=5).status_code == 404
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        conn.request("GET", "/../secret.txt")  # http.client does not normalise dot segments
        r = conn.getresponse()
        assert r.status == 404 and b"classified" not in r.read()
        conn.close()


def test_directory_site_must_exist(tmp_path):
    with pytest.raises(ValueError):
        SiteServer(tmp_path / "absent")


def test_url_needs_a_started_server():
    s = SiteServer({})
    with pytest.raises(RuntimeError):
        s.url
    with s:
        assert s.url == f"http://127.0.0.1:{s.port}" and s.port > 0
        with pytest.raises(RuntimeError):
            s.start()


def test_delay_holds_the_answer():
    with SiteServer({"/slow": Page(body="late", delay=0.5), "/fast": "now"}) as s:
        started = time.monotonic()
        assert requests.get(s.url_for("/slow"), timeout=10).text == "late"
        assert time.monotonic() - started >= 0.5
        started = time.monotonic()
        requests.get(s.url_for("/fast"), timeout=10)
        assert time.monotonic() - started < 0.5


def test_stop_is_prompt_while_a_delayed_request_is_pending():
    arrived = threading.Event()

    def very_slow(info):
        arrived.set()
        return Page(body="never", delay=30)

    s = SiteServer({"/slow": very_slow}).start()
    port = s.port
    outcome = []

    def client():
        try:
            outcome.append(requests.get(s.url_for("/slow"), timeout=20).text)
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    assert arrived.wait(5), "the request never reached the server"
    started = time.monotonic()
    s.stop()  # waits (bounded) for handler threads, so a delay that ignores stop() shows here
    assert time.monotonic() - started < 3
    thread.join(5)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], requests.RequestException)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_stop_is_prompt_with_an_idle_keep_alive_connection():
    s = SiteServer({"/": "hi"}).start()
    session = requests.Session()
    assert session.get(s.url + "/", timeout=5).text == "hi"  # leaves an idle connection open
    started = time.monotonic()
    s.stop()
    assert time.monotonic() - started < 3
    session.close()
