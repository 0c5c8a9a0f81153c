"""Backprop gradients against central finite differences of an independent numpy objective.

The objective J(θ) is written here in numpy, in extended precision (np.longdouble), from the
lecture's definitions: it shares no code with the compiled kernels. J is the loss whose gradient
training follows: the mean over samples of the per-sample loss summed over outputs, plus
α‖W‖²/(2n). (For several regression outputs scikit-learn *reports* the squared error averaged over
outputs but follows the gradient of the sum; ``test_reported_loss_matches_sklearn_definition``
pins the reported value separately.)
"""

import zlib

import numpy as np
import pytest

from jitmlp._activations import ACTIVATIONS
from jitmlp._network import Layout

from helpers import compiled_loss_and_grad, targets_for
from reference import G, per_layer

LD = np.longdouble


def objective(theta, layout, X, Y, act, out, alpha):
    coefs, intercepts = layout.unpack(theta)
    g = per_layer(act, len(coefs))  # g[k]: layer k's, k = 1..L-1
    h = X.astype(LD)
    for k, (W, b) in enumerate(zip(coefs, intercepts)):
        a = h @ W.astype(LD) + b.astype(LD)
        h = G[g[k + 1]](a) if k < len(coefs) - 1 else a
    a_L = h
    Y = Y.astype(LD)
    if out == "softmax":
        e = np.exp(a_L - a_L.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        per_sample = -(Y * np.log(p)).sum(axis=1)
    elif out == "logistic":
        p = 1 / (1 + np.exp(-a_L))
        per_sample = -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(axis=1)
    elif out == "exp":
        mu = np.exp(a_L)
        per_sample = (mu - Y * a_L).sum(axis=1)  # Poisson deviance up to terms free of θ
    else:
        per_sample = 0.5 * ((Y - a_L) ** 2).sum(axis=1)
    n = X.shape[0]
    l2 = sum((W.astype(LD) ** 2).sum() for W in coefs)
    return per_sample.mean() + 0.5 * alpha * l2 / n


def make_problem(out, n_outputs, rng, n=23, n_features=5):
    return rng.normal(size=(n, n_features)), targets_for(out, n_outputs, n, rng)


CASES = [(out, n_out) for out, n_out in
         [("softmax", 3), ("logistic", 1), ("logistic", 3), ("identity", 1), ("identity", 2),
          ("exp", 2)]]


SKLEARN_ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
# scikit-learn's activations with every output; the others (issue 14) with two outputs, and
# one per layer
ACT_CASES = [(act, out, n_out) for act in SKLEARN_ACTIVATIONS for out, n_out in CASES]
ACT_CASES += [(act, out, n_out) for act in ACTIVATIONS if act not in SKLEARN_ACTIVATIONS
              for out, n_out in [("softmax", 3), ("identity", 2)]]


@pytest.mark.parametrize("hidden", [(4,), (6, 3), (5, 4, 3)], ids=["1hidden", "2hidden", "3hidden"])
@pytest.mark.parametrize("act,out,n_outputs", ACT_CASES)
def test_backprop_matches_finite_differences(hidden, act, out, n_outputs):
    rng = np.random.default_rng(zlib.crc32(repr((hidden, act, out, n_outputs)).encode()))
    X, Y = make_problem(out, n_outputs, rng)
    layout = Layout.from_units([X.shape[1], *hidden, n_outputs])
    theta = rng.uniform(-0.7, 0.7, layout.size)
    alpha = 0.3
    _, grad = compiled_loss_and_grad(theta, layout, X, Y, act, out, alpha)
    step = 1e-6
    fd = np.empty(layout.size)
    for p in range(layout.size):
        up, down = theta.astype(LD), theta.astype(LD)
        up[p] += LD(step)
        down[p] -= LD(step)
        fd[p] = (objective(up, layout, X, Y, act, out, alpha)
                 - objective(down, layout, X, Y, act, out, alpha)) / (2 * LD(step))
    # relative error per element, with a floor of 1e-6 of the largest gradient so that elements
    # that are zero up to rounding do not divide by ~0
    denom = np.maximum(np.abs(fd), 1e-6 * np.abs(fd).max())
    worst = float((np.abs(grad - fd) / denom).max())
    assert worst < 1e-6, f"worst relative error {worst:.3e}"


@pytest.mark.parametrize("acts", [("gelu", "leaky_relu", "silu"), ("elu", "softplus", "tanh")])
def test_one_activation_per_layer_matches_finite_differences(acts):
    test_backprop_matches_finite_differences((5, 4, 3), acts, "softmax", 3)


@pytest.mark.parametrize("out,n_outputs", CASES)
def test_reported_loss_matches_sklearn_definition(out, n_outputs):
    """The loss value the kernel reports is scikit-learn's LOSS_FUNCTIONS value + L2 term."""
    from sklearn.neural_network._base import LOSS_FUNCTIONS

    rng = np.random.default_rng(1)
    X, Y = make_problem(out, n_outputs, rng)
    layout = Layout.from_units([X.shape[1], 4, n_outputs])
    theta = rng.uniform(-0.7, 0.7, layout.size)
    loss, _ = compiled_loss_and_grad(theta, layout, X, Y, "tanh", out, 0.3)
    coefs, intercepts = layout.unpack(theta)
    a_L = np.tanh(X @ coefs[0] + intercepts[0]) @ coefs[1] + intercepts[1]
    name = {"softmax": "log_loss", "logistic": "binary_log_loss", "identity": "squared_error",
            "exp": "poisson"}[out]
    y_hat = {"softmax": lambda a: np.exp(a) / np.exp(a).sum(1, keepdims=True),
             "logistic": lambda a: 1 / (1 + np.exp(-a)), "identity": lambda a: a,
             "exp": np.exp}[out](a_L)
    expected = LOSS_FUNCTIONS[name](Y, y_hat) + 0.15 * sum((W**2).sum() for W in coefs) / len(X)
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
