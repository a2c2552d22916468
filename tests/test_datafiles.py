"""Data files for the command line: .npy, .csv and .parquet read into X and y."""

import numpy as np
import pytest

from fastlr.datafiles import read_table


def test_csv_without_header_names_columns_by_index(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("1,2,3\n4,5,6\n")
    table = read_table(path, "0")
    np.testing.assert_array_equal(table.X, [[2.0, 3.0], [5.0, 6.0]])
    np.testing.assert_array_equal(table.y, [1.0, 4.0])
    assert (table.features, table.target) == (["1", "2"], "0")


def test_npy_keeps_float32_and_takes_y_from_a_second_file(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", np.arange(4.0))
    table = read_table(tmp_path / "X.npy", str(tmp_path / "y.npy"))
    assert table.X.dtype == np.float32
    np.testing.assert_array_equal(table.X, X)  # all columns: y is elsewhere
    np.testing.assert_array_equal(table.y, np.arange(4.0))
    every = read_table(tmp_path / "X.npy")
    assert every.y is None
    assert every.X.shape == (4, 3)


@pytest.mark.parametrize(
    ("name", "content", "target", "message"),
    [
        ("empty.csv", "", None, "is empty"),
        ("text.csv", "a,b\n1,x\n", None, "is not a numeric CSV table"),
        ("ragged.csv", "a,b,c\n1,2\n", None, "the header has 3 columns, the rows 2"),
        ("cube.npy", np.zeros((2, 2, 2)), None, "needs 2 dimensions"),
        ("objects.npy", np.array([{"a": 1}], dtype=object), None, "as a numeric array"),
        ("short.npy", np.zeros((3, 2)), "{dir}/y.npy", "must be 1-d with one value per row"),
    ],
)
def test_bad_files_are_named(tmp_path, name, content, target, message):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        np.save(path, content, allow_pickle=True)
    np.save(tmp_path / "y.npy", np.zeros(5))
    with pytest.raises(ValueError, match=message):
        read_table(path, None if target is None else target.format(dir=tmp_path))


def _both_readers(path, target):
    """read_table and iter_chunks (consumed) on the same file: both must raise."""
    from fastlr import iter_chunks

    yield lambda: read_table(path, target)
    yield lambda: list(iter_chunks(path, target=target))


@pytest.mark.parametrize(
    ("name", "content", "target", "error", "message"),
    [
        ("zero.npy", b"", None, ValueError, r"cannot read .*zero\.npy.* as a numeric array"),
        ("header_only.csv", b"a,b,c\n", "c", ValueError, "has a header but no rows|no rows"),
        ("na_first.csv", b"1,NA,3\n4,5,9\n", "-1", ValueError, "mixes numbers and other text"),
        ("latin1.csv", b"a,b\n\xff,2\n", "b", ValueError, "UTF-8 CSV|not a numeric CSV"),
    ],
)
def test_empty_and_ambiguous_files_are_named_not_guessed(
    tmp_path, name, content, target, error, message
):
    path = tmp_path / name
    path.write_bytes(content)
    for read in _both_readers(path, target):
        with pytest.raises(error, match=message):
            read()


@pytest.mark.parametrize(
    "values",
    [
        np.arange(6.0).reshape(3, 2) * (1 + 1j),
        np.array([["1.5", "2"], ["3", "4"]]),
        np.arange(4).reshape(2, 2).astype("datetime64[D]"),
    ],
)
def test_npy_of_non_real_numbers_is_refused_by_both_readers(tmp_path, values):
    path = tmp_path / "bad.npy"
    np.save(path, values)
    for read in _both_readers(path, None):
        with pytest.raises(TypeError, match=r"bad\.npy.* holds .*must hold real numbers"):
            read()


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\n1,2\n3,4\n")
    table = read_table(path, "a")
    assert table.features == ["b"]
    np.testing.assert_array_equal(table.y, [1.0, 3.0])
    headerless = tmp_path / "bom_rows.csv"
    headerless.write_bytes(b"\xef\xbb\xbf1,2\n3,4\n")
    assert read_table(headerless, "-1").X.shape == (2, 1)


def test_target_may_be_an_int_index_and_chunk_rows_a_numpy_int(tmp_path):
    from fastlr import iter_chunks

    path = tmp_path / "t.npy"
    np.save(path, np.arange(12.0).reshape(4, 3))
    table = read_table(path, 0)
    np.testing.assert_array_equal(table.y, [0.0, 3.0, 6.0, 9.0])
    chunks = list(iter_chunks(path, chunk_rows=np.int64(3), target=-1))
    assert [X.shape for X, _ in chunks] == [(3, 2), (1, 2)]
