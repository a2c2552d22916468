"""Speed of ``fastlr.make_regression`` against scikit-learn's and NumPy's one-core normals.

Usage: python benchmarks/make_regression_speed.py [--n-samples 2000000] [--n-features 50]
       [--repeats 5] [--dtype float64]

Three contenders, each timed in a block of its own (one warm-up call, then ``--repeats`` timed
calls; the median is reported), so that no contender runs while another one's memory is hot:

1. ``fastlr.make_regression(n, d)`` on all of numba's threads;
2. ``sklearn.datasets.make_regression(n, d)`` (its defaults: 10 informative features, no noise);
3. ``numpy.random.default_rng(0).standard_normal((n, d))``: one core's rate of normals.

Targets: fastlr at least 3x faster than scikit-learn, and at least twice NumPy's rate, in values
of X per second (the three produce the same number of values of X; fastlr and scikit-learn add
``y``).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import time
from collections.abc import Callable

import numba
import numpy as np

import fastlr


def cpu_name() -> str:
    """The CPU's model name as ``lscpu`` reports it (or ``platform``'s guess without it)."""
    try:
        listing = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in listing.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    import platform

    return platform.processor() or platform.machine()


def timings(call: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls of ``call`` after one untimed warm-up call."""
    call()  # warm-up: JIT compilation or cache load, first touch of the allocator's pages
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
        del result
    return times


def report(label: str, times: list[float], values: int) -> float:
    """Print one contender's line (median, its rate in values of X per second, the range of the
    runs) and return the median."""
    seconds = float(np.median(times))
    print(
        f"  {label:<34} {seconds:8.3f} s  {values / seconds / 1e6:8.1f} M values/s"
        f"  (runs {min(times):.3f} to {max(times):.3f} s)"
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=2_000_000)
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    args = parser.parse_args()
    n, d, repeats = args.n_samples, args.n_features, args.repeats
    from sklearn.datasets import make_regression as sklearn_make_regression

    print(
        f"CPU: {cpu_name()}, {os.cpu_count()} cores; numba {numba.__version__} "
        f"({numba.get_num_threads()} threads), numpy {np.__version__}; load average "
        f"{os.getloadavg()[0]:.2f} before the runs"
    )
    print(f"shape {n:,} x {d}, {args.dtype}; median of {repeats} after a warm-up, per contender")
    fast = report(
        "fastlr.make_regression",
        timings(lambda: fastlr.make_regression(n, d, random_state=0, dtype=args.dtype), repeats),
        n * d,
    )
    sklearn = report(
        "sklearn.datasets.make_regression",
        timings(lambda: sklearn_make_regression(n, d, random_state=0), repeats),
        n * d,
    )
    normal = report(
        "numpy standard_normal (1 core)",
        timings(lambda: np.random.default_rng(0).standard_normal((n, d)), repeats),
        n * d,
    )
    for name, ratio, target in (
        ("speed-up over scikit-learn", sklearn / fast, 3.0),
        ("rate over numpy's one core", normal / fast, 2.0),
    ):
        verdict = "met" if ratio >= target else "MISSED"
        print(f"{name}: {ratio:5.2f}x (target >= {target:g}x: {verdict})")


if __name__ == "__main__":
    main()
