"""Kernel threads: the threading layer fastlr asks numba for, the launch lock, ``n_jobs``.

Numba's default layers have two hazards in library code (see the README, "Threads and processes"):

- GNU OpenMP (``omp``, numba's second choice, and its first on a pip install without TBB) kills a
  child process forked after the parent ran a parallel kernel;
- ``workqueue`` aborts the process when two Python threads launch parallel kernels at once.

So, unless the user chose a layer (``NUMBA_THREADING_LAYER`` or ``NUMBA_THREADING_LAYER_PRIORITY``),
fastlr asks for ``tbb`` first (safe for both), then ``workqueue`` (fork-safe), and OpenMP last; and
every parallel kernel fastlr launches holds :data:`LAUNCH_LOCK`, which makes ``workqueue`` safe
for threads. The priority only matters until the first parallel kernel runs in the process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral
from typing import Any

import numba

# numba's config values and threading_layer() are set at import time, unknown to type checkers.
_numba_any: Any = numba
_config: Any = numba.config

#: Held around every parallel kernel launch (cheap: one uncontended lock per epoch).
LAUNCH_LOCK = threading.Lock()

_USER_CHOSE_LAYER = any(
    name in os.environ for name in ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY")
)
if not _USER_CHOSE_LAYER and _config.THREADING_LAYER == "default":
    _config.THREADING_LAYER_PRIORITY = ["tbb", "workqueue", "omp"]


def active_layer() -> str:
    """The threading layer numba started in this process, or ``"none yet"``."""
    try:
        return str(_numba_any.threading_layer())
    except ValueError:  # no parallel kernel has run in this process
        return "none yet"


def max_threads() -> int:
    """The largest thread count numba allows in this process (``NUMBA_NUM_THREADS``)."""
    return int(_config.NUMBA_NUM_THREADS)


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Map scikit-learn style ``n_jobs`` to a thread count.

    ``None`` means numba's current setting for this thread; ``-1`` all threads; ``-2`` all but one,
    and so on.
    """
    if n_jobs is None:
        return int(numba.get_num_threads())
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral):
        raise TypeError(f"n_jobs must be None or an int, got {n_jobs!r}")
    limit = max_threads()
    count = int(n_jobs) if n_jobs > 0 else limit + 1 + int(n_jobs)
    if n_jobs == 0 or not 1 <= count <= limit:
        raise ValueError(
            f"n_jobs must be None, between 1 and {limit} (NUMBA_NUM_THREADS), or a negative "
            f"count from the end (-1 = all {limit}); got {n_jobs!r}"
        )
    return count


@contextmanager
def parallel_launch(n_threads: int | None = None) -> Iterator[None]:
    """Hold :data:`LAUNCH_LOCK` and run the block's parallel kernels on ``n_threads`` threads.

    ``None`` keeps numba's current setting. The thread count is restored on the way out (it is
    per Python thread in numba, so other threads are not affected).
    """
    with LAUNCH_LOCK:
        if n_threads is None:
            yield
            return
        previous = numba.get_num_threads()
        numba.set_num_threads(n_threads)
        try:
            yield
        finally:
            numba.set_num_threads(previous)
