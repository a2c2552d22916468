"""``fastlr bench``: fastlr against every alternative, on the same arrays, in one run.

Each row times two things side by side (median of ``repeats`` runs after a warm-up that
compiles the kernels) and prints the ratio with the target it is held to. Optional peers
(scikit-learn, PyTorch) are imported only here, and skipped with a note when missing.

Run it as ``fastlr bench`` (``--quick`` for small sizes: seconds, for smoke tests).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

import fastlr
from fastlr import reference
from fastlr.devtools.roofline import (
    SETTLE_SECONDS,
    measure_limits,
    settle_seconds,
    time_blocks,
)
from fastlr.training.loop import RowOrder


@dataclass(frozen=True)
class Row:
    """One comparison: fastlr's median against another's, and the target for their ratio."""

    what: str
    data: str
    ours: float
    other_name: str
    other: float
    ratio: float  # ">= target" rows: other / ours (speed-up); "<= target" rows: ours / other
    target: str
    met: bool | None  # None: reported only

    def line(self) -> str:
        verdict = {True: "met", False: "MISSED", None: ""}[self.met]
        return (
            f"| {self.what} | {self.data} | {_ms(self.ours)} | {self.other_name} {_ms(self.other)}"
            f" | {self.ratio:.2f}x | {self.target} {verdict} |"
        )


HEADER = "| comparison | data | fastlr | other | ratio | target |\n|---|---|---|---|---|---|"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def time_samples(function: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of ``repeats`` runs of ``function``, after one untimed warm-up run."""
    function()  # JIT compilation or cache load, page faults, BLAS threads
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


def median_time(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``function`` over ``repeats`` runs, after one untimed warm-up run."""
    return statistics.median(time_samples(function, repeats))


def _blocks(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Medians of the contenders, each timed in a block of runs of its own after a pause, in two
    rounds of ``repeats // 2`` runs (:func:`fastlr.devtools.roofline.time_blocks`): timed in
    alternation, or right after another row's NumPy calls, OpenBLAS's threads, which keep
    spinning after a call returns, would slow the fused kernel that runs next."""
    return time_blocks(contenders, repeats=max(1, repeats // 2), rounds=2)


def _pair(
    ours: Callable[[], object], other: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Medians of two functions, timed as :func:`_blocks` times them."""
    times = _blocks({"ours": ours, "other": other}, repeats)
    return times["ours"], times["other"]


#: Epochs of the longer of the two fits whose difference times one epoch.
EPOCHS = 5


def epoch_time(model: Any, X: np.ndarray, y: np.ndarray, repeats: int) -> float:
    """One epoch of ``model``'s mode without the fit's set-up passes (validation, moments):
    the median of a fit of 1 + EPOCHS epochs less that of a fit of 1 epoch, over EPOCHS (or,
    where noise makes that difference negative, the longer fit's time per epoch)."""
    params = {**model.get_params(), "tol": None}
    short = type(model)(**{**params, "max_iter": 1})
    long = type(model)(**{**params, "max_iter": 1 + EPOCHS})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastlr.ConvergenceWarning)
        times = _blocks({"short": lambda: short.fit(X, y), "long": lambda: long.fit(X, y)}, repeats)
    difference = times["long"] - times["short"]
    if difference <= 0.0:  # noise larger than the epochs (tiny --quick data): set-up included
        return times["long"] / (1 + EPOCHS)
    return difference / EPOCHS


def _ratio_row(
    what: str,
    data: str,
    ours: float,
    name: str,
    other: float,
    target: float | None,
    *,
    speedup: bool = True,
) -> Row:
    """A comparison by its speed-up ``other / ours``, held to ``>= target``, or with
    ``speedup=False`` by its cost ``ours / other``, held to ``<= target`` (None: reported)."""
    ratio = other / ours if speedup else ours / other
    if target is None:
        return Row(what, data, ours, name, other, ratio, "reported", None)
    sign, met = (">=", ratio >= target) if speedup else ("<=", ratio <= target)
    return Row(what, data, ours, name, other, ratio, f"{sign} {target:g}x", met)


def _shape(n: int, d: int, dtype: Any) -> str:
    return f"{n:,} x {d} {np.dtype(dtype).name}"


def numpy_epoch(X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    """A good NumPy batch epoch: two BLAS passes and one n-sized temporary."""
    r = X @ coef.astype(X.dtype)
    r += intercept
    r -= y
    gradient: np.ndarray = X.T @ r
    return gradient


def batch_rows(scale: int, repeats: int) -> Iterator[Row]:
    """Batch epoch against a NumPy epoch, the NumPy reference and the memory stream."""
    for n, d, speedup in ((20_000_000, 5, 3.0), (2_000_000, 50, 3.0), (200_000, 500, 2.0)):
        for dtype in (np.float32, np.float64):
            yield from _batch_cell(n // scale, d, dtype, speedup, repeats)


def _batch_cell(n: int, d: int, dtype: Any, speedup: float, repeats: int) -> list[Row]:
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0, dtype=dtype)
    coef = np.full(d, 0.5)

    def ours() -> object:
        return fastlr.loss_and_gradient(X, y, coef, 0.1)

    data = _shape(n, d, dtype)
    fast_a, numpy = _pair(ours, lambda: numpy_epoch(X, y, coef, 0.1), repeats)
    fast_b, twin = _pair(ours, lambda: reference.loss_and_gradient(X, y, coef, 0.1), repeats)
    limits = measure_limits(X, y, RowOrder(n, True, 0).next(), repeats=max(1, repeats // 2))
    return [
        _ratio_row("batch epoch vs NumPy epoch", data, fast_a, "NumPy", numpy, speedup),
        _ratio_row("batch epoch vs fastlr.reference", data, fast_b, "reference", twin, None),
        _ratio_row(
            "batch epoch vs its limit (read, gemv)",
            data,
            fast_a,
            "limit",
            limits.batch,
            1.15,
            speedup=False,
        ),
    ]


def sgd_rows(scale: int, repeats: int) -> Iterator[Row]:
    """One sgd epoch against scikit-learn's SGDRegressor(max_iter=1), same constant step."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("(scikit-learn not installed: SGDRegressor rows skipped)")
        return
    for n, d, speedup in ((1_000_000, 20, 5.0), (200_000, 200, 4.0)):
        yield from _sgd_cell(n // scale, d, speedup, repeats)


def _sgd_cell(n: int, d: int, speedup: float, repeats: int) -> list[Row]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDRegressor

    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0)
    step = 0.1 / d
    ours = fastlr.LinearRegression(
        mode="sgd", learning_rate=step, max_iter=1, tol=None, random_state=0
    )
    theirs = SGDRegressor(
        max_iter=1, tol=None, learning_rate="constant", eta0=step, penalty=None, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fast, other = _pair(lambda: ours.fit(X, y), lambda: theirs.fit(X, y), repeats)
    limits = measure_limits(X, y, RowOrder(n, True, 0).next(), repeats=max(1, repeats // 2))
    data = _shape(n, d, np.float64)
    alone, limit = epoch_time(ours, X, y, repeats), limits.random_rows
    return [
        _ratio_row("sgd fit (1 epoch) vs SGDRegressor", data, fast, "sklearn", other, speedup),
        _ratio_row(
            "sgd epoch alone vs random-row read", data, alone, "limit", limit, 1.3, speedup=False
        ),
    ]


def minibatch_rows(scale: int, repeats: int) -> Iterator[Row]:
    """Mini-batch epoch (batch 256) against fastlr's batch epoch and a PyTorch loop."""
    n, d = 1_000_000 // scale, 20
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0, dtype=np.float32)
    model = fastlr.LinearRegression(
        mode="minibatch", batch_size=256, learning_rate=0.05, max_iter=1, tol=None, random_state=0
    )
    data = _shape(n, d, np.float32)
    coef = np.zeros(d)
    batch = _blocks({"batch": lambda: fastlr.loss_and_gradient(X, y, coef, 0.0)}, repeats)["batch"]
    fast = epoch_time(model, X, y, repeats)
    yield _ratio_row(
        "mini-batch epoch alone vs batch epoch", data, fast, "batch", batch, 2.5, speedup=False
    )
    limit = measure_limits(X, y, RowOrder(n, True, 0).next(), repeats=max(1, repeats // 2))
    yield _ratio_row(
        "mini-batch epoch alone vs random-row read",
        data,
        fast,
        "limit",
        limit.random_rows,
        1.3,
        speedup=False,
    )
    in_order = fastlr.LinearRegression(**{**model.get_params(), "shuffle": False})
    yield _ratio_row(
        "mini-batch epoch alone, rows in order",
        data,
        epoch_time(in_order, X, y, repeats),
        "batch",
        batch,
        None,
        speedup=False,
    )
    try:
        import torch
    except ImportError:
        print("(PyTorch not installed: the PyTorch loop row is skipped)")
        return
    torch.manual_seed(0)
    features, target = torch.from_numpy(X), torch.from_numpy(y).unsqueeze(1)
    linear = torch.nn.Linear(d, 1)
    optimizer = torch.optim.SGD(linear.parameters(), lr=0.025)  # MSELoss = 2 L: half the step
    loss_function = torch.nn.MSELoss()

    def torch_epoch() -> None:
        permutation = torch.randperm(n)
        for start in range(0, n, 256):
            rows = permutation[start : start + 256]
            optimizer.zero_grad()
            loss_function(linear(features[rows]), target[rows]).backward()
            optimizer.step()

    fast, other = _pair(lambda: model.fit(X, y), torch_epoch, max(1, repeats // 2))
    yield _ratio_row("mini-batch epoch vs PyTorch loop", data, fast, "torch", other, 15)


def scaling_rows(scale: int, repeats: int) -> Iterator[Row]:
    """Batch epoch time against n: each 4x of rows should cost 3.6x to 4.4x.

    The three sizes are timed in blocks of their own, in rounds, after a pause (:func:`_blocks`),
    like every pair here: timed right after a BLAS call (the rows before this one end with
    NumPy's and scikit-learn's), the pass of 1M x 20 float32 took 8.0-8.4 ms instead of
    4.1-4.8 ms (Intel Xeon), and the ratio measured the spinning OpenBLAS threads, not the
    pass."""
    sizes = [n // scale for n in (1_000_000, 4_000_000, 16_000_000)]
    coef = np.zeros(20)
    epochs: dict[str, Callable[[], object]] = {}
    for n in sizes:
        X, y, _ = fastlr.make_regression(n, 20, random_state=0, dtype=np.float32)
        epochs[str(n)] = functools.partial(fastlr.loss_and_gradient, X, y, coef, 0.0)
    times = _blocks(epochs, repeats)
    for small, large in itertools.pairwise(sizes):
        ratio = times[str(large)] / times[str(small)]
        yield Row(
            "batch epoch, 4x the rows",
            f"{large:,} vs {small:,} x 20 float32",
            times[str(large)],
            f"{small:,} rows",
            times[str(small)],
            ratio,
            "3.6x to 4.4x",
            3.6 <= ratio <= 4.4,
        )


def fitted_model_rows(scale: int, repeats: int) -> Iterator[Row]:
    """Time to a fitted model against scikit-learn, and data generation against its generator."""
    try:
        from sklearn.datasets import make_regression as sklearn_make_regression
    except ImportError:
        print("(scikit-learn not installed: LinearRegression and make_regression rows skipped)")
        return
    n, d = 2_000_000 // scale, 50
    yield _fitted_model_cell(n, d, repeats)
    yield _gram_cell(n, d, repeats)
    fast, other = _pair(
        lambda: fastlr.make_regression(n, d, noise=1.0, random_state=0),
        lambda: sklearn_make_regression(n, d, noise=1.0, random_state=0),
        max(1, repeats // 2),
    )
    data = _shape(n, d, np.float64)
    yield _ratio_row("make_regression vs sklearn's", data, fast, "sklearn", other, 3)


def _fitted_model_cell(n: int, d: int, repeats: int) -> Row:
    from sklearn.linear_model import LinearRegression as SklearnLinearRegression

    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0)
    ours = fastlr.LinearRegression(learning_rate=0.5, max_iter=200, tol=1e-9)
    fast, other = _pair(
        lambda: ours.fit(X, y), lambda: SklearnLinearRegression().fit(X, y), max(1, repeats // 2)
    )
    what = "batch fit to tol=1e-9 vs LinearRegression (lstsq)"
    return _ratio_row(what, _shape(n, d, np.float64), fast, "sklearn", other, None)


def _gram_cell(n: int, d: int, repeats: int) -> Row:
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0)
    fast, gram = _pair(lambda: fastlr.LinearRegression().fit(X, y), lambda: X.T @ X, repeats)
    what = "default fit (Gram path) vs X.T @ X alone"
    return _ratio_row(what, _shape(n, d, np.float64), fast, "NumPy", gram, 0.75, speedup=False)


SECTIONS = (batch_rows, sgd_rows, minibatch_rows, scaling_rows, fitted_model_rows)


def run(quick: bool = False, repeats: int = 7) -> list[Row]:
    """Print the comparison table row by row and return its rows."""
    import platform

    import numba

    from fastlr._threading import max_threads

    scale = 100 if quick else 1
    print(
        f"fastlr {fastlr.__version__}, numba {numba.__version__}, numpy {np.__version__}, "
        f"{max_threads()} threads, {platform.processor() or platform.machine()}"
        + (" (quick: sizes / 100)" if quick else "")
    )
    print(f"medians; each contender timed in blocks of its own ({repeats} runs in all)\n")
    print(HEADER, flush=True)
    rows = []
    with settle_seconds(0.0 if quick else SETTLE_SECONDS):
        for section in SECTIONS:
            for row in section(scale, repeats):
                if quick:  # the targets hold for the full sizes only
                    row = dataclasses.replace(row, target="(quick: not judged)", met=None)
                print(row.line(), flush=True)
                rows.append(row)
    return rows
