"""``scrapepool genspider NAME DOMAIN``: a spider file and its test, from a template.

Scrapy's rules for the names (``scrapy/commands/genspider.py``): the spider's ``name``
is NAME as given; its module is NAME with ``-`` and ``.`` turned into ``_`` and an
``a`` put first when it does not start with a letter (``1st`` -> ``a1st.py``); its class
is the module's words capitalised, plus ``Spider`` (``my-spider`` -> ``MySpiderSpider``).
DOMAIN may be a URL: ``allowed_domains`` gets its host, ``start_urls`` the URL itself,
``https://`` added when it has no scheme.

Beside ``MODULE.py`` it writes ``test_MODULE.py``, a test with the pytest plugin's
``crawl_spider`` fixture: it serves a small site on 127.0.0.1 and runs the spider on
it with the real engine, so the spider has a test before its first change. Templates
are package data, ``scrapepool/templates/{spiders,tests}/TEMPLATE.tmpl``, filled in with
``string.Template`` as Scrapy's are.

Unlike Scrapy, which prints a message and exits 0, a file that is there already, an
unknown template or a name that cannot make a module is an error (exit 2), and nothing
is written unless both files can be.
"""

import keyword
import re
import string
import sys
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from ..exceptions import UsageError
from ..urls import check_seed_url

__all__ = ["genspider", "module_name", "class_name", "templates"]

#: What NAME may hold: it ends up in a Python string, a file name and a class name.
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
#: Module names a spider's file must not take: its test imports it by that name, and a
#: local ``json.py`` would shadow the standard library's for the whole test run.
_RESERVED = {"scrapepool", "parsel", "pytest", "conftest", "test"}


def module_name(name):
    """Scrapy's ``sanitize_module_name``: ``-`` and ``.`` become ``_``; a letter first."""
    module = name.replace("-", "_").replace(".", "_")
    if module[:1] not in string.ascii_letters:
        module = "a" + module
    return module


def class_name(module):
    """``my_spider`` -> ``MySpiderSpider``, as Scrapy names a generated spider's class."""
    return "".join(part.capitalize() for part in module.split("_")) + "Spider"


def templates():
    """The template names, sorted (``basic``, ``crawl``)."""
    folder = resources.files("scrapepool") / "templates" / "spiders"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".tmpl"))


def _template(kind, template):
    path = resources.files("scrapepool") / "templates" / kind / f"{template}.tmpl"
    return path.read_text(encoding="utf-8")


def _check_name(name):
    if not _NAME_RE.fullmatch(name or ""):
        raise UsageError(f"spider name {name!r}: use letters, digits, '_', '-' and '.'")
    module = module_name(name)
    if keyword.iskeyword(module) or not module.isidentifier():
        raise UsageError(f"spider name {name!r} makes the module {module!r}, which Python cannot import")
    if module in _RESERVED or module in getattr(sys, "stdlib_module_names", ()):
        raise UsageError(f"spider name {name!r} makes the module {module}.py, which would hide the "
                         f"module {module!r} of the same name: choose another name")
    return module


def _check_domain(domain):
    """(url, domain) of DOMAIN as Scrapy reads it (``verify_url_scheme``, ``extract_domain``)."""
    text = (domain or "").strip()
    url = text if "://" in text else "https://" + text
    reason = check_seed_url(url)
    if reason or any(c in url for c in "\"'\\"):
        raise UsageError(f"domain {domain!r} {reason or 'has quotes or backslashes'}")
    return url, urlsplit(url).netloc


def genspider(name, domain, template="basic", folder=".", force=False):
    """Write the spider and its test into ``folder``; returns (spider path, test path)."""
    module = _check_name(name)
    url, host = _check_domain(domain)
    if template not in templates():
        raise UsageError(f"no template {template!r}: choose one of {', '.join(templates())}")
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"folder {folder} does not exist")
    spider_path, test_path = folder / f"{module}.py", folder / f"test_{module}.py"
    if not force:
        for path in (spider_path, test_path):
            if path.exists():
                raise UsageError(f"{path} already exists (--force overwrites it)")
    values = {"name": name, "module": module, "classname": class_name(module), "domain": host, "url": url,
              "template": template}
    texts = [(path, string.Template(_template(kind, template)).substitute(values))
             for path, kind in ((spider_path, "spiders"), (test_path, "tests"))]
    for path, text in texts:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return spider_path, test_path
