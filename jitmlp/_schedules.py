"""Learning-rate schedules: the rate η_e of each epoch e, for sgd and (with ``lr_schedule``) adam.

scikit-learn's ``learning_rate`` acts for sgd only; adam always runs at ``learning_rate_init``.
jitmlp keeps that rule while ``lr_schedule`` is None (so default fits stay scikit-learn's models)
and ``lr_schedule`` applies a schedule to both solvers. With η_0 = ``learning_rate_init``, the
schedule sets the rate after each epoch (the first epoch runs at η_0):

constant    η_e = η_0
invscaling  η = η_0 / (t + 1)^power_t, t the samples seen so far (scikit-learn's ``t_``)
adaptive    η_0 until the training loss (or the validation score, with early stopping) has not
            improved by ``tol`` for ``n_iter_no_change`` epochs; then η ← η/5 instead of
            stopping, and the fit stops once η <= 1e-6
cosine      η_e = η_0 (1 + cos(π·min(e, max_iter)/max_iter)) / 2, e the epochs since the
            optimizer was created (each ``fit``; ``partial_fit`` calls continue it)

For adam η_e is the rate its bias-corrected step size η_e·√(1−β₂ᵗ)/(1−β₁ᵗ) is taken from, as
PyTorch's schedulers set adam's ``lr``.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "invscaling", "adaptive", "cosine")


def schedule_of(estimator) -> str:
    """The schedule a stochastic fit follows: ``lr_schedule``, else scikit-learn's rule."""
    if estimator.lr_schedule is not None:
        return estimator.lr_schedule
    return estimator.learning_rate if estimator.solver == "sgd" else "constant"


def check_schedule(estimator) -> None:
    """Refuse ``learning_rate`` and ``lr_schedule`` both set: one schedule per fit."""
    if estimator.lr_schedule is not None and estimator.learning_rate != "constant":
        raise ValueError(
            f"learning_rate={estimator.learning_rate!r} and "
            f"lr_schedule={estimator.lr_schedule!r} both set a schedule. lr_schedule applies "
            "to sgd and adam alike; leave learning_rate='constant' when it is set (or leave "
            "lr_schedule=None for scikit-learn's learning_rate, which acts for sgd only)."
        )


def rate_after_epoch(estimator, optimizer) -> float:
    """η for the next epoch, once ``estimator.t_`` and ``optimizer.epoch`` count this one."""
    schedule = schedule_of(estimator)
    if schedule == "invscaling":  # scikit-learn's SGDOptimizer.iteration_ends, as written there
        return float(estimator.learning_rate_init) / (estimator.t_ + 1) ** estimator.power_t
    if schedule == "cosine":
        e = min(optimizer.epoch, estimator.max_iter)
        return float(estimator.learning_rate_init) * 0.5 * (
            1.0 + math.cos(math.pi * e / estimator.max_iter))
    return optimizer.learning_rate  # constant; adaptive changes it only when it would stop
