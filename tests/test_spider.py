"""The Spider base class and load_spider / spider_ref."""

from pathlib import Path

import pytest

import scrapepool
import tests.spiders
from scrapepool import SiteSpider, Spider, SpiderLoadError, UsageError, load_spider
from scrapepool.spiders.loading import spider_ref
from tests.spiders import TwoCallbacks

SPIDERS_FILE = Path(__file__).resolve().parent / "spiders.py"


def load_error(ref):
    with pytest.raises(SpiderLoadError) as info:
        load_spider(ref)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message
    return message


def test_spider_load_error_is_a_usage_error():
    assert issubclass(SpiderLoadError, UsageError)


def test_none_is_the_builtin_spider():
    assert load_spider(None) is SiteSpider


def test_a_class_is_returned_as_is():
    assert load_spider(TwoCallbacks) is TwoCallbacks


def test_module_ref():
    assert load_spider("tests.spiders:TwoCallbacks") is tests.spiders.TwoCallbacks
    assert load_spider("scrapepool.spiders.builtin:SiteSpider") is SiteSpider


def test_file_ref(tmp_path):
    path = tmp_path / "my_spiders.py"
    path.write_text("from scrapepool import Spider\n\n"
                    "class Mine(Spider):\n"
                    "    name = 'mine'\n\n"
                    "    def parse(self, response):\n"
                    "        yield {}\n")
    cls = load_spider(f"{path}:Mine")
    assert issubclass(cls, Spider) and cls.__name__ == "Mine" and cls.name == "mine"
    assert load_spider(f"{path}:Mine") is cls  # loaded once
    # the reference sent to fetcher processes points back at the file
    assert spider_ref(cls) == f"{path}:Mine"


def test_file_ref_of_an_importable_file():
    cls = load_spider(f"{SPIDERS_FILE}:TwoCallbacks")
    assert issubclass(cls, Spider) and cls.__name__ == "TwoCallbacks"


def test_missing_file(tmp_path):
    message = load_error(f"{tmp_path}/nowhere.py:Mine")
    assert "not found" in message and "nowhere.py" in message


def test_missing_module():
    message = load_error("no_such_package_xyz.spiders:Mine")
    assert "no_such_package_xyz" in message and "not found" in message


def test_missing_class():
    message = load_error("tests.spiders:NoSuchSpider")
    assert "NoSuchSpider" in message and "tests.spiders" in message


def test_missing_class_in_a_file(tmp_path):
    path = tmp_path / "s.py"
    path.write_text("X = 1\n")
    message = load_error(f"{path}:Nope")
    assert "Nope" in message and "s.py" in message


@pytest.mark.parametrize("name", ["NotASpider", "not_a_class", "Request"])
def test_not_a_spider(name):
    message = load_error(f"tests.spiders:{name}")
    assert name in message and "not a Spider" in message


def test_a_class_that_is_not_a_spider():
    message = load_error(tests.spiders.NotASpider)
    assert "NotASpider" in message and "not a Spider" in message


@pytest.mark.parametrize("ref", ["tests.spiders", "tests.spiders:", ":TwoCallbacks"])
def test_malformed_reference(ref):
    assert "module:Class" in load_error(ref)


def test_file_that_fails_to_import(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import no_such_dependency_xyz\n")
    message = load_error(f"{path}:Mine")
    assert "broken.py" in message and "no_such_dependency_xyz" in message


def test_file_with_a_syntax_error(tmp_path):
    path = tmp_path / "syntax.py"
    path.write_text("class Mine(:\n")
    message = load_error(f"{path}:Mine")
    assert "syntax.py" in message and "SyntaxError" in message


def test_parse_not_implemented_names_the_class():
    class Bare(Spider):
        pass

    with pytest.raises(NotImplementedError, match="Bare"):
        Bare().parse(None)


def test_spider_arguments_and_name():
    spider = TwoCallbacks(category="books", limit="3")
    assert (spider.category, spider.limit, spider.name) == ("books", "3", "two-callbacks")

    class Unnamed(Spider):
        pass

    assert Unnamed().name == "Unnamed"
    assert Spider().error_record({"url": "u"}) is None


def test_start_requests_from_start_urls():
    class Seeded(Spider):
        start_urls = ["http://a.example/", "http://b.example/x"]

    reqs = list(Seeded().start_requests())
    assert [r.url for r in reqs] == Seeded.start_urls
    assert all(isinstance(r, scrapepool.Request) for r in reqs)


def test_spider_ref():
    assert spider_ref(TwoCallbacks) == "tests.spiders:TwoCallbacks"
    assert spider_ref("pkg.mod:Cls") == "pkg.mod:Cls"
    assert spider_ref(None) is None

    class Local(Spider):
        pass

    with pytest.raises(SpiderLoadError, match="module level"):
        spider_ref(Local)
    with pytest.raises(SpiderLoadError, match="not a Spider"):
        spider_ref(tests.spiders.NotASpider)
