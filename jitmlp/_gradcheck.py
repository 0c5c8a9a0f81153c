"""The lecture's gradient check as a public tool: backprop against central finite differences.

``check_gradients(estimator, X, y)`` evaluates, at the estimator's current parameters θ, the
gradient of the training objective J(θ) by the compiled backward pass (the kernel lbfgs calls,
``_epoch.batch_loss_and_grad``) and by central differences of J computed by the same kernel's
forward pass, and returns their largest relative difference.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._activations import activation_codes, g_kernels, keeps_g_prime
from ._class_weight import class_weighted
from ._dropout import RATES, rates_of, record
from ._epoch import batch_loss_and_grad, chunk_kernels_of, sum_sq_weights
from ._estimators import BaseMultilayerPerceptron, _frozen, _kernel_input
from ._network import Layout
from ._outputs import MEAN_OVER_OUTPUTS, output_code
from ._records import Data
from ._threads import numba_threads

# gradient elements below this share of the largest are measured against it: there the rounding
# of J's differences (about 1e-16 of J over 2h, times the terms summed) outweighs them
FLOOR = 1e-4


def compiled_objective(layout, X, Y, sample_weight, act, out, alpha, dtype, loss_param=None,
                       dropout=None):
    """θ -> (loss, grad θ) through the compiled ``batch_loss_and_grad``, as the estimators call it.

    Parameters
    ----------
    layout : Layout
        The network's shape.
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Targets as the loss reads them (class indicators for a classifier).
    sample_weight : ndarray of shape (n_samples,) or None
    act : int or sequence of int
        Activation code (``ACTIVATIONS``) of every hidden layer, or one per hidden layer.
    out : int
        Output code (``OUTPUTS``).
    alpha : float
        The L2 penalty.
    dtype : numpy float dtype
        The dtype the kernel computes in (X, Y and the weights are converted to it).
    dropout : ndarray or None
        The dropout record (``_dropout.record``: rates, seed, epoch): every evaluation applies
        its masks, one fixed mask per sample (X's row n is sample n). None: no dropout.

    Returns
    -------
    objective : callable
        ``objective(theta)`` returns scikit-learn's loss (the L2 term included) and a new array
        holding its gradient; the read-only inputs have the estimators' argument types, so it
        runs the estimators' compiled kernels.
    """
    n = X.shape[0]
    codes = tuple(act) if np.ndim(act) else (act,) * (layout.n_layers - 1)
    theta = np.empty(layout.size, dtype=dtype)
    X_dense, X_csr = _kernel_input(X, dtype)
    sw = np.ones(n, dtype=dtype) if sample_weight is None else sample_weight
    Y, sw, idx = _frozen(Y, dtype), _frozen(sw, dtype), _frozen(np.arange(n, dtype=np.int64))
    data = Data(X_dense, Y, sw)
    net = layout.network(g_kernels(codes, dtype), out,
                         float(np.finfo(dtype).eps) if loss_param is None else loss_param)
    if dropout is None:
        dropout = record([0.0] * (layout.n_layers - 1))
    dropout = np.array(dropout, dtype=np.float64)
    work = layout.workspace(n, dtype, keep_g_prime=keeps_g_prime(codes),
                            dropout=bool((dropout[RATES:] > 0).any()))
    kernel = chunk_kernels_of(data, X_csr, idx, theta, net, work, [n], dropout=dropout)

    def objective(values):
        theta[:] = values
        loss = batch_loss_and_grad(kernel, data, X_csr, idx, theta, net, work, float(alpha),
                                   dropout)
        return loss, work.grad.copy()

    return objective


def _targets(estimator, X, y, sample_weight):
    """X, the targets as the loss reads them, and the weights, validated as a fit would."""
    probe = copy.copy(estimator)  # the incremental checks, which change nothing on the model
    probe.warm_start = False
    X, Y = probe._validate_input(X, y, incremental=True, reset=False)
    dtype = estimator.coefs_[0].dtype
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
    if Y.ndim == 1:
        Y = Y.reshape((-1, 1))
    if is_classifier(estimator) and estimator.class_weight is not None:
        sample_weight = class_weighted(estimator, Y, sample_weight, dtype)
    return X, Y, sample_weight


def check_gradients(estimator, X, y, sample_weight=None, eps=None) -> float:
    """Largest relative difference between backprop and finite differences of the loss.

    At the estimator's current weights and biases θ, the gradient of the training objective
    J(θ) on (X, y) is computed twice: by the compiled backward pass the fits use, and by
    central differences of J computed by the compiled forward pass in float64,
    (J(θ + h e_p) − J(θ − h e_p)) / (2h) for every element p of θ. J is scikit-learn's loss
    (``loss_``'s definition) on all of X as one batch: the mean of the per-sample loss weighted
    by the sample weights (times the class weights of a classifier's ``class_weight``), plus
    α‖W‖² / (2 Σw). For several squared-error outputs the data term is summed over the outputs
    (scikit-learn reports their mean but follows the gradient of the sum). With ``dropout``,
    J is the loss of the thinned network with one fixed mask per sample: the masks a fit would
    draw in its epoch 0 with seed 0, row n of X as sample n (both passes use the same masks,
    so the check covers dropout's forward and backward). The model is not changed.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted jitmlp estimator (any solver); its ``coefs_`` and ``intercepts_`` are θ. An
        unfitted one raises ``NotFittedError``: fit it first (``max_iter=1``, or
        ``partial_fit`` on a few rows) to check near the initial weights.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input data, converted to the model's dtype for the backward pass (and to float64 for
        the differences).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets; a classifier's labels must be among ``classes_``.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    eps : float, default=None
        The step h (absolute). None: 1e-5, where the differences' truncation error (h²) and
        rounding error (~1e-16·|J|·n_samples^½ / h) are both small for networks of this
        kind.

    Returns
    -------
    max_relative_difference : float
        max_p |g_p − d_p| / max(|g_p|, |d_p|, 1e-4 · max_q max(|g_q|, |d_q|)), g backprop's
        gradient and d the finite differences. Elements under 1e-4 of the largest are
        measured against that floor, where the rounding of J's differences would outweigh
        them. A correct backward pass gives about 1e-5 or less for a float64 model, about 1e-3
        or less for a float32 one (its float32 gradient against differences of J in float64);
        a wrong one gives about 1 (the ratio is at most 2). relu's kink: a pre-activation
        within h of 0 makes the differences no derivative, and a few elements disagree.

    Notes
    -----
    Costs 2·len(θ) + 1 forward and backward passes over X; use a small X for a large network.
    The loss is computed from the network's output ŷ as scikit-learn computes it
    (log-loss of probabilities clipped to [ε, 1 − ε]): where some ŷ are within ~1e-13 of 0 or 1
    (saturated outputs, e.g. unscaled input) it keeps few significant bits, or none, while
    backprop's grad a_L = ŷ − y keeps them, and the two disagree without a bug in backprop.
    """
    if not isinstance(estimator, BaseMultilayerPerceptron):
        raise TypeError("check_gradients checks a jitmlp MLPClassifier or MLPRegressor, got "
                        f"{type(estimator).__name__}.")
    check_is_fitted(estimator)
    h = 1e-5 if eps is None else float(eps)
    if not h > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}.")
    X, Y, sample_weight = _targets(estimator, X, y, sample_weight)
    dtype = estimator.coefs_[0].dtype
    layout = Layout.from_units([X.shape[1]] + [c.shape[1] for c in estimator.coefs_])
    theta = layout.pack(estimator.coefs_, estimator.intercepts_, np.float64)
    act = activation_codes(estimator.activation, layout.n_layers - 1)
    out = output_code(estimator.out_activation_, estimator.loss)
    alpha = float(estimator.alpha)
    dropout = record(rates_of(getattr(estimator, "dropout", 0.0), layout.n_layers - 1))
    # the data term's weight in J: squared error is reported averaged over the outputs
    n_out = int(layout.units[-1]) if out in MEAN_OVER_OUTPUTS else 1
    sw_sum = (float(X.shape[0]) if sample_weight is None
              else float(np.sum(sample_weight, dtype=np.float64)))
    with numba_threads(estimator.n_jobs):
        loss_param = estimator._loss_parameter(dtype)
        backprop = compiled_objective(layout, X, Y, sample_weight, act, out, alpha, dtype,
                                      loss_param, dropout)
        grad = backprop(theta.astype(dtype))[1].astype(np.float64)
        objective = (backprop if dtype == np.float64 else
                     compiled_objective(layout, X, Y, sample_weight, act, out, alpha, np.float64,
                                        estimator._loss_parameter(np.float64), dropout))

        def J(values):
            loss = objective(values)[0]
            if n_out > 1:  # n_out · (data term) + L2 term
                l2 = 0.5 * alpha * sum_sq_weights(values, layout.units, layout.w_off) / sw_sum
                loss = n_out * loss - (n_out - 1) * l2
            return loss

        fd = np.empty(layout.size)
        point = theta.copy()
        for p in range(layout.size):
            up = point[p] = theta[p] + h
            loss_up = J(point)
            down = point[p] = theta[p] - h
            loss_down = J(point)
            point[p] = theta[p]
            fd[p] = (loss_up - loss_down) / (up - down)  # the steps as rounded
    scale = np.maximum(np.abs(grad), np.abs(fd))
    floor = FLOOR * float(scale.max(initial=0.0))
    if floor == 0.0:
        return 0.0
    return float((np.abs(grad - fd) / np.maximum(scale, floor)).max())

