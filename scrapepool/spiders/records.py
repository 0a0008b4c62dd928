"""What a record may be, and how it becomes plain data.

A spider yields *records*: dicts, or items as Scrapy knows them, i.e. anything
``itemadapter.ItemAdapter.is_item()`` accepts (dataclass and attrs instances,
``scrapy.Item``, pydantic models). The fetcher turns each one into *plain data*
with :func:`to_plain` before it crosses a process boundary: dicts with str keys,
lists, str, int, float, bool and None, nothing else. What reaches the writer then
always pickles, and always makes valid JSON, CSV and SQLite values.

==========================================  =======================================
a value                                     becomes
==========================================  =======================================
str, int, float, bool, None                 itself
str/int/float subclasses (bs4's             the plain str/int/float (a
NavigableString, IntEnum, numpy.float64)    NavigableString no longer drags its tree)
NaN, inf, -inf                              None (see below)
datetime, date, time                        ISO 8601 text (``isoformat()``)
Decimal                                     ``str(value)`` (no precision lost)
bytes, bytearray                            UTF-8 text, invalid bytes as U+FFFD
list, tuple (and their subclasses)          list
set, frozenset                              list, sorted when its elements sort
dict, other Mappings, items                 dict; keys become str (None, True and
                                            False as JSON spells them)
anything else                               :class:`RecordError`
==========================================  =======================================

**NaN and infinities become None (null)**, as JavaScript's ``JSON.stringify``
and pandas' ``to_json`` write them: Python's ``json`` would write ``NaN``, which
is not JSON, and a scraped NaN almost always means "no value" (a price that did
not parse). They are not reported as spider errors: the record is sound, and a
crawl whose every page has one would log a warning per page.

**A record that cannot be converted is refused whole** (:class:`RecordError`
naming the field, e.g. ``offers[3].seller``): writing it without the field would
change the data silently, and Scrapy too fails an item its exporter cannot
serialise. Causes: a value of another type (a bs4 Tag, a Response, an arbitrary
object), containers nested deeper than :data:`MAX_DEPTH` levels, a cycle (a
container that holds itself). The conversion never recurses past
:data:`MAX_DEPTH`, so no record raises RecursionError, however deep.

Cost (``timeit``, best of 5, Python 3.11.7, this project's 2-vCPU machine, 2026-11-30):
a plain record of 7 fields (str, int, float, None) takes 0.5 us, about what pickling it
costs (0.3 us); with a list of 3 str 0.8 us; the built-in spider's record (``links``:
50 URLs) 2.2 us; 7 fields with a NavigableString title 0.7 us; a dataclass of 7 fields
4.3 us (itemadapter). At 250 pages/s of one record each: ~0.15 ms of CPU per second.
"""

import datetime
import decimal
import math
from collections.abc import Mapping

from ..exceptions import RecordError

__all__ = ["MAX_DEPTH", "RecordError", "is_record", "to_plain"]

#: The deepest nesting of containers a record may have, the record itself included.
MAX_DEPTH = 100

#: Path parts shown in an error before ``...``.
_PATH_SHOWN = 10

_isfinite = math.isfinite
_ItemAdapter = None


def _adapter():
    """``itemadapter.ItemAdapter``, imported on first use (a run yielding dicts never needs it)."""
    global _ItemAdapter
    if _ItemAdapter is None:
        from itemadapter import ItemAdapter

        _ItemAdapter = ItemAdapter
    return _ItemAdapter


def _is_item(obj):
    return not isinstance(obj, type) and _adapter().is_item(obj)


def is_record(obj):
    """True for what a spider may yield as a record: a dict, or an item (dataclass, attrs,
    ``scrapy.Item``, pydantic model: whatever ``ItemAdapter.is_item`` accepts)."""
    return isinstance(obj, dict) or _is_item(obj)


def to_plain(record):
    """A new dict of plain data made from ``record`` (a dict or an item): see the module's
    docstring for what each value becomes.

    :raises RecordError: when a value cannot be converted; its ``path`` names the field
        (``a.b[3]``: key ``b`` of key ``a``, then its 4th element; ``tags{}`` is an element of
        the set ``tags``), its ``reason`` says why.
    """
    try:
        if isinstance(record, dict):
            return _mapping(record, record.items(), 1)
        if _is_item(record):
            return _mapping(record, _adapter()(record).items(), 1)
    except _Bad as bad:
        raise bad.error() from None
    except Exception as exc:  # reading the record itself failed (an item's property raised)
        raise RecordError("", f"{type(exc).__name__}: {exc}") from None
    raise RecordError("", f"{_kind(record)} is not a record (a dict or an item)")


class _Bad(Exception):
    """Raised inside the conversion; each container it crosses adds its key on the way out."""

    def __init__(self, reason, obj=None):
        super().__init__(reason)
        self.reason = reason
        self.obj = obj  # the container found too deep: to tell a cycle from deep nesting
        self.parts = []  # keys and indices, innermost first
        self.chain = []  # the containers they index, innermost first

    def error(self):
        parts, chain = self.parts[::-1], self.chain[::-1]
        reason = self.reason
        if self.obj is not None:
            # A cycle: the too-deep container is one of its own ancestors. Report the path to
            # the first container that repeats one above it, not a hundred levels of the loop.
            chain.append(self.obj)
            first = {}
            for j, container in enumerate(chain):
                i = first.setdefault(id(container), j)
                if i != j:
                    parts = parts[:j]
                    reason = f"cyclic: it is {_format(parts[:i]) or 'the record'} itself"
                    break
        return RecordError(_format(parts), reason)


class _SetElement:
    def __repr__(self):
        return "{}"


#: The path part of an element of a set (sets have no index).
_IN_SET = _SetElement()


def _blame(exc, key, container):
    if not isinstance(exc, _Bad):
        exc = _Bad(f"{type(exc).__name__}: {exc}")
    exc.parts.append(key)
    exc.chain.append(container)
    return exc


def _mapping(src, pairs, depth):
    out = {}
    for key, v in pairs:
        try:
            k = key if type(key) is str else _key(key)
            t = type(v)
            if t is str or t is int or v is None or t is bool:
                out[k] = v
            elif t is float:
                out[k] = v if _isfinite(v) else None
            else:
                out[k] = _value(v, depth)
        except Exception as exc:
            raise _blame(exc, key, src) from None
    return out


def _sequence(src, depth):
    out = []
    append = out.append
    for i, v in enumerate(src):
        try:
            t = type(v)
            if t is str or t is int or v is None or t is bool:
                append(v)
            elif t is float:
                append(v if _isfinite(v) else None)
            else:
                append(_value(v, depth))
        except Exception as exc:
            raise _blame(exc, i, src) from None
    return out


def _value(v, depth):
    """A value that is not a str, int, float, bool or None; ``depth``: its container's."""
    t = type(v)
    if t is dict or t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise _Bad(f"nested deeper than {MAX_DEPTH} levels", v)
        if t is dict:
            return _mapping(v, v.items(), depth + 1)
        return _sequence(v, depth + 1)
    if isinstance(v, str):
        return str.__str__(v)  # a plain copy: a NavigableString's tree stays behind
    if isinstance(v, int):  # IntEnum, numpy's ints that subclass int (bool is final)
        return int.__int__(v)
    if isinstance(v, float):  # numpy.float64
        v = float.__float__(v)
        return v if _isfinite(v) else None
    scalar = _scalar(v)
    if scalar is not None:
        return scalar
    container = isinstance(v, (dict, list, tuple, set, frozenset, Mapping)) or _is_item(v)
    if not container:
        raise _Bad(f"cannot convert {_kind(v)}{_hint(v)}")
    if depth >= MAX_DEPTH:
        raise _Bad(f"nested deeper than {MAX_DEPTH} levels", v)
    if isinstance(v, dict):
        return _mapping(v, v.items(), depth + 1)
    if isinstance(v, (list, tuple)):
        return _sequence(v, depth + 1)
    if isinstance(v, (set, frozenset)):
        try:
            out = _sequence(v, depth + 1)
        except _Bad as bad:
            bad.parts[-1] = _IN_SET
            raise
        try:
            out.sort()
        except TypeError:  # mixed types: iteration order
            pass
        return out
    if _is_item(v):
        return _mapping(v, _adapter()(v).items(), depth + 1)
    return _mapping(v, v.items(), depth + 1)


def _scalar(v):
    """The text of a datetime, date, time, Decimal or bytes value; None for anything else."""
    if isinstance(v, (datetime.date, datetime.time)):  # datetime is a date
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    return None


_KEY_WORDS = {None: "null", True: "true", False: "false"}


def _key(k):
    """A dict key as str: how ``json.dumps`` spells None, bools, ints and floats."""
    if isinstance(k, str):
        return str.__str__(k)
    if k is None or k is True or k is False:
        return _KEY_WORDS[k]
    if isinstance(k, int):
        return int.__repr__(k)
    if isinstance(k, float):
        k = float.__float__(k)
        if _isfinite(k):
            return float.__repr__(k)
        return "NaN" if k != k else ("Infinity" if k > 0 else "-Infinity")
    scalar = _scalar(k)
    if scalar is None:
        raise _Bad(f"cannot convert a key: {_kind(k)}")
    return scalar


def _kind(v):
    """``a Tag (bs4.element.Tag)``, ``an object``."""
    t = type(v)
    module, name = t.__module__, t.__qualname__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}" if module == "builtins" else f"{article} {name} ({module}.{name})"


def _hint(v):
    module = type(v).__module__ or ""
    if module.startswith("bs4"):
        return ": yield its text (.get_text()) or an attribute's value instead"
    return ""


def _format(parts):
    """``a.b[3]`` from ["a", "b", 3]; at most _PATH_SHOWN parts, then ``...``."""
    out = []
    for part in parts[:_PATH_SHOWN]:
        if part is _IN_SET:
            out.append("{}")
        elif type(part) is str and part and not any(c in part for c in ".[]{} \t\n\"'"):
            out.append(f".{part}" if out else part)
        elif type(part) is int:
            out.append(f"[{part}]")
        else:
            text = repr(part)
            out.append(f"[{text if len(text) <= 40 else text[:37] + '...'}]")
    if len(parts) > _PATH_SHOWN:
        out.append(f"...({len(parts) - _PATH_SHOWN} more)")
    return "".join(out)
