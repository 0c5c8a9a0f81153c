"""The packed parameter vector θ = [W_1 .. W_L, b_1 .. b_L] and the layout of the workspaces.

scikit-learn keeps ``coefs_`` and ``intercepts_`` as lists of arrays; compiled code gets one
contiguous θ plus integer offsets instead, so that one epoch call can loop over any number of
layers and the optimizer and L-BFGS see a single flat vector (the lecture's θ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._config import UPDATE_BLOCK
from ._epoch import SYNC_SIZE, row_groups
from ._records import Network, Workspace


@dataclass(frozen=True)
class Layout:
    """Where each W_k and b_k lives in θ, and where each layer's rows live in the workspaces."""

    units: np.ndarray  # [n_features, hidden..., n_outputs], int64
    w_off: np.ndarray  # w_off[k - 1]: start of W_k (n_{k-1}, n_k), C order, k = 1..L
    b_off: np.ndarray  # b_off[k - 1]: start of b_k (n_k,)
    size: int  # len(θ)

    @classmethod
    def from_units(cls, units) -> Layout:
        units = np.asarray(units, dtype=np.int64)
        sizes_w = units[:-1] * units[1:]
        w_off = np.concatenate(([0], np.cumsum(sizes_w)[:-1])).astype(np.int64)
        start_b = int(sizes_w.sum())
        b_off = (start_b + np.concatenate(([0], np.cumsum(units[1:])[:-1]))).astype(np.int64)
        return cls(units, w_off, b_off, int(start_b + units[1:].sum()))

    def network(self, act, out, loss_param=0.0) -> Network:
        """The ``Network`` record of this layout with the hidden layers' g table ``act``, the
        output code ``out`` and the loss's parameter."""
        return Network(self.units, self.w_off, self.b_off, act, int(out), float(loss_param))

    @property
    def n_weights(self) -> int:
        """Σ_k fan_in_k · fan_out_k: θ's weights (they come first, the biases after them)."""
        return int(self.b_off[0])

    @property
    def n_layers(self) -> int:
        """L, the number of weight matrices (scikit-learn's n_layers_ - 1)."""
        return len(self.units) - 1

    def pack(self, coefs, intercepts, dtype) -> np.ndarray:
        theta = np.empty(self.size, dtype=dtype)
        for k in range(self.n_layers):
            w = np.asarray(coefs[k])
            theta[self.w_off[k] : self.w_off[k] + w.size] = w.ravel()
            theta[self.b_off[k] : self.b_off[k] + self.units[k + 1]] = intercepts[k]
        return theta

    def unpack(self, theta, copy=True):
        """(coefs, intercepts) as scikit-learn's lists of arrays: copies, or with
        ``copy=False`` views of θ (C-contiguous; for a θ nothing writes to any more)."""
        coefs, intercepts = [], []
        for k in range(self.n_layers):
            fan_in, fan_out = int(self.units[k]), int(self.units[k + 1])
            start = int(self.w_off[k])
            coef = theta[start : start + fan_in * fan_out].reshape(fan_in, fan_out)
            intercept = theta[self.b_off[k] : self.b_off[k] + fan_out]
            coefs.append(coef.copy() if copy else coef)
            intercepts.append(intercept.copy() if copy else intercept)
        return coefs, intercepts

    def workspace(self, n_rows: int, dtype, batch_sizes=None, keep_g_prime=False,
                  dropout=False):
        """Buffers for batches of up to n_rows samples, allocated once per fit: a
        ``Workspace`` record.

        ``batch_sizes`` lists the batch sizes that will occur (default: n_rows). Each buffer
        holds the whole batch, row r of the batch in row r of each layer's block: the threads
        of a batch (``_epoch.schedule``) write disjoint row ranges of it, and the weight
        gradients read all of its rows, in row order.

        h       h_0 (the gathered inputs) .. h_L (= ŷ), layer k from ``h_off[k]``, row-major;
                with ``keep_g_prime`` (a layer's activation keeps g'(a_k),
                ``_activations.KEEPS_G_PRIME``) then d_1 .. d_{L-1}, from ``h_off[L + 2]``; with
                ``dropout`` then h̃_1 .. h̃_{L-1} (h_k ⊙ m_k / (1 − p_k)), from ``h_off[L + 3]``,
                both laid out as grad_a (-1: not there)
        grad_a  grad a_1 .. grad a_L, layer k from ``h_off[k] - h_off[1]``
        wt      (groups, ...): W_2ᵀ .. W_Lᵀ, for grad_h_{k-1} = grad_a_k W_kᵀ, one copy per row
                group (each group's thread makes its own where each group runs whole on one,
                ``_epoch._plan``; else all read wt[0])
        parts   (groups, len(θ)): the gradient sums of each row group of a batch, laid out like
                θ (``_epoch.row_groups``: the most any of ``batch_sizes`` has)
        stats   float64 per row: the weighted loss of the row, added in row order afterwards
        penalty per block of the optimizer step: ‖W‖² of the block, then (gradient clipping) its
                ‖grad θ‖²; float64, 2 x the blocks
        grad    grad θ, laid out like θ
        sync    int64 counters of a batch's items where they share its optimizer step
                (``_epoch._step_share``), a cache line apart
        """
        cap = max((nb for nb in (batch_sizes or [n_rows]) if nb > 0), default=1)
        h_off = np.concatenate(([0], np.cumsum(cap * self.units))).astype(np.int64)
        hidden = int(h_off[-2] - h_off[1])  # rows of h_1 .. h_{L-1}
        size = int(h_off[-1])
        d_start = size if keep_g_prime else -1
        size += hidden if keep_g_prime else 0
        tilde_start = size if dropout else -1
        size += hidden if dropout else 0
        h_off = np.concatenate((h_off, [d_start, tilde_start])).astype(np.int64)
        h = np.empty(size, dtype=dtype)
        grad_a = np.empty(int(h_off[-3] - h_off[1]), dtype=dtype)
        groups = max(row_groups(nb, self.units) for nb in (batch_sizes or [n_rows]) if nb > 0)
        parts = np.empty((groups, self.size), dtype=dtype)
        wt = np.empty((groups, max(1, int((self.units[1:-1] * self.units[2:]).sum()))),
                      dtype=dtype)
        stats = np.empty(cap, dtype=np.float64)
        penalty = np.empty(2 * -(-self.size // UPDATE_BLOCK), dtype=np.float64)
        return Workspace(h_off, h, grad_a, wt, parts, stats, penalty,
                         np.empty(self.size, dtype=dtype), np.zeros(SYNC_SIZE, np.int64))
