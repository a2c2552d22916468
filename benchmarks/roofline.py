"""fastlr's passes as multiples of this machine's limits, measured in the same run.

Usage::

    python benchmarks/roofline.py                 # every section
    python benchmarks/roofline.py batch gram      # some of: batch variants sgd minibatch gram

Each section builds its arrays, measures the limits on them (``fastlr.devtools.roofline``:
sequential read on 1 and all threads, a gemv, a random-row read in an epoch's order, NumPy's
``X.T @ X``),
then times fastlr and its peers, every contender in a block of its own, in rounds. Medians.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np

import fastlr
from fastlr.devtools import roofline as _roofline
from fastlr.devtools.bench import numpy_epoch
from fastlr.training.loop import RowOrder

BATCH_CELLS = [(20_000_000, 5), (2_000_000, 50), (200_000, 500)]
SGD_CELLS = [(1_000_000, 20), (200_000, 200)]


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _row(label: str, cells: list[str]) -> None:
    print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


def _header(*columns: str) -> None:
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))


def batch() -> None:
    """The batch pass (``loss_and_gradient``) against its limit and a NumPy epoch."""
    columns = ["cell", "read, 1 thread", "read, all", "gemv", "limit", "fastlr", "x limit"]
    _header(*columns, "NumPy epoch", "NumPy / fastlr")
    for n, d in BATCH_CELLS:
        for dtype in (np.float32, np.float64):
            _batch_cell(n, d, dtype)


def _batch_cell(n: int, d: int, dtype: type) -> None:
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0, dtype=dtype)
    coef = np.full(d, 0.5)
    limits = _roofline.measure_limits(X, y, RowOrder(n, True, 0).next())
    times = _roofline.time_blocks(
        {
            "fastlr": lambda: fastlr.loss_and_gradient(X, y, coef, 0.1),
            "numpy": lambda: numpy_epoch(X, y, coef, 0.1),
        }
    )
    fast, numpy = times["fastlr"], times["numpy"]
    cells = [_ms(limits.read_1), _ms(limits.read_n), _ms(limits.gemv), _ms(limits.batch)]
    cells += [_ms(fast), f"{fast / limits.batch:.2f}", _ms(numpy), f"{numpy / fast:.2f}"]
    _row(f"{n:,} x {d} {np.dtype(dtype).name}", cells)


def variants() -> None:
    """Weighted and multi-output (k = 4) passes against the plain pass, per byte read; the
    k = 4 pass also against the time of its fused multiply-adds at this machine's rate (8 per
    8 elements of X: a product with each output's coefficients, then a gradient term)."""
    fma = _roofline.fma_seconds()
    print(f"fused multiply-adds of 8 float64 lanes, every thread: {fma * 1e9:.3f} ns each\n")
    _header(
        "cell", "plain", "weighted", "x plain per byte", "k=4 outputs", "x plain per byte",
        "k=4 FMA floor", "x floor",
    )  # fmt: skip
    for n, d in BATCH_CELLS[1:]:
        for dtype in (np.float32, np.float64):
            _variants_cell(n, d, dtype, fma)


def _variants_cell(n: int, d: int, dtype: type, fma: float) -> None:
    from fastlr import kernels
    from fastlr._threading import max_threads, parallel_launch
    from fastlr.engines.memory import fused_pass

    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0, dtype=dtype)
    w = np.random.default_rng(0).uniform(0.5, 1.5, n).astype(dtype)
    Y = np.repeat(y[:, None], 4, axis=1) + np.arange(4, dtype=dtype)
    coef, coef4 = np.full(d, 0.5), np.full((4, d), 0.5)
    grad, grad4, b4 = np.empty(d), np.empty((4, d + 1)), np.full(4, 0.1)
    threads, total = max_threads(), float(w.sum())

    def multi() -> object:
        with parallel_launch(threads):
            return kernels.fused_pass_multi_parallel(X, Y, None, coef4, b4, n, grad4)

    times = _roofline.time_blocks(
        {
            "plain": lambda: fastlr.loss_and_gradient(X, y, coef, 0.1),
            "weighted": lambda: fused_pass(X, y, coef, 0.1, grad, threads, w, total),
            "multi": multi,
        }
    )
    item = X.dtype.itemsize
    plain_bytes = (X.size + n) * item
    plain = times["plain"] / plain_bytes
    weighted = times["weighted"] / (plain_bytes + n * item) / plain
    many = times["multi"] / (plain_bytes + 3 * n * item) / plain
    cells = [_ms(times["plain"]), _ms(times["weighted"]), f"{weighted:.2f}"]
    floor = n * d * fma  # 8 FMAs of 8 lanes per 8 elements: one per element of X
    cells += [_ms(times["multi"]), f"{many:.2f}", _ms(floor), f"{times['multi'] / floor:.2f}"]
    _row(f"{n:,} x {d} {np.dtype(dtype).name}", cells)


def sgd() -> None:
    """One sgd epoch (defaults: averaging on) against SGDRegressor and the random-row read.

    "fit, 1 epoch" is a whole ``fit(max_iter=1)`` (set-up passes and the end-of-fit check
    included), as ``SGDRegressor(max_iter=1).fit`` is; "epoch alone" is (fit of 3 epochs - fit of
    1) / 2, the epoch's own time, which is what the random-row read bounds."""
    _header(
        "cell", "random-row read", "fit, 1 epoch", "x limit", "epoch alone", "x limit",
        "SGDRegressor", "ratio",
    )  # fmt: skip
    for n, d in SGD_CELLS:
        _sgd_cell(n, d)


def _sgd_cell(n: int, d: int) -> None:
    from sklearn.linear_model import SGDRegressor

    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0)
    step = 0.1 / d
    ours = fastlr.LinearRegression(mode="sgd", learning_rate=step, max_iter=1, tol=None)
    three = fastlr.LinearRegression(mode="sgd", learning_rate=step, max_iter=3, tol=None)
    theirs = SGDRegressor(
        max_iter=1, tol=None, learning_rate="constant", eta0=step, penalty=None, random_state=0
    )
    limits = _roofline.measure_limits(X, y, RowOrder(n, True, 0).next())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = _roofline.time_blocks(
            {
                "fastlr": lambda: ours.fit(X, y),
                "fastlr, 3 epochs": lambda: three.fit(X, y),
                "sklearn": lambda: theirs.fit(X, y),
            },
            rounds=2,
        )
    fast, other = times["fastlr"], times["sklearn"]
    epoch = (times["fastlr, 3 epochs"] - fast) / 2
    limit = limits.random_rows
    cells = [_ms(limit), _ms(fast), f"{fast / limit:.2f}", _ms(epoch), f"{epoch / limit:.2f}"]
    _row(f"{n:,} x {d} float64", [*cells, _ms(other), f"{other / fast:.2f}"])


def minibatch() -> None:
    """A mini-batch(256) epoch against the batch pass and the random-row read, 1M x 20 f32
    (a whole ``fit(max_iter=1)``, and the epoch alone: (fit of 3 epochs - fit of 1) / 2)."""
    n, d = 1_000_000, 20
    _header(
        "cell", "random-row read", "batch pass", "mini-batch fit", "x batch", "x random-row read",
        "epoch alone", "x batch", "x random-row read",
    )  # fmt: skip
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0, dtype=np.float32)
    params = {"mode": "minibatch", "batch_size": 256, "learning_rate": 0.05, "tol": None}
    model = fastlr.LinearRegression(**params, max_iter=1, random_state=0)
    three = fastlr.LinearRegression(**params, max_iter=3, random_state=0)
    coef = np.zeros(d)
    limits = _roofline.measure_limits(X, y, RowOrder(n, True, 0).next())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = _roofline.time_blocks(
            {
                "batch": lambda: fastlr.loss_and_gradient(X, y, coef, 0.0),
                "minibatch": lambda: model.fit(X, y),
                "minibatch, 3 epochs": lambda: three.fit(X, y),
            }
        )
    mb, full, limit = times["minibatch"], times["batch"], limits.random_rows
    epoch = (times["minibatch, 3 epochs"] - mb) / 2
    cells = [_ms(limit), _ms(full), _ms(mb), f"{mb / full:.2f}", f"{mb / limit:.2f}"]
    _row(
        f"{n:,} x {d} float32", [*cells, _ms(epoch), f"{epoch / full:.2f}", f"{epoch / limit:.2f}"]
    )


def gram() -> None:
    """The default batch fit (Gram path) against NumPy's X.T @ X alone, 2M x 50 float64."""
    n, d = 2_000_000, 50
    _header("cell", "NumPy X.T @ X", "default fit", "x X.T @ X", "read, all threads")
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0)
    limits = _roofline.measure_limits(X, y, RowOrder(n, True, 0).next(), rounds=2)
    times = _roofline.time_blocks({"fit": lambda: fastlr.LinearRegression().fit(X, y)}, rounds=2)
    fit = times["fit"]
    cells = [_ms(limits.gram), _ms(fit), f"{fit / limits.gram:.2f}", _ms(limits.read_n)]
    _row(f"{n:,} x {d} float64", cells)


SECTIONS = {f.__name__: f for f in (batch, variants, sgd, minibatch, gram)}

if __name__ == "__main__":
    import numba

    chosen = sys.argv[1:] or list(SECTIONS)
    print(
        f"{cpu_name()}; fastlr {fastlr.__version__}, numba {numba.__version__}, numpy "
        f"{np.__version__}, {numba.get_num_threads()} threads; times in ms, medians"
    )
    for name in chosen:
        SECTIONS[name]()
