"""fastlr.plot: the artists hold the model's numbers; matplotlib is optional and lazy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import fastlr
import fastlr.plot
from fastlr import reference
from fastlr.exceptions import NotFittedError


@pytest.fixture
def plt():
    """pyplot on the Agg backend; every figure closed after the test."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    yield pyplot
    pyplot.close("all")


def _line_data(n=80, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 5.0, size=n)
    return x.reshape(-1, 1), 2.5 * x - 4.0 + noise * rng.normal(size=n)


def _fitted(**params):
    X, y = _line_data()
    return fastlr.LinearRegression(max_iter=25, tol=None, **params).fit(X, y)


# --------------------------------------------------------------------------- loss_history
def test_loss_history_draws_the_losses_per_epoch_on_a_log_axis(plt):
    model = _fitted(mode="sgd", random_state=0)
    ax = fastlr.plot.loss_history(model)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), model.loss_history_)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, model.n_iter_ + 1))
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "epoch"
    assert "loss" in ax.get_ylabel()
    assert line.get_label() == repr(model)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [repr(model)]


def test_loss_history_of_several_runs_one_line_each_with_labels(plt):
    models = [_fitted(mode=mode, random_state=0) for mode in ("batch", "minibatch", "sgd")]
    raw = np.array([4.0, 2.0, 1.0, 0.5])
    runs = [*models, raw]
    labels = ["batch", "minibatch", "sgd", "by hand"]
    ax = fastlr.plot.loss_history(runs, labels=labels, log=False)
    lines = ax.get_lines()
    assert len(lines) == len(runs)
    assert [line.get_label() for line in lines] == labels
    for line, run in zip(lines, [m.loss_history_ for m in models] + [raw], strict=True):
        np.testing.assert_array_equal(line.get_ydata(), run)
    assert ax.get_yscale() == "linear"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == labels


def test_loss_history_takes_a_dict_of_label_to_run(plt):
    runs = {"fastlr": _fitted(), "reference": reference.LinearRegression(max_iter=25, tol=None)}
    runs["reference"].fit(*_line_data())
    ax = fastlr.plot.loss_history(runs)
    assert [line.get_label() for line in ax.get_lines()] == ["fastlr", "reference"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), runs["reference"].loss_history_)


def test_loss_history_takes_plain_sequences_and_default_labels(plt):
    ax = fastlr.plot.loss_history([3.0, 2.0, 1.5])  # one run given as a list of numbers
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0, 1.5])
    assert line.get_label() == "run 1"
    ax = fastlr.plot.loss_history([np.ones(3), np.ones(5)])
    assert [line.get_label() for line in ax.get_lines()] == ["run 1", "run 2"]
    assert [len(line.get_ydata()) for line in ax.get_lines()] == [3, 5]


def test_loss_history_draws_on_the_axes_given(plt):
    figure, (left, right) = plt.subplots(1, 2)
    returned = fastlr.plot.loss_history(np.ones(4), ax=right)
    assert returned is right
    assert len(right.get_lines()) == 1
    assert len(left.get_lines()) == 0
    assert plt.get_fignums() == [figure.number]  # no other figure was opened


def test_loss_history_creates_a_figure_when_no_axes(plt):
    ax = fastlr.plot.loss_history(np.ones(4))
    assert plt.get_fignums() == [ax.figure.number]


@pytest.mark.parametrize(
    ("runs", "labels", "error", "message"),
    [
        ([], None, ValueError, "no runs to plot"),
        (np.ones((2, 3)), None, ValueError, r"1-d array of losses; 'run 1' has shape \(2, 3\)"),
        ([np.ones(3), np.ones(3)], ["only one"], ValueError, "sequence of 2 strings"),
        ([np.ones(3)], "abc", ValueError, "sequence of 1 strings"),
        ({"a": np.ones(3)}, ["b"], ValueError, "either as the keys of a dict"),
        (fastlr.LinearRegression(), None, NotFittedError, "not fitted yet"),
    ],
)
def test_loss_history_errors(plt, runs, labels, error, message):
    with pytest.raises(error, match=message):
        fastlr.plot.loss_history(runs, labels=labels)


# --------------------------------------------------------------------------- fit_line
@pytest.mark.parametrize("shape", ["column", "flat"])
def test_fit_line_draws_the_data_and_the_models_line(plt, shape):
    X, y = _line_data(seed=1)
    model = fastlr.LinearRegression().fit(X, y)
    ax = fastlr.plot.fit_line(model, X if shape == "column" else X[:, 0], y)
    (points,) = ax.collections
    np.testing.assert_array_equal(points.get_offsets(), np.column_stack([X[:, 0], y]))
    (line,) = ax.get_lines()
    x_line = np.asarray(line.get_xdata(), dtype=np.float64)
    np.testing.assert_array_equal(x_line, [X.min(), X.max()])
    np.testing.assert_array_equal(line.get_ydata(), model.predict(x_line.reshape(-1, 1)))
    b = model.intercept_
    assert line.get_label() == f"fit: y = {model.coef_[0]:.4g}·x - {abs(b):.4g}"
    assert b < 0
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "data",
        line.get_label(),
    ]


def test_fit_line_with_a_single_output_2d_model(plt):
    X, y = _line_data()
    model = fastlr.LinearRegression().fit(X, y.reshape(-1, 1))
    ax = fastlr.plot.fit_line(model, X, y)
    (line,) = ax.get_lines()
    x_line = np.asarray(line.get_xdata())
    np.testing.assert_array_equal(line.get_ydata(), model.predict(x_line.reshape(-1, 1))[:, 0])


def test_fit_line_refuses_more_than_one_feature(plt):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = X @ [1.0, 2.0]
    model = fastlr.LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"one feature, but X has shape \(50, 2\)"):
        fastlr.plot.fit_line(model, X, y)
    with pytest.raises(ValueError, match=r"one feature, but this one was fitted with 2"):
        fastlr.plot.fit_line(model, X[:, :1], y)
    assert plt.get_fignums() == []  # nothing drawn before the error


def test_fit_line_refuses_several_outputs_and_mismatched_lengths(plt):
    X, y = _line_data()
    model = fastlr.LinearRegression().fit(X, np.column_stack([y, -y]))
    with pytest.raises(ValueError, match="one output, but this one has 2"):
        fastlr.plot.fit_line(model, X, y)
    single = fastlr.LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match="same number of samples"):
        fastlr.plot.fit_line(single, X, y[:-1])


def test_fit_line_of_an_unfitted_model(plt):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        fastlr.plot.fit_line(fastlr.LinearRegression(), *_line_data())


# --------------------------------------------------------------------------- predicted_vs_actual
def test_predicted_vs_actual_scatter_and_diagonal(plt):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=60)
    model = fastlr.LinearRegression().fit(X, y)
    ax = fastlr.plot.predicted_vs_actual(model, X, y)
    (points,) = ax.collections
    np.testing.assert_array_equal(points.get_offsets(), np.column_stack([y, model.predict(X)]))
    (diagonal,) = ax.get_lines()
    low = min(y.min(), model.predict(X).min())
    high = max(y.max(), model.predict(X).max())
    np.testing.assert_array_equal(diagonal.get_xdata(), [low, high])
    np.testing.assert_array_equal(diagonal.get_ydata(), [low, high])
    assert diagonal.get_linestyle() == "--"
    assert points.get_label() == f"samples (R² = {model.score(X, y):.4f})"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("actual y", "predicted y")
    assert len(ax.get_legend().get_texts()) == 2


def test_predicted_vs_actual_with_several_outputs(plt):
    X, y = _line_data()
    Y = np.column_stack([y, 3 * y])
    model = fastlr.LinearRegression().fit(X, Y)
    ax = fastlr.plot.predicted_vs_actual(model, X, Y)
    offsets = ax.collections[0].get_offsets()
    assert offsets.shape == (Y.size, 2)
    np.testing.assert_array_equal(offsets[:, 0], Y.ravel())


def test_predicted_vs_actual_errors(plt):
    X, y = _line_data()
    model = fastlr.LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"y has shape \(79,\), but the model predicts"):
        fastlr.plot.predicted_vs_actual(model, X, y[:-1])
    with pytest.raises(NotFittedError):
        fastlr.plot.predicted_vs_actual(fastlr.LinearRegression(), X, y)


# --------------------------------------------------------------------------- without matplotlib
@pytest.mark.parametrize("function", ["loss_history", "fit_line", "predicted_vs_actual"])
def test_missing_matplotlib_says_how_to_install_it(function, monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    model = _fitted()
    arguments = (model,) if function == "loss_history" else (model, *_line_data())
    with pytest.raises(ImportError, match=r'needs matplotlib.*pip install "fastlr\[plot\]"'):
        getattr(fastlr.plot, function)(*arguments)


def test_importing_fastlr_and_fastlr_plot_does_not_import_matplotlib():
    code = (
        "import sys, fastlr; assert 'fastlr.plot' not in sys.modules; "
        "import fastlr.plot; assert 'matplotlib' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
