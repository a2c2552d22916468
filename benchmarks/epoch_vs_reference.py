"""One batch epoch of fastlr against the NumPy reference and the memory stream, same arrays.

Usage: python benchmarks/epoch_vs_reference.py [N_SAMPLES] [N_FEATURES] [DTYPE] [REPEATS]
Prints medians (and min/max) of each, and the ratios, measured side by side in one run.
"""

from __future__ import annotations

import statistics
import sys

import numpy as np

import fastlr
from fastlr import reference
from fastlr.devtools import bench


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 2_000_000
    d = int(argv[2]) if len(argv) > 2 else 50
    dtype = np.dtype(argv[3] if len(argv) > 3 else "float64")
    repeats = int(argv[4]) if len(argv) > 4 else 9
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0, dtype=dtype)
    coef = np.full(d, 0.5)
    cases = {
        "fastlr.loss_and_gradient": lambda: fastlr.loss_and_gradient(X, y, coef, 0.1),
        "reference.loss_and_gradient": lambda: reference.loss_and_gradient(X, y, coef, 0.1),
        "X.sum() (memory stream)": lambda: X.sum(),
    }
    print(f"batch epoch on {n:,} x {d} {dtype.name} ({X.nbytes / 2**20:,.0f} MiB), {repeats} runs")
    medians = {}
    for name, function in cases.items():
        samples = bench.time_samples(function, repeats)
        medians[name] = statistics.median(samples)
        print(
            f"  {name:<30} median {medians[name] * 1e3:8.2f} ms  "
            f"(min {min(samples) * 1e3:.2f}, max {max(samples) * 1e3:.2f})  "
            f"{X.nbytes / medians[name] / 1e9:5.1f} GB/s"
        )
    fast = medians["fastlr.loss_and_gradient"]
    print(f"  reference / fastlr: {medians['reference.loss_and_gradient'] / fast:.2f}x")
    print(f"  fastlr / X.sum():   {fast / medians['X.sum() (memory stream)']:.2f}x")


if __name__ == "__main__":
    main(sys.argv)
