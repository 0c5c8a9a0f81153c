"""Helpers shared by several test files: calling the compiled loss and gradient the way the
estimator calls it, and comparing jitmlp's models with scikit-learn's."""

import warnings

import numpy as np
import sklearn.neural_network as sk
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

import jitmlp
from jitmlp._activations import activation_codes, g_kernels, keeps_g_prime
from jitmlp._config import UPDATE_BLOCK
from jitmlp._epoch import (
    N_KERNELS,
    batch_loss_and_grad,
    chunk_kernels_of,
    no_dropout,
    update_kernels_of,
)
from jitmlp._estimators import _frozen, _kernel_input
from jitmlp._native import kernel_table
from jitmlp._outputs import O_HUBER, OUTPUTS
from jitmlp._records import Data, Step

EPS = float(np.finfo(np.float64).eps)  # the probability clip of scikit-learn's float64 losses


def compiled_loss_and_grad(theta, layout, X, Y, act, out, alpha, sample_weight=None,
                           loss_param=EPS):
    """Loss and gradient of the whole of X as one batch, from the compiled kernel that lbfgs
    calls, with the estimator's argument types (read-only inputs, CSR for sparse X), so that it
    shares the estimator's compiled kernels. ``out``: an output function's name, or "huber"
    (then ``loss_param`` is δ)."""
    n = X.shape[0]
    sample_weight = np.ones(n) if sample_weight is None else sample_weight
    codes = activation_codes(act, layout.n_layers - 1)
    work = layout.workspace(n, X.dtype, keep_g_prime=keeps_g_prime(codes))
    theta = theta.copy()
    X_dense, X_csr = _kernel_input(X, X.dtype)
    Y, sw, idx = _frozen(Y), _frozen(sample_weight), _frozen(np.arange(n, dtype=np.int64))
    data = Data(X_dense, Y, sw)
    net = layout.network(g_kernels(codes, X.dtype), O_HUBER if out == "huber" else OUTPUTS[out],
                         loss_param)
    kernel = chunk_kernels_of(data, X_csr, idx, theta, net, work, [n])
    loss = batch_loss_and_grad(kernel, data, X_csr, idx, theta, net, work, alpha,
                               no_dropout(layout.units))
    return loss, work.grad


def targets_for(out, n_outputs, n, rng):
    """n random targets of the kind ``out`` (an output function's name) is trained on."""
    if out == "softmax":
        return np.eye(n_outputs)[rng.integers(0, n_outputs, n)]
    if out == "logistic":
        return (rng.random((n, n_outputs)) < 0.5).astype(float)
    if out == "exp":
        return rng.poisson(2.0, size=(n, n_outputs)).astype(float)
    return rng.normal(size=(n, n_outputs))


def rel_diff(a, b):
    """max |a - b| relative to the largest |b|."""
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def task_data(task):
    """A small (X, y) of each task: multiclass, binary, multilabel, regression, multioutput."""
    if task == "multiclass":
        X, y = make_classification(120, 6, n_informative=4, n_classes=3, random_state=0)
    elif task == "binary":
        X, y = make_classification(120, 6, n_informative=4, n_classes=2, random_state=0)
    elif task == "multilabel":
        X, y = make_multilabel_classification(120, 6, n_classes=3, random_state=0)
    elif task == "regression":
        X, y = make_regression(120, 6, n_targets=1, noise=0.5, random_state=0)
        y = y / y.std()
    else:  # multi-output regression
        X, y = make_regression(120, 6, n_targets=3, noise=0.5, random_state=0)
        y = y / y.std(axis=0)
    return X, y


def fit_pair(cls_name, X, y, fit_kwargs=None, **params):
    """jitmlp's and scikit-learn's ``cls_name`` fitted alike (ConvergenceWarning silenced)."""
    fit_kwargs = fit_kwargs or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = getattr(jitmlp, cls_name)(**params).fit(X, y, **fit_kwargs)
        theirs = getattr(sk, cls_name)(**params).fit(X, y, **fit_kwargs)
    return ours, theirs


def assert_same_model(ours, theirs, rtol=1e-6):
    """The same epochs, shapes and dtypes, and weights and losses within ``rtol`` (1e-6: the
    parity tolerance of float64 fits, whose differences are rounding)."""
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.out_activation_ == theirs.out_activation_
    assert ours.n_layers_ == theirs.n_layers_ and ours.n_outputs_ == theirs.n_outputs_
    for mine, ref in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert mine.dtype == ref.dtype and mine.shape == ref.shape
        assert rel_diff(mine, ref) < rtol
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=rtol)


def weights_rel_diff(ours, theirs):
    """The largest ``rel_diff`` over two models' coefs_ and intercepts_."""
    return max(rel_diff(a, b)
               for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_))


def step_records(layout, theta, parts, state_1, state_2, solver, learning_rate=0.0, momentum=0.0,
                 nesterov=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8, alpha=0.0,
                 max_grad_norm=np.inf, weight_decay=0.0):
    """(net, work, step) for ``_epoch.update_theta`` on θ with the gradient sums ``parts``, of
    the types a fit passes (so the test shares the fit's compiled step)."""
    codes = activation_codes("relu", layout.n_layers - 1)
    net = layout.network(g_kernels(codes, theta.dtype), OUTPUTS["identity"])
    work = gradient_work(layout, parts, np.empty_like(theta))
    step = Step(solver, float(learning_rate), float(momentum), bool(nesterov), float(beta_1),
                float(beta_2), float(epsilon), float(alpha), 1, float(max_grad_norm),
                float(weight_decay), state_1, state_2)
    return net, work, step


def gradient_work(layout, parts, grad):
    """A ``Workspace`` of ``layout`` with the gradient sums ``parts`` and ``grad`` (the other
    buffers for one row), for ``reduce_chunks`` and ``update_theta``."""
    return layout.workspace(1, grad.dtype)._replace(
        parts=parts, grad=grad, penalty=np.empty(2 * -(-grad.size // UPDATE_BLOCK)))


def update_table(theta, work, step, fused=False):
    """The ``kernels`` table ``_epoch.update_theta`` takes: with Adam's step from the sums
    (ADAM_FROM_PARTS) where ``fused``, else without it."""
    return update_kernels_of(kernel_table([(0, 0)] * N_KERNELS, 2), theta, work, step, fused)
