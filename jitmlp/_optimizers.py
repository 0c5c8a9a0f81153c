"""Parameter updates on the packed vector θ = [W_1 .. W_L, b_1 .. b_L], compiled.

The update rules are scikit-learn's (``sklearn/neural_network/_stochastic_optimizers.py``),
applied element by element to the packed θ, which is the same arithmetic as applying them to each
of scikit-learn's per-layer arrays. The per-epoch parts of the optimizers (the learning-rate
schedules, ``_schedules``) live in the Python driver, which passes the current learning rate in.

Two controls beyond scikit-learn act on every step (``StepControls``, both off by default):
clipping by global norm, grad θ ← grad θ · min(1, c/‖grad θ‖), and decoupled weight decay,
W ← (1 − η·λ)·W before the optimizer's step.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ._config import jit

SGD, ADAM = 0, 1
SOLVERS = {"sgd": SGD, "adam": ADAM}

# The step's run-time controls, one record (numba types it as a tuple of two float64):
# max_grad_norm  c of gradient clipping, inf = off (the estimator's None)
# weight_decay   λ of decoupled weight decay, 0 = off
StepControls = namedtuple("StepControls", ["max_grad_norm", "weight_decay"])
NO_CONTROLS = StepControls(math.inf, 0.0)


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
