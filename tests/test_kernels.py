"""Every kernel against its NumPy twin in fastlr.reference, on random shapes, dtypes and sizes.

Sizes straddle the chunk layout (1, 2, prime sizes, several chunks of MIN_CHUNK_ROWS rows) and
the parallel kernels must give the serial kernels' bits exactly.
"""

import math
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastlr
from fastlr import _reference_normals as reference_normals
from fastlr import kernels, reference
from fastlr._random import regression_spec
from fastlr.kernels import generate as _generate
from fastlr.kernels.records import Iterate, Linear, Momentum, Penalty, Rows, Scaling
from fastlr.training.loop import RowOrder

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
    l2 = 0.3 if penalty in ("l2", "elasticnet") else 0.0
    l1 = 0.2 if penalty in ("l1", "elasticnet") else 0.0
    rows, scaling = Rows(X, Y, weights), Scaling(shift, scale)
    results = []
    for module in (reference, kernels):
        c, b = coef.copy(), intercept.copy()
        state = np.zeros(k * d + 1) if l1 else None
        average = np.zeros((k, d + 2)) if averaged else None
        middle = int(split * n)  # an epoch run in two calls, as the solvers slice it
        total = 0.0
        for lo, hi in ((0, middle), (middle, n)):
            iterate = Iterate(c, b, np.zeros((k, d + 1)), state, average)
            total += module.sgd_epoch(
                rows, iterate, 0.01, order, lo, hi, fit_intercept, scaling, Penalty(l2, l1)
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


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("features_past_the_split", [0, 1, 37])
def test_sgd_epoch_over_rows_prefetched_in_halves_matches_reference(dtype, features_past_the_split):
    """Rows of SPLIT_PREFETCH_ROW_BYTES or more are prefetched in two halves (the hypothesis
    test above stays below 12 features): the same updates, shuffled, averaged, standardized."""
    d = kernels.layout.SPLIT_PREFETCH_ROW_BYTES // np.dtype(dtype).itemsize
    d += features_past_the_split
    n = 700
    X, Y, _, shift, scale, coef, intercept = options(3, n, d, 1, dtype, False, True)
    order = RowOrder(n, True, 5).next()
    results = []
    for module in (reference, kernels):
        c, b, average = coef.copy(), intercept.copy(), np.zeros((1, d + 2))
        iterate = Iterate(c, b, np.zeros((1, d + 1)), None, average)
        loss = module.sgd_epoch(
            Rows(X, Y, None), iterate, 1e-4, order, 0, n, True, Scaling(shift, scale),
            Penalty(0.0, 0.0),
        )  # fmt: skip
        results.append((loss, c, b, average))
    for kernel, twin in zip(results[1], results[0], strict=True):
        assert_close(kernel, twin, rtol=1e-9)


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
            Rows(X, Y, weights),
            Iterate(c, b, velocity, None, average),
            0.02,
            order,
            0,
            n,
            batch_size,
            fit_intercept,
            Scaling(shift, scale),
            Penalty(l2, l1),
            Momentum(momentum, nesterov and momentum > 0),
        )
        results.append((total, c, b, velocity, average))
    for actual, expected in zip(results[1], results[0], strict=False):
        if expected is not None:
            assert_close(actual, expected, rtol=1e-9)


@given(
    seed=st.integers(0, 2**32 - 1),
    n=sizes,
    d=st.integers(1, 33),  # float32 rows of 8+ features: vectors of 8, 16 a step, a masked tail
    k=st.integers(1, 9),  # groups of four outputs and the one-output rest
    dtype=st.sampled_from(DTYPES),
    weighted=st.booleans(),
)
def test_weighted_multi_output_pass_matches_reference(seed, n, d, k, dtype, weighted):
    X, Y, weights, _, _, coef, intercept = options(seed, n, d, k, dtype, weighted, False)
    total = float(n if weights is None else weights.sum())
    expected_grad = np.empty((k, d + 1))
    expected = reference.NumpyBackend().loss_gradient(
        Rows(X, Y, weights), total, Linear(coef, intercept), expected_grad
    )
    for kernel in (kernels.fused_pass_multi_serial, kernels.fused_pass_multi_parallel):
        grad = np.empty((k, d + 1))
        loss = kernel(X, Y, weights, coef, intercept, total, grad)
        assert_close(loss, expected, rtol=1e-10)
        assert_close(grad, expected_grad, rtol=1e-10)
    if k == 1:  # the one-output pass
        passes = kernels.row_passes(X.dtype, d)
        for params in (coef[0],):
            for kernel in (passes.pass_serial, passes.pass_parallel):
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
        rule = Momentum(momentum, nesterov and momentum > 0)
        update(Iterate(c, b, v, None, None), grad, 0.3, Penalty(l2, l1), rule, fit_intercept)
        outputs.append((c, b, v))
    for actual, expected in zip(*outputs[::-1], strict=False):
        assert_close(actual, expected, rtol=1e-12)


@given(seed=st.integers(0, 2**32 - 1), n=sizes, d=st.integers(1, 9), weighted=st.booleans())
def test_column_moments_and_row_norms_match_reference(seed, n, d, weighted):
    from fastlr.engines.memory import FusedBackend

    X, Y, weights, shift, scale, _, _ = options(seed, n, d, 1, np.float64, weighted, True)
    fused, numpy, rows = FusedBackend(2), reference.NumpyBackend(), Rows(X, Y, weights)
    for gram in (False, True):
        got, want = fused.moments(rows, gram), numpy.moments(rows, gram)
        assert_close(got.x_mean, want.x_mean, rtol=1e-10)
        assert_close(got.x_var, want.x_var, rtol=1e-8)
        if gram:
            assert_close(got.xx, want.xx, rtol=1e-9)
            assert_close(got.xy, want.xy, rtol=1e-9)
            assert_close(got.yy, want.yy, rtol=1e-9)
    scaling = Scaling(shift, scale)
    assert_close(
        fused.row_norm_bounds(rows, scaling, True),
        numpy.row_norm_bounds(rows, scaling, True),
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


def _generated(n, d, noise, seed, dtype, first_row=0):
    spec = regression_spec(n, d, noise, 1.5, seed, dtype)
    X, y = np.empty((n, d), dtype=dtype), np.empty(n, dtype=dtype)
    _generate.fill_regression(
        X, y, spec.coef, spec.bias, spec.noise, spec.key_x, spec.key_noise, first_row
    )
    return X, y, spec


# Row counts off every block boundary (BLOCK_ROWS rows per parallel block) and widths off the
# vector width; several blocks so that the parallel loop really splits.
generated_rows = st.one_of(
    st.integers(1, 200),
    st.sampled_from(
        [k * _generate.BLOCK_ROWS + e for k in (1, 2, 7, 33) for e in (-1, 1, 5)] + [3001]
    ),
)


@given(
    n=generated_rows,
    d=st.integers(1, 67),
    noise=st.sampled_from([0.0, 2.5]),
    seed=st.integers(0, 2**63),
    dtype=st.sampled_from(DTYPES),
)
def test_fill_regression_matches_reference_generator(n, d, noise, seed, dtype):
    X, y, spec = _generated(n, d, noise, seed, dtype)
    X_ref, y_ref, coef_ref = reference.make_regression(
        n, d, noise=noise, bias=1.5, random_state=seed, dtype=dtype
    )
    np.testing.assert_array_equal(spec.coef, coef_ref)
    assert X.dtype == X_ref.dtype == dtype
    np.testing.assert_array_equal(X, X_ref)  # bit for bit: the same draws, the same ziggurat
    # y: the kernel sums a row in its own order (and may fuse the noise term), NumPy by a BLAS
    # matrix product.
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, y_ref, rtol=rtol, atol=rtol * max(1.0, np.abs(y_ref).max()))


@given(
    n=st.integers(1, 300),
    d=st.integers(1, 40),
    first_row=st.one_of(st.integers(0, 10_000), st.integers(0, 2**40)),
    seed=st.integers(0, 2**63),
    dtype=st.sampled_from(DTYPES),
)
def test_generated_rows_far_into_the_stream_match_the_reference_and_the_serial_fill(
    n, d, first_row, seed, dtype
):
    X, _, spec = _generated(n, d, 0.0, seed, dtype, first_row)
    counters = np.arange(first_row * d, (first_row + n) * d, dtype=np.uint64)
    expected = reference_normals.normals(spec.key_x, counters).reshape(n, d).astype(dtype)
    np.testing.assert_array_equal(X, expected)
    serial = np.empty_like(X)
    _generate.fill_normal(serial, spec.key_x, first_row)
    np.testing.assert_array_equal(serial, X)


def test_generator_rare_paths_match_the_reference_bit_for_bit():
    # 400,000 values: about 6,000 go through the wedges and about 100 through the tail.
    key = np.uint64(0x0123456789ABCDEF)
    X = np.empty((4000, 100))
    _generate.fill_normal(X, key, 0)
    counters = np.arange(X.size, dtype=np.uint64)
    expected = reference_normals.normals(key, counters)
    assert X.tobytes() == expected.tobytes()
    draws = reference_normals.draws(key, counters)
    layer = (draws & np.uint64(0xFF)).astype(np.intp)
    rejected = np.flatnonzero((draws >> np.uint64(12)) >= _generate._INNER[layer])
    assert 5000 < rejected.size < 7000
    assert np.sum(np.abs(expected) > _generate.R) > 50  # the tail was reached
    # The scalar generator (the noise of y) gives the same values, on both paths.
    for k in [*rejected[:300].tolist(), *range(50)]:
        assert _generate.normal(key, np.uint64(k)) == expected[k]


def test_generator_ziggurat_tables_are_the_references_and_have_equal_areas():
    widths, inner, heights = _generate.ziggurat_tables()
    edges = widths[:256] * 2.0**52
    np.testing.assert_array_equal(widths[256:], -widths[:256])
    np.testing.assert_array_equal(edges, reference_normals._EDGES)
    np.testing.assert_array_equal(inner, reference_normals._INNER)
    np.testing.assert_array_equal(heights, reference_normals._HEIGHTS)
    # Layers 1..255 (and the base strip with its tail) all have the area V ...
    areas = edges[1:] * (heights[:-1] - heights[1:])
    np.testing.assert_allclose(areas, _generate.V, rtol=1e-8)
    assert edges[0] * heights[255] == pytest.approx(_generate.V, rel=1e-14)
    tail = math.sqrt(math.pi / 2) * math.erfc(_generate.R / math.sqrt(2))
    assert (edges[0] - _generate.R) * heights[255] == pytest.approx(tail, rel=1e-9)
    # ... and the inner bounds are the next layer's edge over this one's, in 2**52ths.
    np.testing.assert_array_equal(np.diff(edges[1:]) > 0, True)
    assert inner[1] == 0
    np.testing.assert_allclose(inner[2:] / 2.0**52, edges[1:-1] / edges[2:], rtol=1e-15)


@pytest.mark.skipif(
    os.environ.get("NUMBA_BOUNDSCHECK") != "1", reason="only meaningful with NUMBA_BOUNDSCHECK=1"
)
def test_boundscheck_run_really_checks_bounds():
    # CI runs the suite a second time with NUMBA_BOUNDSCHECK=1; prove the kernels were rebuilt so.
    X, y, coef, intercept = problem(0, 10, 4, np.float64)
    with pytest.raises(IndexError):
        kernels.sgd_epoch(
            Rows(X, y.reshape(-1, 1), None),
            Iterate(coef[None, :].copy(), np.array([intercept]), np.zeros((1, 5)), None, None),
            0.1,
            np.empty(0, np.uint64),
            0,
            X.shape[0],
            True,
            # one shift and scale short of the 4 features: reads past the end
            Scaling(np.zeros(3), np.ones(3)),
            Penalty(0.0, 0.0),
        )


@pytest.mark.parametrize("d", [1, 3, 5, 8, 13])
@pytest.mark.parametrize("extra_rows", range(kernels.ROWS_PER_STEP))
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_row_of_a_span_is_summed_whatever_its_length_mod_the_row_step(d, extra_rows, dtype):
    # the pass takes ROWS_PER_STEP rows at a time, then the last rows of each chunk one by one
    n = 3 * kernels.MIN_CHUNK_ROWS + kernels.ROWS_PER_STEP * 5 + extra_rows
    X, y, coef, intercept = problem(d, n, d, dtype)
    expected_grad = np.empty(d)
    expected = kernels.fused_pass_serial(X, y, coef, intercept, expected_grad)
    grad = np.empty(d)
    loss, grad_b = kernels.fused_pass_parallel(X, y, coef, intercept, grad)
    assert (loss, grad_b) == expected
    np.testing.assert_array_equal(grad, expected_grad)
    reference_loss, reference_grad, reference_b = reference.loss_and_gradient(X, y, coef, intercept)
    assert_close(loss, reference_loss)
    assert_close(grad, reference_grad)
    assert_close(grad_b, reference_b)
    small = kernels.fused_pass_serial(
        X[: extra_rows + 1], y[: extra_rows + 1], coef, intercept, grad
    )
    assert_close(
        small[0],
        reference.loss_and_gradient(X[: extra_rows + 1], y[: extra_rows + 1], coef, intercept)[0],
    )


@pytest.mark.parametrize(
    ("cpu", "prefetches"),
    [("znver5", True), ("znver4", True), ("emeraldrapids", False), ("generic", False)],
)
def test_float64_rows_are_prefetched_on_the_cpus_where_it_was_measured_to_pay(cpu, prefetches):
    # measured faster on AMD's Zen 5 and slower on Intel's Xeon (fastlr.kernels.passes); any
    # other name, a portable "generic" cache included, keeps the Intel choice
    from fastlr.kernels.passes import _prefetches_float64

    assert _prefetches_float64(cpu) is prefetches


@pytest.mark.parametrize(
    ("cpu", "vectors"),
    [("znver5", False), ("znver4", False), ("rocketlake", True), ("generic", True)],
)
def test_float64_rows_take_the_vector_steps_on_the_cpus_where_it_was_measured_to_pay(cpu, vectors):
    # measured slower on AMD's Zen 5 and faster on Intel's Xeon (fastlr.kernels.passes); any
    # other name, a portable "generic" cache included, keeps the Intel choice
    from fastlr.kernels.passes import _vectors_float64

    assert _vectors_float64(cpu) is vectors


@pytest.mark.parametrize(
    ("d", "weighted"),
    [
        *((d, False) for d in [*range(1, kernels.NARROW_MAX + 2), 16, 17, 50]),
        *((d, True) for d in [1, 5, 7, 8, 17]),  # weights scale terms; the order is the same
    ],
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_narrow_and_vector_rows_keep_their_bits_in_every_compilation(d, dtype, weighted):
    # the narrow pass (kernels.narrow) vectorizes across rows, the 4-row step of wider float32
    # rows is explicit vectors (kernels.row_vectors); their sums must not depend on how LLVM
    # vectorized one compilation: the parallel kernel, and a read-only X, typed (and compiled)
    # apart. (Each width is a kernel of its own: 3 compilations each, to keep the suite short.)
    n = kernels.MIN_CHUNK_ROWS * 3 + kernels.LANES * 2 + 5
    X, y, coef, intercept = problem(d + 100, n, d, dtype)
    w = np.random.default_rng(d).uniform(0.5, 2.0, n) if weighted else None
    frozen_X, frozen_y = X.copy(), y.copy()
    frozen_X.flags.writeable = frozen_y.flags.writeable = False
    results = []
    passes = kernels.row_passes(X.dtype, d)
    for kernel, rows, targets in (
        (passes.pass_serial, X, y),
        (passes.pass_parallel, X, y),
        (passes.pass_serial, frozen_X, frozen_y),
    ):
        grad = np.empty(d)
        results.append((*kernel(rows, targets, w, coef, intercept, 1.0, grad), grad))
    for loss, grad_b, grad in results[1:]:
        assert (loss, grad_b) == results[0][:2]
        np.testing.assert_array_equal(grad, results[0][2])
    weights = np.ones(n) if w is None else w
    r = X.astype(np.float64) @ coef + intercept - y
    assert_close(results[0][0], 0.5 * np.sum(weights * r * r))
    assert_close(results[0][1], np.sum(weights * r))
    assert_close(results[0][2], X.T.astype(np.float64) @ (weights * r))


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


def _gram_states(n, d, k, per_group, block_rows):
    groups = math.ceil(math.ceil(n / block_rows) / per_group)
    width = math.ceil((d + k) / kernels.GRAM_STEP) * kernels.GRAM_STEP
    return np.zeros(groups), np.zeros((groups, d + k)), np.zeros((groups, width, width))


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 300),
    d=st.integers(1, 20),  # widths under, at and past one and two 8 x 8 blocks of the copy
    k=st.integers(1, 3),
    dtype=st.sampled_from(DTYPES),
    weighted=st.booleans(),
    block_rows=st.integers(1, 40),
    per_group=st.integers(1, 4),
    split=st.floats(0, 1),
)
def test_gram_fold_matches_reference(seed, n, d, k, dtype, weighted, block_rows, per_group, split):
    from fastlr.engines import numpy as numpy_engine

    X, Y, weights, _, _, _, _ = options(seed, n, d, k, dtype, weighted, False)
    X = X + 1e3  # a large mean: the centering is what keeps the products accurate
    m = d + k
    states = {}
    for name, fold in (
        ("twin", numpy_engine.fold_blocks),
        ("serial", kernels.fold_blocks_serial),
        ("parallel", kernels.fold_blocks_parallel),
    ):
        states[name] = _gram_states(n, d, k, per_group, block_rows)
        fold(X, Y, weights, 0, block_rows, per_group, *states[name])
    # In two pieces, the first a whole number of blocks (as out of core): the same bits.
    cut = min(n, int(split * n) // block_rows * block_rows)
    states["pieces"] = _gram_states(n, d, k, per_group, block_rows)
    for start, stop in ((0, cut), (cut, n)):
        if stop > start:
            w = None if weights is None else weights[start:stop]
            kernels.fold_blocks_serial(
                X[start:stop], Y[start:stop], w, start, block_rows, per_group, *states["pieces"]
            )
    W_t, mean_t, G_t = kernels.reduce_groups(*states["twin"])
    W_s, mean_s, G_s = kernels.reduce_groups(*states["serial"])
    upper = np.triu_indices(m)
    # Where the products about the means are all rounding residue (one row: exactly 0, or 4e-28
    # by the twin's rounding), the tolerance is 1e-18 of the raw products W·|mean|², 100 times
    # tighter than the rounding of products taken about zero (which centering must beat).
    raw = W_t * float(np.abs(mean_t).max()) ** 2
    scale = max(float(np.abs(G_t[upper]).max()), 1e-6 * raw)
    assert_close(W_s, W_t, rtol=1e-12)
    assert_close(mean_s, mean_t, rtol=1e-12)
    np.testing.assert_allclose(
        G_s[:m, :m][upper], G_t[:m, :m][upper], rtol=1e-9, atol=1e-12 * scale
    )
    for name in ("parallel", "pieces"):
        for ours, serial in zip(states[name], states["serial"], strict=True):
            np.testing.assert_array_equal(ours, serial)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transposed_rows_are_the_blocks_transposed_less_the_shift_and_nothing_else(dtype):
    from fastlr.kernels.transpose import transposed_rows

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 30)).astype(dtype)
    shift = rng.standard_normal(30)
    Z = np.full((30, 27), 7.0)
    # rows 5..24 (16 in whole blocks), columns 3..22 (16 in whole blocks)
    assert transposed_rows(X, 5, 20, 3, 20, shift, Z) == 16
    expected = np.full((30, 27), 7.0)
    expected[3:19, :16] = (X[5:21, 3:19].astype(np.float64) - shift[3:19]).T
    np.testing.assert_array_equal(Z, expected)


@pytest.mark.parametrize(
    ("start", "rows", "first_column", "columns"),
    [(13, 8, 0, 8), (0, 8, 12, 8), (0, 24, 0, 8), (-1, 8, 0, 8), (0, 8, -1, 8)],
    ids=["past X's last row", "past X's last column", "past Z's columns", "row -1", "column -1"],
)
def test_transposed_rows_refuse_a_span_outside_the_arrays(start, rows, first_column, columns):
    from fastlr.kernels.transpose import transposed_rows

    X, Z = np.zeros((20, 19)), np.zeros((19, 20))
    with pytest.raises(IndexError, match="outside the arrays"):
        transposed_rows(X, start, rows, first_column, columns, np.zeros(19), Z)


def test_transposed_rows_refuse_rows_that_are_not_contiguous():
    from fastlr.kernels.transpose import transposed_rows

    X = np.zeros((20, 38))[:, ::2]  # rows of 19 elements 16 bytes apart
    with pytest.raises(IndexError, match="not contiguous"):
        transposed_rows(X, 0, 8, 0, 8, np.zeros(19), np.zeros((19, 30)))


COMPILED_ROW_KERNELS = """
import json
import numpy as np
from fastlr import kernels
from fastlr.kernels import narrow
X, y = np.ones((100, {d}), np.{dtype}), np.zeros(100, np.{dtype})
passes = kernels.row_passes(X.dtype, {d})
for kernel in (passes.pass_serial, passes.pass_parallel):
    kernel(X, y, None, np.zeros({d}), 0.0, 100, np.empty({d}))
compiled = [w for w in range(1, narrow.NARROW_MAX + 1) if narrow.narrow_rows(w).signatures]
print(json.dumps(compiled + (["all widths"] if narrow._narrow_widths.signatures else [])))
"""


@pytest.mark.parametrize(("dtype", "d", "expected"), [("float64", 5, [5]), ("float64", 9, [])])
def test_the_engines_passes_compile_only_their_rows_kernel(tmp_path, dtype, d, expected):
    # numba compiles a kernel's callees into it: the seven narrow kernels (now ten) cost a cold
    # float64 pass 5 s where the width was chosen inside (fresh cache, nothing loaded instead)
    import json
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    script = COMPILED_ROW_KERNELS.format(d=d, dtype=dtype)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [9, 11, 50, 131])  # float32 9: the narrow pass; 11: vectors + tail
def test_the_intercepts_gradient_near_the_fit_has_no_rounding_bias(dtype, d):
    # Predictions of a few hundred and residuals of about 1 (near the least-squares fit, where
    # refinement reads the gradient): an intercept added to each finished dot product rounds
    # the same way on every row of a binade, and the mean residual was 3.7e-15 off (2M x 50;
    # refinement then fell back to the compensated pass). Against long double sums.
    n = 200_000
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, bias=0.0, random_state=d, dtype=dtype)
    Xl, yl = X.astype(np.longdouble), y.astype(np.longdouble)
    coef = np.linalg.lstsq(X.astype(np.float64), y.astype(np.float64), rcond=None)[0]
    intercept = -0.00094  # small, not on the products' grid
    r = Xl @ coef.astype(np.longdouble) + np.longdouble(intercept) - yl
    prediction = float(np.abs(Xl @ coef).mean())
    assert float(np.abs(r).mean()) < 2.0  # residuals of about the noise
    assert prediction > 100.0  # predictions of a few hundred
    expected = float(r.sum() / n)
    grad = np.empty(d)
    _, grad_b = kernels.row_passes(X.dtype, d).pass_parallel(X, y, None, coef, intercept, n, grad)
    # unbiased: 2e-17 to 6e-16 here; with the bias 3.3e-15 to 9.3e-15 (float32 rows)
    assert abs(grad_b - expected) < 2.5e-18 * prediction


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_four_output_intercept_gradients_near_the_fit_have_no_rounding_bias(dtype):
    # the 4-output pass's vector predictions, as the test above for one output
    n, d = 200_000, 50
    X, y, _ = fastlr.make_regression(n, d, noise=1.0, bias=0.0, random_state=3, dtype=dtype)
    coef = np.linalg.lstsq(X.astype(np.float64), y.astype(np.float64), rcond=None)[0]
    Y = np.ascontiguousarray(np.repeat(y[:, None], 4, axis=1))
    coef4 = np.ascontiguousarray(np.repeat(coef[None, :], 4, axis=0))
    b4 = np.array([-0.00094, 0.0031, -0.0127, 0.00051])
    Xl = X.astype(np.longdouble)
    q = Xl @ coef.astype(np.longdouble)
    prediction = float(np.abs(q).mean())
    grad = np.empty((4, d + 1))
    kernels.fused_pass_multi_parallel(X, Y, None, coef4, b4, n, grad)
    for o in range(4):
        expected = float((q + np.longdouble(b4[o]) - y.astype(np.longdouble)).sum() / n)
        assert abs(grad[o, d] - expected) < 2.5e-18 * prediction
