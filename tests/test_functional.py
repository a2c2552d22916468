"""The functional API from Python and from users' own numba code: same bits, checked inputs."""

from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba.core.errors import TypingError

import fastlr
from fastlr.engines.memory import PARALLEL_MIN_ELEMENTS


@numba.njit
def njit_loss_and_gradient(X, y, coef, intercept):
    return fastlr.loss_and_gradient(X, y, coef, intercept)


@numba.njit
def njit_loss_and_gradient_no_intercept(X, y, coef):
    return fastlr.loss_and_gradient(X, y, coef)


@numba.njit
def njit_predict(X, coef, intercept):
    return fastlr.predict(X, coef, intercept)


@numba.njit
def njit_minibatch_step(X, y, rows, coef, intercept, learning_rate):
    return fastlr.minibatch_step(X, y, rows, coef, intercept, learning_rate)


@numba.njit
def njit_sgd_epoch(X, y, coef, intercept, learning_rate):
    """A user's own sgd loop: one row per step, rows in order."""
    rows = np.empty(1, dtype=np.int64)
    total = 0.0
    for i in range(X.shape[0]):
        rows[0] = i
        intercept, loss = fastlr.minibatch_step(X, y, rows, coef, intercept, learning_rate)
        total += loss
    return intercept, total


def problem(n, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)).astype(dtype)
    return X, y, rng.standard_normal(d)


def textbook_loss_and_gradient(X, y, coef, intercept):
    X = X.astype(np.float64)
    r = X @ coef + intercept - y.astype(np.float64)
    return 0.5 * np.mean(r**2), X.T @ r / len(y), np.mean(r)


@given(
    n=st.integers(1, 3000),
    d=st.integers(1, 24),
    dtype=st.sampled_from([np.float32, np.float64]),
    intercept=st.floats(-3, 3),
)
def test_numba_callers_get_the_bits_of_the_python_call(n, d, dtype, intercept):
    X, y, coef = problem(n, d, dtype)
    loss, grad, grad_b = fastlr.loss_and_gradient(X, y, coef, intercept)
    nb_loss, nb_grad, nb_grad_b = njit_loss_and_gradient(X, y, coef, intercept)
    assert (nb_loss, nb_grad_b) == (loss, grad_b)
    np.testing.assert_array_equal(nb_grad, grad)
    want = textbook_loss_and_gradient(X, y, coef, intercept)
    np.testing.assert_allclose(loss, want[0], rtol=1e-10)
    np.testing.assert_allclose(grad, want[1], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(grad_b, want[2], rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(
        njit_predict(X, coef, intercept), fastlr.predict(X, coef, intercept)
    )


@pytest.mark.parametrize("d", [5, 40])
def test_the_serial_numba_call_equals_the_threaded_python_call_on_large_input(d):
    X, y, coef = problem(PARALLEL_MIN_ELEMENTS // d + 1000, d, np.float64)
    assert X.size >= PARALLEL_MIN_ELEMENTS
    python = fastlr.loss_and_gradient(X, y, coef, 0.5)
    numba_call = njit_loss_and_gradient(X, y, coef, 0.5)
    assert (numba_call[0], numba_call[2]) == (python[0], python[2])
    np.testing.assert_array_equal(numba_call[1], python[1])
    np.testing.assert_array_equal(njit_predict(X, coef, 0.5), fastlr.predict(X, coef, 0.5))


def test_the_fast_path_gives_the_bits_of_the_general_path():
    X, y, coef = problem(500, 6, np.float64)
    fast = fastlr.loss_and_gradient(X, y, coef, 0.25)
    general = fastlr.loss_and_gradient(X, y, coef.tolist(), 0.25, n_jobs=1)  # a list: slow path
    assert (fast[0], fast[2]) == (general[0], general[2])
    np.testing.assert_array_equal(fast[1], general[1])


def test_omitted_intercept_is_zero_in_numba_code():
    X, y, coef = problem(50, 3, np.float64)
    assert (
        njit_loss_and_gradient_no_intercept(X, y, coef)[0]
        == fastlr.loss_and_gradient(X, y, coef)[0]
    )


def test_minibatch_step_is_one_gradient_step_on_the_chosen_rows():
    X, y, coef = problem(40, 4, np.float64)
    rows = np.array([3, 7, 7, 21])
    loss_before, grad, grad_b = textbook_loss_and_gradient(X[rows], y[rows], coef, 0.2)
    stepped = coef.copy()
    intercept, loss = fastlr.minibatch_step(X, y, rows, stepped, 0.2, 0.05)
    np.testing.assert_allclose(stepped, coef - 0.05 * grad, rtol=1e-13)
    np.testing.assert_allclose([intercept, loss], [0.2 - 0.05 * grad_b, loss_before], rtol=1e-13)
    in_numba = coef.copy()
    assert njit_minibatch_step(X, y, rows, in_numba, 0.2, 0.05) == (intercept, loss)
    np.testing.assert_array_equal(in_numba, stepped)


def test_a_users_numba_sgd_loop_equals_the_same_loop_in_python():
    X, y, coef = problem(300, 3, np.float32)
    python_coef, numba_coef = coef.copy(), coef.copy()
    intercept = 0.0
    total = 0.0
    for i in range(X.shape[0]):
        intercept, loss = fastlr.minibatch_step(X, y, [i], python_coef, intercept, 0.01)
        total += loss
    assert njit_sgd_epoch(X, y, numba_coef, 0.0, 0.01) == (intercept, total)
    np.testing.assert_array_equal(numba_coef, python_coef)


@pytest.mark.parametrize(
    ("X", "y", "coef", "message"),
    [
        (np.zeros((3, 2)), np.zeros(4), np.zeros(2), "y must have one value per row of X"),
        (np.zeros((3, 2)), np.zeros(3), np.zeros(3), "coef must have one value per column"),
        (np.zeros((0, 2)), np.zeros(0), np.zeros(2), "at least one row and one column"),
        (np.zeros((3, 2)), np.zeros(3), np.array([0.0, np.nan]), "must be finite"),
        (np.full((3, 2), np.inf), np.zeros(3), np.zeros(2), "result is not finite"),
        # only the loss overflows (r ~ 1e155, r * x finite)
        (np.full((3, 1), 1e-10), np.zeros(3), np.array([1e165]), "result is not finite"),
    ],
)
def test_numba_callers_get_a_clear_error(X, y, coef, message):
    with pytest.raises(ValueError, match=message):
        njit_loss_and_gradient(X, y, coef, 0.0)


def test_non_finite_results_are_never_returned_silently():
    # Tested inside the fast-math loop that computed them, NaN predictions passed as finite:
    # every path is checked here, from Python and from numba code.
    X = np.random.default_rng(0).uniform(size=(10, 2))
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match="result is not finite"):
        njit_predict(X, np.ones(2), 0.0)
    with pytest.raises(ValueError, match=r"X contains nan at index \(4, 1\)"):
        fastlr.predict(X, np.ones(2), 0.0)
    tiny, y = np.full((3, 1), 1e-10), np.zeros(3)
    huge = np.array([1e165])
    with pytest.raises(FloatingPointError, match="the loss overflowed"):
        fastlr.loss_and_gradient(tiny, y, huge)
    with pytest.raises(FloatingPointError, match="the loss overflowed"):
        fastlr.minibatch_step(tiny, y, [0, 1], huge.copy(), 0.0, 0.1)
    with pytest.raises(ValueError, match="result is not finite"):
        njit_minibatch_step(tiny, y, np.array([0, 1]), huge.copy(), 0.0, 0.1)


def test_python_callers_keep_the_detailed_errors_on_the_fast_path():
    X, y, coef = problem(10, 2, np.float64)
    with pytest.raises(ValueError, match=r"y must be 1-D with X.shape\[0\] = 10 values"):
        fastlr.loss_and_gradient(X, y[:9], coef)
    with pytest.raises(ValueError, match="coef must have 2 values"):
        fastlr.loss_and_gradient(X, y, np.zeros(3))
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains nan at index \(4, 1\)"):
        fastlr.loss_and_gradient(X, y, coef)
    with pytest.raises(ValueError, match=r"X contains nan at index \(4, 1\)"):
        fastlr.predict(X, coef)


@pytest.mark.parametrize(
    ("function", "args", "message"),
    [
        (njit_loss_and_gradient, (np.zeros((3, 2), np.int64), np.zeros(3), np.zeros(2), 0.0), "X"),
        (njit_loss_and_gradient, (np.zeros((3, 2)), np.zeros((3, 1)), np.zeros(2), 0.0), "y"),
        (
            njit_loss_and_gradient,
            (np.zeros((3, 2)), np.zeros(3), np.zeros(2, np.float32), 0.0),
            "coef",
        ),
        (njit_predict, (np.zeros((4, 2))[::2], np.zeros(2), 0.0), "X"),
        (
            njit_minibatch_step,
            (np.zeros((3, 2)), np.zeros(3), np.zeros(2), np.zeros(2), 0.0, 0.1),
            "rows",
        ),
    ],
)
def test_wrong_types_in_numba_code_are_named_when_it_compiles(function, args, message):
    with pytest.raises(TypingError, match=rf"fastlr\.\w+ in numba code: {message} must"):
        function(*args)


@pytest.mark.parametrize(
    ("rows", "learning_rate", "message"),
    [
        ([0, 5], 0.1, "rows must be indices of rows of X"),
        ([-1], 0.1, "rows must be indices of rows of X"),
        ([], 0.1, "rows must hold at least one index"),
    ],
)
def test_minibatch_step_refuses_bad_rows_and_leaves_coef_alone(rows, learning_rate, message):
    X, y, coef = problem(5, 2, np.float64)
    before = coef.copy()
    with pytest.raises(ValueError, match=message):
        fastlr.minibatch_step(X, y, rows, coef, 0.0, learning_rate)
    with pytest.raises(ValueError, match=message):
        njit_minibatch_step(X, y, np.array(rows, dtype=np.int64), coef, 0.0, learning_rate)
    np.testing.assert_array_equal(coef, before)


def test_minibatch_step_checks_its_parameters():
    X, y, coef = problem(5, 2, np.float64)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        fastlr.minibatch_step(X, y, [0], coef, 0.0, 0.0)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        njit_minibatch_step(X, y, np.array([0]), coef, 0.0, -1.0)
    with pytest.raises(TypeError, match="coef must be a writable, C-contiguous 1-D float64"):
        fastlr.minibatch_step(X, y, [0], coef.astype(np.float32), 0.0, 0.1)
    with pytest.raises(TypeError, match="rows must be a 1-D array of ints"):
        fastlr.minibatch_step(X, y, [0.5], coef, 0.0, 0.1)
    X[3, 1] = np.inf
    X[0, 0] = np.nan  # not among the rows of the step
    before = coef.copy()
    with pytest.raises(ValueError, match=r"X contains inf at index \(3, 1\)"):
        fastlr.minibatch_step(X, y, [2, 3], coef, 0.0, 0.1)
    np.testing.assert_array_equal(coef, before)


def test_the_readme_example_of_calling_fastlr_from_numba_code_runs():
    readme = Path(__file__).resolve().parent.parent / "README.md"
    if not readme.is_file():
        pytest.skip("needs the source tree's README")
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("### Calling fastlr from numba code") :]
    code = section[section.index("```python\n") + 10 : section.index("\n```\n")]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["mean_loss"] < 0.01  # noise 0.1: the loss is about noise² / 2
    assert np.all(np.isfinite(namespace["coef"]))
