"""The figures of data bigger than memory (issue 5), measured in one run.

Usage: python benchmarks/out_of_core.py [--n-samples 11000000] [--n-features 50] [--dir DIR]
       [--keep] [--rounds 5] [--epochs 8]

1. Generation: ``make_regression(..., out=...)`` writes X and y (11,000,000 x 50 float64 is
   4.1 GiB) block by block; its time and the peak RSS of the process that wrote them.
2. Peak memory: an out-of-core fit of the file in a fresh process, ``fit(X_path, y_path)``
   (defaults: the Gram path) and a data-path fit (``solver="fused"``, 10 epochs), each
   reporting ``ru_maxrss`` of its own process. Target: under 1 GiB.
3. Throughput once the file is in the page cache: batch epochs on the data path
   (``solver="fused"``, fixed epochs, ``tol=None``) on the file and on the same data loaded in
   RAM, alternated round by round; an epoch's time is the interval between the callbacks of
   consecutive epochs, and each side's median is reported. Target: the file at no less than
   half the in-memory epochs per second. The coefficients of the two fits are compared too
   (the streamed passes reduce in the in-memory order: they should be equal).

The files go to a temporary directory under /tmp (``--dir`` to choose) and are deleted at the
end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numba
import numpy as np

import fastlr

GIB = float(1 << 30)

FIT_SCRIPT = """
import resource, sys, time, warnings
import fastlr
warnings.simplefilter("ignore")
params = eval(sys.argv[3])
start = time.perf_counter()
model = fastlr.LinearRegression(**params).fit(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(peak, seconds, model.n_iter_, model.solver_)
"""


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line for line in info if line.startswith("model name")).split(":")[1]
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    return (
        f"{model.strip()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM; numba "
        f"{numba.__version__} ({numba.get_num_threads()} threads), numpy {np.__version__}"
    )


def fit_in_fresh_process(x_path: str, y_path: str, params: dict[str, object]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FIT_SCRIPT, x_path, y_path, repr(params)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak, seconds, epochs, path = done.stdout.split()
    verdict = "under" if int(peak) < GIB else "OVER"
    print(
        f"  fit({params or 'defaults'}): peak RSS {int(peak) / 2**20:,.0f} MiB ({verdict} "
        f"1 GiB) for a {os.path.getsize(x_path) / GIB:.2f} GiB file; {float(seconds):.1f} s, "
        f"{epochs} epochs on the {path} path"
    )


def epoch_times(X: object, y: object, epochs: int) -> tuple[list[float], np.ndarray]:
    stamps: list[float] = []
    model = fastlr.LinearRegression(
        solver="fused",
        max_iter=epochs,
        tol=None,
        callback=lambda info: stamps.append(time.perf_counter()),
    )
    model.fit(X, y)
    return list(np.diff(stamps)), model.coef_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=11_000_000)
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--dir", default=None, help="where the files go (default: under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    warnings.simplefilter("ignore", fastlr.ConvergenceWarning)
    print(f"machine: {machine()}")
    folder = args.dir or tempfile.mkdtemp(prefix="fastlr-ooc-", dir="/tmp")
    os.makedirs(folder, exist_ok=True)
    try:
        run(args, os.path.join(folder, "data.npy"))
    finally:
        if not args.keep:
            for name in ("data.npy", "data.y.npy"):
                path = os.path.join(folder, name)
                if os.path.exists(path):
                    os.unlink(path)
            if args.dir is None:
                shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, out: str) -> None:
    n, d = args.n_samples, args.n_features
    print(f"1. make_regression({n:,}, {d}, out={out!r})")
    start = time.perf_counter()
    x_path, y_path, _ = fastlr.make_regression(n, d, noise=1.0, bias=3.0, random_state=0, out=out)
    seconds = time.perf_counter() - start
    size = os.path.getsize(x_path) + os.path.getsize(y_path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        f"  wrote {size / GIB:.2f} GiB in {seconds:.1f} s ({size / GIB / seconds:.2f} GiB/s); "
        f"peak RSS of this process so far {peak / 2**20:,.0f} MiB"
    )

    print("2. peak memory of an out-of-core fit, each in a fresh process")
    fit_in_fresh_process(x_path, y_path, {})
    fit_in_fresh_process(x_path, y_path, {"solver": "fused", "max_iter": 10, "tol": None})

    print(
        f"3. batch epochs on the data path, file vs RAM, alternated: {args.rounds} rounds of "
        f"{args.epochs} epochs each"
    )
    X_ram, y_ram = np.load(x_path), np.load(y_path)
    epoch_times(x_path, y_path, 2)  # the file into the page cache, the kernels compiled
    epoch_times(X_ram, y_ram, 2)
    file_times: list[float] = []
    ram_times: list[float] = []
    for _ in range(args.rounds):
        times, coef_file = epoch_times(x_path, y_path, args.epochs)
        file_times += times
        times, coef_ram = epoch_times(X_ram, y_ram, args.epochs)
        ram_times += times
    gib = X_ram.nbytes / GIB
    file_epoch, ram_epoch = float(np.median(file_times)), float(np.median(ram_times))
    ratio = ram_epoch / file_epoch
    print(
        f"  file: {1 / file_epoch:.2f} epochs/s ({file_epoch * 1e3:.0f} ms, "
        f"{gib / file_epoch:.1f} GiB/s)   RAM: {1 / ram_epoch:.2f} epochs/s "
        f"({ram_epoch * 1e3:.0f} ms, {gib / ram_epoch:.1f} GiB/s)   medians of "
        f"{len(file_times)} epochs each"
    )
    verdict = "meets" if ratio >= 0.5 else "MISSES"
    print(f"  file/RAM throughput: {ratio:.2f} ({verdict} the target of at least 0.5)")
    relative = float(np.max(np.abs(coef_file - coef_ram) / np.abs(coef_ram)))
    print(f"  coefficients, file vs RAM: max relative difference {relative:.1e}")


if __name__ == "__main__":
    main()
