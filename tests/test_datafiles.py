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
