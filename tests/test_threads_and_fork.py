"""The threading-layer strategy: concurrent Python threads and forked children both work."""

import multiprocessing
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastlr
from fastlr.engines.memory import PARALLEL_MIN_ELEMENTS


def big_problem():
    # Large enough for the parallel batch pass.
    return fastlr.make_regression(2 * PARALLEL_MIN_ELEMENTS // 4, 4, noise=0.1, random_state=0)


def fit(X, y):
    return fastlr.LinearRegression(learning_rate=0.5, max_iter=10, tol=None).fit(X, y).coef_


def test_eight_python_threads_fitting_at_once_match_serial_fits():
    X, y, _ = big_problem()
    expected = fit(X, y)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: fit(X, y), range(16)))
    for coef in results:
        np.testing.assert_array_equal(coef, expected)


def _child(queue):
    X, y, _ = big_problem()
    queue.put(fit(X, y).tolist())


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method is Linux's default")
@pytest.mark.skipif(
    os.environ.get("NUMBA_THREADING_LAYER") == "omp",
    reason="the user forced GNU OpenMP, which does not survive fork (see README)",
)
def test_forked_child_fits_after_its_parent_did():
    X, y, _ = big_problem()
    expected = fit(X, y)  # the parent has now run a parallel kernel
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(queue,))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0, f"forked child died with exit code {child.exitcode}"
    np.testing.assert_array_equal(np.array(queue.get(timeout=5)), expected)


def test_threading_layer_priority_avoids_gnu_openmp_unless_the_user_chose():
    import numba

    if "NUMBA_THREADING_LAYER" in os.environ or "NUMBA_THREADING_LAYER_PRIORITY" in os.environ:
        pytest.skip("the user chose a threading layer")
    assert numba.config.THREADING_LAYER_PRIORITY[-1] == "omp"
    fit(*big_problem()[:2])
    assert numba.threading_layer() in ("tbb", "workqueue")
