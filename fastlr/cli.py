"""The ``fastlr`` command: ``fastlr train`` generates a large problem, trains, times the reference.

Also run as ``python -m fastlr``. ``import fastlr`` does not import this module.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

#: Per-mode defaults for standard-normal synthetic data (Hessian close to the identity).
MODE_DEFAULTS = {
    "batch": {"learning_rate": 0.5, "epochs": 25},
    "minibatch": {"learning_rate": 0.05, "epochs": 3},
    "sgd": {"learning_rate": 0.005, "epochs": 3},
}


def _positive_int(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastlr", description="Linear regression by gradient descent with fused Numba kernels."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="train on a generated synthetic problem and compare with the NumPy reference",
        description="Generate y = X @ coef + bias + noise, train fastlr on it, report the "
        "error against the true coefficients and the NumPy reference's time for the same epochs.",
    )
    train.add_argument("--mode", choices=tuple(MODE_DEFAULTS), default="batch")
    train.add_argument("--n-samples", type=_positive_int, default=2_000_000, metavar="N")
    train.add_argument("--n-features", type=_positive_int, default=50, metavar="D")
    train.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    train.add_argument(
        "--epochs", type=_positive_int, default=None, help="default: 25 batch, 3 minibatch/sgd"
    )
    train.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        metavar="LR",
        help="default: 0.5 batch, 0.05 minibatch, 0.005 sgd",
    )
    train.add_argument("--batch-size", type=_positive_int, default=256)
    train.add_argument("--noise", type=float, default=1.0)
    train.add_argument("--bias", type=float, default=3.0)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--threads", type=_positive_int, default=None, help="kernel threads (default: all)"
    )
    train.add_argument(
        "--no-reference", action="store_true", help="skip timing the NumPy reference"
    )
    train.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")
    bench = commands.add_parser(
        "bench",
        help="time fastlr against NumPy, the memory stream, scikit-learn and PyTorch",
        description="Print a table of medians and ratios, each pair measured side by side on "
        "the same arrays, with the target each ratio is held to.",
    )
    bench.add_argument("--quick", action="store_true", help="sizes divided by 100 (seconds)")
    bench.add_argument("--repeats", type=_positive_int, default=7)
    return parser


def _seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def train(args: argparse.Namespace) -> int:
    import numba

    import fastlr
    from fastlr import reference
    from fastlr._solvers import PARALLEL_MIN_ELEMENTS
    from fastlr._threading import active_layer

    defaults = MODE_DEFAULTS[args.mode]
    epochs = args.epochs or int(defaults["epochs"])
    learning_rate = args.learning_rate or float(defaults["learning_rate"])
    n, d = args.n_samples, args.n_features
    dtype = np.dtype(args.dtype)
    print(f"fastlr {fastlr.__version__}, numba {numba.__version__}, numpy {np.__version__}")

    start = time.perf_counter()
    X, y, true_coef = fastlr.make_regression(
        n, d, noise=args.noise, bias=args.bias, random_state=args.seed, dtype=dtype
    )
    generation = time.perf_counter() - start
    print(
        f"data: {n:,} x {d} {dtype.name} ({X.nbytes / 2**20:,.0f} MiB), "
        f"generated in {_seconds(generation)}"
    )

    params = {
        "mode": args.mode,
        "learning_rate": learning_rate,
        "max_iter": epochs,
        "tol": None,
        "batch_size": args.batch_size,
        "random_state": args.seed,
        "n_jobs": args.threads,
    }
    # Compile (or load from the cache) every kernel the real fit will call, on a small slice
    # large enough to take the same parallel path, so the timed fit is steady-state.
    start = time.perf_counter()
    warm_rows = min(n, max(2048, PARALLEL_MIN_ELEMENTS // d + 1))
    fastlr.LinearRegression(**{**params, "max_iter": 1}).fit(X[:warm_rows], y[:warm_rows]).predict(
        X[:warm_rows]
    )
    print(f"JIT warm-up (compile, or load from the cache): {_seconds(time.perf_counter() - start)}")

    print(f"training: mode={args.mode} learning_rate={learning_rate:g} epochs={epochs}")
    model = fastlr.LinearRegression(**params, verbose=0 if args.quiet else 1)
    start = time.perf_counter()
    model.fit(X, y)
    fit_time = time.perf_counter() - start
    prediction = model.predict(X).astype(np.float64)
    mse = float(np.mean((prediction - y) ** 2))
    coef_error = np.abs(model.coef_ - true_coef)
    relative = float(np.linalg.norm(model.coef_ - true_coef) / np.linalg.norm(true_coef))
    if args.mode == "batch" and X.size >= PARALLEL_MIN_ELEMENTS:
        threads = f"{args.threads or numba.get_num_threads()} threads, layer {active_layer()}"
    else:
        threads = "serial kernel"
    print("result:")
    print(f"  epochs           {model.n_iter_}")
    print(
        f"  fit time         {_seconds(fit_time)} ({fit_time / model.n_iter_ * 1e3:.1f} ms/epoch, "
        f"{threads})"
    )
    print(
        f"  coef error       max |coef - true| {coef_error.max():.3e}, relative L2 {relative:.3e}"
    )
    print(f"  intercept        {model.intercept_:.6f} (true {args.bias:g})")
    print(f"  MSE              {mse:.6f} (noise variance {args.noise**2:g})")
    print(f"  R^2              {model.score(X, y):.6f}")

    if not args.no_reference:
        print(f"NumPy reference, same data and {model.n_iter_} epochs ...", flush=True)
        start = time.perf_counter()
        twin = reference.LinearRegression(**{**params, "max_iter": model.n_iter_}).fit(X, y)
        ref_time = time.perf_counter() - start
        agree = float(np.max(np.abs(twin.coef_ - model.coef_)))
        print(
            f"  reference time   {_seconds(ref_time)} "
            f"({ref_time / model.n_iter_ * 1e3:.1f} ms/epoch): fastlr is "
            f"{ref_time / fit_time:.1f}x faster; max |coef difference| {agree:.1e}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastlr`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "bench":
            from fastlr import bench

            bench.run(quick=args.quick, repeats=args.repeats)
            return 0
        return train(args)
    except (ValueError, TypeError, FloatingPointError, MemoryError) as exc:
        print(f"fastlr: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastlr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
