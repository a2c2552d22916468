"""Data bigger than memory: generated straight to .npy files, fitted block by block from them."""

import os

import numpy as np
import pytest

import fastlr
from fastlr import _kernels as kernels
from fastlr import cli, datasets, reference


# --------------------------------------------------------------------------- files on disk
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_rows", [1, 7, 1000, 5000, None])
def test_files_are_the_bytes_numpy_saves_whatever_the_chunk_size(tmp_path, dtype, chunk_rows):
    X, y, coef = fastlr.make_regression(1001, 5, noise=0.5, bias=2.0, random_state=4, dtype=dtype)
    np.save(tmp_path / "saved.npy", X)
    np.save(tmp_path / "saved.y.npy", y)
    x_path, y_path, file_coef = fastlr.make_regression(
        1001,
        5,
        noise=0.5,
        bias=2.0,
        random_state=4,
        dtype=dtype,
        out=tmp_path / "data.npy",
        chunk_rows=chunk_rows,
    )
    assert (x_path, y_path) == (str(tmp_path / "data.npy"), str(tmp_path / "data.y.npy"))
    assert (tmp_path / "data.npy").read_bytes() == (tmp_path / "saved.npy").read_bytes()
    assert (tmp_path / "data.y.npy").read_bytes() == (tmp_path / "saved.y.npy").read_bytes()
    np.testing.assert_array_equal(file_coef, coef)
    assert sorted(os.listdir(tmp_path)) == ["data.npy", "data.y.npy", "saved.npy", "saved.y.npy"]


def test_two_chunk_sizes_give_byte_identical_files(tmp_path):
    for name, rows in (("a", 3), ("b", 64)):
        fastlr.make_regression(
            500, 9, noise=1.0, random_state=1, out=tmp_path / name, chunk_rows=rows
        )
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()
    assert (tmp_path / "a.y.npy").read_bytes() == (tmp_path / "b.y.npy").read_bytes()


@pytest.mark.parametrize("first_row", [0, 1, 17, 999])
def test_a_block_of_rows_is_the_same_rows_of_the_reference(first_row):
    n, d, rows = 1200, 5, 150
    X_ref, y_ref, _ = reference.make_regression(n, d, noise=1.5, bias=1.0, random_state=8)
    spec = fastlr._random.regression_spec(n, d, 1.5, 1.0, 8, np.float64)
    rows = min(rows, n - first_row)
    X, y = np.empty((rows, d)), np.empty(rows)
    kernels.fill_regression(
        X, y, spec.coef, spec.bias, spec.noise, spec.key_x, spec.key_noise, first_row
    )
    np.testing.assert_allclose(X, X_ref[first_row : first_row + rows], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, y_ref[first_row : first_row + rows], rtol=1e-12, atol=1e-9)


def test_paths_follow_numpy_save(tmp_path):
    assert datasets.regression_paths(tmp_path / "run") == (
        str(tmp_path / "run.npy"),
        str(tmp_path / "run.y.npy"),
    )
    with pytest.raises(TypeError, match="out must be a str"):
        datasets.regression_paths(b"bytes.npy")  # type: ignore[arg-type]


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    calls = []

    def failing(spec, X, y, first_row):
        calls.append(first_row)
        if len(calls) == 2:
            raise MemoryError("simulated")
        X[...] = 0.0
        y[...] = 0.0

    monkeypatch.setattr(datasets, "_fill", failing)
    with pytest.raises(MemoryError, match="simulated"):
        fastlr.make_regression(100, 3, random_state=0, out=tmp_path / "data.npy", chunk_rows=10)
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        fastlr.make_regression(10, 3, random_state=0, out=tmp_path / "missing" / "data.npy")


def test_progress_lines_when_not_a_terminal(tmp_path, capsys):
    fastlr.make_regression(
        2000, 4, random_state=0, out=tmp_path / "data.npy", chunk_rows=100, verbose=1
    )
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10
    assert lines[-1].startswith("data.npy: 0.1/0.1 MiB (100%)")


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="chunk_rows must be an int >= 1"):
        fastlr.make_regression(10, 2, out=tmp_path / "x.npy", chunk_rows=0)
    with pytest.raises(ValueError, match="verbose must be an int >= 0"):
        fastlr.make_regression(10, 2, out=tmp_path / "x.npy", verbose=-1)


def test_generate_command_writes_the_files_and_says_how_to_train(tmp_path, capsys):
    out = tmp_path / "data.npy"
    status = cli.main(
        ["generate", str(out), "--n-samples", "3000", "--n-features", "4", "--seed", "2", "--quiet"]
    )
    printed = capsys.readouterr()
    assert status == 0
    assert printed.err == ""
    assert f"to {out} and y to {tmp_path / 'data.y.npy'}" in printed.out
    assert f"fastlr train {out} --target {tmp_path / 'data.y.npy'}" in printed.out
    X, y, _ = fastlr.make_regression(3000, 4, noise=1.0, bias=3.0, random_state=2)
    np.testing.assert_array_equal(np.load(out), X)
    np.testing.assert_array_equal(np.load(tmp_path / "data.y.npy"), y)
