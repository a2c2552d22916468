"""The estimator's parameters and scikit-learn's protocol for them: ``__init__``, ``get_params``,
``set_params``, the tags and the repr. Values are checked when a fit runs (:mod:`fastlr._settings`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

    from fastlr._random import RandomState
    from fastlr.training.loop import EpochInfo


class Parameters:
    """The constructor parameters of :class:`fastlr.LinearRegression` (documented there)."""

    def __init__(
        self,
        mode: str = "batch",
        *,
        learning_rate: float | str = "auto",
        max_iter: int | None = None,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 5,
        batch_size: int = 256,
        shuffle: bool = True,
        random_state: RandomState = None,
        fit_intercept: bool = True,
        standardize: bool = True,
        schedule: str = "constant",
        power_t: float = 0.25,
        momentum: float | str = "auto",
        nesterov: bool = False,
        penalty: str | None = None,
        alpha: float = 1e-4,
        l1_ratio: float = 0.15,
        average: bool | None = None,
        solver: str = "auto",
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        warm_start: bool = False,
        callback: Callable[[EpochInfo], Any] | None = None,
        hogwild: bool = False,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.mode = mode
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.schedule = schedule
        self.power_t = power_t
        self.momentum = momentum
        self.nesterov = nesterov
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.average = average
        self.solver = solver
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.callback = callback
        self.hogwild = hogwild
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ scikit-learn protocol
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(Parameters.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor parameters as a dict (scikit-learn protocol).

        Parameters
        ----------
        deep : bool, default=True
            Accepted for scikit-learn; no parameter holds a nested estimator, so it changes
            nothing.

        Returns
        -------
        dict
            Every ``__init__`` parameter by name, as currently set.

        Examples
        --------
        >>> import fastlr
        >>> params = fastlr.LinearRegression(mode="sgd", learning_rate=0.01).get_params()
        >>> params["mode"], params["learning_rate"], params["max_iter"]
        ('sgd', 0.01, None)
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters by name (scikit-learn protocol).

        Values are checked when ``fit`` runs, so an invalid one is reported there, naming it.

        Parameters
        ----------
        **params
            Parameter names and their new values.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For a name that is not a parameter (the message lists the valid ones).

        Examples
        --------
        >>> import fastlr
        >>> model = fastlr.LinearRegression().set_params(penalty="l2", alpha=0.1)
        >>> model
        LinearRegression(penalty='l2', alpha=0.1)
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r}; valid parameters: {', '.join(valid)}"
                )
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self) -> Any:
        """Estimator tags for scikit-learn >= 1.6 (a regressor; 1-D or 2-D ``y``).

        scikit-learn is imported here, not at module level: only scikit-learn calls this, so
        fastlr does not depend on it.
        """
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=True, multi_output=True, single_output=True),
            regressor_tags=RegressorTags(),
            input_tags=InputTags(two_d_array=True),
        )

    def __repr__(self) -> str:
        defaults = inspect.signature(Parameters.__init__).parameters
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults[name].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except (TypeError, ValueError):
        return False
