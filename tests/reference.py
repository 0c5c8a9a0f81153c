"""The feedforward network's forward and backward passes in plain numpy: read the algorithm here.

Notation (docs/algorithm.md): layer k = 1..L has pre-activation a_k = b_k + W_k h_{k-1} and
activation h_k = g(a_k), with h_0 = x; the output is ŷ = O(a_L). Every output function is paired
with its loss so that grad a_L = ŷ - y (for the Huber loss, jitmlp's own, the same clipped to
[-δ, δ]). Vectors are columns and a batch holds one sample per
column, so W_k is (units_k x units_{k-1}): scikit-learn's ``coefs_[k - 1]`` transposed. Lists are
indexed by the layer number k (index 0 of W and b is unused).

scikit-learn's conventions on top of that: each sample's grad a_L is multiplied by its weight
w_n, the gradients are divided by Σ w_n, and the L2 term adds α W_k / Σ w_n to grad W_k
(α ‖W‖² / (2 Σ w_n) to the loss). The compiled kernels must agree with this to rounding
(tests/test_reference.py).
"""

import numpy as np
from scipy.special import expit, xlogy

C_GELU = np.sqrt(2 / np.pi)  # gelu's tanh form: ½ a (1 + tanh(c (a + k a³)))
K_GELU = 0.044715

G = {  # g, the hidden activation
    "identity": lambda a: a,
    "logistic": lambda a: 1 / (1 + np.exp(-a)),
    "tanh": np.tanh,
    "relu": lambda a: np.where(a < 0, 0, a),  # keeps NaN: NaN < 0 is false
    "leaky_relu": lambda a: np.where(a < 0, 0.01 * a, a),
    "softplus": lambda a: np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a))),
    "elu": lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))),
    "silu": lambda a: a * expit(a),
    "gelu": lambda a: 0.5 * a * (1 + np.tanh(C_GELU * (a + K_GELU * a**3))),
}
G_PRIME = {  # g'(a_k), written with h_k = g(a_k) where the kernels do so, else with a_k
    "identity": lambda a, h: np.ones_like(h),
    "logistic": lambda a, h: h * (1 - h),
    "tanh": lambda a, h: 1 - h * h,
    "relu": lambda a, h: (h != 0).astype(h.dtype),
    "leaky_relu": lambda a, h: np.where(h > 0, 1, 0.01),
    "softplus": lambda a, h: expit(a),
    "elu": lambda a, h: np.where(a > 0, 1, np.exp(np.minimum(a, 0))),
    "silu": lambda a, h: expit(a) * (1 + a * (1 - expit(a))),
    "gelu": lambda a, h: (0.5 * (1 + np.tanh(C_GELU * (a + K_GELU * a**3)))
                          + 0.5 * a * (1 - np.tanh(C_GELU * (a + K_GELU * a**3)) ** 2)
                          * C_GELU * (1 + 3 * K_GELU * a**2)),
}


def per_layer(g, L):
    """The hidden activations' names, indexed by k = 1..L-1 (a name, or one per hidden layer)."""
    return [None] + ([g] * (L - 1) if isinstance(g, str) else list(g))


def softmax(a):
    e = np.exp(a - a.max(axis=0))  # each column (sample) on its own
    return e / e.sum(axis=0)


OUTPUT = {  # O, the output function (named by its loss where two share one: "huber")
    "identity": G["identity"], "logistic": G["logistic"], "softmax": softmax, "exp": np.exp,
    "huber": G["identity"],
}


def sample_loss(out, y, y_hat, eps):
    """Each sample's loss summed over the outputs (scikit-learn's, with probabilities clipped to
    [eps, 1 - eps]; for "huber", eps is δ)."""
    p = np.clip(y_hat, eps, 1 - eps)
    r = np.abs(y - y_hat)
    loss = {
        "identity": lambda: 0.5 * (y - y_hat) ** 2,
        "softmax": lambda: -xlogy(y, p),
        "logistic": lambda: -(xlogy(y, p) + xlogy(1 - y, 1 - p)),
        "exp": lambda: xlogy(y, y / y_hat) - y + y_hat,  # half the Poisson deviance
        "huber": lambda: np.where(r <= eps, 0.5 * r * r, eps * (r - 0.5 * eps)),
    }[out]()
    return loss.sum(axis=0)


def forward_propagation(W, b, x, g, out):
    """a_1..a_L, h_0..h_{L-1} and ŷ for the samples in the columns of x."""
    L = len(W) - 1
    a, h = [None] * (L + 1), [x] + [None] * L
    g = per_layer(g, L)
    for k in range(1, L):
        a[k] = b[k][:, None] + W[k] @ h[k - 1]
        h[k] = G[g[k]](a[k])
    a[L] = b[L][:, None] + W[L] @ h[L - 1]
    return a, h, OUTPUT[out](a[L])


def back_propagation(W, a, h, y, y_hat, w, g, out="identity", delta=None):
    """grad W_k and grad b_k, k = 1..L, of Σ_n w_n loss_n."""
    L = len(W) - 1
    g = per_layer(g, L)
    grad_W, grad_b = [None] * (L + 1), [None] * (L + 1)
    residual = np.clip(y_hat - y, -delta, delta) if out == "huber" else y_hat - y
    grad_a = residual * w  # grad a_L, each sample's column times its weight
    for k in range(L, 0, -1):
        grad_W[k] = grad_a @ h[k - 1].T  # summed over the samples
        grad_b[k] = grad_a.sum(axis=1)
        if k > 1:
            grad_h = W[k].T @ grad_a  # grad h_{k-1}
            grad_a = grad_h * G_PRIME[g[k - 1]](a[k - 1], h[k - 1])  # grad a_{k-1}
    return grad_W, grad_b


def loss_and_gradient(coefs, intercepts, X, Y, sample_weight, g, out, alpha, eps):
    """scikit-learn's loss and its gradient, as (loss, grad coefs, grad intercepts) in its
    layout: X is (n_samples, n_features), Y (n_samples, n_outputs), coefs[k - 1] is W_k
    transposed."""
    W = [None] + [c.T for c in coefs]
    b = [None] + list(intercepts)
    a, h, y_hat = forward_propagation(W, b, X.T, g, out)
    grad_W, grad_b = back_propagation(W, a, h, Y.T, y_hat, sample_weight, g, out, eps)
    total = sample_weight.sum()
    loss = (sample_weight * sample_loss(out, Y.T, y_hat, eps)).sum() / total
    if out in ("identity", "huber"):
        loss /= Y.shape[1]  # scikit-learn reports the squared error averaged over outputs
    loss += 0.5 * alpha * sum((Wk**2).sum() for Wk in W[1:]) / total
    grad_coefs = [((grad_W[k] + alpha * W[k]) / total).T for k in range(1, len(W))]
    grad_intercepts = [grad_b[k] / total for k in range(1, len(W))]
    return loss, grad_coefs, grad_intercepts
