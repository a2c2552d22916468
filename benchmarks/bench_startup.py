"""asv: start-up in a fresh interpreter: import, first fit with a warm and with an empty cache.

Each ``timeraw_`` benchmark returns code that asv times in a new Python process (one run per
process), so these include interpreter start-up, imports and JIT compilation or cache loading.
"""

from __future__ import annotations

import subprocess
import sys

FIRST_FIT = """
import fastlr
X, y, _ = fastlr.make_regression(2000, 10, noise=1.0, random_state=0)
fastlr.LinearRegression(learning_rate=0.5, max_iter=20, tol=None).fit(X, y)
"""


def _warm_the_cache() -> None:
    subprocess.run([sys.executable, "-c", FIRST_FIT], check=True)


def timeraw_import_fastlr() -> str:
    return "import fastlr"


def timeraw_first_fit_warm_cache() -> str:
    return FIRST_FIT


def timeraw_first_fit_empty_cache() -> str:
    # A new, empty cache directory in every timed process: everything the fit needs compiles.
    return (
        "import os, tempfile\n"
        "os.environ['NUMBA_CACHE_DIR'] = tempfile.mkdtemp(prefix='fastlr-asv-')\n" + FIRST_FIT
    )


timeraw_import_fastlr.number = 1  # type: ignore[attr-defined]
timeraw_import_fastlr.repeat = 10  # type: ignore[attr-defined]
timeraw_first_fit_warm_cache.setup = _warm_the_cache  # type: ignore[attr-defined]
timeraw_first_fit_warm_cache.number = 1  # type: ignore[attr-defined]
timeraw_first_fit_warm_cache.repeat = 10  # type: ignore[attr-defined]
timeraw_first_fit_empty_cache.number = 1  # type: ignore[attr-defined]
timeraw_first_fit_empty_cache.repeat = 3  # type: ignore[attr-defined]
timeraw_first_fit_empty_cache.timeout = 300  # type: ignore[attr-defined]
