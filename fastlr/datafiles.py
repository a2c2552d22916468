"""Tables from files: ``.npy``, ``.csv`` and ``.parquet`` as a float matrix and a target.

Used by the ``fastlr`` command (``fastlr train DATA --target COL``, ``fastlr predict``).
Parquet needs pyarrow (``pip install "fastlr[parquet]"``), imported only for a Parquet file.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from fastlr.datafiles import read_table
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, "points.csv")
>>> with open(path, "w") as f:
...     _ = f.write("x1,x2,price\\n1,2,10\\n3,4,20\\n")
>>> table = read_table(path, target="price")
>>> table.X
array([[1., 2.],
       [3., 4.]])
>>> table.y, table.features, table.target
(array([10., 20.]), ['x1', 'x2'], 'price')
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

#: The file types :func:`read_table` reads, by suffix.
SUFFIXES = (".npy", ".csv", ".parquet")
#: What ``pip`` needs for Parquet files, quoted in the error when pyarrow is missing.
PARQUET_EXTRA = 'pip install "fastlr[parquet]"'


@dataclass(frozen=True)
class Table:
    """A data file read as ``X`` (n, d) float64 (float32 kept for ``.npy``) and ``y`` (n,) or
    None, with the column names (``"0"``, ``"1"``, ... where the file has none)."""

    X: np.ndarray
    y: np.ndarray | None
    features: list[str]
    target: str | None


def read_table(path: str | os.PathLike[str], target: str | None = None) -> Table:
    """Read ``path`` (``.npy`` 2-d array, ``.csv`` with or without a header, ``.parquet``).

    Parameters
    ----------
    path : str or path-like
        The file; its suffix says how to read it.
    target : str or None
        The column that is ``y``: a name from the header (CSV, Parquet) or a column index
        (``"-1"``: the last). For a ``.npy`` table it may also be the path of a second ``.npy``
        file holding ``y``. None: every column is a feature and ``y`` is None.

    Returns
    -------
    Table

    Raises
    ------
    ValueError
        For an unknown suffix, a file that is not a numeric table, or a target it lacks.
    FileNotFoundError
        When a file does not exist.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot read {path!r}: the data file must end in {', '.join(SUFFIXES)}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such data file: {path!r}")
    if suffix == ".npy":
        return _read_npy(path, target)
    names, values = _read_csv(path) if suffix == ".csv" else _read_parquet(path)
    return _split(path, names, values, target)


def _read_npy(path: str, target: str | None) -> Table:
    try:
        values = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:  # pickled object arrays, damaged headers
        raise ValueError(f"cannot read {path!r} as a numeric array: {exc}") from None
    if values.ndim != 2:
        raise ValueError(
            f"{path!r} holds an array of shape {values.shape}; a data file needs 2 dimensions "
            "(samples x columns)"
        )
    if target is not None and target.lower().endswith(".npy"):
        y = np.load(target, allow_pickle=False)
        if y.ndim != 1 or y.shape[0] != values.shape[0]:
            raise ValueError(
                f"the target file {target!r} has shape {y.shape}; it must be 1-d with one "
                f"value per row of {path!r} ({values.shape[0]})"
            )
        features = [str(j) for j in range(values.shape[1])]
        return Table(values, y, features, os.path.basename(target))
    return _split(path, [str(j) for j in range(values.shape[1])], values, target)


def _read_csv(path: str) -> tuple[list[str], np.ndarray]:
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
    if not first.strip():
        raise ValueError(f"{path!r} is empty: a data file needs at least one row")
    fields = [field.strip().strip('"') for field in first.split(",")]
    header = not all(_is_number(field) for field in fields)
    try:
        values = np.loadtxt(path, delimiter=",", skiprows=int(header), ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path!r} is not a numeric CSV table: {exc}") from None
    names = fields if header else [str(j) for j in range(values.shape[1])]
    if values.size and values.shape[1] != len(names):
        raise ValueError(
            f"{path!r}: the header has {len(names)} columns, the rows {values.shape[1]}"
        )
    return names, values


def _read_parquet(path: str) -> tuple[list[str], np.ndarray]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(f"reading Parquet files needs pyarrow: {PARQUET_EXTRA}") from None
    table = pq.read_table(path)
    names = [str(name) for name in table.column_names]
    columns = []
    for name, column in zip(names, table.columns, strict=True):
        try:
            columns.append(column.to_numpy().astype(np.float64))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path!r}: column {name!r} is not numeric ({exc})") from None
    values = np.column_stack(columns) if columns else np.empty((table.num_rows, 0))
    return names, values


def _split(path: str, names: list[str], values: np.ndarray, target: str | None) -> Table:
    if target is None:
        return Table(values, None, names, None)
    column = _column(path, names, target)
    keep = [j for j in range(len(names)) if j != column]
    return Table(
        np.ascontiguousarray(values[:, keep]),
        np.array(values[:, column], dtype=values.dtype),
        [names[j] for j in keep],
        names[column],
    )


def _column(path: str, names: list[str], target: str) -> int:
    if target in names:
        return names.index(target)
    try:
        index = int(target)
    except ValueError:
        shown = ", ".join(repr(name) for name in names[:10]) + (" ..." if len(names) > 10 else "")
        raise ValueError(
            f"{path!r} has no column {target!r}; its columns are {shown} (or give an index)"
        ) from None
    if not -len(names) <= index < len(names):
        raise ValueError(f"--target {index} is out of range: {path!r} has {len(names)} columns")
    return index % len(names)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
