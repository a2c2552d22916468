"""Synthetic regression data, generated in parallel from a counter-based random stream, in
memory or straight to ``.npy`` files (block by block, in bounded memory).

The kernels are in :mod:`fastlr.kernels.generate`: a SplitMix64 hash of (seed, position) per
value, made normal by a 256-layer ziggurat; the NumPy twin is
:func:`fastlr.reference.make_regression`."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from typing import IO, Any, overload

import numpy as np

from fastlr._progress import amount_printer, finish
from fastlr._random import RegressionSpec, check_generated_target, regression_spec
from fastlr._threading import parallel_launch
from fastlr._validation import check_number
from fastlr.kernels import generate as _generate

#: Bytes of X generated per block when writing files (the memory ``out=`` needs, about).
WRITE_BLOCK_BYTES = 64 << 20


@overload
def make_regression(
    n_samples: int,
    n_features: int,
    *,
    noise: float = ...,
    bias: float = ...,
    random_state: int | np.random.Generator | None = ...,
    dtype: Any = ...,
    out: None = ...,
    chunk_rows: int | None = ...,
    verbose: int = ...,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@overload
def make_regression(
    n_samples: int,
    n_features: int,
    *,
    noise: float = ...,
    bias: float = ...,
    random_state: int | np.random.Generator | None = ...,
    dtype: Any = ...,
    out: str | os.PathLike[str],
    chunk_rows: int | None = ...,
    verbose: int = ...,
) -> tuple[str, str, np.ndarray]: ...


def make_regression(
    n_samples: int,
    n_features: int,
    *,
    noise: float = 0.0,
    bias: float = 0.0,
    random_state: int | np.random.Generator | None = None,
    dtype: Any = np.float64,
    out: str | os.PathLike[str] | None = None,
    chunk_rows: int | None = None,
    verbose: int = 0,
) -> tuple[np.ndarray | str, np.ndarray | str, np.ndarray]:
    """Random linear regression problem: ``y = X @ coef + bias + noise · N(0, 1)``.

    ``X`` has independent standard normal entries (a ziggurat over a counter-based stream);
    ``coef`` is drawn uniformly from [0, 100).
    Every value is a pure function of the seed and its position (a counter-based generator), so
    the same ``random_state`` gives the same bytes on any number of threads, in memory or in
    files written in blocks of any size. Generation runs on all of numba's threads and writes
    ``X`` and ``y`` once, in ``dtype``.

    Parameters
    ----------
    n_samples, n_features : int
        Shape of ``X``, both >= 1.
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to ``y``, >= 0.
    bias : float, default=0.0
        The true intercept.
    random_state : int, numpy.random.Generator or None, default=None
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        dtype of ``X`` and ``y`` (``y`` is computed in float64 from the stored ``X``, then cast).
    out : str, path-like or None, default=None
        None: return the arrays. A path: write ``X`` to ``out`` and ``y`` to ``out`` with
        ``.y.npy`` in place of ``.npy`` (``.npy`` is appended when missing, as ``numpy.save``
        does), ``chunk_rows`` rows at a time, and return the two paths. The files are the bytes
        ``numpy.save`` writes for the in-memory arrays, whatever ``chunk_rows``; each is written
        under a temporary name and renamed when complete. ``fit`` and
        :func:`fastlr.iter_chunks` read them without loading them.
    chunk_rows : int or None, default=None
        Rows generated and written per block with ``out`` (None: 64 MiB of ``X``): the memory
        the generation needs.
    verbose : int, default=0
        With ``out``: 1 draws a progress bar on a terminal (stderr), lines elsewhere.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), or str
        The array, or with ``out`` the path of its ``.npy`` file.
    y : ndarray of shape (n_samples,), or str
        The array, or the path of its ``.npy`` file.
    coef : ndarray of shape (n_features,), float64
        The true coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> import fastlr
    >>> X, y, coef = fastlr.make_regression(4, 2, bias=1.0, random_state=0)
    >>> X.shape, y.shape, coef.shape
    ((4, 2), (4,), (2,))
    >>> bool(np.allclose(X @ coef + 1.0, y))
    True

    Written to files, in blocks of 3 rows, the same values:

    >>> import os, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> X_path, y_path, _ = fastlr.make_regression(
    ...     4, 2, bias=1.0, random_state=0, out=os.path.join(folder.name, "data.npy"), chunk_rows=3
    ... )
    >>> os.path.basename(X_path), os.path.basename(y_path)
    ('data.npy', 'data.y.npy')
    >>> bool(np.array_equal(np.load(X_path), X) and np.array_equal(np.load(y_path), y))
    True
    >>> folder.cleanup()
    """
    spec = regression_spec(n_samples, n_features, noise, bias, random_state, dtype)
    if chunk_rows is not None:
        check_number(chunk_rows, "chunk_rows", integer=True, low=1)
    verbose = check_number(verbose, "verbose", integer=True, low=0)
    if out is not None:
        x_path, y_path = regression_paths(out)
        _write_regression(spec, x_path, y_path, chunk_rows, verbose)
        return x_path, y_path, spec.coef
    X = np.empty((spec.n_samples, spec.n_features), dtype=spec.dtype)
    y = np.empty(spec.n_samples, dtype=spec.dtype)
    _fill(spec, X, y, 0)
    check_generated_target(y, spec)
    return X, y, spec.coef


def regression_paths(out: str | os.PathLike[str]) -> tuple[str, str]:
    """The files ``make_regression(..., out=out)`` writes: X's and y's.

    Examples
    --------
    >>> regression_paths("runs/data.npy")
    ('runs/data.npy', 'runs/data.y.npy')
    >>> regression_paths("data")
    ('data.npy', 'data.y.npy')
    """
    path = os.fspath(out)
    if not isinstance(path, str):
        raise TypeError(f"out must be a str or os.PathLike[str] path; got {out!r}")
    if os.path.basename(path) in ("", ".npy"):
        raise ValueError(f"out must name a file, such as 'data.npy'; got {out!r}")
    if not path.endswith(".npy"):
        path += ".npy"
    return path, path[: -len(".npy")] + ".y.npy"


def _fill(spec: RegressionSpec, X: np.ndarray, y: np.ndarray, first_row: int) -> None:
    """Rows ``first_row, ...`` of the data set into ``X`` and ``y``."""
    with parallel_launch():
        _generate.fill_regression(
            X, y, spec.coef, spec.bias, spec.noise, spec.key_x, spec.key_noise, first_row
        )


def _write_regression(
    spec: RegressionSpec, x_path: str, y_path: str, chunk_rows: int | None, verbose: int
) -> None:
    """Generate ``chunk_rows`` rows at a time into one reused buffer and append them to the two
    files (temporary names, renamed at the end): memory is one block, whatever ``n_samples``."""
    n, d, dtype = spec.n_samples, spec.n_features, spec.dtype
    rows = chunk_rows or max(1, WRITE_BLOCK_BYTES // (d * dtype.itemsize))
    rows = min(rows, n)
    X = np.empty((rows, d), dtype=dtype)
    y = np.empty(rows, dtype=dtype)
    total = n * (d + 1) * dtype.itemsize
    progress = amount_printer(total, verbose, os.path.basename(x_path))
    for path in (x_path, y_path):  # found before anything is written or replaced
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, "out names a folder, not a file", path)
    temporaries: list[str] = []
    try:
        with _temporary(x_path, temporaries) as x_file, _temporary(y_path, temporaries) as y_file:
            _write_header(x_file, dtype, (n, d))
            _write_header(y_file, dtype, (n,))
            for start in range(0, n, rows):
                count = min(rows, n - start)
                _fill(spec, X[:count], y[:count], start)
                check_generated_target(y[:count], spec)
                x_file.write(X[:count].data)
                y_file.write(y[:count].data)
                if progress is not None:
                    progress((start + count) * (d + 1) * dtype.itemsize)
        for temporary, path in zip(list(temporaries), (x_path, y_path), strict=True):
            os.replace(temporary, path)
            temporaries.remove(temporary)
    finally:
        finish(progress)
        for name in temporaries:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)


def _temporary(path: str, created: list[str]) -> IO[bytes]:
    """A new file beside ``path`` (recorded in ``created``), open for binary writing, with the
    permissions a plain ``open`` would give it (the umask's)."""
    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:  # named by the user's path, not by the temporary one
        raise OSError(exc.errno, exc.strerror, path) from None
    created.append(temporary)
    return os.fdopen(handle, "wb")


def _write_header(handle: IO[bytes], dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """The ``.npy`` header ``numpy.save`` writes for a C-ordered array of this dtype and shape."""
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(handle, header)
