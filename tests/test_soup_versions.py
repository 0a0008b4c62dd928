"""The lean tree builder (scrapepool/spiders/soup.py) against the oldest supported BeautifulSoup.

The suite itself runs with the newest bs4 pip installs; this runs tests/test_soup.py
(every node of the lean tree compared with the stock lxml builder's) once more in a
subprocess that imports the oldest version pyproject.toml allows, installed into a
temporary folder from the package registry.
"""

import subprocess
import sys

import pytest
from conftest import ROOT, _env

#: The lower bound of ``beautifulsoup4`` in pyproject.toml.
OLDEST = "4.11.2"


@pytest.mark.timeout(240)
def test_the_soup_tests_pass_with_the_oldest_supported_bs4(tmp_path):
    target = tmp_path / "bs4"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          "--no-deps", "--target", str(target), f"beautifulsoup4=={OLDEST}"],
                         capture_output=True, text=True, timeout=200)
    assert pip.returncode == 0, pip.stderr[-2000:]
    env = _env()
    env["PYTHONPATH"] = f"{target}:{env['PYTHONPATH']}"
    version = subprocess.run([sys.executable, "-c", "import bs4; print(bs4.__version__)"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == OLDEST, version.stderr
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(ROOT / "tests" / "test_soup.py")], cwd=str(ROOT), env=env,
                         capture_output=True, text=True, timeout=200)
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
