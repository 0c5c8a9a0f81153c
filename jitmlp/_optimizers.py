"""The optimizers: their updates of the packed θ = [W_1 .. W_L, b_1 .. b_L] (compiled), their
state between epochs and their learning-rate schedules (Python).

The update rules are scikit-learn's (``sklearn/neural_network/_stochastic_optimizers.py``),
applied element by element to the packed θ, which is the same arithmetic as applying them to each
of scikit-learn's per-layer arrays. The per-epoch parts (``OptimizerState``: the schedule and the
stopping rule, scikit-learn's ``iteration_ends`` and ``trigger_stopping``) run in the Python
driver between epochs, which passes the current learning rate in.

Two controls beyond scikit-learn act on every step (``max_grad_norm`` and ``weight_decay`` of the
``_records.Step`` record, both off by default):
clipping by global norm, grad θ ← grad θ · min(1, c/‖grad θ‖), and decoupled weight decay,
W ← (1 − η·λ)·W before the optimizer's step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba.core import types
from numba.extending import intrinsic

from ._config import _target_features, jit
from ._records import Step

SGD, ADAM = 0, 1
# Elements of θ per tile of adam_part_span: its sum of squares, then its step
ADAM_TILE = 128
_HAS_FMA = "+fma" in _target_features().split(",")
SOLVERS = {"sgd": SGD, "adam": ADAM}



@jit
def sgd_span(theta, grad, velocity, mu, eta, nesterov, p0, p1):
    """SGD with momentum on θ[p0:p1]."""
    for p in range(np.uint64(p0), np.uint64(p1)):  # unsigned: see adam_span
        v = mu * velocity[p] - eta * grad[p]
        velocity[p] = v
        if nesterov:
            theta[p] += mu * v - eta * grad[p]
        else:
            theta[p] += v


@intrinsic
def fma_or_sum(typingctx, a, b, c):
    """a·b + c rounded once (an FMA) where the target has FMA, else a·b rounded, then the sum.

    Where LLVM may fuse a·b + c·d into an FMA (fastmath ``contract``), which product it rounds
    first depends on the order its passes left the terms in, which depends on the code around;
    written out, the update is the same bits in every loop that computes it."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        x, y, z = args
        return builder.fma(x, y, z) if _HAS_FMA else builder.fadd(builder.fmul(x, y), z)

    return a(a, b, c), codegen


@jit(inline="always")
def adam_at(theta, m, v, p, g, b1, b2, eta, eps):
    """Adam's update of θ[p], m[p] and v[p] for the gradient g.

    The sums of two products round as LLVM fuses them in ``adam_span``, where g is loaded
    (m ← fma(1 − β₁, g, β₁·m), v ← fma(1 − β₂, g², β₂·v)), written out (``fma_or_sum``): where
    g is computed in the loop (``adam_part_span``) LLVM would fuse the other product.
    ``tests/test_update.py`` holds both to a float64 emulation. Inlined in numba's IR, so the
    loop around it vectorizes.
    """
    one = theta.dtype.type(1)
    mp = fma_or_sum(one - b1, g, b1 * m[p])
    vp = fma_or_sum(one - b2, g * g, b2 * v[p])
    m[p] = mp
    v[p] = vp
    theta[p] += -eta * mp / (np.sqrt(vp) + eps)


@jit
def adam_span(theta, grad, m, v, b1, b2, eta, eps, p0, p1):
    """Adam on θ[p0:p1] with the bias-corrected step size eta.

    The index is unsigned, so numba emits no negative-index wraparound and the loop vectorizes
    while indexing the whole arrays (as fast as indexing views θ[p0:p1] from 0). No
    views: every view takes a reference on the array, an atomic update that two threads
    updating neighbouring blocks would contend for.
    """
    one = theta.dtype.type(1)
    for p in range(np.uint64(p0), np.uint64(p1)):
        g = grad[p]
        mp = b1 * m[p] + (one - b1) * g
        vp = b2 * v[p] + (one - b2) * (g * g)
        m[p] = mp
        v[p] = vp
        theta[p] += -eta * mp / (np.sqrt(vp) + eps)


@jit(internal=True)
def _squares_of_4(theta, p, s0, s1, s2, s3):
    """The four running sums of ``_epoch._sum_sq_span`` after θ[p:p + 4], in its order."""
    one = np.uint64(1)
    x0, x1 = float(theta[p]), float(theta[p + one])
    x2, x3 = float(theta[p + one + one]), float(theta[p + one + one + one])
    return s0 + x0 * x0, s1 + x1 * x1, s2 + x2 * x2, s3 + x3 * x3


PART_SUMS_MAX = 2  # adam_part_span adds up to this many row groups' sums (parts[0], parts[1])


@jit(internal=True)
def adam_part_span(theta, parts, step, eta, sw_sum, p0, p1):
    """Adam (``step``, with the bias-corrected step size eta) on the weights θ[p0:p1], the
    gradient taken straight from the sums of the batch's one or two row groups, parts[0] and
    parts[1]; returns ‖θ[p0:p1]‖² before the step.

    grad = (parts[0] (+ parts[1]) + α θ)/Σw as ``_epoch._reduce_span`` computes it, then
    ``adam_span``:
    the same bits, without storing the gradient. On large layers the step is bound by memory
    (θ, m, v and the sums are past the caches), and a gradient stored and loaded back costs
    two of the nine words per element the step moves (its write and the read of the
    write-allocate). The sum of squares is ``_epoch._sum_sq_span``'s, in its order (four
    running sums, then the last p1 − p0 mod 4 terms), taken tile by tile (ADAM_TILE elements)
    just before the tile's step: a chain of dependent additions, which the core runs beside
    the step's loads instead of before them.
    Unsigned indices into the whole arrays, no view of parts[0]: see ``adam_span``.
    """
    T = theta.dtype.type
    alpha, sw, b1, b2, eps = (T(step.alpha), T(sw_sum), T(step.beta_1), T(step.beta_2),
                              T(step.epsilon))
    m, v = step.state_1, step.state_2
    u0, u1 = np.uint64(p0), np.uint64(p1)
    one, four, tile = np.uint64(1), np.uint64(4), np.uint64(ADAM_TILE)
    u4 = u1 - (u1 - u0) % four
    # the last terms, up to 3, read before the step changes them (0: none, adds nothing)
    y0 = theta[u4] if u4 < u1 else T(0)
    y1 = theta[u4 + one] if u4 + one < u1 else T(0)
    y2 = theta[u4 + one + one] if u4 + one + one < u1 else T(0)
    s0 = s1 = s2 = s3 = 0.0
    for q0 in range(u0, u1, tile):
        q1 = min(u1, q0 + tile)
        for p in range(q0, max(q0, min(q1, u4)), four):
            s0, s1, s2, s3 = _squares_of_4(theta, p, s0, s1, s2, s3)
        if parts.shape[0] == 1:
            for p in range(q0, q1):
                adam_at(theta, m, v, p, (parts[0, p] + alpha * theta[p]) / sw, b1, b2, eta, eps)
        else:  # two row groups' sums, added in group order first (``_epoch._reduce_span``)
            for p in range(q0, q1):
                adam_at(theta, m, v, p, ((parts[0, p] + parts[1, p]) + alpha * theta[p]) / sw,
                        b1, b2, eta, eps)
    total = (s0 + s1) + (s2 + s3)
    for y in (y0, y1, y2):  # in θ's dtype, as _sum_sq_span's last terms
        total += float(y) * float(y)
    return total


@jit
def adam_step_size(t, learning_rate_init, beta_1, beta_2):
    """Adam's bias-corrected step size at time step t, in float64 as scikit-learn computes it."""
    return learning_rate_init * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)


@jit
def scale_span(a, factor, p0, p1):
    """a[p0:p1] *= factor: the clipped gradient, and the decayed weights."""
    for p in range(np.uint64(p0), np.uint64(p1)):  # unsigned: see adam_span
        a[p] *= factor


@jit
def clip_factor(grad_sq, max_grad_norm):
    """min(1, c/‖grad θ‖) for ‖grad θ‖² = grad_sq, in float64 (1 where the norm is NaN)."""
    norm = math.sqrt(grad_sq)
    return max_grad_norm / norm if norm > max_grad_norm else 1.0


# ------------------------------------------------------------------ state and schedule (Python)
# What the compiled step does not keep: the optimizer's arrays and counters between epochs, and
# its per-epoch rules, the learning-rate schedule and the stopping rule (scikit-learn's
# ``iteration_ends`` and ``trigger_stopping``).
#
# Learning-rate schedules: the rate η_e of each epoch e, for sgd and (with ``lr_schedule``) adam.
# scikit-learn's ``learning_rate`` acts for sgd only; adam always runs at ``learning_rate_init``.
# jitmlp keeps that rule while ``lr_schedule`` is None (so default fits stay scikit-learn's models)
# and ``lr_schedule`` applies a schedule to both solvers. With η_0 = ``learning_rate_init``, the
# schedule sets the rate after each epoch (the first epoch runs at η_0):
#
# constant    η_e = η_0
# invscaling  η = η_0 / (t + 1)^power_t, t the samples seen so far (scikit-learn's ``t_``)
# adaptive    η_0 until the training loss (or the validation score, with early stopping) has not
#             improved by ``tol`` for ``n_iter_no_change`` epochs; then η ← η/5 instead of
#             stopping, and the fit stops once η <= 1e-6
# cosine      η_e = η_0 (1 + cos(π·min(e, max_iter)/max_iter)) / 2, e the epochs since the
#             optimizer was created (each ``fit``; ``partial_fit`` calls continue it)
#
# For adam η_e is the rate its bias-corrected step size η_e·√(1−β₂ᵗ)/(1−β₁ᵗ) is taken from, as
# PyTorch's schedulers set adam's ``lr``.
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


@dataclass
class OptimizerState:
    """What a stochastic optimizer carries between epochs (and between partial_fit calls).

    The estimator keeps one as ``_optimizer``; pickles, skops files, ``jitmlp.save`` and the
    conversions to and from scikit-learn carry it, so a continued fit steps on as the first one
    would have. Pickles of jitmlp before this class moved here name it
    ``jitmlp._estimators._OptimizerState``, which stays an alias of it.
    """

    solver: int  # SGD or ADAM
    learning_rate: float  # η of the next epoch (the schedule's)
    state_1: np.ndarray  # Adam: first moment m; SGD: velocity
    state_2: np.ndarray  # Adam: second moment v; SGD: unused (empty)
    t: int = 0  # Adam's update count
    epoch: int = 0  # epochs since created (the cosine schedule's e)

    @classmethod
    def create(cls, solver, learning_rate_init, theta):
        """Zero moments (or velocity) for θ, at η_0 = ``learning_rate_init``; ``solver`` is
        the estimator's string. Allocated zeroed (``np.zeros``: pages the system zeroes
        when the first step touches them), not written with zeros here."""
        def zeros():
            return np.zeros(theta.shape, dtype=theta.dtype)
        second = zeros() if SOLVERS[solver] == ADAM else theta[:0].copy()
        return cls(SOLVERS[solver], float(learning_rate_init), zeros(), second)

    def iteration_ends(self, estimator) -> None:
        """Count the epoch just run, and set η for the next one (``estimator.t_`` counts it)."""
        self.epoch += 1
        schedule = schedule_of(estimator)
        if schedule == "invscaling":  # scikit-learn's SGDOptimizer.iteration_ends, as written
            self.learning_rate = (float(estimator.learning_rate_init)
                                  / (estimator.t_ + 1) ** estimator.power_t)
        elif schedule == "cosine":
            e = min(self.epoch, estimator.max_iter)
            self.learning_rate = float(estimator.learning_rate_init) * 0.5 * (
                1.0 + math.cos(math.pi * e / estimator.max_iter))
        # constant keeps η; adaptive changes it only where it would stop (trigger_stopping)

    def trigger_stopping(self, estimator, msg) -> bool:
        """scikit-learn's rule after ``n_iter_no_change`` epochs without improvement: stop
        (True), or with the adaptive schedule divide η by 5 and go on, until η <= 1e-6.
        ``msg`` says why, printed with the outcome when ``estimator.verbose``."""
        if schedule_of(estimator) != "adaptive":
            if estimator.verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if estimator.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if estimator.verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False


def step_record(estimator, state: OptimizerState, batch_size: int) -> Step:
    """The ``Step`` record of compiled code for the next epoch of ``estimator``'s stochastic fit:
    its hyper-parameters, the schedule's current η and the arrays of ``state``."""
    max_grad_norm = math.inf if estimator.max_grad_norm is None else estimator.max_grad_norm
    return Step(state.solver, float(state.learning_rate), float(estimator.momentum),
                bool(estimator.nesterovs_momentum), float(estimator.beta_1),
                float(estimator.beta_2), float(estimator.epsilon), float(estimator.alpha),
                int(batch_size), float(max_grad_norm), float(estimator.weight_decay),
                state.state_1, state.state_2)
