"""``scrapepool demo`` after a regular (not editable) install, where there is no examples/ folder.

The project is copied without its examples and tests, installed with pip into a
folder of its own (offline: no dependencies, the venv's setuptools), and the demo
is run from yet another folder with only that install on PYTHONPATH.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_jsonl, package_source

from scrapepool.demo import expected_counts


def install_command(src, target):
    """pip, where it can build a wheel offline; else setuptools' own install of the same files.

    pip builds a wheel first, which setuptools before 70.1 cannot do without the ``wheel``
    package (this venv has neither); ``setup.py install`` installs the same packages.
    """
    import setuptools

    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    if importlib.util.find_spec("wheel") is not None or (major, minor) >= (70, 1):
        return [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                "--disable-pip-version-check", "-q", "--target", str(target), str(src)]
    return [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "install",
            "--single-version-externally-managed", "--record", str(target.parent / "installed.txt"),
            "--install-lib", str(target), "--install-scripts", str(target / "bin")]


@pytest.mark.timeout(300)
def test_demo_runs_from_a_regular_install(tmp_path):
    src = package_source(tmp_path / "src")
    target = tmp_path / "installed"
    install = subprocess.run(install_command(src, target), cwd=str(src), capture_output=True, text=True,
                             timeout=240)
    assert install.returncode == 0, install.stdout + install.stderr
    assert (target / "scrapepool" / "demo").is_dir() and not (target / "examples").exists()

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([sys.executable, "-c", "import scrapepool; print(scrapepool.__file__)"],
                           cwd=str(elsewhere), env=env, capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).parent == target / "scrapepool", where.stdout + where.stderr

    out = elsewhere / "quotes.jsonl"
    run = subprocess.run([sys.executable, "-m", "scrapepool", "demo", "-o", str(out), "-w", "1", "-q"],
                         cwd=str(elsewhere), env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    records = load_jsonl(out)
    assert len(records) == expected_counts()["spider_records"]
    assert {r["kind"] for r in records} == {"quote", "author"}
