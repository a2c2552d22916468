"""First contact and embedding: tiny functional calls against NumPy, cold start against numba
and scikit-learn.

Run as ``python benchmarks/first_contact.py [RUNS]``. Each contender is timed in a block of its
own (OpenBLAS's spinning threads slow whatever runs right after a NumPy call), and medians are
printed with the ratios the first-contact targets are stated in:

- ``fastlr.loss_and_gradient`` vs the NumPy epoch (``X @ w + b - y``, ``r @ r``, ``X.T @ r``,
  ``mean(r)``) on 100 x 5 and 2,000 x 20 float64: medians of blocks of 2,000 calls;
- whole fresh processes (interpreter start-up included, warm JIT cache): ``import fastlr`` vs
  ``import numba``; fitting an sgd model on 1,000 x 10 and predicting, vs the same with
  scikit-learn's ``SGDRegressor``, and vs the floor of any numba library: one trivial cached
  ``@njit`` function called in a fresh process.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np

import fastlr

FIT_FASTLR = """
import numpy as np
import fastlr
rng = np.random.default_rng(0)
X = rng.standard_normal((1000, 10)); y = X @ np.arange(10.0) + 1.0
fastlr.LinearRegression(mode="sgd", random_state=0).fit(X, y).predict(X[:5])
"""
FIT_SKLEARN = """
import numpy as np
from sklearn.linear_model import SGDRegressor
rng = np.random.default_rng(0)
X = rng.standard_normal((1000, 10)); y = X @ np.arange(10.0) + 1.0
SGDRegressor(random_state=0).fit(X, y).predict(X[:5])
"""
TRIVIAL_NUMBA = """
import numpy as np
from numba import njit
@njit(cache=True)
def f(x):
    return x + 1
f(np.zeros(3))
"""


def numpy_epoch(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> tuple:
    r = X @ w + b - y
    return 0.5 * float(r @ r) / len(y), X.T @ r / len(y), float(r.mean())


def tiny_calls(blocks: int = 7, calls: int = 2000) -> None:
    print("| call | shape | fastlr | NumPy epoch | fastlr faster |")
    print("|---|---|---|---|---|")
    for n, d in ((100, 5), (2000, 20)):
        rng = np.random.default_rng(0)
        X, y, w = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d)
        contenders = {
            "fastlr": lambda X=X, y=y, w=w: fastlr.loss_and_gradient(X, y, w, 0.1),
            "numpy": lambda X=X, y=y, w=w: numpy_epoch(X, y, w, 0.1),
        }
        medians = {}
        for name, call in contenders.items():
            call()
            times = [
                min(timeit.repeat(call, number=calls, repeat=3)) / calls for _ in range(blocks)
            ]
            medians[name] = statistics.median(times) * 1e6
        ratio = medians["numpy"] / medians["fastlr"]
        print(
            f"| loss_and_gradient | {n:,} x {d} float64 | {medians['fastlr']:.2f} us | "
            f"{medians['numpy']:.2f} us | {ratio:.2f}x |"
        )


def process_seconds(code: str, runs: int, folder: Path) -> float:
    script = folder / f"s{abs(hash(code))}.py"
    script.write_text(code)
    subprocess.run([sys.executable, str(script)], check=True)  # warm the caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, str(script)], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold_start(runs: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        rows = [
            ("import fastlr", "import fastlr", "import numba", "import numba"),
            ("fit + predict, sgd 1,000 x 10", FIT_FASTLR, "SGDRegressor", FIT_SKLEARN),
            ("fit + predict, sgd 1,000 x 10", FIT_FASTLR, "a trivial cached @njit", TRIVIAL_NUMBA),
        ]
        print("\n| fresh process | fastlr | other | fastlr / other |")
        print("|---|---|---|---|")
        for label, code, other, other_code in rows:
            ours = process_seconds(code, runs, folder)
            theirs = process_seconds(other_code, runs, folder)
            print(f"| {label} | {ours:.3f} s | {other} {theirs:.3f} s | {ours / theirs:.2f}x |")


if __name__ == "__main__":
    tiny_calls()
    cold_start(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
