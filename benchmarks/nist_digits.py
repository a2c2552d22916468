"""Correct digits on NIST's StRD linear least-squares datasets, fastlr against other solvers.

Usage: python benchmarks/nist_digits.py

For each of the 11 datasets (tests/data/nist/) and each solver, prints the LRE: the minimum
over the coefficients (intercept included when the model has one) of
-log10(|estimate - certified| / |certified|), capped at 15, floored at 0. Every solver sees the
raw published data (polynomial powers built from x in float64), with its defaults. Then, for
fastlr: the R² error |R² - R²_certified| (NIST's R² is uncentered for NoInt1/NoInt2), the
warnings raised, and the time per batch fit.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fastlr  # noqa: E402
from tests import nist  # noqa: E402

try:
    import sklearn
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
    from sklearn.linear_model import LinearRegression as SkLinearRegression
    from sklearn.linear_model import SGDRegressor
except ImportError:  # pragma: no cover - optional
    sklearn = None

try:
    import statsmodels.api as sm
except ImportError:  # pragma: no cover - optional
    sm = None

FASTLR_MODES = ("batch", "minibatch", "sgd")
TIME_REPEATS = 7


class Cell:
    """One solver on one dataset: digits, R² error, warnings, or the error it raised."""

    def __init__(self) -> None:
        self.digits: float | None = None
        self.r2_error: float | None = None
        self.warnings: list[str] = []
        self.error: str | None = None

    def text(self) -> str:
        if self.error is not None:
            return "error"
        assert self.digits is not None
        out = f"{self.digits:.1f}"
        if self.warnings:
            out += " (warns)"
        return out


def _run(fit: Callable[[], tuple[np.ndarray, float]], data: dict[str, Any]) -> Cell:
    cell = Cell()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            coef, intercept = fit()
        except Exception as exc:  # a solver's failure is a result here, not a crash
            cell.error = f"{type(exc).__name__}: {exc}"
            coef, intercept = None, None
    cell.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
    if coef is not None:
        coef = np.ravel(np.asarray(coef, dtype=np.float64))
        intercept = float(np.ravel(np.asarray(intercept, dtype=np.float64))[0])
        cell.digits = nist.digits((coef, intercept), data)
        with np.errstate(all="ignore"):
            r2 = nist.r_squared(data["X"], data["y"], coef, intercept, data["fit_intercept"])
        cell.r2_error = abs(r2 - data["r_squared"]) if np.isfinite(r2) else float("inf")
    return cell


def _design(data: dict[str, Any]) -> np.ndarray:
    X = data["X"]
    return np.column_stack([np.ones(len(X)), X]) if data["fit_intercept"] else X


NOTES: list[str] = []


def numpy_lstsq(data: dict[str, Any]) -> tuple[np.ndarray, float]:
    A = _design(data)
    beta, _, rank, _ = np.linalg.lstsq(A, data["y"], rcond=None)
    if rank < A.shape[1]:
        NOTES.append(
            f"numpy lstsq / {data['name']}: effective rank {rank} of {A.shape[1]} "
            "(rcond=None drops the smallest singular value), no warning"
        )
    return (beta[1:], beta[0]) if data["fit_intercept"] else (beta, 0.0)


def statsmodels_ols(data: dict[str, Any]) -> tuple[np.ndarray, float]:
    beta = np.asarray(sm.OLS(data["y"], _design(data)).fit().params)
    return (beta[1:], beta[0]) if data["fit_intercept"] else (beta, 0.0)


def sklearn_ols(data: dict[str, Any]) -> tuple[np.ndarray, float]:
    model = SkLinearRegression(fit_intercept=data["fit_intercept"]).fit(data["X"], data["y"])
    return model.coef_, model.intercept_


def sklearn_sgd(data: dict[str, Any]) -> tuple[np.ndarray, float]:
    model = SGDRegressor(max_iter=1000, random_state=0, fit_intercept=data["fit_intercept"])
    model.fit(data["X"], data["y"])
    size = float(np.max(np.abs(np.append(model.coef_, model.intercept_))))
    NOTES.append(
        f"sklearn SGD / {data['name']}: n_iter_={model.n_iter_}, max |coefficient| {size:.1e}"
    )
    return model.coef_, model.intercept_


def fastlr_fit(mode: str) -> Callable[[dict[str, Any]], tuple[np.ndarray, float]]:
    def fit(data: dict[str, Any]) -> tuple[np.ndarray, float]:
        model = fastlr.LinearRegression(
            mode=mode, random_state=0, fit_intercept=data["fit_intercept"]
        ).fit(data["X"], data["y"])
        return model.coef_, model.intercept_

    return fit


def _time_batch_fit(data: dict[str, Any]) -> float:
    """Median wall time of a default batch fit, in ms (after the warm-up run of the table)."""
    samples = []
    for _ in range(TIME_REPEATS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            try:
                fastlr_fit("batch")(data)
            except Exception:
                return float("nan")
            samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def main() -> None:
    solvers: dict[str, Callable[[dict[str, Any]], tuple[np.ndarray, float]]] = {
        "numpy lstsq": numpy_lstsq,
    }
    if sklearn is not None:
        solvers["sklearn OLS"] = sklearn_ols
        solvers["sklearn SGD"] = sklearn_sgd
    if sm is not None:
        solvers["statsmodels OLS"] = statsmodels_ols
    for mode in FASTLR_MODES:
        solvers[f"fastlr {mode}"] = fastlr_fit(mode)

    # Compile fastlr's kernels before anything is timed or reported.
    X0, y0, _ = fastlr.make_regression(64, 3, noise=0.1, random_state=0)
    for mode in FASTLR_MODES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fastlr.LinearRegression(mode=mode, random_state=0).fit(X0, y0)
            fastlr.LinearRegression(mode=mode, random_state=0, fit_intercept=False).fit(X0, y0)

    results: dict[str, dict[str, Cell]] = {}
    times: dict[str, float] = {}
    certified: dict[str, float] = {}
    for name in nist.NAMES:
        data = nist.load(name)
        results[name] = {
            label: _run(lambda f=f, data=data: f(data), data) for label, f in solvers.items()
        }
        times[name] = _time_batch_fit(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fastlr.LinearRegression(fit_intercept=data["fit_intercept"])
            certified[name] = model.fit(data["X"], data["y"]).certified_digits_

    versions = [f"numpy {np.__version__}", f"fastlr {fastlr.__version__}"]
    if sklearn is not None:
        versions.append(f"scikit-learn {sklearn.__version__}")
    if sm is not None:
        import statsmodels

        versions.append(f"statsmodels {statsmodels.__version__}")
    print("## Correct digits (LRE, min over coefficients incl. intercept; 15 = all)\n")
    print(", ".join(versions) + "\n")
    labels = list(solvers)
    print(
        _table(
            ["dataset", *labels],
            [[name, *(results[name][label].text() for label in labels)] for name in nist.NAMES],
        )
    )

    fl = [label for label in labels if label.startswith("fastlr")]
    ref = ["numpy lstsq"]
    print(
        "\n## |R² - R²_certified| (uncentered R² for NoInt1/NoInt2), what the batch fit "
        "certifies, and its time\n"
    )

    def r2_text(cell: Cell) -> str:
        if cell.error is not None:
            return "error"
        return f"{cell.r2_error:.1e}" + (" (warns)" if cell.warnings else "")

    print(
        _table(
            ["dataset", *ref, *fl, "fastlr batch certified_digits_", "fastlr batch fit (ms)"],
            [
                [
                    name,
                    *(r2_text(results[name][label]) for label in [*ref, *fl]),
                    f"{certified[name]:.1f}",
                    f"{times[name]:.2f}",
                ]
                for name in nist.NAMES
            ],
        )
    )

    print("\n## Warnings and errors\n")
    for label in labels:
        for name in nist.NAMES:
            cell = results[name][label]
            messages = ([cell.error] if cell.error else []) + sorted(set(cell.warnings))
            for message in messages:
                first = " ".join(message.split())
                if len(first) > 160:
                    first = first[:157] + "..."
                print(f"- {label} / {name}: {first}")
    for note in NOTES:
        print(f"- {note}")
    if sklearn is not None:
        n_sgd = sum(
            any("ConvergenceWarning" in w for w in results[n]["sklearn SGD"].warnings)
            for n in nist.NAMES
        )
        print(f"\nsklearn SGD: {SkConvergenceWarning.__name__} on {n_sgd} of {len(nist.NAMES)}")


if __name__ == "__main__":
    main()
