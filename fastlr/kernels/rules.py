"""The rules of an epoch (:mod:`fastlr.training.rules`), the same source compiled for the
kernels: the Python loop and the compiled loops cannot disagree on when to stop or how to step."""

from __future__ import annotations

from fastlr.kernels.jit import jit_serial
from fastlr.training import rules as _rules

update_parameters = jit_serial(_rules.update_parameters)
epoch_learning_rate = jit_serial(_rules.epoch_learning_rate)
epoch_verdict = jit_serial(_rules.epoch_verdict)
penalty_value = jit_serial(_rules.penalty_value)
certified_gap = jit_serial(_rules.certified_gap)
_GAP = _rules.GAP
_NONFINITE = _rules.NONFINITE
_CONVERGED = _rules.CONVERGED
