"""Parameter updates on the packed vector θ = [W_1 .. W_L, b_1 .. b_L], compiled.

The update rules are scikit-learn's (``sklearn/neural_network/_stochastic_optimizers.py``),
applied element by element to the packed θ, which is the same arithmetic as applying them to each
of scikit-learn's per-layer arrays. The per-epoch parts of the optimizers (the ``invscaling``
schedule, the ``adaptive`` division by 5) live in the Python driver, which passes the current
learning rate in.
"""

from __future__ import annotations

import math

import numpy as np

from ._config import jit

SGD, ADAM = 0, 1
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
