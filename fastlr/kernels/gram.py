"""Iterations on the sufficient statistics (``XᵀX``, ``Xᵀy``): the loss and gradient of the
centred problem, and the compiled loop of thousands of such epochs."""

from __future__ import annotations

import numpy as np

from fastlr.kernels.jit import jit_serial
from fastlr.kernels.rules import (
    _CONVERGED,
    _GAP,
    _NONFINITE,
    certified_gap,
    epoch_learning_rate,
    epoch_verdict,
    penalty_value,
    update_parameters,
)


@jit_serial
def gram_loss_and_gradient(problem, coef, intercept, grad):
    """Loss and gradient from the sufficient statistics
    (:class:`~fastlr.kernels.records.GramProblem`), in training coordinates.

    With u = b - ȳ: ``L = ½ Σ_o (wᵀHw - 2wᵀC_o + 2u·m_zᵀw + u² + var_o)``,
    ``∇_w = Hw - C_o + u·m_z`` and ``∇_b = u + m_zᵀw``, where H = E_w[zzᵀ], C = E_w[z(y - ȳ)],
    m_z = E_w[z]. Centered y keeps the loss accurate down to rounding of var(y).
    """
    H, C, mean_z, y_mean, y_var = problem
    k, d = coef.shape
    loss = 0.0
    for o in range(k):
        u = intercept[o] - y_mean[o]
        quad = 0.0
        lin = 0.0
        mz_w = 0.0
        for j in range(d):
            hw = 0.0
            for m in range(d):
                hw += H[j, m] * coef[o, m]
            quad += coef[o, j] * hw
            lin += coef[o, j] * C[j, o]
            mz_w += mean_z[j] * coef[o, j]
            grad[o, j] = hw - C[j, o] + u * mean_z[j]
        grad[o, d] = u + mz_w
        loss += 0.5 * (quad - 2.0 * lin + 2.0 * u * mz_w + u * u + y_var[o])
    return loss


@jit_serial
def gram_epochs(
    problem,
    iterate,
    schedule,
    penalty,
    momentum,
    fit_intercept,
    max_epochs,
    stopping,
    state,
    history,
):
    """Up to ``max_epochs`` full-batch iterations on the sufficient statistics, O(k·d²) each,
    with the same rules as the Python loop (:mod:`fastlr.training.rules`), the certified error of
    each epoch included; ``iterate`` is updated in place, ``state`` is the loop's state. Returns
    (epochs, verdict); ``history`` receives each epoch's objective."""
    coef, intercept = iterate.coef, iterate.intercept
    l2, l1 = penalty
    learning_rate, rule, power_t, t_start = schedule
    tol, n_iter_no_change, monotone, rise_atol = stopping
    k, d = coef.shape
    grad = np.empty((k, d + 1))
    for e in range(max_epochs):
        loss = gram_loss_and_gradient(problem, coef, intercept, grad)
        loss += penalty_value(coef, l2, l1)
        state[_GAP] = certified_gap(coef, intercept, grad, l2, l1, fit_intercept, state)
        rate = epoch_learning_rate(learning_rate, rule, t_start + e, power_t, state)
        update_parameters(iterate, grad, rate, penalty, momentum, fit_intercept)
        verdict = epoch_verdict(state, loss, tol, n_iter_no_change, rule, monotone, rise_atol)
        history[e] = loss
        if verdict >= _NONFINITE:
            return e, verdict
        if verdict == _CONVERGED:
            return e + 1, verdict
    return max_epochs, 0
