"""``hard_exit(code)``: ``os._exit`` that first saves coverage data when coverage.py is measuring.

Fetcher and writer processes end with ``os._exit`` (a worker thread may be stuck in a slow read,
and nothing the parent set up at fork time should run in the child), which skips the atexit
handler through which coverage.py saves what it measured in the process. Under coverage
(``benchmarks/coverage.sh``) this saves it first; otherwise it is ``os._exit``, and coverage is
never imported here.
"""

import os
import sys


def hard_exit(code):
    """Save the running coverage measurement, if any, then ``os._exit(code)``."""
    coverage = sys.modules.get("coverage")  # measuring means coverage is imported already
    if coverage is not None:
        try:
            cov = coverage.Coverage.current()
            if cov is not None:
                cov.stop()  # what runs after this line is not measured:
                cov.save()  # pragma: no cover
        except Exception:  # pragma: no cover (never let measurement change how the process ends)
            pass
    os._exit(code)  # pragma: no cover
