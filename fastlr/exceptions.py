"""Errors fastlr raises beyond the built-in ones."""

from __future__ import annotations


class NotFittedError(ValueError, AttributeError):
    """``predict`` or ``score`` was called before ``fit`` (same bases as scikit-learn's)."""


class DivergenceError(FloatingPointError):
    """Training stopped because the loss or the coefficients stopped being finite.

    The model keeps whatever state it had before the failed ``fit``. The message names the
    learning rate used and a smaller one to try.
    """


class ConvergenceWarning(UserWarning):
    """``fit`` used all ``max_iter`` epochs without the loss settling within ``tol``."""


class FitInterruptedWarning(UserWarning):
    """Ctrl-C stopped ``fit``; the model of the last completed epoch was kept."""
