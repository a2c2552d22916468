"""scikit-learn compatibility: its own estimator checks, clone, pickle, Pipeline, GridSearchCV.

fastlr never imports scikit-learn (the tags are built lazily in ``__sklearn_tags__``); these
tests do, and scikit-learn is a test dependency.
"""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_regressor
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

import fastlr
from fastlr import reference

# Default parameters: the checks use tiny data sets, so they run in about a second per
# estimator without shrinking max_iter. The stochastic modes take other code paths (shuffling,
# averaging, the stochastic divergence rule), so they are checked too.
CHECKED = [
    fastlr.LinearRegression(),
    fastlr.LinearRegression(mode="minibatch"),
    fastlr.LinearRegression(mode="sgd"),
    fastlr.LinearRegression(penalty="elasticnet"),
    reference.LinearRegression(),
    reference.LinearRegression(mode="sgd"),
]

with warnings.catch_warnings():
    # scikit-learn warns at collection that the estimators do not inherit from its
    # BaseEstimator: by design, so that fastlr does not depend on scikit-learn.
    warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn.base.BaseEst")
    sklearn_checks = parametrize_with_checks(CHECKED)


@sklearn_checks
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        if getattr(check, "func", check).__name__ == "check_regressor_multioutput":
            # 11 rows, 10 features and an intercept: an exactly determined, ill-conditioned
            # system that 1000 epochs of the data path do not settle; saying so is correct.
            warnings.simplefilter("ignore", fastlr.ConvergenceWarning)
        if getattr(check, "func", check).__name__ == "check_sample_weights_shape":
            # A check of shapes on 16 rows whose least-squares coefficient 0 comes out as 5e-17:
            # on the AMD EPYC (Zen 5) the last refinement step is an ulp of noise, 1.2e-10 of
            # the 1e-6 floor a zero coefficient is measured against, so the fit is certified to
            # 9.9 digits and says so (since before this CPU's kernels changed; open in issue 11).
            warnings.filterwarnings(
                "ignore", message=".*certified to 9", category=fastlr.ConvergenceWarning
            )
        if estimator.mode != "batch":
            # Tiny sets of pure noise (30-50 rows, y random ints): an sgd fit ends an R² of
            # 1e-3..1e-2 short of least squares even after its step cuts; saying so is correct.
            warnings.filterwarnings(
                "ignore", message=".*fit stopped on a plateau", category=fastlr.ConvergenceWarning
            )
        check(estimator)


def data(n=200, d=3, seed=0):
    X, y, _ = fastlr.make_regression(n, d, noise=0.5, bias=1.0, random_state=seed)
    return X, y


ESTIMATORS = [fastlr.LinearRegression, reference.LinearRegression]
MODES = ["batch", "minibatch", "sgd"]


def test_import_fastlr_does_not_import_sklearn():
    code = "import sys, fastlr, fastlr.reference; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_is_a_regressor_with_sklearn_tags(estimator):
    model = estimator()
    assert is_regressor(model)
    tags = model.__sklearn_tags__()
    assert tags.target_tags.required
    assert tags.target_tags.multi_output
    assert not tags.input_tags.sparse
    assert not tags.input_tags.allow_nan


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_clone_copies_parameters_not_the_fit(estimator):
    X, y = data()
    model = estimator(mode="minibatch", batch_size=32, random_state=4, penalty="l2", alpha=0.01)
    model.fit(X, y)
    copy = clone(model)
    assert type(copy) is type(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "coef_")
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(copy)
    check_is_fitted(model)
    np.testing.assert_array_equal(copy.fit(X, y).coef_, model.coef_)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_not_fitted_error_is_also_sklearns(estimator):
    with pytest.raises(SklearnNotFittedError, match="not fitted yet") as caught:
        estimator().predict(np.ones((2, 3)))
    assert isinstance(caught.value, fastlr.NotFittedError)
    # Pickled, it comes back as fastlr's own class (the combined one is made at run time).
    assert type(pickle.loads(pickle.dumps(caught.value))) is fastlr.NotFittedError


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("mode", MODES)
def test_pickle_round_trip_predicts_and_continues_identically(estimator, mode):
    X, y = data()
    unfitted = estimator(mode=mode, random_state=0, max_iter=30, tol=None)
    restored = pickle.loads(pickle.dumps(unfitted))
    assert restored.get_params() == unfitted.get_params()
    assert not hasattr(restored, "coef_")

    model = unfitted.fit(X, y)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict(X), model.predict(X))
    for name in ("coef_", "intercept_", "loss_history_", "n_iter_", "t_", "n_features_in_"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(model, name))
    # Training continues from the same state (schedule clock, momentum, scaling) either way.
    X2, y2 = data(seed=1)
    model.partial_fit(X2, y2)
    copy.partial_fit(X2, y2)
    np.testing.assert_array_equal(copy.coef_, model.coef_)
    np.testing.assert_array_equal(copy.loss_history_, model.loss_history_)
    assert copy.t_ == model.t_ == 31


def test_pickle_of_a_partial_fit_model_continues():
    X, y = data()
    model = fastlr.LinearRegression(mode="sgd", random_state=0)
    model.partial_fit(X[:100], y[:100])
    copy = pickle.loads(pickle.dumps(model))
    for m in (model, copy):
        m.partial_fit(X[100:], y[100:])
    np.testing.assert_array_equal(copy.coef_, model.coef_)
    assert copy.intercept_ == model.intercept_


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_pipeline_with_a_scaler_equals_scaling_by_hand(estimator):
    X, y = data()
    X = X * [1.0, 100.0, 0.01] + [5.0, -3.0, 0.0]
    params = {"standardize": False, "learning_rate": 0.5, "max_iter": 200, "tol": None}
    pipe = Pipeline([("scale", StandardScaler()), ("lr", estimator(**params))]).fit(X, y)
    scaled = StandardScaler().fit_transform(X)
    by_hand = estimator(**params).fit(scaled, y)
    np.testing.assert_allclose(pipe.predict(X), by_hand.predict(scaled), rtol=1e-12)
    assert pipe.score(X, y) == pytest.approx(by_hand.score(scaled, y), rel=1e-12)
    assert pipe.score(X, y) > 0.99
    check_is_fitted(pipe)
    pipe.set_params(lr__alpha=0.5, lr__penalty="l2")
    assert pipe.named_steps["lr"].penalty == "l2"


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_grid_search_over_penalty_and_mode(estimator):
    X, y = data(n=300, d=4)
    X = np.hstack([X, np.random.default_rng(0).standard_normal((300, 6))])  # 6 noise features
    grid = GridSearchCV(
        estimator(random_state=0),
        {"penalty": [None, "l1"], "alpha": [1e-4, 100.0], "mode": ["batch", "sgd"]},
        cv=3,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 8
    # alpha=100 with L1 zeroes every coefficient: those candidates must rank last.
    ranks = grid.cv_results_["rank_test_score"]
    worst = [i for i, p in enumerate(grid.cv_results_["params"]) if p["penalty"] == "l1"]
    worst = [i for i in worst if grid.cv_results_["params"][i]["alpha"] == 100.0]
    assert all(ranks[i] > 6 for i in worst)
    assert grid.best_params_["alpha"] == 1e-4 or grid.best_params_["penalty"] is None
    assert grid.best_score_ > 0.99
    assert grid.best_estimator_.n_features_in_ == 10
    np.testing.assert_allclose(grid.predict(X), grid.best_estimator_.predict(X))


def test_cross_val_score_in_a_pipeline():
    X, y = data(n=300)
    scores = cross_val_score(make_pipeline(StandardScaler(), fastlr.LinearRegression()), X, y)
    assert scores.shape == (5,)
    assert (scores > 0.99).all()


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("multi_output", [False, True])
def test_score_is_sklearns_r2_with_and_without_weights(estimator, multi_output):
    X, y = data()
    if multi_output:
        y = np.column_stack([y, -2.0 * y + 1.0, np.random.default_rng(1).standard_normal(200)])
    model = estimator(max_iter=20, tol=None).fit(X, y)
    prediction = model.predict(X)
    assert model.score(X, y) == pytest.approx(r2_score(y, prediction), rel=1e-12)
    weights = np.random.default_rng(2).uniform(0, 2, size=200)
    assert model.score(X, y, sample_weight=weights) == pytest.approx(
        r2_score(y, prediction, sample_weight=weights), rel=1e-12
    )
