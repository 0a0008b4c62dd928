"""``scrapepool genspider``: Scrapy's naming rules, no overwriting, and files that work: the
generated test passes against the generated spider, and the templates ship in the package."""

import ast
import subprocess
import sys

import pytest
from conftest import _env, one_line, package_source, run_scrapepool

from scrapepool import cli
from scrapepool.tools.genspider import genspider

pytestmark = pytest.mark.timeout(120)


def run(*args, cwd, timeout=30):
    return run_scrapepool("genspider", *args, cwd=cwd, timeout=timeout)



def spider_class(path):
    """(class name, {attribute: value}) of the one class in a generated spider file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    attrs = {target.id: ast.literal_eval(node.value) for node in cls.body if isinstance(node, ast.Assign)
             for target in node.targets if target.id in ("name", "allowed_domains", "start_urls")}
    return cls.name, attrs


def test_the_command_writes_a_spider_and_its_test(tmp_path):
    rc, out, err = run("my-spider", "example.com", cwd=tmp_path)
    assert rc == 0, err
    assert out.strip() == ("Created spider 'my-spider' using template 'basic' in my_spider.py, "
                           "and its test in test_my_spider.py")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_spider.py", "test_my_spider.py"]
    assert spider_class(tmp_path / "my_spider.py") == (
        "MySpiderSpider", {"name": "my-spider", "allowed_domains": ["example.com"],
                           "start_urls": ["https://example.com"]})
    test = (tmp_path / "test_my_spider.py").read_text(encoding="utf-8")
    assert "from my_spider import MySpiderSpider" in test and "def test_my_spider(crawl_spider):" in test


@pytest.mark.parametrize("name, module, cls", [
    ("example", "example", "ExampleSpider"),
    ("my.site-spider", "my_site_spider", "MySiteSpiderSpider"),
    ("1st_spider", "a1st_spider", "A1stSpiderSpider"),  # Scrapy: the module, not the name, gets the letter
])
def test_names_follow_scrapys_rules(tmp_path, name, module, cls):
    spider, test = genspider(name, "example.com", folder=tmp_path)
    assert (spider.name, test.name) == (f"{module}.py", f"test_{module}.py")
    assert spider_class(spider) == (cls, {"name": name, "allowed_domains": ["example.com"],
                                          "start_urls": ["https://example.com"]})


@pytest.mark.parametrize("template", ["basic", "crawl"])
@pytest.mark.parametrize("domain, allowed, start", [
    ("test.com", "test.com", "https://test.com"),
    ("https://test.com", "test.com", "https://test.com"),
    ("http://test.com/other/path", "test.com", "http://test.com/other/path"),
    ("test.com/other/path", "test.com", "https://test.com/other/path"),
])
def test_domain_or_url_as_scrapy_reads_them(tmp_path, template, domain, allowed, start):
    spider, _ = genspider("s", domain, template, folder=tmp_path)
    assert spider_class(spider)[1] == {"name": "s", "allowed_domains": [allowed], "start_urls": [start]}


def test_existing_files_are_kept_without_force(tmp_path):
    (tmp_path / "test_example.py").write_text("# mine\n", encoding="utf-8")
    rc, out, err = run("example", "example.com", cwd=tmp_path)
    assert rc == 2 and out == ""
    assert one_line(err) == "scrapepool: error: test_example.py already exists (--force overwrites it)"
    assert not (tmp_path / "example.py").exists()  # nothing written unless both can be
    assert (tmp_path / "test_example.py").read_text(encoding="utf-8") == "# mine\n"
    rc, out, err = run("example", "example.com", "--force", "-t", "crawl", cwd=tmp_path)
    assert rc == 0, err
    assert "CrawlSpider" in (tmp_path / "example.py").read_text(encoding="utf-8")
    assert "# mine" not in (tmp_path / "test_example.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, words", [
    (("my spider", "example.com"), "use letters, digits"),
    (("class", "example.com"), "which Python cannot import"),
    (("json", "example.com"), "would hide the module 'json'"),
    (("ok", "exa mple.com"), "contains spaces"),
    (("ok", "example.com", "-t", "xmlfeed"), "no template 'xmlfeed': choose one of basic, crawl"),
    (("ok", "example.com", "-d", "no-such-dir"), "folder no-such-dir does not exist"),
    (("ok",), "needs a NAME and a DOMAIN"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, words):
    # In this process (the command's own entry, without its signal handling): 7 cases, no start-up each.
    monkeypatch.chdir(tmp_path)
    assert cli._main(["genspider", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert words in one_line(captured.err)
    assert list(tmp_path.iterdir()) == []


def test_list_and_dir(tmp_path):
    rc, out, err = run("--list", cwd=tmp_path)
    assert (rc, out) == (0, "Available templates:\n  basic\n  crawl\n"), err
    (tmp_path / "spiders").mkdir()
    rc, out, err = run("shop", "shop.example", "-d", "spiders", cwd=tmp_path)
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "spiders").iterdir()) == ["shop.py", "test_shop.py"]


@pytest.mark.timeout(90)
def test_the_generated_tests_pass(tmp_path):
    """Both templates' spiders, run by their own generated tests (the pytest plugin, the real
    engine, a site on 127.0.0.1), in a folder of their own as a user would."""
    for name, template in (("books", "basic"), ("shop", "crawl")):
        assert run(name, "books.example", "-t", template, cwd=tmp_path)[0] == 0
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_books.py", "test_shop.py"], cwd=str(tmp_path), env=_env(),
                          capture_output=True, text=True, timeout=80, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_the_templates_ship_in_the_package(tmp_path):
    """A build of the package (what pip installs) holds the templates, and genspider works from it."""
    src = package_source(tmp_path / "src")
    build = tmp_path / "build"
    proc = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                           "-d", str(build)], cwd=str(src), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(str(p.relative_to(build)) for p in build.rglob("*.tmpl")) == [
        "scrapepool/templates/spiders/basic.tmpl", "scrapepool/templates/spiders/crawl.tmpl",
        "scrapepool/templates/tests/basic.tmpl", "scrapepool/templates/tests/crawl.tmpl"]
    env = {k: v for k, v in _env().items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(build)
    out = tmp_path / "out"
    out.mkdir()
    where = subprocess.run([sys.executable, "-c", "import scrapepool; print(scrapepool.__file__)"],
                           cwd=str(out), env=env, capture_output=True, text=True, timeout=30)
    assert where.stdout.strip() == str(build / "scrapepool" / "__init__.py"), where.stderr
    proc = subprocess.run([sys.executable, "-m", "scrapepool", "genspider", "books", "books.example"],
                          cwd=str(out), env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert (out / "books.py").is_file() and (out / "test_books.py").is_file()
