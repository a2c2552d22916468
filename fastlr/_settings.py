"""Parameters resolved once into the final :class:`~fastlr.training.settings.TrainSettings`: the
one place that checks every value, and where a mode's refusals are asked (the one table of what a
mode or an engine cannot take is :data:`fastlr.training.settings.UNSUPPORTED`).

Nothing below the estimator sees a parameter as a string: modes, schedules and penalties leave
here as the numbers and flags the training code and the kernels use.
"""

from __future__ import annotations

from fastlr._params import Parameters
from fastlr._random import check_random_state
from fastlr._validation import check_bool, check_choice, check_number
from fastlr.training import rules as _rules
from fastlr.training.settings import TrainSettings, refuse_unsupported

MODES = ("batch", "minibatch", "sgd")
PENALTIES = (None, "l2", "l1", "elasticnet")
SOLVERS = ("auto", "gram", "fused")


def resolve_settings(p: Parameters, n_threads: int = 1) -> TrainSettings:
    """Check the parameters of ``p`` and resolve them into the settings of a run on
    ``n_threads`` threads (raises ValueError or TypeError naming the parameter)."""
    mode = check_choice(p.mode, "mode", MODES)
    if isinstance(p.learning_rate, str):
        check_choice(p.learning_rate, "learning_rate", ("auto",))
        learning_rate = None
    else:
        learning_rate = check_number(p.learning_rate, "learning_rate", low=0, low_open=True)
    schedule = check_choice(p.schedule, "schedule", tuple(_rules.SCHEDULES))
    momentum: float | None = None
    if isinstance(p.momentum, str):
        check_choice(p.momentum, "momentum", ("auto",))
    else:
        momentum = check_number(p.momentum, "momentum", low=0)
        if momentum >= 1:
            raise ValueError(f"momentum must be 'auto' or in [0, 1); got {p.momentum!r}")
    nesterov = check_bool(p.nesterov, "nesterov")
    if nesterov and not (momentum is not None and momentum > 0):
        raise ValueError(f"nesterov=True needs a momentum in (0, 1); got {p.momentum!r}")
    if p.penalty not in PENALTIES:
        raise ValueError(
            f"penalty must be one of None, 'l2', 'l1', 'elasticnet'; got {p.penalty!r}"
        )
    alpha = check_number(p.alpha, "alpha", low=0)
    l1_ratio = check_number(p.l1_ratio, "l1_ratio", low=0)
    if l1_ratio > 1:
        raise ValueError(f"l1_ratio must be in [0, 1]; got {p.l1_ratio!r}")
    ratio = {None: None, "l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[p.penalty]
    l1 = 0.0 if ratio is None else alpha * ratio
    l2 = 0.0 if ratio is None else alpha * (1.0 - ratio)
    if p.average is not None:
        check_bool(p.average, "average")
    average = mode != "batch" if p.average is None else bool(p.average)
    hogwild = check_bool(p.hogwild, "hogwild")
    validation_fraction = check_number(
        p.validation_fraction, "validation_fraction", low=0, low_open=True
    )
    if validation_fraction >= 1:
        raise ValueError(f"validation_fraction must be in (0, 1); got {p.validation_fraction!r}")
    if p.callback is not None and not callable(p.callback):
        raise TypeError(f"callback must be None or a callable; got {p.callback!r}")
    check_bool(p.warm_start, "warm_start")
    momentum_asked = momentum is not None and momentum > 0
    asked = {"momentum": momentum_asked, "average": average, "hogwild": hogwild}
    refuse_unsupported(mode, asked)
    return TrainSettings(
        mode=mode,
        learning_rate=learning_rate,
        max_iter=check_number(p.max_iter, "max_iter", integer=True, low=1, allow_none=True),
        tol=check_number(p.tol, "tol", low=0, allow_none=True),
        n_iter_no_change=check_number(p.n_iter_no_change, "n_iter_no_change", integer=True, low=1),
        batch_size=check_number(p.batch_size, "batch_size", integer=True, low=1),
        shuffle=check_bool(p.shuffle, "shuffle"),
        random_state=check_random_state(p.random_state),
        fit_intercept=check_bool(p.fit_intercept, "fit_intercept"),
        standardize=check_bool(p.standardize, "standardize"),
        schedule=_rules.SCHEDULES[schedule],
        power_t=check_number(p.power_t, "power_t", low=0),
        momentum=momentum,
        nesterov=nesterov,
        l2=l2,
        l1=l1,
        average=average,
        solver=check_choice(p.solver, "solver", SOLVERS),
        early_stopping=check_bool(p.early_stopping, "early_stopping"),
        validation_fraction=validation_fraction,
        hogwild=hogwild,
        n_threads=n_threads,
    )


def check_verbose(p: Parameters) -> int:
    """Check ``n_jobs`` and ``verbose`` (read outside the settings) and return ``verbose``."""
    from fastlr._threading import resolve_n_jobs

    if p.n_jobs is not None:
        resolve_n_jobs(p.n_jobs)  # raise early, with the message naming n_jobs
    return int(check_number(p.verbose, "verbose", integer=True, low=0))
