"""Sizes and data shared by the asv benchmarks.

``FASTLR_ASV_QUICK=1`` shrinks every shape and times the roofline's contenders once, without
the pauses between them (CI runs the suite once that way, so a broken benchmark fails the build
without costing minutes; its figures are not judged).
"""

from __future__ import annotations

import contextlib
import functools
import os

import numpy as np

import fastlr
from fastlr import reference
from fastlr.devtools.roofline import settle_seconds

QUICK = os.environ.get("FASTLR_ASV_QUICK") == "1"
IMPLEMENTATIONS = {"fastlr": fastlr, "numpy-reference": reference}
MODES = ["batch", "minibatch", "sgd"]
DTYPES = ["float32", "float64"]
SHAPES = ["2000x20", "500x200"] if QUICK else ["200000x20", "20000x200"]
LEARNING_RATES = {"batch": 0.5, "minibatch": 0.05, "sgd": 0.002}
#: How often ``fastlr.devtools.roofline.time_blocks`` runs each contender: its defaults, once.
BLOCKS: dict[str, int] = {"repeats": 1, "rounds": 1} if QUICK else {}


def timing() -> contextlib.AbstractContextManager[None]:
    """Where the roofline benchmarks time: with the pauses that let BLAS threads sleep between
    contenders, none in a quick run (most of its time, for figures nobody judges)."""
    return settle_seconds(0.0) if QUICK else contextlib.nullcontext()


@functools.lru_cache(maxsize=4)
def data(shape: str, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    n, d = (int(part) for part in shape.split("x"))
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, random_state=0, dtype=dtype)
    return X, y


def estimator(implementation: str, mode: str, epochs: int) -> object:
    return IMPLEMENTATIONS[implementation].LinearRegression(
        mode=mode, learning_rate=LEARNING_RATES[mode], max_iter=epochs, tol=None, random_state=0
    )
