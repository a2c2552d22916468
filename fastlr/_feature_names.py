"""Column names as scikit-learn keeps them: ``feature_names_in_`` from a DataFrame's columns,
and the checks of later calls (the same warnings and error as scikit-learn's estimators).
Found by duck typing: pandas is not imported."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def feature_names(X: Any) -> np.ndarray | None:
    """The column names of ``X`` as an object array, or None: scikit-learn's rules
    (``sklearn.utils.validation._get_feature_names``), found by duck typing.

    Names come from a ``columns`` attribute (a pandas or polars DataFrame; pandas is not
    imported) and count only when every one is a ``str``; names that are all of other types
    (a ``RangeIndex``'s ints) mean no names, and a mix of ``str`` and others is refused.

    Examples
    --------
    >>> import numpy as np
    >>> class Frame:
    ...     def __init__(self, columns):
    ...         self.columns = columns
    >>> feature_names(Frame(["x1", "x2"]))
    array(['x1', 'x2'], dtype=object)
    >>> feature_names(Frame([0, 1])) is None, feature_names(np.zeros((2, 2))) is None
    (True, True)
    """
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(columns, (str, bytes)) or callable(columns):
        return None
    try:
        entries = list(columns)
    except TypeError:  # not a sequence of names
        return None
    if not entries:
        return None
    types = sorted(kind.__qualname__ for kind in {type(entry) for entry in entries})
    if len(types) > 1 and "str" in types:
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {types} as feature name / column name types. "
            "If you want feature names to be stored and validated, you must convert "
            "them all to strings, by using X.columns = X.columns.astype(str) for "
            "example. Otherwise you can remove feature / column names from your input "
            "data, or convert them all to a non-string data type."
        )
    if types != ["str"]:
        return None
    names = np.empty(len(entries), dtype=object)
    for j, entry in enumerate(entries):
        names[j] = entry
    return names


def names_mismatch(fitted: list[str], names: list[str]) -> str:
    """scikit-learn's message for column names that differ from ``feature_names_in_``: the
    names unseen at fit, those missing, or (the same set) that the order changed."""
    message = "The feature names should match those that were passed during fit.\n"
    unexpected = sorted(set(names) - set(fitted))
    missing = sorted(set(fitted) - set(names))

    def listed(group: list[str]) -> str:
        shown = "".join(f"- {name}\n" for name in group[:5])
        return shown + ("- ...\n" if len(group) > 5 else "")

    if unexpected:
        message += "Feature names unseen at fit time:\n" + listed(unexpected)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + listed(missing)
    if not unexpected and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    return message


def check_column_names(fitted: np.ndarray | None, X: Any, estimator: str) -> None:
    """Check the column names of ``X`` against the names a model was fitted with (``fitted``,
    or None): warn when only one of them has names, raise when they differ."""
    names = feature_names(X)
    if fitted is None and names is None:
        return
    if fitted is None:
        warnings.warn(
            f"X has feature names, but {estimator} was fitted without feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if names is None:
        warnings.warn(
            f"X does not have valid feature names, but {estimator} was fitted with feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if len(fitted) != len(names) or bool(np.any(fitted != names)):
        raise ValueError(names_mismatch(list(fitted), list(names)))
