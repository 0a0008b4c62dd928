"""Settings given as text or TOML: ``--set NAME=VALUE``, the project file, and Scrapy's names.

Apart from settings.py, which is the plain data sent to every child process: this reads
names and values from outside the code, once, in the parent, and turns them into fields
of :class:`~scrapepool.Settings` with their types (or one clear UsageError).

The project file is the nearest ``scrapepool.toml`` (its top level) or ``pyproject.toml``
with a ``[tool.scrapepool]`` table, looked for in the current directory and then its
parents, as Scrapy looks for ``scrapy.cfg`` (``scrapy.utils.conf.closest_scrapy_cfg``).
A pyproject.toml without the table is passed over, as Ruff and pytest do; in one
directory, scrapepool.toml comes first. Precedence (``api.build_settings``): defaults <
project file < ``Spider.custom_settings`` < ``--set`` < the explicit options.
"""

import dataclasses
import difflib
import logging
from pathlib import Path

from .exceptions import UsageError
from .settings import Settings

__all__ = ["SCRAPY_NAMES", "field_name", "find_project_file", "from_spider", "load_project", "parse_set"]

logger = logging.getLogger("scrapepool")

#: Scrapy's setting names that are ours under another name, with the same meaning.
SCRAPY_NAMES = {
    "DOWNLOAD_DELAY": "delay",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "concurrency_per_host",
    "ROBOTSTXT_OBEY": "robots",
    "USER_AGENT": "user_agent",
    "DEPTH_LIMIT": "max_depth",
    "CLOSESPIDER_PAGECOUNT": "max_pages",
    "DOWNLOAD_TIMEOUT": "timeout",
    "RETRY_TIMES": "retries",
    "REDIRECT_MAX_TIMES": "max_redirects",
    "DOWNLOAD_MAXSIZE": "max_bytes",
    "COOKIES_ENABLED": "cookies",
    "AUTOTHROTTLE_ENABLED": "autothrottle",
    "JOBDIR": "job_dir",
    "FEED_EXPORT_FIELDS": "fields",
}
#: Scrapy names whose 0 means "no limit", which is None here (our max_depth 0: seeds only).
_ZERO_IS_NONE = {"DEPTH_LIMIT", "CLOSESPIDER_PAGECOUNT"}

_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NONE = {"none", "null", ""}

#: The project file names, in the order they are looked for in one directory.
PROJECT_FILES = ("scrapepool.toml", "pyproject.toml")


def _kind(name):
    """(type, None allowed) of a Settings field: ``"int | None"`` is (int, True)."""
    t = _FIELDS[name].type
    if isinstance(t, str):
        base = t.split("|")[0].strip()
        return {"int": int, "float": float, "str": str, "bool": bool}[base], "None" in t
    return t, False


def field_name(name):
    """The Settings field ``name`` means (a field, its UPPER_CASE, or Scrapy's name), or None."""
    name = str(name).strip()
    if name in _FIELDS:
        return name
    if name in SCRAPY_NAMES:
        return SCRAPY_NAMES[name]
    if name.isupper() and name.lower() in _FIELDS:
        return name.lower()
    return None


def _no_such(name):
    candidates = list(_FIELDS) + list(SCRAPY_NAMES) if str(name).isupper() else list(_FIELDS)
    close = difflib.get_close_matches(str(name), candidates, n=1)
    if not close and str(name).isupper():
        close = difflib.get_close_matches(str(name).lower(), list(_FIELDS), n=1)
    return "no such setting" + (f" (did you mean {close[0]}?)" if close else "")


def _adapt(given, value):
    """Scrapy's 0 for "no limit" is our None."""
    if given in _ZERO_IS_NONE and value == 0 and not isinstance(value, bool):
        return None
    return value


def _from_text(name, text):
    """``text`` as a value of field ``name``; ValueError says what it takes."""
    kind, optional = _kind(name)
    low = text.strip().lower()
    if optional and low in _NONE:
        return None
    if kind is bool:
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ValueError("takes true or false (yes/no, 1/0)")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("takes an integer" + (" or none" if optional else "")) from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("takes a number" + (" or none" if optional else "")) from None
    if kind is tuple:
        if not text.strip():
            return ()
        items = [item.strip() for item in text.split(",")]
        if any(not item for item in items):
            raise ValueError("takes comma-separated items, with no empty one")
        return _items(name, items)
    if kind is dict:
        raise ValueError("is set with -a NAME=VALUE" if name == "spider_kwargs" else "takes a table")
    return text


def _items(name, items):
    if name != "headers":
        return tuple(items)
    pairs = []
    for item in items:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise ValueError(f"takes 'Name: value' items, not {item!r}")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def _from_toml(name, value):
    """A TOML value (already typed) as a value of field ``name``; ValueError says what it takes."""
    kind, optional = _kind(name)
    if isinstance(value, str) and kind is not str:
        return _from_text(name, value)  # TOML has no null: "none" is None, as on the command line
    if kind is str:
        if not isinstance(value, str):
            raise ValueError("takes text")
        return None if optional and value.strip().lower() in _NONE else value
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ValueError("takes true or false")
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind in (int, float):
        raise ValueError("takes an integer" if kind is int else "takes a number")
    if kind is tuple:
        if name == "headers" and isinstance(value, dict):
            return tuple((str(k), str(v)) for k, v in value.items())
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return _items(name, value)
        raise ValueError("takes a list of strings" + (" or a table" if name == "headers" else ""))
    if isinstance(value, dict):
        return dict(value)
    raise ValueError("takes a table")


def parse_set(items):
    """``--set NAME=VALUE`` items as {field: value}; a later item wins over an earlier one."""
    out = {}
    for item in items or ():
        given, sep, text = item.partition("=")
        if not sep or not given.strip():
            raise UsageError(f"--set {item!r} must look like NAME=VALUE")
        name = field_name(given)
        if name is None:
            raise UsageError(f"--set {item}: {_no_such(given.strip())}")
        try:
            out[name] = _adapt(given.strip(), _from_text(name, text))
        except ValueError as exc:
            raise UsageError(f"--set {item}: {name} {exc}") from None
    return out


def _toml():
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        try:
            import tomli as tomllib
        except ImportError:
            return None
    return tomllib


def _read(path):
    """The settings table of a project file: None when a pyproject.toml has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    pyproject = path.name == "pyproject.toml"
    if pyproject and "scrapepool" not in text:
        return None  # not ours: a broken pyproject.toml of another tool is not our error
    tomllib = _toml()
    if tomllib is None:
        raise UsageError(f"reading {path} needs Python 3.11 or later, or `pip install tomli`")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {' '.join(str(exc).split())}") from None
    if not pyproject:
        return data
    table = data.get("tool", {}).get("scrapepool") if isinstance(data.get("tool"), dict) else None
    if table is not None and not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.scrapepool] must be a table")
    return table


def find_project_file(start=None):
    """The nearest project file from ``start`` (default: the current directory) up, or None."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "scrapepool.toml"
        if own.is_file():
            return own
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _read(pyproject) is not None:
            return pyproject
    return None


def load_project(path=True):
    """Settings of the project file as {field: value}, already converted and checked for names.

    :param path: True: the nearest project file (:func:`find_project_file`); False or None:
        none; else the path of a ``scrapepool.toml`` or ``pyproject.toml``.
    """
    if path is None or path is False:
        return {}
    if path is True:
        path = find_project_file()
        if path is None:
            return {}
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"project file not found: {path}")
    table = _read(path) or {}
    where = f"{path} [tool.scrapepool]" if path.name == "pyproject.toml" else str(path)
    out = {}
    for given, value in table.items():
        name = field_name(given)
        if name is None:
            raise UsageError(f"{where}: {given}: {_no_such(given)}")
        try:
            out[name] = _adapt(given, _from_toml(name, value))
        except ValueError as exc:
            raise UsageError(f"{where}: {given} = {value!r}: {name} {exc}") from None
    if out:
        logger.info("settings from %s: %s", path, ", ".join(sorted(out)))
    return out


def from_spider(custom_settings):
    """``Spider.custom_settings`` as {field: value}: Scrapy's names are ours; values as given.

    A None is kept for a field that may be None (it wins over the project file, as any
    value of the spider's does), and left out for another (as it always was: not set).
    """
    out = {}
    for given, value in (custom_settings or {}).items():
        name = field_name(given)
        if name is None:
            raise UsageError(f"unknown custom_settings {given!r}: {_no_such(given)}")
        if value is None and not _kind(name)[1]:
            continue
        out[name] = _adapt(given, value)
    return out
