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
    # local views indexed from 0: this form vectorizes (indexing from p0 ran ~7x slower)
    th, gr, vel = theta[p0:p1], grad[p0:p1], velocity[p0:p1]
    for p in range(p1 - p0):
        v = mu * vel[p] - eta * gr[p]
        vel[p] = v
        if nesterov:
            th[p] += mu * v - eta * gr[p]
        else:
            th[p] += v


@jit
def adam_span(theta, grad, m, v, b1, b2, eta, eps, p0, p1):
    """Adam on θ[p0:p1] with the bias-corrected step size eta."""
    one = theta.dtype.type(1)
    # local views indexed from 0: this form vectorizes (indexing from p0 ran ~7x slower)
    th, gr, mm, vv = theta[p0:p1], grad[p0:p1], m[p0:p1], v[p0:p1]
    for p in range(p1 - p0):
        g = gr[p]
        mp = b1 * mm[p] + (one - b1) * g
        vp = b2 * vv[p] + (one - b2) * (g * g)
        mm[p] = mp
        vv[p] = vp
        th[p] += -eta * mp / (np.sqrt(vp) + eps)


@jit
def adam_step_size(t, learning_rate_init, beta_1, beta_2):
    """Adam's bias-corrected step size at time step t, in float64 as scikit-learn computes it."""
    return learning_rate_init * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
