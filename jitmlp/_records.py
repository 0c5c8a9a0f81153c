"""The records compiled kernels take, instead of long lists of positional arguments.

Each is a ``NamedTuple``: numba compiles a kernel once per tuple of member types, and the kernels
read the members by name (``net.units``, ``step.beta_1``), so two hyper-parameters of one type
can no longer be swapped by position. The estimators build them (``Layout.network``,
``Layout.workspace``, ``step_record``); compiled code only reads them and writes into their
arrays.

Network    what the network is: the lecture's layer widths n_0 .. n_L, where each W_k and b_k
           lives in θ, the activations g of the hidden layers and the output function O
Data       the training data the loss reads: X (dense input), the targets Y, the sample weights
Workspace  the buffers of a fit, allocated once (``Layout.workspace``)
Step       the optimizer: its hyper-parameters and its arrays (Adam's m and v, or SGD's velocity)

A change here changes the types kernels were compiled for: this file is one of the kernel sources
(``_config.KERNEL_SOURCES``), whose edit empties numba's cache of jitmlp's kernels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Network(NamedTuple):
    """The network's shape and codes (θ itself is passed beside it)."""

    units: np.ndarray  # int64 [n_0, n_1, ..., n_L]: input width, hidden widths, outputs
    w_off: np.ndarray  # int64, w_off[k - 1]: start of W_k (n_{k-1}, n_k), C order, in θ
    b_off: np.ndarray  # int64, b_off[k - 1]: start of b_k (n_k,) in θ; b_off[0]: the weights
    act: np.ndarray  # the hidden layers' g, as ``_activations.g_kernels``' table
    out: int  # the output function and loss (``_outputs`` code)
    loss_param: float  # the loss's parameter: Huber's δ, else the eps clipping probabilities


class Data(NamedTuple):
    """What the loss of a sample reads. Sparse input travels beside it as ``X_csr`` (numba
    prunes ``X_csr is None`` only for a kernel's own argument); X is then empty."""

    X: np.ndarray  # (n_samples, n_features), C order; (0, n_features) for sparse input
    Y: np.ndarray  # (n_samples, n_outputs) targets, class indicators for a classifier
    sw: np.ndarray  # (n_samples,) sample weights


class Workspace(NamedTuple):
    """The buffers of a fit, for batches of up to ``Layout.workspace``'s rows (its docstring
    gives the layout of each)."""

    h_off: np.ndarray  # int64: where each layer's rows start in h_buf (and in ga_buf, shifted)
    h_buf: np.ndarray  # h_0 .. h_L, then d_1 .. d_{L-1} and h̃_1 .. h̃_{L-1} where kept
    ga_buf: np.ndarray  # grad a_1 .. grad a_L
    wt: np.ndarray  # (groups, ...): W_2ᵀ .. W_Lᵀ, a copy per row group
    parts: np.ndarray  # (c, len(θ)): the gradient sums, laid out like θ
    stats: np.ndarray  # float64 per row: the row's loss
    penalty: np.ndarray  # float64, two per block of the optimizer step
    grad: np.ndarray  # grad θ, laid out like θ
    sync: np.ndarray  # int64 counters of a batch's items (``_epoch._step_share``), a line apart


class Step(NamedTuple):
    """The optimizer of a stochastic fit (``_optimizers``): one step per minibatch."""

    solver: int  # ``_optimizers.ADAM`` or ``SGD``
    learning_rate: float  # η of this epoch
    momentum: float  # SGD's μ
    nesterov: bool  # SGD's Nesterov momentum
    beta_1: float  # Adam's β₁
    beta_2: float  # Adam's β₂
    epsilon: float  # Adam's ε
    alpha: float  # the L2 penalty α of ‖W‖²/2 (scikit-learn's ``alpha``)
    batch_size: int  # rows per minibatch
    max_grad_norm: float  # clip grad θ to this norm (inf: off)
    weight_decay: float  # λ of decoupled weight decay (0: off)
    state_1: np.ndarray  # Adam's m, SGD's velocity; laid out like θ
    state_2: np.ndarray  # Adam's v (SGD: not used)
