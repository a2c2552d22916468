"""What out-of-core fitting reads in place: :func:`open_npy` maps a ``.npy`` file for ``fit`` to
stream, :func:`is_streamable` and :func:`check_streamable` tell whether the kernels can read an
array (or a mapped file) where it lies. Importable from :mod:`fastlr.datafiles` as well."""

from __future__ import annotations

import os

import numpy as np

#: What out-of-core fitting reads, quoted in its errors.
STREAMABLE = "a C-ordered float32 or float64 array in native byte order"


def open_npy(path: str | os.PathLike[str], name: str = "X") -> np.memmap:
    """Map the ``.npy`` file ``path`` read-only for out-of-core fitting, checking what the
    kernels will read in place (:func:`check_streamable`); ``name`` is the argument's, for
    errors.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> folder = tempfile.TemporaryDirectory()
    >>> np.save(os.path.join(folder.name, "X.npy"), np.zeros((3, 2), dtype=np.int64))
    >>> open_npy(os.path.join(folder.name, "X.npy"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: X ('...X.npy') holds int64; out of core the kernels read the file in place, ...
    >>> folder.cleanup()
    """
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"{name} must be an array or the path of a .npy file; got {path!r}")
    if os.path.splitext(path)[1].lower() != ".npy":
        raise ValueError(
            f"{name}: fit reads .npy files in place, not {path!r}; stream .csv and .parquet "
            "files with fastlr.iter_chunks and partial_fit, or load them first"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}: no such .npy file: {path!r}")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:  # pickled objects, damaged or empty files
        raise ValueError(f"{name}: cannot read {path!r} as a numeric array: {exc}") from None
    if not isinstance(array, np.memmap):
        raise ValueError(f"{name}: {path!r} is not a single .npy array")
    check_streamable(array, name)
    return array


def is_streamable(array: np.ndarray) -> bool:
    """Whether the kernels can read ``array`` in place: :data:`STREAMABLE`.

    Examples
    --------
    >>> import numpy as np
    >>> is_streamable(np.zeros((3, 2))), is_streamable(np.zeros((3, 2), dtype=np.int64))
    (True, False)
    """
    dtype = array.dtype
    return (
        dtype in (np.dtype(np.float32), np.dtype(np.float64))
        and dtype.isnative
        and bool(array.flags.c_contiguous)
    )


def check_streamable(array: np.memmap, name: str) -> None:
    """Raise unless the kernels can read ``array`` in place: :data:`STREAMABLE`."""
    where = f"{name} ({array.filename!r})" if array.filename else name
    dtype = array.dtype
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)) or not dtype.isnative:
        raise TypeError(
            f"{where} holds {dtype}; out of core the kernels read the file in place, so it must "
            f"be {STREAMABLE}: convert it once, e.g. "
            "np.save(path, np.load(path).astype(np.float64))"
        )
    if not array.flags.c_contiguous:
        raise ValueError(
            f"{where} is not C-ordered (a Fortran-ordered file, or a strided view); out of core "
            "rows are read in blocks, so it must be "
            f"{STREAMABLE}: rewrite it once, e.g. np.save(path, np.ascontiguousarray(X))"
        )
