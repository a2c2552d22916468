"""Pictures of a fit: loss curves, the fitted line, predictions against the targets.

Needs matplotlib (``pip install "fastlr[plot]"``), which is imported only when a function is
called: ``import fastlr.plot`` works without it, and ``import fastlr`` does not import this
module. Each function draws on ``ax`` (a new figure's axes when None) and returns the axes, so
plots can be combined and restyled with matplotlib as usual.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")  # draw off screen (no window); leave it out in a notebook
>>> import matplotlib.pyplot as plt
>>> import fastlr
>>> import fastlr.plot
>>> X, y, _ = fastlr.make_regression(300, 1, noise=10.0, random_state=0)
>>> model = fastlr.LinearRegression(mode="sgd", random_state=0, max_iter=20, tol=None)
>>> model = model.fit(X, y)
>>> figure, (left, middle, right) = plt.subplots(1, 3, figsize=(12, 4))
>>> _ = fastlr.plot.loss_history(model, ax=left)
>>> _ = fastlr.plot.fit_line(model, X, y, ax=middle)
>>> _ = fastlr.plot.predicted_vs_actual(model, X, y, ax=right)
>>> plt.close(figure)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlr.exceptions import NotFittedError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["fit_line", "loss_history", "predicted_vs_actual"]

#: What ``pip`` needs for this module, quoted in the error when matplotlib is missing.
INSTALL_HINT = 'pip install "fastlr[plot]"'


def loss_history(
    runs: Any,
    *,
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    log: bool = True,
) -> Axes:
    """Plot the loss of each epoch for one or several runs on one axis.

    Parameters
    ----------
    runs : estimator, array-like, sequence of them, or dict
        A fitted estimator (its ``loss_history_`` is drawn), a 1-d array of losses, a list of
        such runs, or a dict ``{label: run}``.
    labels : sequence of str, optional
        One legend entry per run (not with a dict, whose keys are the labels). By default an
        estimator is labelled by its repr and an array by its position, ``"run 1"``, ...
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.
    log : bool, default=True
        Logarithmic loss axis (the loss of gradient descent falls geometrically).

    Returns
    -------
    matplotlib.axes.Axes
        One line per run: x the epochs from 1, y the losses.

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    NotFittedError
        When an estimator in ``runs`` is not fitted.
    ValueError
        When a run is not 1-d, there are no runs, or ``labels`` does not match them.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import fastlr
    >>> import fastlr.plot
    >>> X, y, _ = fastlr.make_regression(500, 3, noise=1.0, random_state=0)
    >>> settings = dict(random_state=0, max_iter=30, tol=None)
    >>> runs = {
    ...     mode: fastlr.LinearRegression(mode=mode, **settings).fit(X, y)
    ...     for mode in ("minibatch", "sgd")
    ... }
    >>> ax = fastlr.plot.loss_history(runs)
    >>> [line.get_label() for line in ax.get_lines()], ax.get_yscale()
    (['minibatch', 'sgd'], 'log')
    >>> plt.close(ax.figure)
    """
    named = _named_runs(runs, labels)
    ax = _axes(ax)
    for label, history in named:
        ax.plot(np.arange(1, history.shape[0] + 1), history, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (objective of the epoch)")
    ax.legend()
    return ax


def fit_line(model: Any, X: Any, y: Any, *, ax: Axes | None = None) -> Axes:
    """Plot the data as points and the fitted line of a one-feature model.

    Parameters
    ----------
    model : fitted estimator
        Fitted on one feature and one output.
    X : array-like of shape (n_samples, 1) or (n_samples,)
        The feature.
    y : array-like of shape (n_samples,)
        The targets.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        A scatter of ``(X, y)`` and one line, ``model.predict`` from the smallest to the
        largest x, labelled with its equation.

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    NotFittedError
        When the model is not fitted.
    ValueError
        When the model or ``X`` has more than one feature, the model more than one output,
        or ``X`` and ``y`` differ in length.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> import fastlr
    >>> import fastlr.plot
    >>> x = np.linspace(0.0, 10.0, 50)
    >>> y = 3.0 * x + 1.0
    >>> model = fastlr.LinearRegression().fit(x.reshape(-1, 1), y)
    >>> ax = fastlr.plot.fit_line(model, x, y)
    >>> line = ax.get_lines()[0]
    >>> line.get_label()
    'fit: y = 3·x + 1'
    >>> np.round(line.get_ydata(), 6).tolist()
    [1.0, 31.0]
    >>> plt.close(ax.figure)
    """
    _check_fitted(model)
    features = np.asarray(X)
    if features.ndim == 1:
        features = features.reshape(-1, 1)
    if features.ndim != 2 or features.shape[1] != 1:
        raise ValueError(
            f"fit_line draws a model of one feature, but X has shape {np.shape(X)}; "
            "use predicted_vs_actual for several features"
        )
    if model.n_features_in_ != 1:
        raise ValueError(
            f"fit_line draws a model of one feature, but this one was fitted with "
            f"{model.n_features_in_}; use predicted_vs_actual for several features"
        )
    coef = np.asarray(model.coef_, dtype=np.float64).reshape(-1)
    if coef.shape[0] != 1:
        raise ValueError(
            f"fit_line draws a model of one output, but this one has {coef.shape[0]}; "
            "use predicted_vs_actual"
        )
    target = np.asarray(y, dtype=np.float64).reshape(-1)
    x = features[:, 0]
    if target.shape[0] != x.shape[0] or x.shape[0] == 0:
        raise ValueError(
            f"X and y must hold the same number of samples, at least one; got {x.shape[0]} "
            f"and {target.shape[0]}"
        )
    ends = np.array([x.min(), x.max()], dtype=np.float64)
    line = np.asarray(model.predict(ends.reshape(-1, 1)), dtype=np.float64).reshape(-1)
    intercept = float(np.asarray(model.intercept_).reshape(-1)[0])
    ax = _axes(ax)
    ax.scatter(x, target, s=12, alpha=0.6, label="data")
    ax.plot(
        ends,
        line,
        color="C1",
        linewidth=2,
        label=f"fit: y = {coef[0]:.4g}·x {'-' if intercept < 0 else '+'} {abs(intercept):.4g}",
    )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    return ax


def predicted_vs_actual(model: Any, X: Any, y: Any, *, ax: Axes | None = None) -> Axes:
    """Plot each prediction against its target, with the diagonal ``y = x`` of a perfect fit.

    Works for any number of features; with several outputs all of them share the axes.

    Parameters
    ----------
    model : fitted estimator
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The targets, shaped like ``model.predict(X)``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        A scatter with x the targets and y the predictions (labelled with R²), and a dashed
        diagonal over the range of both.

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    NotFittedError
        When the model is not fitted.
    ValueError
        When ``y`` does not match the shape of the predictions.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import fastlr
    >>> import fastlr.plot
    >>> X, y, _ = fastlr.make_regression(200, 4, noise=20.0, random_state=0)
    >>> model = fastlr.LinearRegression().fit(X, y)
    >>> ax = fastlr.plot.predicted_vs_actual(model, X, y)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('actual y', 'predicted y')
    >>> diagonal = ax.get_lines()[0]
    >>> bool((diagonal.get_xdata() == diagonal.get_ydata()).all())
    True
    >>> plt.close(ax.figure)
    """
    _check_fitted(model)
    prediction = np.asarray(model.predict(X), dtype=np.float64)
    actual = np.asarray(y, dtype=np.float64)
    if actual.size != prediction.size or actual.shape[0] != prediction.shape[0]:
        raise ValueError(
            f"y has shape {actual.shape}, but the model predicts shape {prediction.shape}"
        )
    actual = actual.reshape(prediction.shape)
    r2 = model.score(X, actual)
    ax = _axes(ax)
    ax.scatter(
        actual.ravel(), prediction.ravel(), s=12, alpha=0.6, label=f"samples (R² = {r2:.4f})"
    )
    low = float(min(actual.min(), prediction.min()))
    high = float(max(actual.max(), prediction.max()))
    ax.plot([low, high], [low, high], linestyle="--", color="0.3", label="y = x (perfect fit)")
    ax.set_xlabel("actual y")
    ax.set_ylabel("predicted y")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend()
    return ax


# --------------------------------------------------------------------------- helpers
def _axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new figure (matplotlib imported here, not at module import)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            f"fastlr.plot needs matplotlib, which is not installed; install it with: {INSTALL_HINT}"
        ) from error
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _check_fitted(model: Any) -> None:
    if not hasattr(model, "coef_"):
        raise NotFittedError(
            f"this {type(model).__name__} is not fitted yet; call fit(X, y) before plotting it"
        )


def _named_runs(runs: Any, labels: Sequence[str] | None) -> list[tuple[str, np.ndarray]]:
    """``(label, losses)`` for each run, whatever shape ``runs`` came in."""
    if isinstance(runs, Mapping):
        if labels is not None:
            raise ValueError("give labels either as the keys of a dict of runs or as labels=")
        items = [(str(label), run) for label, run in runs.items()]
    else:
        single = (
            hasattr(runs, "fit")
            or isinstance(runs, np.ndarray)
            or (
                isinstance(runs, Sequence)
                and len(runs) > 0
                and all(isinstance(value, Real) for value in runs)
            )
        )
        listed = [runs] if single else list(runs)
        if labels is not None:
            if isinstance(labels, str) or len(labels) != len(listed):
                raise ValueError(
                    f"labels must be a sequence of {len(listed)} strings (one per run); "
                    f"got {labels!r}"
                )
            names = [str(label) for label in labels]
        else:
            names = [
                repr(run) if hasattr(run, "fit") else f"run {index + 1}"
                for index, run in enumerate(listed)
            ]
        items = list(zip(names, listed, strict=True))
    if not items:
        raise ValueError("no runs to plot")
    return [(label, _losses(run, label)) for label, run in items]


def _losses(run: Any, label: str) -> np.ndarray:
    if hasattr(run, "fit"):
        if not hasattr(run, "loss_history_"):
            raise NotFittedError(
                f"{label} is not fitted yet, so it has no loss history; fit it first"
            )
        run = run.loss_history_
    losses = np.asarray(run, dtype=np.float64)
    if losses.ndim != 1:
        raise ValueError(
            f"each run must be a fitted estimator or a 1-d array of losses; {label!r} has "
            f"shape {losses.shape}"
        )
    return losses
