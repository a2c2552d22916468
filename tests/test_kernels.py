"""Every kernel against its NumPy twin in fastlr.reference, on random shapes, dtypes and sizes.

Sizes straddle the chunk layout (1, 2, prime sizes, several chunks of MIN_CHUNK_ROWS rows) and
the parallel kernels must give the serial kernels' bits exactly.
"""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastlr import _kernels as kernels
from fastlr import reference
from fastlr._loop import RowOrder

DTYPES = [np.float32, np.float64]

sizes = st.one_of(
    st.integers(1, 40),
    st.integers(kernels.MIN_CHUNK_ROWS - 3, 5 * kernels.MIN_CHUNK_ROWS + 7),
)


def problem(seed, n, d, dtype, scale=1.0):
    rng = np.random.default_rng(seed)
    X = (scale * rng.standard_normal((n, d))).astype(dtype)
    y = (X.astype(np.float64) @ rng.standard_normal(d) + rng.standard_normal(n)).astype(dtype)
    return X, y, rng.standard_normal(d), float(rng.standard_normal())


def assert_close(actual, expected, rtol=1e-11):
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


@given(seed=st.integers(0, 2**32 - 1), n=sizes, d=st.integers(1, 33), dtype=st.sampled_from(DTYPES))
def test_fused_pass_matches_reference_and_parallel_matches_serial(seed, n, d, dtype):
    X, y, coef, intercept = problem(seed, n, d, dtype)
    grad_serial, grad_parallel = np.empty(d), np.empty(d)
    loss_s, gb_s = kernels.fused_pass_serial(X, y, coef, intercept, grad_serial)
    loss_p, gb_p = kernels.fused_pass_parallel(X, y, coef, intercept, grad_parallel)
    loss, grad, grad_b = reference.loss_and_gradient(X, y, coef, intercept)
    assert_close(loss_s, loss)
    assert_close(grad_serial, grad)
    assert_close(gb_s, grad_b)
    assert (loss_p, gb_p) == (loss_s, gb_s)
    np.testing.assert_array_equal(grad_parallel, grad_serial)


@pytest.mark.parametrize("n_threads", [1, 2, 3, 4])
def test_fused_pass_bits_do_not_depend_on_thread_count(n_threads):
    import numba

    X, y, coef, intercept = problem(7, 10 * kernels.MIN_CHUNK_ROWS + 5, 9, np.float64)
    expected_grad = np.empty(9)
    expected = kernels.fused_pass_serial(X, y, coef, intercept, expected_grad)
    grad = np.empty(9)
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        result = kernels.fused_pass_parallel(X, y, coef, intercept, grad)
    finally:
        numba.set_num_threads(previous)
    assert result == expected
    np.testing.assert_array_equal(grad, expected_grad)


def test_chunk_layout_depends_on_rows_only():
    assert kernels.n_chunks(1) == 1
    assert kernels.n_chunks(kernels.MIN_CHUNK_ROWS * 3 + 1) == 3
    assert kernels.n_chunks(10**9) == kernels.MAX_CHUNKS


def options(seed, n, d, k, dtype, weighted, standardized):
    """A multi-output problem with the optional inputs the epoch kernels take (or None)."""
    rng = np.random.default_rng(seed)
    X = (3 * rng.standard_normal((n, d)) + 2).astype(dtype)
    Y = (X.astype(np.float64) @ rng.standard_normal((d, k)) + rng.standard_normal((n, k))).astype(
        dtype
    )
    weights = rng.random(n) * 2 if weighted else None
    shift = X.astype(np.float64).mean(axis=0) if standardized else None
    scale = 1 / (X.astype(np.float64).std(axis=0) + 1) if standardized else None
    coef = rng.standard_normal((k, d))
    intercept = rng.standard_normal(k)
    return X, Y, weights, shift, scale, coef, intercept


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 300),
    d=st.integers(1, 12),
    k=st.integers(1, 3),
    dtype=st.sampled_from(DTYPES),
    shuffled=st.booleans(),
    fit_intercept=st.booleans(),
    weighted=st.booleans(),
    standardized=st.booleans(),
    penalty=st.sampled_from(["none", "l2", "l1", "elasticnet"]),
    averaged=st.booleans(),
    split=st.floats(0, 1),
)
def test_sgd_epoch_matches_reference(
    seed, n, d, k, dtype, shuffled, fit_intercept, weighted, standardized, penalty, averaged, split
):
    X, Y, weights, shift, scale, coef, intercept = options(
        seed, n, d, k, dtype, weighted, standardized
    )
    order = RowOrder(n, shuffled, seed).next()
    decay = 1 - 0.01 * 0.3 if penalty in ("l2", "elasticnet") else 1.0
    l1_step = 0.01 * 0.2 if penalty in ("l1", "elasticnet") else 0.0
    results = []
    for module in (reference, kernels):
        c, b = coef.copy(), intercept.copy()
        state = np.zeros(k * d + 1) if l1_step else None
        average = np.zeros((k, d + 2)) if averaged else None
        middle = int(split * n)  # an epoch run in two calls, as the solvers slice it
        total = 0.0
        for lo, hi in ((0, middle), (middle, n)):
            total += module.sgd_epoch(
                X,
                Y,
                weights,
                c,
                b,
                0.01,
                order,
                lo,
                hi,
                fit_intercept,
                shift,
                scale,
                decay,
                l1_step,
                state,
                average,
            )
        results.append((total, c, b, state, average))
    (loss_r, c_r, b_r, s_r, a_r), (loss_k, c_k, b_k, s_k, a_k) = results
    assert_close(loss_k, loss_r, rtol=1e-9)
    assert_close(c_k, c_r, rtol=1e-9)
    assert_close(b_k, b_r, rtol=1e-9)
    if s_r is not None:
        assert_close(s_k, s_r, rtol=1e-9)
    if a_r is not None:
        assert_close(a_k, a_r, rtol=1e-9)
    if not fit_intercept:
        assert (b_k == intercept).all()


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 600),
    d=st.integers(1, 12),
    k=st.integers(1, 3),
    batch_size=st.integers(1, 700),
    dtype=st.sampled_from(DTYPES),
    shuffled=st.booleans(),
    fit_intercept=st.booleans(),
    weighted=st.booleans(),
    standardized=st.booleans(),
    momentum=st.sampled_from([0.0, 0.9]),
    nesterov=st.booleans(),
    l2=st.sampled_from([0.0, 0.1]),
    l1=st.sampled_from([0.0, 0.05]),
    averaged=st.booleans(),
)
def test_minibatch_epoch_matches_reference(
    seed,
    n,
    d,
    k,
    batch_size,
    dtype,
    shuffled,
    fit_intercept,
    weighted,
    standardized,
    momentum,
    nesterov,
    l2,
    l1,
    averaged,
):
    X, Y, weights, shift, scale, coef, intercept = options(
        seed, n, d, k, dtype, weighted, standardized
    )
    order = RowOrder(n, shuffled, seed).next()
    results = []
    for module in (reference, kernels):
        c, b = coef.copy(), intercept.copy()
        velocity = np.full((k, d + 1), 0.1)
        average = np.zeros((k, d + 2)) if averaged else None
        total = module.minibatch_epoch(
            X,
            Y,
            weights,
            c,
            b,
            0.02,
            order,
            0,
            n,
            batch_size,
            fit_intercept,
            shift,
            scale,
            l2,
            l1,
            momentum,
            nesterov and momentum > 0,
            velocity,
            average,
        )
        results.append((total, c, b, velocity, average))
    for actual, expected in zip(results[1], results[0], strict=False):
        if expected is not None:
            assert_close(actual, expected, rtol=1e-9)


@given(
    seed=st.integers(0, 2**32 - 1),
    n=sizes,
    d=st.integers(1, 12),
    k=st.integers(1, 3),
    dtype=st.sampled_from(DTYPES),
    weighted=st.booleans(),
)
def test_weighted_multi_output_pass_matches_reference(seed, n, d, k, dtype, weighted):
    X, Y, weights, _, _, coef, intercept = options(seed, n, d, k, dtype, weighted, False)
    total = float(n if weights is None else weights.sum())
    expected_grad = np.empty((k, d + 1))
    expected = reference.NumpyBackend().loss_gradient(
        X, Y, weights, total, coef, intercept, expected_grad
    )
    for kernel in (kernels.fused_pass_multi_serial, kernels.fused_pass_multi_parallel):
        grad = np.empty((k, d + 1))
        loss = kernel(X, Y, weights, coef, intercept, total, grad)
        assert_close(loss, expected, rtol=1e-10)
        assert_close(grad, expected_grad, rtol=1e-10)
    if k == 1:  # the one-output pass, generic and unrolled for narrow rows
        for params in (coef[0], tuple(coef[0].tolist())):
            for kernel in (
                kernels.fused_pass_weighted_serial,
                kernels.fused_pass_weighted_parallel,
            ):
                grad = np.empty(d)
                loss, grad_b = kernel(X, Y[:, 0], weights, params, intercept[0], total, grad)
                assert_close(loss, expected, rtol=1e-10)
                assert_close(grad, expected_grad[0, :d], rtol=1e-10)
                assert_close(grad_b, expected_grad[0, d], rtol=1e-10)


@given(
    seed=st.integers(0, 2**32 - 1),
    d=st.integers(1, 8),
    k=st.integers(1, 3),
    momentum=st.sampled_from([0.0, 0.5]),
    nesterov=st.booleans(),
    l2=st.sampled_from([0.0, 0.1]),
    l1=st.sampled_from([0.0, 0.3]),
    fit_intercept=st.booleans(),
)
def test_update_rule_matches_reference(seed, d, k, momentum, nesterov, l2, l1, fit_intercept):
    rng = np.random.default_rng(seed)
    coef, intercept = rng.standard_normal((k, d)), rng.standard_normal(k)
    grad, velocity = rng.standard_normal((k, d + 1)), rng.standard_normal((k, d + 1))
    outputs = []
    for update in (reference.update_parameters, kernels.update_parameters):
        c, b, v = coef.copy(), intercept.copy(), velocity.copy()
        update(c, b, grad, 0.3, l2, l1, momentum, nesterov and momentum > 0, v, fit_intercept)
        outputs.append((c, b, v))
    for actual, expected in zip(*outputs[::-1], strict=False):
        assert_close(actual, expected, rtol=1e-12)


@given(seed=st.integers(0, 2**32 - 1), n=sizes, d=st.integers(1, 9), weighted=st.booleans())
def test_column_moments_and_row_norms_match_reference(seed, n, d, weighted):
    from fastlr._solvers import FusedBackend
    from fastlr._training import Scaling

    X, Y, weights, shift, scale, _, _ = options(seed, n, d, 1, np.float64, weighted, True)
    fused, numpy = FusedBackend(2), reference.NumpyBackend()
    for gram in (False, True):
        got, want = fused.moments(X, Y, weights, gram), numpy.moments(X, Y, weights, gram)
        assert_close(got.x_mean, want.x_mean, rtol=1e-10)
        assert_close(got.x_var, want.x_var, rtol=1e-8)
        if gram:
            assert_close(got.xx, want.xx, rtol=1e-9)
            assert_close(got.xy, want.xy, rtol=1e-9)
            assert_close(got.yy, want.yy, rtol=1e-9)
    scaling = Scaling(shift, scale)
    assert_close(
        fused.row_norm_bounds(X, weights, scaling, True),
        numpy.row_norm_bounds(X, weights, scaling, True),
        rtol=1e-10,
    )


@given(seed=st.integers(0, 2**32 - 1), n=sizes, d=st.integers(1, 20), dtype=st.sampled_from(DTYPES))
def test_predict_matches_reference_in_the_input_dtype(seed, n, d, dtype):
    X, _, coef, intercept = problem(seed, n, d, dtype)
    serial, parallel = np.empty(n, dtype), np.empty(n, dtype)
    kernels.predict_serial(X, coef, intercept, serial)
    kernels.predict_parallel(X, coef, intercept, parallel)
    expected = reference.predict(X, coef, intercept)
    np.testing.assert_array_equal(parallel, serial)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(serial, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@given(
    n=st.integers(1, 3000),
    d=st.integers(1, 9),
    noise=st.sampled_from([0.0, 2.5]),
    seed=st.integers(0, 2**63),
    dtype=st.sampled_from(DTYPES),
)
def test_fill_regression_matches_reference_generator(n, d, noise, seed, dtype):
    import fastlr

    X, y, coef = fastlr.make_regression(n, d, noise=noise, bias=1.5, random_state=seed, dtype=dtype)
    X_ref, y_ref, coef_ref = reference.make_regression(
        n, d, noise=noise, bias=1.5, random_state=seed, dtype=dtype
    )
    np.testing.assert_array_equal(coef, coef_ref)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(X, X_ref, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(y, y_ref, rtol=rtol, atol=rtol * max(1.0, np.abs(y_ref).max()))


@pytest.mark.skipif(
    os.environ.get("NUMBA_BOUNDSCHECK") != "1", reason="only meaningful with NUMBA_BOUNDSCHECK=1"
)
def test_boundscheck_run_really_checks_bounds():
    # CI runs the suite a second time with NUMBA_BOUNDSCHECK=1; prove the kernels were rebuilt so.
    X, y, coef, intercept = problem(0, 10, 4, np.float64)
    with pytest.raises(IndexError):
        kernels.sgd_epoch(
            X,
            y.reshape(-1, 1),
            None,
            coef[None, :].copy(),
            np.array([intercept]),
            0.1,
            np.empty(0, np.uint64),
            0,
            X.shape[0],
            True,
            np.zeros(3),  # one shift and scale short of the 4 features: reads past the end
            np.ones(3),
            1.0,
            0.0,
            None,
            None,
        )


@pytest.mark.parametrize("d", range(1, kernels.NARROW_MAX_FEATURES + 1))
@pytest.mark.parametrize("dtype", DTYPES)
def test_unrolled_narrow_rows_give_the_generic_kernels_results(d, dtype):
    n = 3 * kernels.MIN_CHUNK_ROWS + 17
    X, y, coef, intercept = problem(d, n, d, dtype)
    expected_grad = np.empty(d)
    expected = kernels.fused_pass_serial(X, y, coef, intercept, expected_grad)
    for kernel in (kernels.fused_pass_serial, kernels.fused_pass_parallel):
        grad = np.empty(d)
        loss, grad_b = kernel(X, y, tuple(coef.tolist()), intercept, grad)
        assert_close(loss, expected[0], rtol=1e-12)
        assert_close(grad_b, expected[1], rtol=1e-12)
        assert_close(grad, expected_grad, rtol=1e-12)
    reference_loss, reference_grad, _ = reference.loss_and_gradient(X, y, coef, intercept)
    assert_close(loss, reference_loss)
    assert_close(grad, reference_grad)


@given(
    n=st.one_of(
        st.integers(1, 3000), st.sampled_from([2**k + e for k in range(1, 14) for e in (-1, 0, 1)])
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_shuffled_epochs_visit_every_row_once_in_the_references_order(n, seed):
    shuffle = RowOrder(n, True, seed).next()
    visited = np.empty(n, dtype=np.uint64)
    kernels.epoch_row_order(n, shuffle, visited)
    np.testing.assert_array_equal(np.sort(visited), np.arange(n))  # a permutation
    np.testing.assert_array_equal(visited, reference.row_order(n, shuffle))
    kernels.epoch_row_order(n, np.empty(0, np.uint64), visited)
    np.testing.assert_array_equal(visited, np.arange(n))


def test_shuffles_differ_between_epochs_and_look_random():
    rows = RowOrder(10_000, True, 0)
    first, second = (
        reference.row_order(10_000, rows.next()),
        reference.row_order(10_000, rows.next()),
    )
    assert not np.array_equal(first, second)
    # A random permutation keeps almost no row in place and decorrelates position and row.
    assert np.sum(first == np.arange(10_000)) < 10
    assert abs(np.corrcoef(first, np.arange(10_000))[0, 1]) < 0.05
    assert abs(np.corrcoef(first[:-1], first[1:])[0, 1]) < 0.05
