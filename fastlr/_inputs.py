"""The user's X and y as the engines take them: arrays converted once (see
:mod:`fastlr._validation`), or a ``.npy`` path / C-ordered float memmap kept for streaming."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from fastlr._validation import as_float_matrix, as_float_target
from fastlr.datafiles import check_streamable, is_streamable, open_npy


def data_matrix(X: Any) -> np.ndarray:
    """``X`` for the kernels: a ``.npy`` path is mapped read-only and checked, a C-ordered
    float ``np.memmap`` is kept (both are then streamed), anything else (other memmaps
    included) is :func:`fastlr._validation.as_float_matrix`'s."""
    if isinstance(X, (str, os.PathLike)):
        X = open_npy(X, "X")
    if not isinstance(X, np.memmap) or not is_streamable(X):
        return as_float_matrix(X)  # a memmap of ints or a strided one: converted like any array
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features) with at least one sample and one feature; "
            f"{_file_name(X)} holds shape {X.shape}"
        )
    check_streamable(X, "X")
    return X


def data_target(y: Any, n_samples: int) -> tuple[np.ndarray, bool]:
    """``y`` as (n, k) and whether it was 2-D, as :func:`fastlr._validation.as_float_target`;
    a ``.npy`` path or an ``np.memmap`` is read in place (checked as :func:`data_matrix`)."""
    if isinstance(y, (str, os.PathLike)):
        y = open_npy(y, "y")
    if not isinstance(y, np.memmap) or not is_streamable(y):
        return as_float_target(y, n_samples)
    if y.ndim not in (1, 2) or y.shape[0] != n_samples or (y.ndim == 2 and y.shape[1] == 0):
        raise ValueError(
            f"y must be 1-D (n_samples,) or 2-D (n_samples, n_outputs) with one row per sample "
            f"of X ({n_samples}); {_file_name(y)} holds shape {y.shape}"
        )
    check_streamable(y, "y")
    return y.reshape(n_samples, -1), y.ndim == 2


def _file_name(array: np.memmap) -> str:
    return repr(array.filename) if array.filename else "the memmap"
