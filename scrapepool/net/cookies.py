"""Cookie jars for a whole crawl, kept by the coordinator.

A cookie set by a response that one fetcher received must be sent with the
follow-up requests that another fetcher sends, so the jars live in the one
process that sees every outcome: the coordinator. A job leaves with the
cookies of its jar that match its host; the fetcher follows redirects with
them (a login POST's 302 keeps the session), and the outcome brings back the
jar's state after the response, which the coordinator merges. ``meta
{"cookiejar": key}`` picks a jar, as in Scrapy, so sessions can run side by
side. Cookies cross processes as plain dicts and are saved in the job DB as
JSON, so a resumed crawl stays logged in.
"""

from requests.cookies import RequestsCookieJar, create_cookie

__all__ = ["CookieJars", "cookie_to_dict", "jar_changes", "jar_from_dicts", "jar_key"]

_FIELDS = ("name", "value", "domain", "path", "secure", "expires")


def cookie_to_dict(cookie):
    d = {f: getattr(cookie, f) for f in _FIELDS}
    d["rest"] = {"HttpOnly": None} if cookie.has_nonstandard_attr("HttpOnly") else {}
    return d


def jar_from_dicts(cookies):
    jar = RequestsCookieJar()
    for d in cookies or ():
        jar.set_cookie(create_cookie(d["name"], d["value"], domain=d.get("domain", ""),
                                     path=d.get("path", "/"), secure=d.get("secure", False),
                                     expires=d.get("expires"), rest=d.get("rest") or {}))
    return jar


def jar_changes(before, jar):
    """What ``jar`` changed against the cookie dicts it started from: {"set": [...], "del": [...]}."""
    start = {(d["domain"], d["path"], d["name"]): d for d in before or ()}
    now = {}
    for c in jar:
        d = cookie_to_dict(c)
        now[(d["domain"], d["path"], d["name"])] = d
    changed = [d for k, d in now.items() if start.get(k) != d]
    deleted = [list(k) for k in start if k not in now]
    if not changed and not deleted:
        return None
    return {"set": changed, "del": deleted}


def jar_key(meta):
    """The jar a request uses: ``meta["cookiejar"]`` (as text), or the default jar."""
    key = meta.get("cookiejar") if meta else None
    return "" if key is None else str(key)


def _domain_matches(host, domain):
    domain = domain.lstrip(".").lower()
    return host == domain or host.endswith("." + domain)


class CookieJars:
    def __init__(self, saved=None):
        self.jars = {key: jar_from_dicts(cookies) for key, cookies in (saved or {}).items()}

    def __bool__(self):
        return any(len(jar) for jar in self.jars.values())

    def for_host(self, key, host):
        """The cookies of jar ``key`` whose domain matches ``host`` (path and expiry are checked
        by the fetcher's jar when it sends them)."""
        jar = self.jars.get(key)
        if not jar:
            return None
        out = [cookie_to_dict(c) for c in jar if _domain_matches(host, c.domain)]
        return out or None

    def update(self, key, changes):
        """Apply what a response changed in the cookies it was sent with.

        Only changes travel back (cookies set, cookies the response deleted), never
        the whole jar: two requests in flight at once must not undo each other.
        """
        jar = self.jars.setdefault(key, RequestsCookieJar())
        for c in jar_from_dicts(changes.get("set")):
            jar.set_cookie(c)
        for domain, path, name in changes.get("del", ()):
            try:
                jar.clear(domain, path, name)
            except KeyError:
                pass

    def to_json(self):
        return {key: [cookie_to_dict(c) for c in jar] for key, jar in self.jars.items()}
