"""``scrapepool.crawl()`` from a user's script, as the README shows it (issue 16): a spider
defined in the script runs; a call without ``if __name__ == "__main__":``, or a spider defined
in ``python -c``, is one clear error before any process starts or any request is sent, not a
multiprocessing traceback ending in WriterDied."""

import json
import subprocess
import sys
import textwrap

import pytest

from scrapepool.testing.testserver import Page
from tests.conftest import _env

pytestmark = pytest.mark.timeout(90)

SPIDER = '''
import scrapepool


class Titles(scrapepool.Spider):
    def parse(self, response):
        yield {"url": response.url, "title": response.soup.title.get_text()}
        for a in response.soup.select("a[href]"):
            yield response.follow(a["href"])
'''


def site():
    return {"/": Page("<html><title>home</title><body><a href='/a'>a</a></body></html>"),
            "/a": Page("<html><title>a</title></body></html>")}


def run_script(tmp_path, text):
    script = tmp_path / "myscript.py"
    script.write_text(text)
    return subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), env=_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def test_a_spider_defined_in_a_guarded_script_runs(tmp_path, site_server):
    server = site_server(site())
    proc = run_script(tmp_path, SPIDER + textwrap.dedent(f'''
        if __name__ == "__main__":
            stats = scrapepool.crawl(Titles, seeds=["{server.url}/"], output="out.jsonl", workers=2,
                                     robots=False, progress=False)
            print(stats["pages"])
        '''))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2"]
    titles = sorted(json.loads(line)["title"] for line in (tmp_path / "out.jsonl").read_text().splitlines())
    assert titles == ["a", "home"]


def test_an_unguarded_call_is_one_clear_error_before_anything_starts(tmp_path, site_server):
    server = site_server(site())
    proc = run_script(tmp_path, SPIDER + textwrap.dedent(f'''
        scrapepool.crawl(Titles, seeds=["{server.url}/"], output="out.jsonl", robots=False, progress=False)
        '''))
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "UsageError" in last and 'if __name__ == "__main__":' in last and "myscript.py" in last, proc.stderr
    assert "WriterDied" not in proc.stderr and "bootstrapping" not in proc.stderr
    assert server.count("/") == 0 and not (tmp_path / "out.jsonl").exists()


def test_a_spider_defined_in_python_c_is_one_clear_error(tmp_path, site_server):
    server = site_server(site())
    code = SPIDER + f'\nscrapepool.crawl(Titles, seeds=["{server.url}/"], output="out.jsonl", progress=False)\n'
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "UsageError" in last and "interactive" in last and "file.py:Class" in last, proc.stderr
    assert "WriterDied" not in proc.stderr and server.count("/") == 0
