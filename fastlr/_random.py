"""Seeds: from a user's ``random_state`` to the keys and draws the generators need."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from fastlr._validation import FLOAT_DTYPES, check_number

RandomState = int | np.random.Generator | None


def check_random_state(random_state: object) -> RandomState:
    """Return ``random_state`` if it is None, an int >= 0 or a Generator; else raise TypeError."""
    if random_state is None or isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state!r}")
        return int(random_state)
    raise TypeError(
        f"random_state must be None, an int >= 0 or a numpy.random.Generator, got {random_state!r}"
    )


@dataclass(frozen=True)
class RegressionSpec:
    """Checked arguments of ``make_regression`` with the keys and coefficients they imply."""

    n_samples: int
    n_features: int
    noise: float
    bias: float
    dtype: np.dtype
    key_x: np.uint64
    key_noise: np.uint64
    coef: np.ndarray


def regression_spec(
    n_samples: Any, n_features: Any, noise: Any, bias: Any, random_state: Any, dtype: Any
) -> RegressionSpec:
    """Check ``make_regression``'s arguments (shared by fastlr and its NumPy reference)."""
    n_samples = check_number(n_samples, "n_samples", integer=True, low=1)
    n_features = check_number(n_features, "n_features", integer=True, low=1)
    noise = check_number(noise, "noise", low=0)
    bias = check_number(bias, "bias")
    try:
        float_dtype = np.dtype(dtype)
    except TypeError:
        float_dtype = None
    # (``is None`` first: numpy compares None equal to float64, as np.dtype(None) is float64.)
    if float_dtype is None or float_dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be numpy.float32 or numpy.float64; got {dtype!r}")
    key_x, key_noise, coef = _streams(check_random_state(random_state), n_features)
    return RegressionSpec(n_samples, n_features, noise, bias, float_dtype, key_x, key_noise, coef)


def check_generated_target(y: np.ndarray, spec: RegressionSpec) -> None:
    """Raise if ``y`` overflowed its dtype (a huge ``bias`` or ``noise``): one look at y, which
    has n_features times fewer values than X."""
    if not np.isfinite(y).all():
        raise ValueError(
            f"y overflowed {spec.dtype}: bias={spec.bias:g} and noise={spec.noise:g} are too "
            f"large for dtype {spec.dtype}; make them smaller (or use numpy.float64)"
        )


def _streams(random_state: RandomState, n_features: int) -> tuple[np.uint64, np.uint64, np.ndarray]:
    """Keys of the X and noise streams and the true coefficients (``100 * U[0, 1)``, float64)."""
    entropy: int | None
    if isinstance(random_state, np.random.Generator):
        entropy = int(random_state.integers(0, 2**63))
    else:
        entropy = random_state  # None draws fresh entropy from the OS
    seeds = np.random.SeedSequence(entropy)
    key_x, key_noise = seeds.generate_state(2, dtype=np.uint64)
    coef = 100.0 * np.random.default_rng(seeds).random(n_features)
    return np.uint64(key_x), np.uint64(key_noise), coef
