#!/bin/sh
# The test suite under coverage.py, measured in every process of every crawl: the pytest
# process, the fetchers and the writer (multiprocessing, spawn or fork), and the
# `python -m scrapepool` subprocesses of the CLI tests with their own children.
#
#   benchmarks/coverage.sh [PYTEST ARGS]      # e.g. benchmarks/coverage.sh tests/test_engine.py
#
# Prints the combined report (missing lines included); data in build/coverage/. The
# configuration is [tool.coverage.*] in pyproject.toml: concurrency multiprocessing + thread,
# patch = ["subprocess"] (coverage >= 7.10, `pip install -e '.[test]'`). Fetchers and the writer
# end with os._exit, which skips coverage's atexit save: scrapepool/_exit.py saves first.
# A process killed with SIGKILL (the kill -9 tests, a replaced fetcher) saves nothing.
# Exit status: pytest's.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
# Absolute, so that a child started in another folder (the CLI tests run in tmp_path) writes here.
export COVERAGE_RCFILE="$ROOT/pyproject.toml"
export COVERAGE_FILE="$ROOT/build/coverage/.coverage"
rm -rf "$ROOT/build/coverage"
mkdir -p "$ROOT/build/coverage"
"$PY" -m coverage run -m pytest -q "$@"
status=$?
echo "coverage: $(ls -A "$ROOT"/build/coverage/ | grep -c '^\.coverage\.') data files to combine (one per process that saved)"
"$PY" -m coverage combine -q
"$PY" -m coverage report
exit $status
