"""The figures of docs/scaling.md: what a distributed iteration costs, and what a pass costs.

Run: ``PYTHONPATH=. python benchmarks/dask_scaling.py`` (needs the extra ``dask``; dask-ml
is optional). It measures, on a LocalCluster of 2 worker processes with 1 thread each:

1. the per-iteration overhead of the distributed batch path (``DaskBackend.loss_gradient``:
   map the fused pass over the blocks, reduce (loss, gradient) in a tree) on tiny data, so the
   time is scheduling and messaging, median over iterations, for 2, 8 and 32 blocks;
2. one distributed iteration on larger data (the same on both implementations below) and the
   one-pass sufficient-statistics set-up (``DaskBackend.moments``, Gram matrix included);
3. dask-ml's ``LinearRegression(solver="gradient_descent")`` on the same cluster and data,
   per iteration (fits of 2 and 12 iterations, the difference / 10), if dask-ml imports;
4. in memory, without Dask: bytes/s of the fused pass on one core (serial kernel) and of the
   Gram (XᵀX) pass, the per-core memory throughput the estimates of docs/scaling.md use.

Not an asv benchmark (asv would start a cluster per parameter): a script that prints a table.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from typing import Any

# Per-core figures on one thread (the Gram pass is fastlr's kernel), here and on the workers.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np


def median_ms(repeat: int, function: Any, *args: Any) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def distributed_figures(client: Any) -> dict[str, float]:
    import dask.array as da

    import fastlr
    from fastlr.dask import DaskBackend, scatter_blocks
    from fastlr.kernels.records import Linear

    out: dict[str, float] = {}
    backend = DaskBackend()
    for blocks in (2, 8, 32):
        X, y, _ = fastlr.make_regression(64 * blocks, 4, random_state=0)
        rows = scatter_blocks(client, da.from_array(X, chunks=(64, 4)), da.from_array(y, 64))
        model, grad = Linear(np.zeros((1, 4)), np.zeros(1)), np.empty((1, 5))
        for _ in range(5):  # warm: compile on the workers
            backend.loss_gradient(rows, 0.0, model, grad)
        args = (rows, 0.0, model, grad)
        out[f"overhead_ms_{blocks}_blocks"] = median_ms(100, backend.loss_gradient, *args)
        client.cancel(rows.blocks)

    n, d, chunk = 1_000_000, 20, 250_000
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0)
    with warnings.catch_warnings():  # (a 160 MB graph: the same arrays for both libraries)
        warnings.simplefilter("ignore", UserWarning)
        Xd = da.from_array(X, chunks=(chunk, d)).persist()
    yd = da.from_array(y, chunks=chunk).persist()
    rows = scatter_blocks(client, Xd, yd)
    model, grad = Linear(np.zeros((1, d)), np.zeros(1)), np.empty((1, d + 1))
    backend.loss_gradient(rows, 0.0, model, grad)
    args = (rows, 0.0, model, grad)
    out["iteration_ms_1e6x20_f64"] = median_ms(20, backend.loss_gradient, *args)
    backend.moments(rows, True)
    out["moments_pass_ms_1e6x20_f64"] = median_ms(5, backend.moments, rows, True)
    client.cancel(rows.blocks)

    try:
        from dask_ml.linear_model import LinearRegression as DaskMLRegression
    except ImportError as error:  # pragma: no cover
        print(f"dask-ml does not import here: {error}")
        return out

    def dask_ml_fit(iterations: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = DaskMLRegression(
                solver="gradient_descent", max_iter=iterations, tol=0.0, fit_intercept=True
            )
            model.fit(Xd, yd)

    dask_ml_fit(2)
    short = median_ms(3, dask_ml_fit, 2)
    long = median_ms(3, dask_ml_fit, 12)
    out["dask_ml_iteration_ms_1e6x20_f64"] = (long - short) / 10
    return out


def in_memory_figures() -> dict[str, float]:
    import fastlr
    from fastlr.engines.memory import FusedBackend
    from fastlr.kernels.records import Linear, Rows

    out: dict[str, float] = {}
    for dtype in (np.float32, np.float64):
        n, d = 2_000_000, 32
        X, y, _ = fastlr.make_regression(n, d, random_state=0, dtype=dtype)
        rows = Rows(X, y.reshape(-1, 1), None)
        model, grad = Linear(np.zeros((1, d)), np.zeros(1)), np.empty((1, d + 1))
        one = FusedBackend(1)
        one.loss_gradient(rows, float(n), model, grad)
        ms = median_ms(10, one.loss_gradient, rows, float(n), model, grad)
        name = np.dtype(dtype).name
        out[f"fused_pass_GBps_per_core_{name}"] = X.nbytes / (ms / 1e3) / 1e9
        gram_ms = median_ms(3, one.moments, rows, True)
        out[f"gram_pass_GBps_{name}"] = X.nbytes / (gram_ms / 1e3) / 1e9
    # d = 1000: the Gram pass is compute-bound (n d² multiply-adds), one thread
    n, d = 20_000, 1000
    X, y, _ = fastlr.make_regression(n, d, random_state=0, dtype=np.float32)
    rows = Rows(X, y.reshape(-1, 1), None)
    one = FusedBackend(1)
    one.moments(rows, True)
    gram_ms = median_ms(3, one.moments, rows, True)
    out["gram_pass_GFLOPs_per_core_d1000_float32"] = 2 * n * d * d / (gram_ms / 1e3) / 1e9
    model, grad = Linear(np.zeros((1, d)), np.zeros(1)), np.empty((1, d + 1))
    ms = median_ms(10, one.loss_gradient, rows, float(n), model, grad)
    out["fused_pass_GBps_per_core_d1000_float32"] = X.nbytes / (ms / 1e3) / 1e9
    sgd = fastlr.LinearRegression(mode="sgd", max_iter=1, tol=None, random_state=0)
    sgd.fit(X[:1000], y[:1000])
    ms = median_ms(3, sgd.fit, X, y)  # (its set-up passes included)
    out["sgd_fit_1_epoch_GBps_per_core_d1000_float32"] = X.nbytes / (ms / 1e3) / 1e9
    return out


def main() -> None:
    from distributed import Client, LocalCluster

    figures = in_memory_figures()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        figures |= distributed_figures(client)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:10.3f}")


if __name__ == "__main__":
    main()
