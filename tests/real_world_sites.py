"""Sites modelled on real-world ones (issue 7): forms with view state, a JSON API, sitemaps,
a rule-driven catalogue and a login with a CSRF token and a session cookie.

Each builder returns an object with ``site`` (a dict for SiteServer) and whatever the
server saw that a test wants to check (POST bodies, cookies). Pages are callables run
in the server's threads, so the state is kept under a lock. Their spiders are in
``tests/real_world_spiders.py``; crawl them with the plugin's ``crawl_spider`` under
:data:`CRAWL_SETTINGS`.
"""

import gzip
import html
import json
import secrets
import threading
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from scrapepool.testing.testserver import Page

#: The settings these sites are crawled with (small, quiet, no robots.txt, no retry):
#: ``@CRAWL_SETTINGS`` on a test that uses the ``crawl_spider`` fixture.
CRAWL_SETTINGS = pytest.mark.crawl_settings(concurrency=2, timeout=10.0, retries=0)

ROBOTS = Page("User-agent: *\nDisallow:\n", content_type="text/plain")


def form_pairs(body):
    """The (name, value) pairs of a url-encoded body."""
    return parse_qsl(body.decode("ascii"), keep_blank_values=True)


def query(info):
    return parse_qs(urlsplit(info.path).query)


def _html(title, body):
    return f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head><body>{body}</body></html>"


# -- a search form with ASP.NET-style view state ---------------------------------------------------

class SearchSite:
    """``/app/search.aspx`` holds a newsletter form and the search form (a ``__VIEWSTATE``
    issued per page view, ``__EVENTVALIDATION``, a select, checkboxes, a disabled field,
    two submit buttons). ``POST /app/results.aspx`` answers results only if the view state
    is one the server issued for that step; page 2 is another POST through the pager form.
    """

    BOOKS = {
        "books": ["Python Crash Course", "Fluent Python", "Learning Python", "Python Cookbook",
                  "Effective Python", "Rust in Action"],
        "music": ["Python Live at the Bowl"],
    }
    PER_PAGE = 3

    def __init__(self):
        self.lock = threading.Lock()
        self.states = {}       # view-state token -> what it was issued for
        self.issued = []       # tokens in the order they were issued
        self.posts = []        # (path, headers, body) of every POST
        self.site = {
            "/robots.txt": ROBOTS,
            "/app/search.aspx": self.search_page,
            "/app/results.aspx": self.results,
            "/subscribe": Page("<p>subscribed</p>"),
        }

    def _issue(self, state):
        token = secrets.token_urlsafe(24) + "=="
        with self.lock:
            self.states[token] = state
            self.issued.append(token)
        return token

    def search_page(self, info):
        token = self._issue({"step": "form"})
        return _html("Search", f"""
<form id="newsletter" method="post" action="/subscribe"><input name="email" type="email">
  <input type="submit" value="Subscribe"></form>
<form id="search" method="post" action="results.aspx">
  <input type="hidden" name="__VIEWSTATE" value="{token}">
  <input type="hidden" name="__EVENTVALIDATION" value="EV-42">
  <input type="text" name="q" value="">
  <select name="category"><option value="all">All</option><option value="books" selected>Books</option>
    <option value="music">Music</option></select>
  <input type="checkbox" name="instock" value="1" checked>
  <input type="checkbox" name="used" value="1">
  <input type="text" name="locked" value="nope" disabled>
  <input type="submit" name="go" value="Search">
  <input type="submit" name="clear" value="Clear">
</form>""")

    def results(self, info):
        if info.method != "POST":
            return Page("POST only", status=405)
        with self.lock:
            self.posts.append((info.path, dict(info.headers), info.body))
        if not info.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return Page("bad content type", status=400)
        data = dict(form_pairs(info.body))
        with self.lock:
            state = self.states.get(data.get("__VIEWSTATE", ""))
        if state is None:
            return Page(_html("Error", "<p>Invalid view state</p>"), status=400)
        if state["step"] == "form":
            if (data.get("__EVENTVALIDATION") != "EV-42" or data.get("go") != "Search" or "clear" in data
                    or "locked" in data or not data.get("q")):
                return Page(_html("Error", "<p>Invalid postback</p>"), status=400)
            q, category, page = data["q"], data.get("category", "all"), 1
        else:
            if data.get("page") is None:
                return Page(_html("Error", "<p>Invalid pager postback</p>"), status=400)
            q, category, page = state["q"], state["category"], int(data["page"])
        cats = self.BOOKS if category == "all" else {category: self.BOOKS.get(category, [])}
        hits = [t for titles in cats.values() for t in titles if q.lower() in t.lower()]
        start = (page - 1) * self.PER_PAGE
        shown = hits[start:start + self.PER_PAGE]
        items = "".join(f'<li class="result">{html.escape(t)}</li>' for t in shown)
        pager = ""
        if start + self.PER_PAGE < len(hits):
            token = self._issue({"step": "results", "q": q, "category": category})
            pager = f"""<form id="pager" method="post" action="results.aspx">
  <input type="hidden" name="__VIEWSTATE" value="{token}">
  <input type="submit" name="page" value="{page + 1}"></form>"""
        return _html(f"Results {page}", f'<p class="page">{page}</p><ul>{items}</ul>{pager}')


# -- a paginated JSON API --------------------------------------------------------------------------

def api_site(pages=4, per_page=3):
    """``/api/items?page=N`` answers ``{"page", "items": [{"id", "name"}], "next"}``; the last
    page's ``next`` is null."""

    def items(info):
        page = int(query(info).get("page", ["1"])[0])
        if not 1 <= page <= pages:
            return Page(json.dumps({"error": "no such page"}), status=404, content_type="application/json")
        first = (page - 1) * per_page + 1
        payload = {"page": page,
                   "items": [{"id": i, "name": f"item {i}"} for i in range(first, first + per_page)],
                   "next": f"/api/items?page={page + 1}" if page < pages else None}
        return Page(json.dumps(payload), content_type="application/json")

    return {"/robots.txt": ROBOTS, "/api/items": items}


# -- sitemaps --------------------------------------------------------------------------------------

_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def _urlset(host, paths, alternates=None):
    alternates = alternates or {}
    entries = []
    for p in paths:
        alt = "".join(f'<xhtml:link rel="alternate" hreflang="{lang}" href="http://{host}{href}"/>'
                      for lang, href in alternates.get(p, ()))
        entries.append(f"<url><loc>http://{host}{p}</loc><lastmod>2024-01-0{len(entries) % 9 + 1}</lastmod>"
                       f"{alt}</url>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {_NS} '
            f'xmlns:xhtml="http://www.w3.org/1999/xhtml">\n' + "\n".join(entries) + "\n</urlset>\n")


def _page(title):
    return Page(_html(title, f"<h1>{html.escape(title)}</h1>"))


class SitemapSite:
    """robots.txt names the sitemap index (absolute) and ``/sitemap-extra.xml`` (relative).
    The index lists a gzip sitemap of products (``.xml.gz``, served as application/x-gzip),
    a plain sitemap of pages (with an ``xhtml:link`` alternate) and an archive sitemap
    that ``sitemap_follow`` leaves out."""

    PRODUCTS = [f"/product/{i}" for i in range(1, 5)]
    PAGES = ["/about", "/blog/post-1", "/blog/post-2"]
    ARCHIVE = ["/old/1", "/old/2"]
    EXTRA = ["/extra/1"]
    ALTERNATE = "/fr/about"

    def __init__(self):
        def host(info):
            return info.headers.get("Host")

        def robots(info):
            return Page(f"User-agent: *\nDisallow:\n\nSitemap: http://{host(info)}/sitemap_index.xml\n"
                        "Sitemap: /sitemap-extra.xml\n", content_type="text/plain")

        def index(info):
            locs = "".join(f"<sitemap><loc>http://{host(info)}{p}</loc></sitemap>"
                           for p in ("/sitemap-products.xml.gz", "/sitemap-pages.xml", "/sitemap-archive.xml"))
            return Page(f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex {_NS}>{locs}</sitemapindex>',
                        content_type="application/xml")

        def products(info):
            return Page(gzip.compress(_urlset(host(info), self.PRODUCTS).encode()),
                        content_type="application/x-gzip")

        def pages(info):
            return Page(_urlset(host(info), self.PAGES, {"/about": [("fr", self.ALTERNATE)]}),
                        content_type="text/xml; charset=utf-8")

        def archive(info):
            return Page(_urlset(host(info), self.ARCHIVE), content_type="application/xml")

        def extra(info):
            # Served as text/plain (servers mislabel sitemaps): recognised by its .xml name.
            return Page(_urlset(host(info), self.EXTRA), content_type="text/plain")

        self.site = {"/robots.txt": robots, "/sitemap_index.xml": index,
                     "/sitemap-products.xml.gz": products, "/sitemap-pages.xml": pages,
                     "/sitemap-archive.xml": archive, "/sitemap-extra.xml": extra}
        for p in self.PRODUCTS + self.PAGES + self.ARCHIVE + self.EXTRA + [self.ALTERNATE]:
            self.site[p] = _page(p)


# -- a catalogue for CrawlSpider rules -------------------------------------------------------------

def rules_site():
    """Home links to categories (one of them an archive the rules deny) and to /about; category
    pages list items in ``div.products`` (an ad in ``div.ads`` links to /item/99) and page on;
    item pages link to their reviews and back."""

    def links(*pairs):
        return "".join(f'<a href="{href}">{html.escape(text)}</a>\n' for href, text in pairs)

    site = {
        "/robots.txt": ROBOTS,
        "/": _html("Home", '<div id="nav">' + links(("/category/books", "Books"), ("category/music", "Music"),
                                                     ("/category/archive/old", "Old"), ("/about", "About"))
                   + "</div>"),
        "/about": _html("About", "about"),
        "/category/archive/old": _html("Old", links(("/item/50", "Old item"))),
        "/item/99": _html("Ad", "ad"),
        "/item/50": _html("Old item", "old"),
    }
    categories = {"/category/books": [1, 2], "/category/books?page=2": [3], "/category/music": [4, 5]}
    for path, items in categories.items():
        nxt = links(("/category/books?page=2#top", "next")) if path == "/category/books" else ""
        site[path] = _html(path, '<div class="products">'
                           + links(*[(f"/item/{i}", f"Item {i}") for i in items])
                           + '</div><div class="ads">' + links(("/item/99", "Buy now")) + "</div>" + nxt)
    for i in range(1, 6):
        site[f"/item/{i}"] = _html(f"Item {i}", f"<h1>Item {i}</h1>"
                                   + links((f"/item/{i}/reviews", "Reviews"), ("/category/books", "Back")))
        site[f"/item/{i}/reviews"] = _html("Reviews", "reviews")
    return site


# -- a login with a CSRF token and a session cookie ------------------------------------------------

class LoginSite:
    """``GET /login`` starts an anonymous session (``Set-Cookie: sid``) and shows a search
    form, then the login form with a CSRF token bound to that session. A good ``POST /login``
    (the session's token, known credentials) gives a new session id (``Set-Cookie``) and
    redirects (302) to ``/account``, which links to ``/private/1..n``. ``/account`` and the
    private pages need the logged-in session cookie; without it they answer 403.

    ``requests`` keeps ``(method, path, cookie header, body)`` of every request.
    """

    USERS = {"alice": "wonderland", "bob": "builder"}

    def __init__(self, pages=12, delay=0.0):
        self.pages = pages
        self.lock = threading.Lock()
        self.sessions = {}   # sid -> {"csrf": token, "user": name or None}
        self.requests = []
        self.site = {"/robots.txt": ROBOTS, "/login": self.login, "/account": self.account,
                     "/logout": self.logout}
        for i in range(1, pages + 1):
            self.site[f"/private/{i}"] = self._private(i, delay)

    def _log(self, info):
        with self.lock:
            self.requests.append((info.method, info.path, info.headers.get("Cookie"), info.body))

    def _session(self, info):
        jar = SimpleCookie()
        try:
            jar.load(info.headers.get("Cookie") or "")
        except Exception:
            return None, None
        sid = jar["sid"].value if "sid" in jar else None
        with self.lock:
            return sid, self.sessions.get(sid)

    def _user(self, info):
        _, session = self._session(info)
        return session["user"] if session else None

    def _new_session(self, user=None):
        sid, csrf = secrets.token_hex(16), secrets.token_urlsafe(16)
        with self.lock:
            self.sessions[sid] = {"csrf": csrf, "user": user}
        return sid, csrf

    def login(self, info):
        self._log(info)
        if info.method == "GET":
            sid, session = self._session(info)
            if session is None:
                sid, _ = self._new_session()
                with self.lock:
                    session = self.sessions[sid]
            body = _html("Log in", f"""
<form id="search" action="/search"><input name="q"><input type="submit" value="Go"></form>
<form id="login" method="post" action="/login">
  <input type="hidden" name="csrf_token" value="{session['csrf']}">
  <input type="text" name="username"> <input type="password" name="password">
  <input type="checkbox" name="remember" value="1">
  <button type="submit" name="action" value="login">Log in</button>
</form>""")
            return Page(body, headers={"Set-Cookie": f"sid={sid}; Path=/; HttpOnly"})
        data = dict(form_pairs(info.body))
        _, session = self._session(info)
        if session is None or data.get("csrf_token") != session["csrf"]:
            return Page(_html("Forbidden", "<p>CSRF check failed</p>"), status=403)
        user = data.get("username")
        if self.USERS.get(user) != data.get("password") or data.get("action") != "login":
            return Page(_html("Forbidden", "<p>Bad credentials</p>"), status=403)
        sid, _ = self._new_session(user)  # a new id after login (no session fixation)
        return Page("", status=302, headers={"Location": "/account", "Set-Cookie": f"sid={sid}; Path=/; HttpOnly"})

    def account(self, info):
        self._log(info)
        user = self._user(info)
        if user is None:
            return Page(_html("Forbidden", "<p>Log in first</p>"), status=403)
        links = "".join(f'<li><a class="protected" href="/private/{i}">Report {i}</a></li>'
                        for i in range(1, self.pages + 1))
        return _html("Account", f'<p class="welcome">Welcome, <b class="user">{user}</b></p>'
                                f'<ul>{links}</ul><a href="/logout">Log out</a>')

    def logout(self, info):
        self._log(info)
        sid, _ = self._session(info)
        with self.lock:
            self.sessions.pop(sid, None)
        return Page(_html("Bye", "<p>Logged out</p>"))

    def _private(self, i, delay):
        def page(info):
            self._log(info)
            user = self._user(info)
            if user is None:
                return Page(_html("Forbidden", "<p>Log in first</p>"), status=403)
            return Page(_html(f"Report {i}", f'<h1>Report {i}</h1><p class="owner">{user}</p>'), delay=delay)
        return page

    def cookies_sent(self):
        """How many requests carried a Cookie header."""
        with self.lock:
            return sum(1 for _, _, cookie, _ in self.requests if cookie)

    def posts(self):
        with self.lock:
            return [dict(form_pairs(body)) for method, path, _, body in self.requests if method == "POST"]
