"""Errors fastlr raises beyond the built-in ones."""

from __future__ import annotations

import sys
from typing import Any


class NotFittedError(ValueError, AttributeError):
    """``predict`` or ``score`` was called before ``fit`` (same bases as scikit-learn's).

    When scikit-learn is loaded, the error raised is also an instance of
    ``sklearn.exceptions.NotFittedError`` (see :func:`not_fitted`), so code written for
    scikit-learn catches it; fastlr itself never imports scikit-learn.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # The scikit-learn flavoured subclass is made at run time: pickle as the plain class.
        return (NotFittedError, self.args)


class DivergenceError(FloatingPointError):
    """Training stopped because the loss or the coefficients stopped being finite.

    The model keeps whatever state it had before the failed ``fit``. The message names the
    learning rate used and a smaller one to try.
    """


class ConvergenceWarning(UserWarning):
    """``fit`` used all ``max_iter`` epochs without the loss settling within ``tol``."""


class FitInterruptedWarning(UserWarning):
    """Ctrl-C stopped ``fit``; the model of the last completed epoch was kept."""


def not_fitted(message: str) -> NotFittedError:
    """A :class:`NotFittedError`, also scikit-learn's when ``sklearn.exceptions`` is loaded.

    Code that catches ``sklearn.exceptions.NotFittedError`` has imported it, so looking in
    ``sys.modules`` at raise time is enough: no import, and no cost without scikit-learn.
    """
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    base = getattr(sklearn_exceptions, "NotFittedError", None)
    if isinstance(base, type) and issubclass(base, BaseException):
        return _with_base(base)(message)
    return NotFittedError(message)


_COMBINED: dict[type, type[NotFittedError]] = {}


def _with_base(base: type) -> type[NotFittedError]:
    """fastlr's NotFittedError that is also ``base`` (made once per base class)."""
    if base not in _COMBINED:
        namespace = {"__module__": __name__, "__doc__": NotFittedError.__doc__}
        _COMBINED[base] = type("NotFittedError", (NotFittedError, base), namespace)
    return _COMBINED[base]
