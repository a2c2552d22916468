"""pytest-benchmark cases for the kernels, each beside its NumPy twin (fastlr.reference).

Not part of the default test run (``testpaths`` is ``tests`` and ``fastlr``), and kept out of
asv's discovery (no ``__init__.py`` here). Run and compare::

    python -m pytest benchmarks/kernels/test_kernel_speed.py --benchmark-autosave
    # ... change the code ...
    python -m pytest benchmarks/kernels/test_kernel_speed.py --benchmark-compare \
        --benchmark-compare-fail=median:10%

Every case calls its function once before timing, so JIT compilation (or the cache load) is
not timed. Groups pair the implementations of one kernel on one shape.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

import fastlr
from fastlr import kernels, reference
from fastlr.kernels.records import Iterate, Momentum, Penalty, Rows, Scaling
from fastlr.training.loop import RowOrder

NO_PENALTY = Penalty(0.0, 0.0)
SHAPES = [(200_000, 20), (20_000, 200)]


@pytest.fixture(scope="module", params=SHAPES, ids=lambda shape: f"{shape[0]}x{shape[1]}")
def problem(request):
    n, d = request.param
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0)
    return X, y, np.full(d, 0.5), RowOrder(n, True, 0).next()


def run(benchmark, group, function):
    benchmark.group = group
    function()  # compile, or load from the cache
    benchmark(function)


@pytest.mark.parametrize("implementation", ["numpy", "fastlr-serial", "fastlr-parallel"])
def test_fused_pass(benchmark, problem, implementation):
    X, y, coef, _ = problem
    grad = np.empty_like(coef)
    function = {
        "numpy": lambda: reference.loss_and_gradient(X, y, coef, 0.1),
        "fastlr-serial": lambda: kernels.fused_pass_serial(X, y, coef, 0.1, grad),
        "fastlr-parallel": lambda: kernels.fused_pass_parallel(X, y, coef, 0.1, grad),
    }[implementation]
    run(
        benchmark,
        f"fused pass {X.shape[0]}x{X.shape[1]} ({numba.get_num_threads()} threads)",
        function,
    )


@pytest.mark.parametrize("implementation", ["numpy", "fastlr"])
def test_sgd_epoch(benchmark, problem, implementation):
    X, y, coef, order = problem
    if X.shape[0] > 20_000:  # the NumPy twin is a Python loop per sample: time 20,000 of them
        X, y, order = X[:20_000], y[:20_000], RowOrder(20_000, True, 0).next()
    Y, n, d = y.reshape(-1, 1), X.shape[0], X.shape[1]
    module = {"numpy": reference, "fastlr": kernels}[implementation]

    def function():
        iterate = Iterate(coef[None, :].copy(), np.array([0.1]), np.zeros((1, d + 1)), None, None)
        return module.sgd_epoch(
            Rows(X, Y, None), iterate, 1e-3, order, 0, n, True, Scaling(None, None), NO_PENALTY
        )

    run(benchmark, f"sgd epoch {X.shape[0]}x{X.shape[1]}", function)


@pytest.mark.parametrize("implementation", ["numpy", "fastlr"])
def test_minibatch_epoch(benchmark, problem, implementation):
    X, y, coef, order = problem
    Y, n, d = y.reshape(-1, 1), X.shape[0], X.shape[1]
    module = {"numpy": reference, "fastlr": kernels}[implementation]

    def function():
        iterate = Iterate(coef[None, :].copy(), np.array([0.1]), np.zeros((1, d + 1)), None, None)
        return module.minibatch_epoch(
            Rows(X, Y, None),
            iterate,
            1e-3,
            order,
            0,
            n,
            256,
            True,
            Scaling(None, None),
            NO_PENALTY,
            Momentum(0.0, False),
        )

    run(benchmark, f"minibatch epoch {X.shape[0]}x{X.shape[1]}", function)


@pytest.mark.parametrize("implementation", ["numpy", "fastlr-serial", "fastlr-parallel"])
def test_predict(benchmark, problem, implementation):
    X, _, coef, _ = problem
    out = np.empty(X.shape[0])
    function = {
        "numpy": lambda: reference.predict(X, coef, 0.1),
        "fastlr-serial": lambda: kernels.predict_serial(X, coef, 0.1, out),
        "fastlr-parallel": lambda: kernels.predict_parallel(X, coef, 0.1, out),
    }[implementation]
    run(benchmark, f"predict {X.shape[0]}x{X.shape[1]}", function)
