"""The figures of the training targets (issue 4), measured side by side in one run.

Usage: python benchmarks/training_targets.py [--quick]

1. The first seed's data with default settings: epochs and error against least squares, and the
   seed's own 50,000-epoch run on the sufficient statistics against the same run on the data.
2. Columns in scales 1 to 1e6, nearly collinear (cond 4.5e7 and 1.5e9): what the defaults,
   plain descent and the data path's loss rule reach.
3. sgd and mini-batch with defaults on 2,000,000 x 50: test MSE after 5 epochs vs least squares.
4. The cost of each option per epoch against the plain fused epoch: an epoch's cost is
   (fit with 12 epochs - fit with 2 epochs) / 10, so set-up passes cancel; in each round every
   option is timed beside the plain epoch, and the median of the rounds' ratios is reported.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

import fastlr
from fastlr.devtools import bench

warnings.simplefilter("ignore", fastlr.ConvergenceWarning)

#: Epochs of the two fits whose difference times an epoch.
EPOCHS_SHORT, EPOCHS_LONG = 2, 12


def lstsq(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    design = np.column_stack([X.astype(np.float64), np.ones(X.shape[0])])
    solution = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    return solution[:-1], float(solution[-1])


def seed_one() -> None:
    rng = np.random.default_rng(2017)
    x = np.arange(100, step=0.1, dtype=np.float32)
    y = (4000 + 50 * x) + rng.normal(0, 3, size=len(x)) * 100
    X = x.reshape(-1, 1)
    slope, intercept = lstsq(X, y)
    model = fastlr.LinearRegression().fit(X, y)
    print(
        f"seed 1, defaults: {model.n_iter_} epochs ({model.solver_}), W rel. error "
        f"{abs(model.coef_[0] / slope[0] - 1):.1e}, b rel. error "
        f"{abs(model.intercept_ / intercept - 1):.1e}"
    )
    params = {"learning_rate": 0.0005, "max_iter": 50_000, "tol": None, "standardize": False}
    for solver in ("gram", "fused"):
        fit = fastlr.LinearRegression(solver=solver, **params)
        seconds = bench.median_time(lambda fit=fit: fit.fit(X, y), 5)
        print(
            f"seed 1, its own 50,000 epochs, solver={solver}: {seconds * 1e3:.1f} ms (median of 5)"
        )


def ill_conditioned() -> None:
    for delta in (0.05, 0.0015):
        rng = np.random.default_rng(0)
        n = 5000
        base = rng.standard_normal(n)
        X = np.column_stack(
            [
                base + delta * rng.standard_normal(n) + 3.0,
                1e6 * (base + delta * rng.standard_normal(n)) + 2e6,
                rng.standard_normal(n),
            ]
        )
        y = X @ [2.0, 3e-6, -1.0] + 5.0 + 0.1 * rng.standard_normal(n)
        coef, intercept = lstsq(X, y)
        condition = np.linalg.cond(np.column_stack([X, np.ones(n)]))
        print(f"ill-conditioned, collinearity {delta}: cond([X, 1]) = {condition:.2e}")
        for params in (
            {},
            {"momentum": 0.0},
            {"momentum": 0.0, "solver": "fused"},
            {"momentum": 0.0, "tol": None, "max_iter": 20_000},
        ):
            model = fastlr.LinearRegression(**params)
            seconds = bench.median_time(lambda model=model, X=X, y=y: model.fit(X, y), 5)
            digits = -np.log10(
                max(np.abs(model.coef_ / coef - 1).max(), abs(model.intercept_ / intercept - 1))
            )
            print(
                f"  {params or 'defaults'}: {model.n_iter_} epochs ({model.solver_}, momentum "
                f"{model.momentum_:.4f}), {digits:.1f} significant digits, {seconds * 1e3:.1f} ms"
            )


def stochastic(n: int, d: int) -> None:
    X, y, truth = fastlr.make_regression(n, d, noise=5.0, random_state=0)
    rng = np.random.default_rng(1)
    X_test = rng.standard_normal((200_000, d))
    y_test = X_test @ truth + 5.0 * rng.standard_normal(200_000)
    coef, intercept = lstsq(X, y)
    best = float(np.mean((X_test @ coef + intercept - y_test) ** 2))
    for mode in ("sgd", "minibatch"):
        start = time.perf_counter()
        model = fastlr.LinearRegression(mode, max_iter=5, random_state=0).fit(X, y)
        seconds = time.perf_counter() - start
        mse = float(np.mean((model.predict(X_test) - y_test) ** 2))
        print(
            f"{mode}, defaults, {n:,} x {d}, 5 epochs ({seconds:.2f} s): test MSE {mse:.4f} vs "
            f"least squares {best:.4f} ({(mse / best - 1) * 100:+.2f}%)"
        )


def epoch_costs(n: int, d: int, repeats: int) -> None:
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0)
    weights = np.random.default_rng(0).random(n)
    plain = {
        "standardize": False,
        "learning_rate": 0.01,
        "tol": None,
        "random_state": 0,
        "average": None,
    }
    options = {
        "standardize": {"standardize": True},
        "sample_weight": {"weights": True},
        "momentum+nesterov": {"momentum": 0.9, "nesterov": True},
        "l2": {"penalty": "l2"},
        "l1": {"penalty": "l1"},
        "averaging": {"average": True},
        "invscaling": {"schedule": "invscaling"},
        "all of the above": {
            "standardize": True,
            "weights": True,
            "penalty": "elasticnet",
            "average": True,
            "momentum": 0.9,
        },
    }
    print(f"epoch cost of each option, {n:,} x {d} float64 (median of {repeats} rounds):")
    for mode in ("batch", "minibatch", "sgd"):

        def epoch_timer(extra: dict, mode: str = mode) -> Callable[[], float]:
            extra = dict(extra)
            w = weights if extra.pop("weights", False) else None
            if mode == "sgd":
                extra.pop("momentum", None)
                extra.pop("nesterov", None)
            if mode == "batch":
                extra.pop("average", None)
                extra["solver"] = "fused"
            params = {
                **plain,
                **extra,
                "average": extra.get("average", False) if mode != "batch" else None,
            }
            short = fastlr.LinearRegression(mode, max_iter=EPOCHS_SHORT, **params)
            long = fastlr.LinearRegression(mode, max_iter=EPOCHS_LONG, **params)
            short.fit(X, y, w)  # compile

            def one_epoch() -> float:
                t_short = bench.median_time(lambda: short.fit(X, y, w), 1)
                t_long = bench.median_time(lambda: long.fit(X, y, w), 1)
                return (t_long - t_short) / (EPOCHS_LONG - EPOCHS_SHORT)

            return one_epoch

        names = [name for name in options if not (mode == "batch" and name == "averaging")]
        timers = {"plain": epoch_timer({}), **{name: epoch_timer(options[name]) for name in names}}
        times: dict[str, list[float]] = {name: [] for name in timers}
        ratios: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(repeats):  # rounds: each option beside the plain epoch of its round
            for name, timer in timers.items():
                times[name].append(timer())
            for name in names:
                ratios[name].append(times[name][-1] / times["plain"][-1])
        print(f"  {mode:<9} plain epoch {np.median(times['plain']) * 1e3:8.1f} ms")
        for name in names:
            print(
                f"  {mode:<9} {name:<19} {np.median(times[name]) * 1e3:8.1f} ms  "
                f"{np.median(ratios[name]):5.2f}x (rounds {min(ratios[name]):.2f}-"
                f"{max(ratios[name]):.2f})"
            )


def main() -> None:
    quick = "--quick" in sys.argv
    seed_one()
    ill_conditioned()
    stochastic(200_000 if quick else 2_000_000, 50)
    epoch_costs(100_000 if quick else 1_000_000, 20, 3 if quick else 5)


if __name__ == "__main__":
    main()
