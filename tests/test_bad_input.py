"""Bad input gets a clear error naming the problem; a failed fit changes nothing."""

import re

import numpy as np
import pytest

import fastlr
from fastlr import reference


@pytest.fixture
def Xy():
    X, y, _ = fastlr.make_regression(200, 3, noise=0.1, random_state=0)
    return X, y


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "newton"}, "mode must be one of 'batch', 'minibatch', 'sgd'; got 'newton'"),
        ({"learning_rate": 0}, "learning_rate must be a finite number > 0"),
        ({"learning_rate": -1.0}, "learning_rate must be a finite number > 0"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number > 0"),
        ({"learning_rate": "fast"}, "learning_rate must be one of 'auto'; got 'fast'"),
        ({"schedule": "cosine"}, "schedule must be one of 'constant', 'invscaling', 'adaptive'"),
        ({"momentum": 1.0}, "momentum must be 'auto' or in [0, 1)"),
        ({"momentum": -0.1}, "momentum must be a finite number >= 0"),
        ({"mode": "sgd", "momentum": 0.9}, "momentum applies to mode='batch' and mode='minibatch'"),
        ({"nesterov": True}, "nesterov=True needs a momentum in (0, 1)"),
        ({"penalty": "l3"}, "penalty must be one of None, 'l2', 'l1', 'elasticnet'; got 'l3'"),
        ({"alpha": -1.0}, "alpha must be a finite number >= 0"),
        ({"l1_ratio": 1.5}, "l1_ratio must be in [0, 1]"),
        ({"average": True}, "average=True applies to mode='sgd' and mode='minibatch'"),
        ({"hogwild": True}, "hogwild=True applies to mode='sgd' only"),
        ({"solver": "newton"}, "solver must be one of 'auto', 'gram', 'fused'"),
        ({"n_iter_no_change": 0}, "n_iter_no_change must be an int >= 1"),
        ({"validation_fraction": 1.0}, "validation_fraction must be in (0, 1)"),
        ({"early_stopping": "yes"}, "early_stopping must be True or False"),
        ({"standardize": None}, "standardize must be True or False"),
        ({"callback": 3}, "callback must be None or a callable"),
        ({"power_t": -1}, "power_t must be a finite number >= 0"),
        ({"max_iter": 0}, "max_iter must be None or an int >= 1"),
        ({"max_iter": 2.5}, "max_iter must be None or an int >= 1"),
        ({"tol": -1e-3}, "tol must be None or a finite number >= 0"),
        ({"batch_size": 0}, "batch_size must be an int >= 1"),
        ({"shuffle": "yes"}, "shuffle must be True or False"),
        ({"fit_intercept": 1}, "fit_intercept must be True or False"),
        ({"random_state": -1}, "random_state must be >= 0"),
        ({"random_state": "seed"}, "random_state must be None, an int >= 0"),
        ({"n_jobs": 0}, "n_jobs must be None, between 1 and"),
        ({"n_jobs": 10_000}, "n_jobs must be None, between 1 and"),
        ({"n_jobs": "all"}, "n_jobs must be None or an int"),
        ({"verbose": -1}, "verbose must be an int >= 0"),
    ],
)
@pytest.mark.parametrize("estimator", [fastlr.LinearRegression, reference.LinearRegression])
def test_invalid_parameters_are_named(Xy, estimator, params, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        estimator(**params).fit(*Xy)


@pytest.mark.parametrize(
    ("X", "y", "error", "message"),
    [
        (np.ones(5), np.ones(5), ValueError, "X must be 2-D .* Reshape your data: X.reshape"),
        (np.ones((2, 2, 2)), np.ones(2), ValueError, "X must be 2-D"),
        (np.ones((0, 3)), np.ones(0), ValueError, r"0 sample\(s\) \(shape=\(0, 3\)\)"),
        (np.ones((3, 0)), np.ones(3), ValueError, r"0 feature\(s\) \(shape=\(3, 0\)\)"),
        (np.ones((4, 2)), np.ones(5), ValueError, "X has 4 samples but y has 5"),
        (np.ones((4, 2)), np.ones((4, 0)), ValueError, "at least one output column"),
        (np.ones((4, 2)), np.ones((4, 2, 1)), ValueError, "got 3-D shape"),
        (np.ones((4, 2)), np.ones((1, 4)), ValueError, r"row of shape \(1, 4\): pass y\.ravel"),
        (np.full((3, 2), "a"), np.ones(3), TypeError, "X must hold real numbers"),
        (np.ones((3, 2), dtype=complex), np.ones(3), ValueError, "Complex data not supported"),
        (np.ones((3, 2)), np.array(["a", "b", "c"]), TypeError, "y must hold real numbers"),
        ([[1.0, 2.0], [3.0]], [1.0, 2.0], ValueError, "X could not be read"),
    ],
)
def test_bad_arrays_are_named(X, y, error, message):
    with pytest.raises(error, match=message):
        fastlr.LinearRegression().fit(X, y)


@pytest.mark.parametrize("mode", ["batch", "minibatch", "sgd"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "y"])
def test_non_finite_input_is_found_and_named(Xy, mode, bad, where):
    X, y = (a.copy() for a in Xy)
    if where == "X":
        X[17, 2] = bad
        expected = r"X contains .* at index \(17, 2\)"
    else:
        y[42] = bad
        expected = "y contains .* at index 42"
    model = fastlr.LinearRegression(mode=mode)
    with pytest.raises(ValueError, match=expected):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_divergence_is_an_error_and_keeps_the_previous_model(Xy):
    model = fastlr.LinearRegression(learning_rate=0.5, max_iter=50).fit(*Xy)
    coef, intercept = model.coef_.copy(), model.intercept_
    model.set_params(learning_rate=1e6)
    with pytest.raises(
        fastlr.DivergenceError,
        match=r"times the first epoch's with learning_rate=1e\+06.*learning_rate=100000",
    ):
        model.fit(*Xy)
    np.testing.assert_array_equal(model.coef_, coef)
    assert model.intercept_ == intercept
    assert np.isfinite(model.coef_).all()


def test_values_too_large_to_square_are_reported(Xy):
    X, y = Xy
    with pytest.raises(fastlr.DivergenceError, match=r"overflowed.*max \|X\| = 3.*e\+200"):
        fastlr.LinearRegression().fit(X * 1e200, y)
    with pytest.raises(FloatingPointError, match="too large to square"):
        fastlr.loss_and_gradient(X * 1e200, y, np.ones(3))


def test_predict_checks(Xy):
    X, y = Xy
    with pytest.raises(fastlr.NotFittedError, match="not fitted yet"):
        fastlr.LinearRegression().predict(X)
    model = fastlr.LinearRegression().fit(X, y)
    with pytest.raises(
        ValueError, match="X has 2 features, but LinearRegression is expecting 3 features as input"
    ):
        model.predict(X[:, :2])


def test_loss_and_gradient_refuses_to_copy(Xy):
    X, y = Xy
    coef = np.zeros(3)
    with pytest.raises(ValueError, match=r"C-contiguous.*np\.ascontiguousarray"):
        fastlr.loss_and_gradient(np.asfortranarray(X), y, coef)
    with pytest.raises(ValueError, match="C-contiguous"):
        fastlr.loss_and_gradient(X[::2], y[::2].copy(), coef)
    with pytest.raises(TypeError, match="float32 or float64, got int64"):
        fastlr.loss_and_gradient(X.astype(np.int64), y, coef)
    with pytest.raises(TypeError, match="must be numpy arrays"):
        fastlr.loss_and_gradient(X.tolist(), y, coef)
    with pytest.raises(ValueError, match="coef must have 3 values"):
        fastlr.loss_and_gradient(X, y, np.zeros(4))
    with pytest.raises(ValueError, match=r"y must be 1-D with X\.shape"):
        fastlr.loss_and_gradient(X, y[:-1], coef)


def test_loss_and_gradient_reads_read_only_input_in_place(Xy):
    X, y = Xy
    X.setflags(write=False)
    loss, grad, _grad_b = fastlr.loss_and_gradient(X, y, np.ones(3), 0.5)
    expected = reference.loss_and_gradient(X, y, np.ones(3), 0.5)
    assert loss == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(grad, expected[1], rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 0, "n_features": 2}, "n_samples must be an int >= 1"),
        ({"n_samples": 5, "n_features": 0}, "n_features must be an int >= 1"),
        ({"n_samples": 5, "n_features": 2, "noise": -1.0}, "noise must be a finite number >= 0"),
        ({"n_samples": 5, "n_features": 2, "dtype": np.int32}, "dtype must be numpy.float32"),
        ({"n_samples": 5, "n_features": 2, "bias": float("inf")}, "bias must be a finite number"),
    ],
)
def test_make_regression_checks(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        fastlr.make_regression(**kwargs)


@pytest.mark.parametrize("tol", [1e-4, None])
@pytest.mark.parametrize("max_iter", [10, 1000])
def test_a_step_slightly_too_large_is_caught_with_or_without_tol(Xy, tol, max_iter):
    # The Hessian of standard-normal data has eigenvalues near 1: a step of 2.05 is just unstable.
    with pytest.raises(fastlr.DivergenceError, match="the loss rose from"):
        fastlr.LinearRegression(learning_rate=2.05, max_iter=max_iter, tol=tol).fit(*Xy)


@pytest.mark.parametrize("estimator", [fastlr.LinearRegression, reference.LinearRegression])
def test_a_slowly_unstable_direction_is_not_mistaken_for_convergence(estimator):
    # Feature scales 10 and 1: the stable limit is a step of 0.02. At 0.0205 the large direction
    # grows by 5% an epoch while the small one still improves, so the loss first falls, then rises.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 2)) * [10.0, 1.0]
    y = X @ [0.0, 1.0]
    with pytest.raises(fastlr.DivergenceError, match="rose"):
        estimator(learning_rate=0.0205, max_iter=1000, standardize=False).fit(X, y)


def test_an_overflowing_last_step_is_an_error(Xy):
    with pytest.raises(fastlr.DivergenceError, match="the loss or the coefficients overflowed"):
        fastlr.LinearRegression(learning_rate=1e307, max_iter=1, tol=None).fit(*Xy)


@pytest.mark.parametrize("mode", ["minibatch", "sgd"])
def test_stochastic_modes_never_return_a_model_worse_than_the_start(Xy, mode):
    with pytest.raises(fastlr.DivergenceError, match=r"overflowed|times the first|ended at"):
        fastlr.LinearRegression(
            mode=mode, learning_rate=0.9, batch_size=2, max_iter=5, tol=None
        ).fit(*Xy)


def test_noise_free_data_converges_without_a_warning():
    X, y, coef = fastlr.make_regression(300, 3, random_state=1)
    model = fastlr.LinearRegression(learning_rate=0.5, max_iter=1000).fit(X, y)
    assert model.n_iter_ < 1000
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-6)


def test_loss_and_gradient_checks_n_jobs(Xy):
    X, y = Xy
    with pytest.raises(ValueError, match="n_jobs must be None, between 1 and"):
        fastlr.loss_and_gradient(X, y, np.zeros(3), n_jobs=0)
    with pytest.raises(TypeError, match="n_jobs must be None or an int"):
        fastlr.loss_and_gradient(X, y, np.zeros(3), n_jobs="two")


def test_loss_and_gradient_names_byte_order(Xy):
    X, y = Xy
    swapped = X.astype(X.dtype.newbyteorder(">"))
    with pytest.raises(TypeError, match="non-native byte order"):
        fastlr.loss_and_gradient(swapped, y, np.zeros(3))
    # fit converts it instead (one documented copy) and gets the same answer.
    params = {"learning_rate": 0.5, "max_iter": 20, "tol": None}
    np.testing.assert_array_equal(
        fastlr.LinearRegression(**params).fit(swapped, y).coef_,
        fastlr.LinearRegression(**params).fit(X, y).coef_,
    )


def test_huge_batch_size_means_one_batch(Xy):
    params = {"mode": "minibatch", "learning_rate": 0.3, "max_iter": 5, "tol": None}
    huge = fastlr.LinearRegression(batch_size=2**63, shuffle=False, **params).fit(*Xy)
    whole = fastlr.LinearRegression(batch_size=200, shuffle=False, **params).fit(*Xy)
    np.testing.assert_array_equal(huge.coef_, whole.coef_)
