"""Records become plain data in the fetcher (scrapepool/spiders/records.py): unit tests of the
conversion, then crawls through the real engine against a real local server."""

import collections
import dataclasses
import datetime
import decimal
import enum
import json
import logging
import math
import pickle
import time
import types

import pytest
from bs4 import BeautifulSoup
from conftest import ROBOTS

from scrapepool.exceptions import RecordError, ScrapepoolError
from scrapepool.spiders.records import MAX_DEPTH, is_record, to_plain
from tests.records_spiders import nested


def plain_json(value):
    """The strict JSON of a converted record (no NaN), after a pickle round trip."""
    return json.loads(json.dumps(pickle.loads(pickle.dumps(value)), allow_nan=False))


def error_of(record):
    with pytest.raises(RecordError) as info:
        to_plain(record)
    return info.value


# -- what each value becomes -------------------------------------------------------------------

def test_plain_record_is_copied_unchanged():
    rec = {"s": "text", "i": 3, "f": 2.5, "b": True, "n": None, "l": ["a", 1, [2.0, None]], "d": {"k": "v"}}
    out = to_plain(rec)
    assert out == rec and out is not rec and out["l"] is not rec["l"] and out["d"] is not rec["d"]
    assert [type(v) for v in out.values()] == [str, int, float, bool, type(None), list, dict]


def test_str_subclasses_become_plain_str_without_their_tree():
    soup = BeautifulSoup("<html><head><title>Hello</title></head><body>"
                         + "<p>x</p>" * 500 + "</body></html>", "lxml")
    title = soup.title.string
    assert type(title).__name__ == "NavigableString"

    class Shouty(str):
        def __str__(self):
            return self.upper()

    out = to_plain({"title": title, "nested": [{"t": title}], "shouty": Shouty("quiet")})
    assert out == {"title": "Hello", "nested": [{"t": "Hello"}], "shouty": "quiet"}
    assert type(out["title"]) is str and type(out["nested"][0]["t"]) is str and type(out["shouty"]) is str
    assert len(pickle.dumps(out)) < 200  # the 500-element tree stayed behind


def test_int_and_float_subclasses_become_int_and_float():
    class Color(enum.IntEnum):
        RED = 1

    class Money(float):
        pass

    out = to_plain({"c": Color.RED, "m": Money(2.5), "l": [Color.RED], "nan": Money("nan")})
    assert out == {"c": 1, "m": 2.5, "l": [1], "nan": None}
    assert type(out["c"]) is int and type(out["m"]) is float and type(out["l"][0]) is int


def test_dates_and_times_become_iso_8601():
    tz = datetime.timezone(datetime.timedelta(hours=2))
    out = to_plain({"dt": datetime.datetime(2024, 5, 1, 12, 30, 5, 123),
                    "aware": datetime.datetime(2024, 5, 1, 12, 30, tzinfo=tz),
                    "d": datetime.date(1879, 3, 14), "t": datetime.time(23, 59)})
    assert out == {"dt": "2024-05-01T12:30:05.000123", "aware": "2024-05-01T12:30:00+02:00",
                   "d": "1879-03-14", "t": "23:59:00"}


def test_decimals_become_text_without_losing_precision():
    out = to_plain({"price": decimal.Decimal("12.50"), "big": decimal.Decimal("0.1000000000000000000001"),
                    "nan": decimal.Decimal("NaN")})
    assert out == {"price": "12.50", "big": "0.1000000000000000000001", "nan": "NaN"}
    plain_json(out)


def test_bytes_become_utf8_text_with_replacement():
    assert to_plain({"b": b"caf\xc3\xa9", "bad": b"\xff\xfeok", "ba": bytearray(b"x")}) == \
        {"b": "caf\u00e9", "bad": "\ufffd\ufffdok", "ba": "x"}


def test_tuples_and_sets_become_lists_sets_sorted_when_they_sort():
    Point = collections.namedtuple("Point", "x y")
    out = to_plain({"t": (1, ("a", (2,))), "p": Point(1, 2), "s": {"c", "a", "b"}, "f": frozenset({3, 1, 2}),
                    "mixed": {1, "a", None}, "inner": [{(1, 2), (0, 5)}]})
    assert out["t"] == [1, ["a", [2]]] and out["p"] == [1, 2]
    assert out["s"] == ["a", "b", "c"] and out["f"] == [1, 2, 3]
    assert sorted(out["mixed"], key=repr) == sorted([1, "a", None], key=repr)  # kept, in set order
    assert out["inner"] == [[[0, 5], [1, 2]]]
    assert all(type(v) is list for v in (out["t"], out["p"], out["s"], out["f"], out["mixed"]))


def test_dict_keys_become_str_as_json_spells_them():
    class Key(str):
        pass

    out = to_plain({2: "a", None: "b", True: "c", 2.5: "d", Key("k"): "e", datetime.date(2024, 1, 2): "f",
                    b"raw": "g", float("inf"): "h", "s": {7: [{False: 1}]}})
    assert out == {"2": "a", "null": "b", "true": "c", "2.5": "d", "k": "e", "2024-01-02": "f", "raw": "g",
                   "Infinity": "h", "s": {"7": [{"false": 1}]}}
    assert all(type(k) is str for k in out)
    # what json.dumps would have written for the same keys
    assert json.loads(json.dumps({2: 0, None: 0, True: 0, 2.5: 0})) == {"2": 0, "null": 0, "true": 0, "2.5": 0}


def test_a_key_that_cannot_become_text_names_its_place():
    err = error_of({"a": {(1, 2): "x"}})
    assert err.path == "a[(1, 2)]" and "key" in err.reason and "tuple" in err.reason


def test_mappings_become_dicts():
    out = to_plain({"o": collections.OrderedDict(b=1, a=2), "proxy": types.MappingProxyType({"x": (1,)}),
                    "dd": collections.defaultdict(list, {"k": [1]})})
    assert out == {"o": {"b": 1, "a": 2}, "proxy": {"x": [1]}, "dd": {"k": [1]}}
    assert {type(v) for v in out.values()} == {dict}
    assert type(to_plain(collections.OrderedDict(a=1))) is dict


def test_nan_and_infinities_become_none():
    nan, inf = float("nan"), float("inf")
    out = to_plain({"nan": nan, "inf": inf, "ninf": -inf, "l": [1.0, nan, {"x": inf}], "ok": 1e308})
    assert out == {"nan": None, "inf": None, "ninf": None, "l": [1.0, None, {"x": None}], "ok": 1e308}
    assert "NaN" not in json.dumps(out) and plain_json(out) == out


@dataclasses.dataclass
class Offer:
    seller: object
    price: decimal.Decimal = decimal.Decimal("1.5")


@dataclasses.dataclass
class Product:
    name: str
    offers: list
    when: datetime.date = datetime.date(2024, 1, 1)
    tags: tuple = ()


def test_dataclass_records_and_values_become_dicts():
    assert is_record(Product("x", [])) and not is_record(Product)
    out = to_plain(Product("lamp", [Offer("shop"), {"raw": Offer("b", decimal.Decimal("2"))}], tags=("a",)))
    assert out == {"name": "lamp", "offers": [{"seller": "shop", "price": "1.5"},
                                              {"raw": {"seller": "b", "price": "2"}}],
                   "when": "2024-01-01", "tags": ["a"]}
    assert type(out) is dict and plain_json(out) == out


def test_attrs_records_become_dicts():
    attr = pytest.importorskip("attr")

    @attr.s
    class Book:
        title = attr.ib()
        year = attr.ib(default=None)

    @attr.define
    class Shelf:
        books: list

    assert is_record(Book("x"))
    assert to_plain(Shelf([Book("Dune", 1965), Book(b"Emma")])) == \
        {"books": [{"title": "Dune", "year": 1965}, {"title": "Emma", "year": None}]}


def test_scrapy_items_become_dicts():
    scrapy = pytest.importorskip("scrapy")

    class Page(scrapy.Item):
        url = scrapy.Field()
        size = scrapy.Field()

    item = Page(url="http://x/")
    assert is_record(item)
    assert to_plain({"page": item, "top": Page(size=3)}) == {"page": {"url": "http://x/"}, "top": {"size": 3}}
    assert to_plain(item) == {"url": "http://x/"}


class _Bag:
    """An object with an item interface that itemadapter does not know by itself."""

    def __init__(self, **fields):
        self.fields = fields


def test_anything_itemadapter_accepts_is_a_record():
    from itemadapter import ItemAdapter
    from itemadapter.adapter import DictAdapter

    class BagAdapter(DictAdapter):  # as a Scrapy project registers its own item class
        def __init__(self, item):
            super().__init__(item)
            self.item = item.fields

        @classmethod
        def is_item(cls, item):
            return isinstance(item, _Bag)

        @classmethod
        def is_item_class(cls, item_class):
            return issubclass(item_class, _Bag)

    assert not is_record(_Bag(a=1))
    ItemAdapter.ADAPTER_CLASSES.appendleft(BagAdapter)
    try:
        assert is_record(_Bag(a=1))
        assert to_plain(_Bag(a=(1,), inner=_Bag(d=datetime.date(2020, 2, 2)))) == \
            {"a": [1], "inner": {"d": "2020-02-02"}}
    finally:
        ItemAdapter.ADAPTER_CLASSES.remove(BagAdapter)


def test_what_is_not_a_record():
    assert is_record({}) and is_record(collections.OrderedDict())
    for thing in (None, 1, "text", [{}], ({},), object(), Product, b"x"):
        assert not is_record(thing)
    err = error_of([{"a": 1}])
    assert err.path == "" and "list" in str(err) and "not a record" in str(err)


# -- what is refused: one error naming the field -----------------------------------------------

def test_an_object_that_cannot_be_converted_names_its_path():
    err = error_of({"a": {"b": [0, 1, 2, {"c": object()}]}})
    assert err.path == "a.b[3].c" and "object" in err.reason
    assert str(err) == f"field a.b[3].c: {err.reason}"
    assert isinstance(err, ScrapepoolError)


def test_paths_of_set_elements_odd_keys_and_items():
    assert error_of({"s": {1, object()}}).path == "s{}"
    assert error_of({"a b": {"x.y": object()}}).path == "['a b']['x.y']"
    assert error_of({"k": {3: [object()]}}).path == "k[3][0]"
    assert error_of(Product("p", [Offer(seller=object())])).path == "offers[0].seller"


def test_a_bs4_tag_is_refused_with_a_hint():
    soup = BeautifulSoup("<p><a href='/x'>x</a></p>", "lxml")
    err = error_of({"links": soup.select("a")})
    assert err.path == "links[0]" and "Tag" in err.reason and "get_text" in err.reason


def test_functions_generators_and_other_values_are_refused():
    for value in (len, (i for i in range(2)), datetime.timedelta(1), {"k": 1}.keys(), 1j, Ellipsis):
        assert error_of({"v": [value]}).path == "v[0]"


def test_a_failing_read_of_a_value_names_its_path():
    class Broken(collections.abc.Mapping):
        def __getitem__(self, key):
            raise ValueError("boom")

        def __iter__(self):
            return iter(["x"])

        def __len__(self):
            return 1

    err = error_of({"ok": 1, "m": {"inner": Broken()}})
    assert err.path == "m.inner" and "ValueError: boom" in err.reason


def test_nesting_up_to_the_limit_is_kept_deeper_is_refused():
    deep_ok = {"x": nested(MAX_DEPTH // 2 - 1)}  # the record, then a dict and a list per level
    assert to_plain(deep_ok) == deep_ok
    lists = [[]]
    for _ in range(MAX_DEPTH - 3):
        lists = [lists]
    assert to_plain({"l": lists}) == {"l": lists}  # 100 levels, the record included
    err = error_of({"l": [lists]})
    assert "deeper than 100 levels" in err.reason and err.path.startswith("l[0][0][0]")


class _Tripwire(dict):
    """A level the conversion must never reach: walking it would fail in another way."""

    def items(self):
        raise AssertionError("the conversion walked past the depth limit")


def test_very_deep_nesting_is_one_error_not_a_recursion_error():
    for depth in (5000, 200000):
        err = error_of({"ok": 1, "tree": nested(depth)})
        assert err.path.startswith("tree.down[0].down[0]") and "more)" in err.path
        assert "deeper than 100 levels" in err.reason
    # The cost does not grow with the depth: nothing below the limit is looked at (checked
    # with a level that fails if touched, not with a clock).
    tree = _Tripwire(down=[nested(200000)])
    for _ in range(MAX_DEPTH):
        tree = {"down": [tree]}
    err = error_of({"tree": tree})
    assert "deeper than 100 levels" in err.reason


def test_cycles_are_refused_naming_where_the_loop_closes():
    rec = {"a": {}}
    rec["a"]["back"] = rec
    err = error_of(rec)
    assert err.path == "a.back" and "cyclic" in err.reason and "the record" in err.reason

    loop = [1]
    loop.append(loop)
    err = error_of({"x": {"y": loop}})
    assert err.path == "x.y[1]" and "cyclic" in err.reason and "x.y itself" in err.reason

    offer = Offer(seller=None)
    offer.seller = [offer]
    err = error_of({"o": offer})
    assert err.path == "o.seller[0]" and "cyclic" in err.reason


def test_shared_values_that_are_not_cycles_are_fine():
    shared = {"k": [1, 2]}
    out = to_plain({"a": shared, "b": [shared, shared]})
    assert out == {"a": {"k": [1, 2]}, "b": [{"k": [1, 2]}, {"k": [1, 2]}]}


def test_record_error_survives_pickling():
    err = pickle.loads(pickle.dumps(RecordError("a.b[3]", "cannot convert an object")))
    assert (err.path, err.reason, str(err)) == ("a.b[3]", "cannot convert an object",
                                                "field a.b[3]: cannot convert an object")


def test_every_converted_record_is_strict_json_and_pickles():
    rec = {"when": datetime.datetime(2020, 1, 1), "n": float("nan"), "s": {2, 1}, "b": b"\x00",
           "d": decimal.Decimal("1e-30"), "p": Product("x", [Offer("y")]), 5: (None, True)}
    out = to_plain(rec)
    assert plain_json(out) == out and not any(isinstance(v, float) and math.isnan(v) for v in out.values())


# -- crawls through the real engine ------------------------------------------------------------

BIG_PAGE = ("<html><head><title>Hello</title></head><body>"
            + "".join(f"<p>p{i}</p>" for i in range(500)) + "</body></html>")

#: crawl_spider with robots.txt obeyed, as scrapepool.crawl by default.
CRAWL_SETTINGS = pytest.mark.crawl_settings(robots=True)


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_crawl_navigable_string_of_a_big_page_is_written_as_text(site_server, crawl_spider):
    server = site_server({"/": BIG_PAGE, "/robots.txt": ROBOTS})
    result = crawl_spider("tests.records_spiders:SoupTitle", server)
    stats = result.stats
    assert result.records == [{"url": server.url + "/", "title": "Hello", "first": "p0"}]
    assert stats["finish_reason"] == "finished"
    assert stats["records"] == 1 and stats["spider_errors"] == 0


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_crawl_dataclass_record_is_written_as_a_dict(site_server, crawl_spider):
    server = site_server({"/": '<span class="text">To be</span><small>Albert</small>', "/robots.txt": ROBOTS})
    result = crawl_spider("tests.records_spiders:DataclassRecords", server)
    stats = result.stats
    assert result.records == [{
        "text": "To be", "author": {"name": "Albert", "born": "1879-03-14"}, "price": "12.50",
        "tags": ["a", "b", "c"], "seen": "2024-05-01T12:30:00+00:00", "score": None,
        "raw": "caf\u00e9 \ufffd", "pair": [1, "two"], "note": None}]
    # NaN became null: the line is strict JSON
    assert "NaN" not in result.output.read_text(encoding="utf-8")
    assert stats["records"] == 1 and stats["spider_errors"] == 0


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_crawl_bad_records_are_dropped_and_reported_the_rest_written(site_server, crawl_spider, caplog):
    server = site_server({"/": "one page", "/robots.txt": ROBOTS})
    with caplog.at_level(logging.WARNING, logger="scrapepool"):
        result = crawl_spider("tests.records_spiders:OneBadRecord", server)
    stats, records = result.stats, result.records
    assert records == [{"url": server.url + "/", "n": 1}, {"url": server.url + "/", "n": 2}]
    assert stats["finish_reason"] == "finished"
    assert stats["records"] == 2 and stats["spider_errors"] == 2
    errors = [r.getMessage() for r in caplog.records if "spider error" in r.getMessage()]
    assert len(errors) == 2
    assert all(server.url + "/" in e and "record dropped" in e for e in errors)
    deep = next(e for e in errors if "deeper" in e)
    assert "field tree.down[0]" in deep and "100 levels" in deep
    obj = next(e for e in errors if "object" in e)
    assert "field list[2].x" in obj


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_crawl_records_holding_dataclasses_and_requests(site_server, crawl_spider):
    server = site_server({"/": '<a href="/a">A</a><a href="/b">B</a>', "/a": '<a href="/">home</a>',
                          "/b": "", "/robots.txt": ROBOTS})
    result = crawl_spider("tests.records_spiders:LinksSpider", server)
    stats = result.stats
    got = {r["url"][len(server.url):]: r["links"] for r in result.records}
    assert got == {"/": [{"href": "/a", "text": "A"}, {"href": "/b", "text": "B"}],
                   "/a": [{"href": "/", "text": "home"}], "/b": []}
    assert stats["spider_errors"] == 0 and server.count("/a") == server.count("/b") == 1
