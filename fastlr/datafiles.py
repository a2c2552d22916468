"""Tables from files: ``.npy``, ``.csv`` and ``.parquet`` as a float matrix and a target.

:func:`read_table` reads a whole file (the ``fastlr`` command: ``fastlr train DATA --target
COL``, ``fastlr predict``); :func:`iter_chunks` streams one in chunks of rows, for
``partial_fit`` on data bigger than memory; :func:`open_npy` maps a ``.npy`` file for ``fit``
to stream (it and the checks of what streams live in :mod:`fastlr._streamable`). Parquet needs
pyarrow (``pip install "fastlr[parquet]"``), imported only for a Parquet file.

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
>>> table.y, table.features, table.target, table.named
(array([10., 20.]), ['x1', 'x2'], 'price', True)
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from fastlr._pages import release
from fastlr._streamable import STREAMABLE, check_streamable, is_streamable, open_npy

__all__ = [
    "CHUNK_ROWS",
    "CSV_ENCODING",
    "PARQUET_EXTRA",
    "STREAMABLE",
    "SUFFIXES",
    "Table",
    "check_streamable",
    "is_streamable",
    "iter_chunks",
    "open_npy",
    "read_table",
]

#: The file types :func:`read_table` reads, by suffix.
SUFFIXES = (".npy", ".csv", ".parquet")
#: What ``pip`` needs for Parquet files, quoted in the error when pyarrow is missing.
PARQUET_EXTRA = 'pip install "fastlr[parquet]"'
#: CSV files are UTF-8; a byte-order mark at the start is skipped (it is not part of a name).
CSV_ENCODING = "utf-8-sig"


@dataclass(frozen=True)
class Table:
    """A data file read as ``X`` (n, d) float64 (float32 kept for ``.npy``) and ``y`` (n,) or
    None, with the column names (``"0"``, ``"1"``, ... where the file has none). ``named``
    says whether the names are the file's own (a CSV header, Parquet's columns), so that a
    model keeps them as ``feature_names_in_``, or the column numbers (``.npy``, a CSV file
    without a header)."""

    X: np.ndarray
    y: np.ndarray | None
    features: list[str]
    target: str | None
    named: bool = False


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
    target = _target_name(target)
    suffix = _suffix(path)
    if suffix == ".npy":
        return _read_npy(path, target)
    if suffix == ".csv":
        names, values, named = _read_csv(path)
    else:
        names, values = _read_parquet(path)
        named = True
    return _split(path, names, values, target, named)


def _suffix(path: str) -> str:
    """The suffix of a data file that exists, one of :data:`SUFFIXES` (else an error)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot read {path!r}: the data file must end in {', '.join(SUFFIXES)}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such data file: {path!r}")
    return suffix


def _target_name(target: Any) -> str | None:
    """``target`` as the string the readers take (an int index is accepted too)."""
    if target is None or isinstance(target, str):
        return target
    if isinstance(target, (int, np.integer)) and not isinstance(target, (bool, np.bool_)):
        return str(int(target))
    if isinstance(target, os.PathLike):
        return os.fspath(target)  # type: ignore[no-any-return]
    raise TypeError(
        f"target must be a column name, a column index or the path of a .npy file; got {target!r}"
    )


def _load_npy(path: str, name: str | None = None, mmap: bool = True) -> np.ndarray:
    """``np.load`` of a ``.npy`` file that must hold real numbers; any failure names the file."""
    where = f"{name} ({path!r})" if name else repr(path)
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such .npy file: {path!r}") from None
    except (ValueError, EOFError, OSError) as exc:  # pickled objects, damaged or empty files
        raise ValueError(f"cannot read {where} as a numeric array: {exc}") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{where} is not a single .npy array")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where} holds {array.dtype}; a data file must hold real numbers")
    return array


def _read_npy(path: str, target: str | None) -> Table:
    values = _load_npy(path)
    if values.ndim != 2:
        raise ValueError(
            f"{path!r} holds an array of shape {values.shape}; a data file needs 2 dimensions "
            "(samples x columns)"
        )
    features = [str(j) for j in range(values.shape[1])]
    if _is_npy(target):
        y = _target_file(target, path, values.shape[0], mmap=False)
        return Table(values, y, features, os.path.basename(target))
    return _split(path, features, values, target)


def _is_npy(target: str | None) -> TypeGuard[str]:
    """Whether ``target`` names a second ``.npy`` file (holding y) rather than a column."""
    return target is not None and target.lower().endswith(".npy")


def _target_file(target: str, path: str, rows: int, mmap: bool) -> np.ndarray:
    """The ``.npy`` file ``target`` holding y for the ``rows`` rows of ``path``."""
    y = _load_npy(target, "the target file", mmap=mmap)
    if y.ndim != 1 or y.shape[0] != rows:
        raise ValueError(
            f"the target file {target!r} has shape {y.shape}; it must be 1-d with one "
            f"value per row of {path!r} ({rows})"
        )
    return y


def _csv_header(path: str) -> tuple[bool, list[str]]:
    """Whether the first line of a CSV file is a header (no field is a number) or a row (all
    are), and its fields. A line that mixes both is an error, not a guess: a row with a missing
    value must not be read as column names."""
    try:
        with open(path, encoding=CSV_ENCODING) as handle:
            first = handle.readline()
    except (UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"cannot read {path!r} as a UTF-8 CSV file: {exc}") from None
    if not first.strip():
        raise ValueError(f"{path!r} is empty: a data file needs at least one row")
    fields = [field.strip().strip('"') for field in first.split(",")]
    numbers = [_is_number(field) for field in fields]
    if any(numbers) and not all(numbers):
        raise ValueError(
            f"{path!r}: the first line {first.strip()!r} mixes numbers and other text; a header "
            "names every column and a row holds only numbers (fill in missing values)"
        )
    return not all(numbers), fields


def _read_csv(path: str) -> tuple[list[str], np.ndarray, bool]:
    header, fields = _csv_header(path)
    try:
        with warnings.catch_warnings():  # "input contained no data": reported below
            warnings.simplefilter("ignore", UserWarning)
            values = np.loadtxt(
                path,
                delimiter=",",
                skiprows=int(header),
                ndmin=2,
                dtype=np.float64,
                encoding=CSV_ENCODING,
            )
    except ValueError as exc:
        raise ValueError(f"{path!r} is not a numeric CSV table: {exc}") from None
    if values.size == 0:
        raise ValueError(f"{path!r} has a header but no rows: a data file needs at least one row")
    names = fields if header else [str(j) for j in range(values.shape[1])]
    if values.size and values.shape[1] != len(names):
        raise ValueError(
            f"{path!r}: the header has {len(names)} columns, the rows {values.shape[1]}"
        )
    return names, values, header


def _pyarrow_parquet() -> Any:
    """``pyarrow.parquet``, imported only for a Parquet file."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(f"reading Parquet files needs pyarrow: {PARQUET_EXTRA}") from None
    return pq


def _read_parquet(path: str) -> tuple[list[str], np.ndarray]:
    table = _pyarrow_parquet().read_table(path)
    names = [str(name) for name in table.column_names]
    columns = []
    for name, column in zip(names, table.columns, strict=True):
        try:
            columns.append(column.to_numpy().astype(np.float64))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path!r}: column {name!r} is not numeric ({exc})") from None
    values = np.column_stack(columns) if columns else np.empty((table.num_rows, 0))
    return names, values


def _split(
    path: str, names: list[str], values: np.ndarray, target: str | None, named: bool = False
) -> Table:
    if target is None:
        return Table(values, None, names, None, named)
    column = _column(path, names, target)
    keep = [j for j in range(len(names)) if j != column]
    return Table(
        np.ascontiguousarray(values[:, keep]),
        np.array(values[:, column], dtype=values.dtype),
        [names[j] for j in keep],
        names[column],
        named,
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


# --------------------------------------------------------------------------- out of core
#: Rows per chunk of :func:`iter_chunks` by default.
CHUNK_ROWS = 65536


def iter_chunks(
    path: str | os.PathLike[str], chunk_rows: int = CHUNK_ROWS, target: str | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Stream a data file as ``(X, y)`` chunks of ``chunk_rows`` rows, in bounded memory.

    For ``partial_fit`` on data bigger than memory: ``for X, y in iter_chunks(...):
    model.partial_fit(X, y)``. Each format is read a chunk at a time: ``.npy`` as slices of a
    read-only map of the file (no copy when ``y`` is elsewhere; a chunk's pages are given back
    when the next one is read), ``.csv`` by a streaming reader (``chunk_rows`` lines at a
    time), ``.parquet`` by pyarrow's record batches. The chunks together are the table
    :func:`read_table` returns.

    Parameters
    ----------
    path : str or path-like
        The file; its suffix says how to read it (``.npy``, ``.csv``, ``.parquet``).
    chunk_rows : int, default=65536
        Rows per chunk (the last may be shorter; Parquet batches may also end at row groups).
    target : str or None
        The column that is ``y``, as for :func:`read_table`: a header name, a column index
        (``"-1"``: the last), or for ``.npy`` the path of a ``.npy`` file holding ``y``. None:
        ``y`` is None and every column is in ``X``.

    Yields
    ------
    X : ndarray of shape (rows, n_features)
        float64 (``.npy``: the file's float dtype).
    y : ndarray of shape (rows,) or None

    Raises
    ------
    ValueError
        For an unknown suffix, a file that is not a numeric table, a target it lacks, or a
        ``y`` file of another length.
    FileNotFoundError
        When a file does not exist.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import fastlr
    >>> folder = tempfile.TemporaryDirectory()
    >>> X_path, y_path, _ = fastlr.make_regression(
    ...     1000, 3, random_state=0, out=os.path.join(folder.name, "data.npy")
    ... )
    >>> model = fastlr.LinearRegression(mode="sgd", random_state=0)
    >>> for X, y in fastlr.iter_chunks(X_path, chunk_rows=250, target=y_path):
    ...     _ = model.partial_fit(X, y)
    >>> model.n_features_in_, model.t_
    (3, 4)
    >>> del X, y
    >>> folder.cleanup()
    """
    path = os.fspath(path)
    target = _target_name(target)
    if (
        isinstance(chunk_rows, (bool, np.bool_))
        or not isinstance(chunk_rows, (int, np.integer))
        or chunk_rows < 1
    ):
        raise ValueError(f"chunk_rows must be an int >= 1; got {chunk_rows!r}")
    chunk_rows = int(chunk_rows)
    suffix = _suffix(path)
    if suffix == ".npy":
        return _npy_chunks(path, chunk_rows, target)
    if suffix == ".csv":
        return _csv_chunks(path, chunk_rows, target)
    return _parquet_chunks(path, chunk_rows, target)


def _npy_chunks(
    path: str, chunk_rows: int, target: str | None
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    values = _read_npy(path, None).X
    assert isinstance(values, np.memmap)
    y_file = None
    column = None
    if _is_npy(target):
        y_file = _target_file(target, path, values.shape[0], mmap=True)
    elif target is not None:
        column = _column(path, [str(j) for j in range(values.shape[1])], target)
    keep = [j for j in range(values.shape[1]) if j != column]
    return _slices(values, y_file, column, keep, chunk_rows)


def _slices(
    values: np.memmap, y_file: np.ndarray | None, column: int | None, keep: list[int], rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    n = values.shape[0]
    floats = (np.dtype(np.float32), np.dtype(np.float64))
    in_place = is_streamable(values)
    dtype = values.dtype if values.dtype in floats else np.dtype(np.float64)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        block = values[start:stop]
        if not in_place:  # ints, other byte orders, Fortran order: a float copy of the chunk
            block = np.ascontiguousarray(block, dtype=dtype.newbyteorder("="))
        if column is None:
            yield block, None if y_file is None else y_file[start:stop]
        else:  # y is a column: X is the others, a copy of the chunk
            yield np.ascontiguousarray(block[:, keep]), np.array(block[:, column])
        release(values, start, stop)
        release(y_file, start, stop)


def _csv_chunks(
    path: str, chunk_rows: int, target: str | None
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    header, fields = _csv_header(path)
    names = fields if header else [str(j) for j in range(len(fields))]
    column = None if target is None else _column(path, names, target)
    return _csv_rows(path, header, names, column, chunk_rows)


def _csv_rows(
    path: str, header: bool, names: list[str], column: int | None, chunk_rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    try:
        yield from _csv_lines(path, header, names, column, chunk_rows)
    except UnicodeDecodeError as exc:
        raise ValueError(f"cannot read {path!r} as a UTF-8 CSV file: {exc}") from None


def _csv_lines(
    path: str, header: bool, names: list[str], column: int | None, chunk_rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    keep = [j for j in range(len(names)) if j != column]
    rows = 0
    with open(path, encoding=CSV_ENCODING) as handle:
        if header:
            handle.readline()
        line = int(header) + 1
        while lines := list(itertools.islice(handle, chunk_rows)):
            try:
                values = np.loadtxt(lines, delimiter=",", ndmin=2, dtype=np.float64)
            except ValueError as exc:  # (UnicodeDecodeError included)
                raise ValueError(
                    f"{path!r} is not a numeric CSV table (in lines {line}-"
                    f"{line + len(lines) - 1}): {exc}"
                ) from None
            line += len(lines)
            if values.size == 0:
                continue
            if values.shape[1] != len(names):
                raise ValueError(
                    f"{path!r}: the header has {len(names)} columns, the rows {values.shape[1]}"
                )
            yield _chunk(values, column, keep)
            rows += values.shape[0]
    if rows == 0:
        raise ValueError(f"{path!r} has a header but no rows: a data file needs at least one row")


def _parquet_chunks(
    path: str, chunk_rows: int, target: str | None
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    reader = _pyarrow_parquet().ParquetFile(path)
    names = [str(name) for name in reader.schema_arrow.names]
    column = None if target is None else _column(path, names, target)
    return _parquet_batches(path, reader, names, column, chunk_rows)


def _parquet_batches(
    path: str, reader: Any, names: list[str], column: int | None, chunk_rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    keep = [j for j in range(len(names)) if j != column]
    for batch in reader.iter_batches(batch_size=chunk_rows):
        columns = []
        for name, values in zip(names, batch.columns, strict=True):
            try:
                columns.append(values.to_numpy(zero_copy_only=False).astype(np.float64))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path!r}: column {name!r} is not numeric ({exc})") from None
        yield _chunk(np.column_stack(columns), column, keep)


def _chunk(
    values: np.ndarray, column: int | None, keep: list[int]
) -> tuple[np.ndarray, np.ndarray | None]:
    if column is None:
        return values, None
    return np.ascontiguousarray(values[:, keep]), np.ascontiguousarray(values[:, column])
