"""The compensated pass (fastlr.kernels.compensated): the data gradient rounded once from its
exact value, on data where the plain pass's rounding shows; the same bits serial, parallel and
out of core; its NumPy twin as accurate; and the refinement that falls back on it."""

import warnings

import numpy as np
import pytest
from naive import exact_gradient

import fastlr
import fastlr.reference
from fastlr import kernels
from fastlr.engines import memory, streaming
from fastlr.engines.numpy import NumpyBackend
from fastlr.kernels.records import Linear, Rows

EPS = np.finfo(np.float64).eps


def cancelling(n, d, k, dtype, weighted, seed=0):
    """Rows far from 0 and targets the model fits to 1e-6: residuals ~1e-6 are differences of
    terms ~1e3, and the gradient's terms cancel as they do near a least-squares solution."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(1e3, 2e3, (n, d)).astype(dtype)
    coef = rng.standard_normal((k, d))
    intercept = rng.standard_normal(k) * 1e3
    Y = X.astype(np.float64) @ coef.T + intercept + 1e-6 * rng.standard_normal((n, k))
    weights = rng.uniform(0.5, 2.0, n) if weighted else None
    return Rows(X, Y, weights), Linear(coef, intercept)


def compensated_sums(rows, model, n_threads):
    total = memory.compensated_sums(rows, model, n_threads)
    return total[:, 0, :-1] + total[:, 1, :-1]  # (k, d + 1), rounded once


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [1, 2])
def test_the_gradient_is_the_exact_one_rounded_where_the_plain_pass_is_not(dtype, weighted, k):
    rows, model = cancelling(100, 4, k, dtype, weighted)
    exact = exact_gradient(rows.X, rows.Y, rows.sample_weight, model.coef, model.intercept)
    got = compensated_sums(rows, model, 1)
    np.testing.assert_allclose(got, exact, rtol=2 * EPS, atol=0)
    # the data do cancel: the plain pass is off in its 9th digit or worse
    plain = np.empty((k, 5))
    memory.FusedBackend(1).loss_gradient(rows, 1.0, model, plain)
    assert np.abs(plain - exact).max() > 1e-9 * np.abs(exact).max()


def test_serial_parallel_and_pieces_that_continue_a_chunk_give_the_same_bits():
    rows, model = cancelling(5000, 6, 2, np.float64, True, seed=1)
    starts = kernels.chunk_starts(5000)
    assert starts.shape[0] > 2  # several chunks
    args = (rows.X, rows.Y, rows.sample_weight, model.coef, model.intercept)
    serial = np.zeros((starts.shape[0] - 1, 2, 2, 8))
    kernels.compensated_parts_serial(*args, starts, serial)
    parallel = np.zeros_like(serial)
    kernels.compensated_parts_parallel(*args, starts, parallel)
    np.testing.assert_array_equal(parallel, serial)
    # chunk 0 in three pieces, each continuing the sums the one before left
    pieces = np.zeros_like(serial[:1])
    for lo, hi in ((0, 7), (7, 300), (300, int(starts[1]))):
        kernels.compensated_parts_serial(*args, np.array([lo, hi]), pieces)
    np.testing.assert_array_equal(pieces[0], serial[0])


@pytest.mark.parametrize("block_bytes", [4_000, 100_000])
def test_out_of_core_gives_the_bits_in_memory_and_numpy_is_as_accurate(tmp_path, block_bytes):
    # 4,000 bytes: each chunk is cut into blocks; 100,000: blocks of whole chunks (2 here)
    rows, model = cancelling(2500, 5, 2, np.float32, True, seed=2)
    np.save(tmp_path / "X.npy", rows.X)
    mapped = Rows(np.load(tmp_path / "X.npy", mmap_mode="r"), rows.Y, rows.sample_weight)
    want = np.empty((2, 6))
    loss = memory.FusedBackend(2).compensated_loss_gradient(rows, 7.0, model, want)
    got = np.empty((2, 6))
    backend = streaming.StreamingBackend(2, block_bytes)
    assert backend.compensated_loss_gradient(mapped, 7.0, model, got) == loss
    np.testing.assert_array_equal(got, want)
    exact = exact_gradient(rows.X, rows.Y, rows.sample_weight, model.coef, model.intercept) / 7.0
    np.testing.assert_allclose(want, exact, rtol=4 * EPS, atol=0)
    twin = np.empty((2, 6))
    twin_loss = NumpyBackend().compensated_loss_gradient(rows, 7.0, model, twin)
    np.testing.assert_allclose(twin, exact, rtol=4 * EPS, atol=0)
    assert twin_loss == pytest.approx(loss, rel=1e-12)


def polynomial(n, seed=3):
    """x to x⁵ for x in [0, 20], as NIST's Wampler problems: refinement needs the compensated
    gradient to reach more than a few digits."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 20.0, n)
    X = np.column_stack([x**p for p in range(1, 6)])
    y = 1.0 + X.sum(axis=1) + 1e-3 * rng.standard_normal(n)
    return X, y


def test_refinement_falls_back_on_the_compensated_gradient_in_memory_and_out_of_core(
    tmp_path, monkeypatch
):
    X, y = polynomial(5_000)
    calls = []
    compensated = memory.FusedBackend.compensated_loss_gradient

    def counted(self, *args):
        calls.append(1)
        return compensated(self, *args)

    monkeypatch.setattr(memory.FusedBackend, "compensated_loss_gradient", counted)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # certified: no warning
        model = fastlr.LinearRegression().fit(X, y)
    assert calls, "the plain gradient was enough: the test no longer exercises the fallback"
    assert model.certified_digits_ >= 12.0
    reference = fastlr.reference.LinearRegression().fit(X, y)
    assert reference.certified_digits_ >= 12.0
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-11)
    assert model.intercept_ == pytest.approx(reference.intercept_, rel=1e-11)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 12_000)
    from_file = fastlr.LinearRegression().fit(str(tmp_path / "X.npy"), str(tmp_path / "y.npy"))
    np.testing.assert_array_equal(from_file.coef_, model.coef_)
    assert from_file.intercept_ == model.intercept_
    assert from_file.certified_digits_ == model.certified_digits_
