"""NIST StRD linear least-squares reference datasets (tests/data/nist/*.json).

``load(name)`` returns the design, the response and NIST's certified answer as NumPy arrays;
``digits(estimate, certified)`` scores an estimate by its log relative error (LRE), the
measure NIST and McCullough use: the number of correct significant digits, 0 to 15.

This module imports nothing from fastlr, so it can check any solver.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data" / "nist"

NAMES = (
    "Norris",
    "Pontius",
    "NoInt1",
    "NoInt2",
    "Filip",
    "Longley",
    "Wampler1",
    "Wampler2",
    "Wampler3",
    "Wampler4",
    "Wampler5",
)

MAX_DIGITS = 15.0


def raw(name: str) -> dict[str, Any]:
    """The JSON file as published (numbers parsed by ``json`` into int/float)."""
    if name not in NAMES:
        raise KeyError(f"unknown NIST dataset {name!r}; expected one of {NAMES}")
    with open(DATA_DIR / f"{name}.json", encoding="utf-8") as fh:
        return json.load(fh)


def load(name: str) -> dict[str, Any]:
    """Dataset ``name`` as arrays.

    Keys: ``name``; ``X`` (n, k) float64, the design without an intercept column (for the
    polynomial datasets the powers x, x**2, ..., x**degree of the published x); ``x_raw`` the
    published predictor columns; ``y`` (n,) float64; ``fit_intercept``; ``coef`` (k,) the
    certified B1..Bk; ``intercept`` (B0, 0.0 without one); ``coef_sd``; ``intercept_sd``;
    ``residual_sd``; ``r_squared`` (uncentered, 1 - RSS / sum(y**2), for NoInt1/NoInt2, as
    NIST defines it there); ``degree`` (None for Longley); ``raw`` the parsed JSON.
    """
    d = raw(name)
    x_raw = np.asarray(d["x"], dtype=np.float64)
    degree = d.get("degree")
    if degree is not None:
        x = x_raw[:, 0]
        X = np.column_stack([x**k for k in range(1, int(degree) + 1)])
    else:
        X = x_raw.copy()
    c = d["certified"]
    return {
        "name": d["name"],
        "X": np.ascontiguousarray(X, dtype=np.float64),
        "x_raw": x_raw,
        "y": np.asarray(d["y"], dtype=np.float64),
        "fit_intercept": bool(d["fit_intercept"]),
        "degree": degree,
        "coef": np.asarray(c["coef"], dtype=np.float64),
        "intercept": float(c["intercept"]),
        "coef_sd": np.asarray(c["coef_sd"], dtype=np.float64),
        "intercept_sd": float(c["intercept_sd"]),
        "residual_sd": float(c["residual_sd"]),
        "r_squared": float(c["r_squared"]),
        "raw": d,
    }


def lre(estimate: float, certified: float) -> float:
    """Log relative error of one value, in [0, 15].

    ``-log10(|estimate - certified| / |certified|)``; the absolute error when the certified
    value is 0 (the LRE convention); 15 when they are equal; 0 for non-finite estimates.
    """
    est = float(estimate)
    cert = float(certified)
    if not math.isfinite(est):
        return 0.0
    err = abs(est - cert)
    if err == 0.0:
        return MAX_DIGITS
    if cert != 0.0:
        err /= abs(cert)
    return float(min(MAX_DIGITS, max(0.0, -math.log10(err))))


def digits(estimate: Any, certified: Any) -> float:
    """Correct significant digits of a fit: the minimum LRE over its coefficients.

    Either pass two sequences of equal length (compared element-wise), or a fitted result and
    a ``load()`` dict: ``estimate`` may be an object with ``coef_``/``intercept_`` (an
    estimator) or a ``(coef, intercept)`` tuple, and ``certified`` the dict from
    :func:`load`; the intercept is included when the model has one.
    """
    if isinstance(certified, dict):
        if isinstance(estimate, tuple) and len(estimate) == 2:
            coef, intercept = estimate
        else:
            coef, intercept = estimate.coef_, estimate.intercept_
        est = list(np.ravel(np.asarray(coef, dtype=np.float64)))
        cert = list(np.ravel(certified["coef"]))
        if certified["fit_intercept"]:
            est.append(float(np.ravel(np.asarray(intercept, dtype=np.float64))[0]))
            cert.append(certified["intercept"])
    else:
        est = list(np.ravel(np.asarray(estimate, dtype=np.float64)))
        cert = list(np.ravel(np.asarray(certified, dtype=np.float64)))
    if len(est) != len(cert):
        raise ValueError(f"{len(est)} estimates for {len(cert)} certified values")
    return min(lre(e, c) for e, c in zip(est, cert, strict=True))


def r_squared(
    X: np.ndarray, y: np.ndarray, coef: Any, intercept: float, fit_intercept: bool
) -> float:
    """R² of a fit as NIST defines it: centered with an intercept, uncentered without."""
    resid = y - (X @ np.ravel(np.asarray(coef, dtype=np.float64)) + float(intercept))
    rss = float(resid @ resid)
    tss = float(((y - y.mean()) ** 2).sum()) if fit_intercept else float(y @ y)
    return 1.0 - rss / tss
