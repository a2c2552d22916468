"""Bad input gets a clear error naming the problem; a failed fit changes nothing.

The matrices below hold one row per bad input: the call, the exception type and a pattern that
the message must match, naming the parameter, what is wrong and what is accepted.
"""

import pickle
import re

import numpy as np
import pytest
import scipy.sparse

import fastlr
from fastlr import reference

ESTIMATORS = [fastlr.LinearRegression, reference.LinearRegression]

# Small shared data; the cases below never write to it (``put`` returns a changed copy).
X0, y0, _ = fastlr.make_regression(40, 3, noise=0.1, random_state=0)
W0 = np.ones(40)


def put(array, index, value):
    changed = array.copy()
    changed[index] = value
    return changed


def fitted(estimator):
    return estimator().fit(X0, y0)


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


FINITE = "fastlr needs finite values"
REAL = r"fastlr needs real numbers \(bool, int or float\)"
TWO_D = r"X must be 2-D \(n_samples, n_features\); got "
Y_SHAPE = r"y must be 1-D \(n_samples,\) or 2-D \(n_samples, n_outputs\); got "
WEIGHTS = r"sample_weight must be finite and >= 0; got "
EXPECTING = "features, but LinearRegression is expecting 3 features as input"


def case(call, error, message, id):
    return pytest.param(call, error, message, id=id)


ESTIMATOR_CASES = [
    # fit: the shape and type of X
    case(lambda e: e().fit(3.0, y0), ValueError, TWO_D + r"0-D shape \(\)", "fit-X-0d"),
    case(
        lambda e: e().fit(X0[:, 0], y0),
        ValueError,
        TWO_D + r"1-D shape \(40,\)\. Reshape your data: X\.reshape\(-1, 1\)",
        "fit-X-1d",
    ),
    case(lambda e: e().fit(X0[None], y0), ValueError, TWO_D + "3-D shape", "fit-X-3d"),
    case(
        lambda e: e().fit(X0[:0], y0[:0]),
        ValueError,
        r"X has 0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1 is required",
        "fit-X-empty",
    ),
    case(
        lambda e: e().fit(X0[:, :0], y0),
        ValueError,
        r"X has 0 feature\(s\) \(shape=\(40, 0\)\) while a minimum of 1 is required",
        "fit-X-no-features",
    ),
    case(
        lambda e: e().fit(X0.astype(str), y0),
        TypeError,
        r"X must hold real numbers \(bool, int or float\); got dtype <U",
        "fit-X-strings",
    ),
    case(
        lambda e: e().fit(put(X0.astype(object), (2, 1), "a"), y0),
        TypeError,
        "X has dtype object and an element that is not a real number .*'a'.*" + REAL,
        "fit-X-object-string",
    ),
    case(
        lambda e: e().fit(put(X0.astype(object), (0, 0), {"a": 1}), y0),
        TypeError,
        "argument must be a string or a real number, not 'dict'.*" + REAL,
        "fit-X-object-dict",
    ),
    case(
        lambda e: e().fit(X0 + 1j, y0),
        ValueError,
        "Complex data not supported: X has dtype complex128; " + REAL,
        "fit-X-complex",
    ),
    case(
        lambda e: e().fit(X0.astype("datetime64[s]"), y0),
        TypeError,
        r"X must hold real numbers \(bool, int or float\); got dtype datetime64",
        "fit-X-datetime",
    ),
    case(
        lambda e: e().fit([[1.0, 2.0], [3.0]], [1.0, 2.0]),
        ValueError,
        "X could not be read as a numeric array: .*inhomogeneous",
        "fit-X-ragged",
    ),
    case(
        lambda e: e().fit(np.ma.masked_greater(X0, 1.0), y0),
        TypeError,
        r"X is a masked array: masks are not supported .*X\.filled",
        "fit-X-masked",
    ),
    case(
        lambda e: e().fit(scipy.sparse.csr_array(X0), y0),
        TypeError,
        r"X is a scipy sparse csr_array: sparse input is not supported; .*X\.toarray\(\)",
        "fit-X-sparse",
    ),
    case(
        lambda e: e().fit(X0 * 1e200, y0),
        fastlr.DivergenceError,
        r"max \|X\| = 2\.\d+e\+200.*cannot be squared in float64, rescale them",
        "fit-X-overflows",
    ),
    case(
        lambda e: e().fit(X0 * [1.0, 1e-200, 1.0], y0),
        ValueError,
        r"X\[:, 1\] is not constant but its values are tiny .*underflow float64.*rescale it",
        "fit-X-underflows",
    ),
    # fit: y
    case(
        lambda e: e().fit(X0, None),
        ValueError,
        "requires y to be passed, but the target y is None",
        "fit-y-None",
    ),
    case(
        lambda e: e().fit(X0, y0[:-1]), ValueError, "X has 40 samples but y has 39", "fit-y-short"
    ),
    case(lambda e: e().fit(X0, 1.0), ValueError, Y_SHAPE + r"0-D shape \(\)", "fit-y-0d"),
    case(lambda e: e().fit(X0, y0[:, None, None]), ValueError, Y_SHAPE + "3-D", "fit-y-3d"),
    case(
        lambda e: e().fit(X0, y0[None]),
        ValueError,
        r"got a row of shape \(1, 40\): pass y\.ravel\(\)",
        "fit-y-row",
    ),
    case(
        lambda e: e().fit(X0, np.ones((40, 0))),
        ValueError,
        r"y must have at least one output column; got shape \(40, 0\)",
        "fit-y-no-outputs",
    ),
    case(
        lambda e: e().fit(X0, y0.astype(str)),
        TypeError,
        r"y must hold real numbers \(bool, int or float\); got dtype <U",
        "fit-y-strings",
    ),
    case(
        lambda e: e().fit(X0, y0 + 0j),
        ValueError,
        "Complex data not supported: y has dtype complex128",
        "fit-y-complex",
    ),
    case(
        lambda e: e().fit(X0, y0 * 1e200),
        fastlr.DivergenceError,
        r"max \|y\| = 1\.\d+e\+202.*cannot be squared in float64, rescale them",
        "fit-y-overflows",
    ),
    case(
        lambda e: e(mode="sgd").fit(X0, y0 * 1e200),
        fastlr.DivergenceError,
        r"the loss overflowed: .*max \|y\| = 1\.\d+e\+202.*cannot be squared .*rescale them",
        "fit-sgd-y-overflows",
    ),
    # fit: sample_weight
    case(
        lambda e: e().fit(X0, y0, sample_weight=put(W0, 3, np.nan)),
        ValueError,
        WEIGHTS + "nan at index 3",
        "fit-weight-nan",
    ),
    case(
        lambda e: e().fit(X0, y0, sample_weight=put(W0, 5, np.inf)),
        ValueError,
        WEIGHTS + "inf at index 5",
        "fit-weight-inf",
    ),
    case(
        lambda e: e().fit(X0, y0, sample_weight=put(W0, 7, -1.0)),
        ValueError,
        WEIGHTS + "-1.0 at index 7",
        "fit-weight-negative",
    ),
    case(
        lambda e: e().fit(X0, y0, sample_weight=np.zeros(40)),
        ValueError,
        "sample_weight must have a positive sum; got all weights zero",
        "fit-weight-zeros",
    ),
    case(
        lambda e: e().fit(X0, y0, sample_weight=np.full(40, 1e308)),
        ValueError,
        "sample_weight must have a finite sum; its sum overflows float64 .*only their ratios",
        "fit-weight-sum-overflows",
    ),
    case(
        lambda e: e().fit(X0, y0, sample_weight=W0[:-1]),
        ValueError,
        r"sample_weight must be a scalar or 1-D with 40 values \(one per sample\); got shape "
        r"\(39,\)",
        "fit-weight-short",
    ),
    case(
        lambda e: e().fit(X0, y0, sample_weight=W0[:, None]),
        ValueError,
        r"sample_weight must be a scalar or 1-D with 40 values .*got shape \(40, 1\)",
        "fit-weight-2d",
    ),
    case(
        lambda e: e().fit(X0, y0, sample_weight=W0.astype(str)),
        TypeError,
        r"sample_weight must hold real numbers \(bool, int or float\)",
        "fit-weight-strings",
    ),
    # fit: starting points
    case(
        lambda e: e().fit(X0, y0, coef_init=[1.0, 2.0]),
        ValueError,
        r"coef_init must have 3 values \(1 output\(s\) x 3 features\); got shape \(2,\)",
        "fit-coef_init-size",
    ),
    case(
        lambda e: e().fit(X0, y0, coef_init=[0.0, np.nan, 0.0]),
        ValueError,
        "coef_init must be finite; got nan at index 1",
        "fit-coef_init-nan",
    ),
    case(
        lambda e: e().fit(X0, y0, intercept_init=[1.0, 2.0]),
        ValueError,
        r"intercept_init must have 1 values \(one per output\); got shape \(2,\)",
        "fit-intercept_init-size",
    ),
    # partial_fit
    case(
        lambda e: e().partial_fit(X0, put(y0, 4, np.nan)),
        ValueError,
        "y contains nan at index 4; " + FINITE,
        "partial_fit-y-nan",
    ),
    case(
        lambda e: e().partial_fit(put(X0, (6, 2), -np.inf), y0),
        ValueError,
        r"X contains -inf at index \(6, 2\); " + FINITE,
        "partial_fit-X-inf",
    ),
    case(
        lambda e: fitted(e).partial_fit(X0[:, :2], y0),
        ValueError,
        "X has 2 " + EXPECTING,
        "partial_fit-features",
    ),
    case(
        lambda e: fitted(e).partial_fit(X0, np.column_stack([y0, y0])),
        ValueError,
        r"y has 2 outputs, but LinearRegression is expecting 1 \(the outputs of the previous",
        "partial_fit-outputs",
    ),
    case(
        lambda e: fitted(e).partial_fit(X0[:0], y0[:0]),
        ValueError,
        r"X has 0 sample\(s\)",
        "partial_fit-empty",
    ),
    case(
        lambda e: e().partial_fit(X0[0], y0[:1]),
        ValueError,
        TWO_D + "1-D shape .*Reshape your data",
        "partial_fit-X-1d",
    ),
    case(
        lambda e: e().partial_fit(X0, y0, sample_weight=put(W0, 0, -2.0)),
        ValueError,
        WEIGHTS + "-2.0 at index 0",
        "partial_fit-weight-negative",
    ),
    case(
        lambda e: e().partial_fit(X0, y0 * 1e200),
        fastlr.DivergenceError,
        r"max \|y\| = 1\.\d+e\+202.*cannot be squared",
        "partial_fit-y-overflows",
    ),
    # predict
    case(
        lambda e: e().predict(X0),
        fastlr.NotFittedError,
        r"this LinearRegression is not fitted yet; call fit\(X, y\) first",
        "predict-unfitted",
    ),
    case(
        lambda e: fitted(e).predict(X0[:, :2]),
        ValueError,
        "X has 2 " + EXPECTING,
        "predict-features",
    ),
    case(
        lambda e: fitted(e).predict(X0[0]),
        ValueError,
        TWO_D + r"1-D shape \(3,\)\. Reshape your data: .*X\.reshape\(1, -1\) for a single sample",
        "predict-X-1d",
    ),
    case(
        lambda e: fitted(e).predict(put(X0, (9, 0), np.nan)),
        ValueError,
        r"X contains nan at index \(9, 0\); " + FINITE,
        "predict-X-nan",
    ),
    case(
        lambda e: fitted(e).predict(put(X0, (1, 1), np.inf)),
        ValueError,
        r"X contains inf at index \(1, 1\); " + FINITE,
        "predict-X-inf",
    ),
    case(
        lambda e: fitted(e).predict(X0 + 1j),
        ValueError,
        "Complex data not supported: X",
        "predict-X-complex",
    ),
    case(lambda e: fitted(e).predict(X0[:0]), ValueError, r"X has 0 sample\(s\)", "predict-empty"),
    case(
        lambda e: fitted(e).predict(X0 * 1e307),
        FloatingPointError,
        r"the predictions overflowed float64 \(max \|X\| = 2\.\d+e\+307\); rescale X",
        "predict-overflows",
    ),
    case(
        lambda e: fitted(e).predict((X0 * 1e37).astype(np.float32)),
        FloatingPointError,
        "the predictions overflowed float32 .*; pass X as float64",
        "predict-float32-overflows",
    ),
    # score
    case(
        lambda e: fitted(e).score(X0, put(y0, 2, np.nan)),
        ValueError,
        "y contains nan at index 2; " + FINITE,
        "score-y-nan",
    ),
    case(
        lambda e: fitted(e).score(X0, y0[:5]),
        ValueError,
        "X has 40 samples but y has 5",
        "score-y-short",
    ),
    case(
        lambda e: fitted(e).score(X0, y0 * 1e200),
        FloatingPointError,
        r"R² overflowed: max \|y\| = 1\.\d+e\+202 is too large to square",
        "score-y-overflows",
    ),
    case(
        lambda e: fitted(e).score(X0, np.column_stack([y0, y0])),
        ValueError,
        r"y has 2 output\(s\), but this model predicts 1",
        "score-y-more-outputs",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), ESTIMATOR_CASES)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_bad_input_to_the_estimator_is_named(estimator, call, error, message):
    with pytest.raises(error, match=message):
        call(estimator)


LG = fastlr.loss_and_gradient
NO_COPY = r"\(loss_and_gradient never copies its input\)"
MR = fastlr.make_regression

FUNCTION_CASES = [
    # loss_and_gradient: reads X and y in place, so it refuses what it would have to convert
    case(
        lambda: LG(put(X0, (9, 0), np.nan), y0, np.zeros(3)),
        ValueError,
        r"X contains nan at index \(9, 0\); " + FINITE,
        "lg-X-nan",
    ),
    case(
        lambda: LG(X0, put(y0, 6, np.inf), np.zeros(3)),
        ValueError,
        "y contains inf at index 6; " + FINITE,
        "lg-y-inf",
    ),
    case(
        lambda: LG(X0[:, 0].copy(), y0, np.zeros(1)),
        ValueError,
        r"X must be a non-empty 2-D array; got shape \(40,\)",
        "lg-X-1d",
    ),
    case(
        lambda: LG(X0[None].copy(), y0, np.zeros(3)),
        ValueError,
        r"X must be a non-empty 2-D array; got shape \(1, 40, 3\)",
        "lg-X-3d",
    ),
    case(
        lambda: LG(X0[:0].copy(), y0[:0].copy(), np.zeros(3)),
        ValueError,
        r"X must be a non-empty 2-D array; got shape \(0, 3\)",
        "lg-X-empty",
    ),
    case(
        lambda: LG(np.empty((40, 0)), y0, np.zeros(0)),
        ValueError,
        r"X must be a non-empty 2-D array; got shape \(40, 0\)",
        "lg-X-no-features",
    ),
    case(
        lambda: LG(X0, y0[:-1].copy(), np.zeros(3)),
        ValueError,
        r"y must be 1-D with X\.shape\[0\] = 40 values; got \(39,\)",
        "lg-y-short",
    ),
    case(
        lambda: LG(X0, y0[:, None].copy(), np.zeros(3)),
        ValueError,
        r"y must be 1-D with X\.shape\[0\] = 40 values; got \(40, 1\)",
        "lg-y-2d",
    ),
    case(
        lambda: LG(X0.tolist(), y0, np.zeros(3)),
        TypeError,
        "X and y must be numpy arrays " + NO_COPY,
        "lg-X-list",
    ),
    case(
        lambda: LG(X0.astype(np.int64), y0, np.zeros(3)),
        TypeError,
        r"X must be float32 or float64, got int64; convert it once with X\.astype",
        "lg-X-int",
    ),
    case(
        lambda: LG(X0 + 1j, y0, np.zeros(3)),
        TypeError,
        "X must be float32 or float64, got complex128",
        "lg-X-complex",
    ),
    case(
        lambda: LG(X0.astype(object), y0, np.zeros(3)),
        TypeError,
        "X must be float32 or float64, got object",
        "lg-X-object",
    ),
    case(
        lambda: LG(np.asfortranarray(X0), y0, np.zeros(3)),
        ValueError,
        r"X must be C-contiguous; convert it once with np\.ascontiguousarray\(X\) " + NO_COPY,
        "lg-X-fortran",
    ),
    case(
        lambda: LG(X0[::2], y0[::2].copy(), np.zeros(3)),
        ValueError,
        "X must be C-contiguous",
        "lg-X-strided",
    ),
    case(
        lambda: LG(X0.astype(">f8"), y0, np.zeros(3)),
        TypeError,
        r"X has non-native byte order \(>f8\); convert it once with X\.astype",
        "lg-X-byte-order",
    ),
    case(
        lambda: LG(X0, y0, np.zeros(4)),
        ValueError,
        r"coef must have 3 values \(one per feature\); got shape \(4,\)",
        "lg-coef-size",
    ),
    case(
        lambda: LG(X0, y0, [0.0, 0.0, np.inf]),
        ValueError,
        "coef must be finite; got inf at index 2",
        "lg-coef-inf",
    ),
    case(
        lambda: LG(X0, y0, np.zeros(3), np.nan),
        ValueError,
        "intercept must be a finite number; got nan",
        "lg-intercept-nan",
    ),
    case(
        lambda: LG(X0, y0, np.zeros(3), "1"),
        TypeError,
        "intercept must be a finite number; got '1'",
        "lg-intercept-string",
    ),
    case(
        lambda: LG(X0 * 1e200, y0, np.ones(3)),
        FloatingPointError,
        r"the loss overflowed .*too large to square in float64 \(max \|X\| = 2\.\d+e\+200",
        "lg-overflows",
    ),
    case(
        lambda: LG(X0, y0, np.zeros(3), n_jobs=0),
        ValueError,
        "n_jobs must be None, between 1 and",
        "lg-n_jobs-zero",
    ),
    case(
        lambda: LG(X0, y0, np.zeros(3), n_jobs="two"),
        TypeError,
        "n_jobs must be None or an int",
        "lg-n_jobs-string",
    ),
    # make_regression
    case(lambda: MR(0, 2), ValueError, "n_samples must be an int >= 1; got 0", "mr-n_samples-zero"),
    case(
        lambda: MR(5.0, 2),
        TypeError,
        "n_samples must be an int >= 1; got 5.0",
        "mr-n_samples-float",
    ),
    case(
        lambda: MR(True, 2),
        TypeError,
        "n_samples must be an int >= 1; got True",
        "mr-n_samples-bool",
    ),
    case(
        lambda: MR(5, 0), ValueError, "n_features must be an int >= 1; got 0", "mr-n_features-zero"
    ),
    case(
        lambda: MR(5, 2, noise=-1.0),
        ValueError,
        "noise must be a finite number >= 0; got -1.0",
        "mr-noise-negative",
    ),
    case(
        lambda: MR(5, 2, noise=np.nan),
        ValueError,
        "noise must be a finite number >= 0; got nan",
        "mr-noise-nan",
    ),
    case(
        lambda: MR(5, 2, bias=np.inf),
        ValueError,
        "bias must be a finite number; got inf",
        "mr-bias-inf",
    ),
    case(
        lambda: MR(5, 2, dtype=np.int32),
        ValueError,
        "dtype must be numpy.float32 or numpy.float64; got <class 'numpy.int32'>",
        "mr-dtype-int",
    ),
    case(
        lambda: MR(5, 2, dtype="junk"),
        ValueError,
        "dtype must be numpy.float32 or numpy.float64; got 'junk'",
        "mr-dtype-unknown",
    ),
    case(
        lambda: MR(5, 2, random_state=-1),
        ValueError,
        "random_state must be >= 0, got -1",
        "mr-random_state-negative",
    ),
    case(
        lambda: MR(5, 2, random_state=1.5),
        TypeError,
        "random_state must be None, an int >= 0 or a numpy.random.Generator, got 1.5",
        "mr-random_state-float",
    ),
    case(
        lambda: MR(5, 2, bias=1e300, dtype=np.float32),
        ValueError,
        r"y overflowed float32: bias=1e\+300 and noise=0 are too large for dtype float32",
        "mr-float32-overflows",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), FUNCTION_CASES)
def test_bad_input_to_the_functions_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [fastlr.make_regression, reference.make_regression])
def test_both_make_regressions_refuse_a_target_that_overflows(make, dtype):
    # 50 samples: some noise draw is positive, and 1.7e308 + 1e308 * z overflows float64.
    with pytest.raises(ValueError, match=rf"y overflowed {np.dtype(dtype)}: bias=1\.7e\+308"):
        make(50, 2, bias=1.7e308, noise=1e308, dtype=dtype, random_state=0)
    with pytest.raises(ValueError, match=r"dtype must be numpy\.float32 or numpy\.float64"):
        make(5, 2, dtype="junk")


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


def test_loss_and_gradient_reads_read_only_input_in_place(Xy):
    X, y = Xy
    X.setflags(write=False)
    loss, grad, _grad_b = fastlr.loss_and_gradient(X, y, np.ones(3), 0.5)
    expected = reference.loss_and_gradient(X, y, np.ones(3), 0.5)
    assert loss == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(grad, expected[1], rtol=1e-12)


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


def test_huge_batch_size_means_one_batch(Xy):
    params = {"mode": "minibatch", "learning_rate": 0.3, "max_iter": 5, "tol": None}
    huge = fastlr.LinearRegression(batch_size=2**63, shuffle=False, **params).fit(*Xy)
    whole = fastlr.LinearRegression(batch_size=200, shuffle=False, **params).fit(*Xy)
    np.testing.assert_array_equal(huge.coef_, whole.coef_)


# ---------------------------------------------------------------- layouts, conversions, copies
MODES = ["batch", "minibatch", "sgd"]


def params(mode):
    return {"mode": mode, "max_iter": 20, "tol": None, "random_state": 0, "batch_size": 16}


def read_only(array):
    array = np.array(array)
    array.setflags(write=False)
    return array


def big_endian(array):
    return array.astype(array.dtype.newbyteorder(">"))


# Each entry turns (X, y, w) into an equivalent input the estimator must convert (or read as
# it is); ``expected`` gives the C-contiguous float array it must behave like.
LAYOUTS = {
    "fortran": (lambda a: np.asfortranarray(a), lambda a: a),
    "strided": (lambda a: np.repeat(a, 2, axis=0)[::2], lambda a: a),
    "read-only": (read_only, lambda a: a),
    "big-endian": (big_endian, lambda a: a),
    "list": (lambda a: a.tolist(), lambda a: a),
    "object": (lambda a: a.astype(object), lambda a: a),
    "int": (lambda a: np.round(a * 4).astype(np.int32), lambda a: np.round(a * 4)),
    "bool": (lambda a: a > 0, lambda a: (a > 0).astype(np.float64)),
    "float16": (lambda a: a.astype(np.float16), lambda a: a.astype(np.float16).astype(np.float32)),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_any_layout_or_real_dtype_gives_the_answer_of_a_contiguous_copy(estimator, mode, layout):
    convert, expected = LAYOUTS[layout]
    X, y, _ = fastlr.make_regression(60, 3, noise=0.5, random_state=1)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=60)
    X_new, X_ref = convert(X), np.ascontiguousarray(expected(X))
    y_new, y_ref = convert(y), np.ascontiguousarray(expected(y))
    # Integer or boolean weights would be a different weighting: keep them as they are there.
    w_new, w_ref = (w, w) if layout in ("int", "bool") else (convert(w), expected(w))

    model = estimator(**params(mode)).fit(X_new, y_new, sample_weight=w_new)
    twin = estimator(**params(mode)).fit(X_ref, y_ref, sample_weight=w_ref)
    np.testing.assert_array_equal(model.coef_, twin.coef_)
    assert model.intercept_ == twin.intercept_
    np.testing.assert_array_equal(model.predict(X_new), twin.predict(X_ref))
    assert model.score(X_new, y_new, sample_weight=w_new) == twin.score(X_ref, y_ref, w_ref)
    model.partial_fit(X_new, y_new, sample_weight=w_new)
    twin.partial_fit(X_ref, y_ref, sample_weight=w_ref)
    np.testing.assert_array_equal(model.coef_, twin.coef_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_predictions_keep_the_float_dtype_of_X(estimator, dtype):
    model = estimator(max_iter=5, tol=None).fit(X0.astype(dtype), y0)
    assert model.predict(X0.astype(dtype)).dtype == dtype
    assert model.predict(X0.astype(np.int64)).dtype == np.float64
    assert model.coef_.dtype == np.float64


FIT_OPTIONS = [
    {"mode": "batch"},
    {"mode": "batch", "solver": "fused"},
    {"mode": "minibatch"},
    {"mode": "sgd", "penalty": "l1"},
    {"mode": "batch", "early_stopping": True},
    {"mode": "sgd", "warm_start": True},
]


@pytest.mark.parametrize("options", FIT_OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_nothing_the_caller_passed_is_modified(estimator, options):
    X, y, _ = fastlr.make_regression(80, 3, noise=0.5, random_state=2)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=80)
    coef_init, intercept_init = np.ones(3), np.array([0.5])
    arguments = {"X": X, "y": y, "w": w, "coef": coef_init, "b": intercept_init}
    before = {name: array.copy() for name, array in arguments.items()}
    settings = {**options, "max_iter": 15, "tol": None, "random_state": 0}
    before_params = dict(settings)

    model = estimator(**settings)
    model.fit(X, y, sample_weight=w, coef_init=coef_init, intercept_init=intercept_init)
    model.fit(X, y, sample_weight=w)  # warm_start reads coef_ back
    model.partial_fit(X, y, sample_weight=w)
    model.predict(X)
    model.score(X, y, sample_weight=w)
    for name, array in arguments.items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)
        assert array.flags.writeable
    assert {name: model.get_params()[name] for name in settings} == before_params

    # And read-only input is read, never written (a write would raise).
    for array in arguments.values():
        array.setflags(write=False)
    model.fit(X, y, sample_weight=w, coef_init=coef_init, intercept_init=intercept_init)
    model.partial_fit(X, y, sample_weight=w)


def snapshot(model):
    """Everything fitted (not the parameters), byte for byte: the whole training state."""
    parameters = model.get_params()
    return pickle.dumps({k: v for k, v in vars(model).items() if k not in parameters})


FAILED_FITS = {
    "nan-in-y": lambda m, X, y: m.fit(X, put(y, 3, np.nan)),
    "inf-in-X": lambda m, X, y: m.fit(put(X, (1, 1), np.inf), y),
    "wrong-shape": lambda m, X, y: m.fit(X[:, 0], y),
    "bad-weights": lambda m, X, y: m.fit(X, y, sample_weight=-np.ones(len(y))),
    "bad-parameter": lambda m, X, y: m.set_params(alpha=-1.0, penalty="l2").fit(X, y),
    "diverges": lambda m, X, y: m.set_params(learning_rate=1e6).fit(X, y),
    "y-overflows": lambda m, X, y: m.fit(X, y * 1e200),
    "partial-nan-in-X": lambda m, X, y: m.partial_fit(put(X, (0, 0), np.nan), y),
    "partial-features": lambda m, X, y: m.partial_fit(X[:, :2], y),
    "partial-outputs": lambda m, X, y: m.partial_fit(X, np.column_stack([y, y])),
    "partial-y-overflows": lambda m, X, y: m.partial_fit(X, y * 1e200),
    "partial-bad-weights": lambda m, X, y: m.partial_fit(X, y, sample_weight=np.zeros(len(y))),
}


@pytest.mark.parametrize("failure", list(FAILED_FITS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_a_failed_fit_or_partial_fit_leaves_the_fitted_model_intact(estimator, mode, failure):
    X, y, _ = fastlr.make_regression(100, 3, noise=0.5, random_state=3)
    model = estimator(**params(mode)).fit(X, y)
    model.partial_fit(X, y)
    before, params_before = snapshot(model), model.get_params()
    with pytest.raises((ValueError, TypeError, FloatingPointError)):
        FAILED_FITS[failure](model, X, y)
    assert snapshot(model) == before
    model.set_params(**params_before)
    # The kept state still trains on exactly as before the failure.
    twin = pickle.loads(before)
    clone = estimator(**params_before)
    clone.__dict__.update(twin)
    np.testing.assert_array_equal(model.partial_fit(X, y).coef_, clone.partial_fit(X, y).coef_)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_zero_and_constant_tiny_columns_are_not_refused(estimator):
    # Only a non-constant column is lost to underflow; constant ones carry nothing to learn.
    X = np.column_stack([X0, np.zeros(40), np.full(40, 1e-200)])
    model = estimator().fit(X, y0)
    without = estimator().fit(X0, y0)
    np.testing.assert_allclose(model.coef_[:3], without.coef_, rtol=1e-6)
    np.testing.assert_allclose(model.predict(X), without.predict(X0), rtol=1e-5)
