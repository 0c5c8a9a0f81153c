"""The packed parameter vector θ = [W_1 .. W_L, b_1 .. b_L] and the layout of the workspaces.

scikit-learn keeps ``coefs_`` and ``intercepts_`` as lists of arrays; compiled code gets one
contiguous θ plus integer offsets instead, so that one epoch call can loop over any number of
layers and the optimizer and L-BFGS see a single flat vector (the lecture's θ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._config import MAX_CHUNKS, UPDATE_BLOCK


@dataclass(frozen=True)
class Layout:
    """Where each W_k and b_k lives in θ, and where each layer's rows live in the workspaces."""

    units: np.ndarray  # [n_features, hidden..., n_outputs], int64
    w_off: np.ndarray  # start of W_k (fan_in, fan_out), C order, k = 0..L-1
    b_off: np.ndarray  # start of b_k (fan_out,)
    size: int  # len(θ)

    @classmethod
    def from_units(cls, units) -> Layout:
        units = np.asarray(units, dtype=np.int64)
        sizes_w = units[:-1] * units[1:]
        w_off = np.concatenate(([0], np.cumsum(sizes_w)[:-1])).astype(np.int64)
        start_b = int(sizes_w.sum())
        b_off = (start_b + np.concatenate(([0], np.cumsum(units[1:])[:-1]))).astype(np.int64)
        return cls(units, w_off, b_off, int(start_b + units[1:].sum()))

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

    def unpack(self, theta):
        """Copies of (coefs, intercepts) as scikit-learn's lists of arrays."""
        coefs, intercepts = [], []
        for k in range(self.n_layers):
            fan_in, fan_out = int(self.units[k]), int(self.units[k + 1])
            start = int(self.w_off[k])
            coefs.append(theta[start : start + fan_in * fan_out].reshape(fan_in, fan_out).copy())
            intercepts.append(theta[self.b_off[k] : self.b_off[k] + fan_out].copy())
        return coefs, intercepts

    def workspace(self, n_rows: int, dtype, batch_sizes=None, keep_g_prime=False):
        """Buffers for batches of up to n_rows samples, allocated once per fit.

        ``batch_sizes`` lists the batch sizes that will occur (default: n_rows). A batch runs as
        up to MAX_CHUNKS row chunks (``_epoch.n_chunks_of``), and every chunk gets buffers of its
        own, separately allocated. Chunks run side by side on different threads; with one shared
        allocation both threads write next to each other and take views of it (each view an
        atomic update of the allocation's one reference count), so cache lines move between the
        cores, which is slow whenever the machine's cross-core traffic is (docs/performance.md).

        h       per chunk: its rows of h_0 (the gathered inputs) .. h_L (= ŷ), layer k from
                ``h_off[k]``, row-major; with ``keep_g_prime`` (a layer's activation keeps
                g'(a_k), ``_activations.KEEPS_G_PRIME``) then d_1 .. d_{L-1}, laid out as grad_a
        grad_a  per chunk: its rows of grad a_1 .. grad a_L, layer k from ``h_off[k] - h_off[1]``
        wt      per chunk: W_2ᵀ .. W_Lᵀ, for grad_h_{k-1} = grad_a_k W_kᵀ
        parts   per chunk: its gradient sums, laid out like θ; added in chunk order afterwards
        stats   per chunk, one cache line each: weighted loss sum and weight sum
        penalty per block of the optimizer step: ‖W‖² of the block, then (gradient clipping) its
                ‖grad θ‖²; float64, 2 x the blocks

        h, grad_a, wt and parts are tuples of MAX_CHUNKS arrays (one compiled type whatever the
        split); chunks that no batch uses get one-element placeholders.
        """
        from ._epoch import n_chunks_of

        splits = [(nb, n_chunks_of(nb, self.units)) for nb in (batch_sizes or [n_rows]) if nb > 0]
        n_chunks = max((n for _, n in splits), default=1)
        # rows of the largest chunk of any batch: chunk c of nb rows is rows c·nb//n .. (c+1)·nb//n
        cap = max((-(-nb // n) for nb, n in splits), default=1)
        h_off = np.concatenate(([0], np.cumsum(cap * self.units))).astype(np.int64)

        def per_chunk(size):
            return tuple(np.empty(size if c < n_chunks else 1, dtype=dtype)
                         for c in range(MAX_CHUNKS))

        h = per_chunk(int(h_off[-1] + (h_off[-2] - h_off[1] if keep_g_prime else 0)))
        grad_a = per_chunk(int(h_off[-1] - h_off[1]))
        parts = per_chunk(self.size)
        wt = per_chunk(max(1, int((self.units[1:-1] * self.units[2:]).sum())))
        stats = np.empty((MAX_CHUNKS, 8), dtype=np.float64)  # 8 float64: a row per cache line
        penalty = np.empty(2 * -(-self.size // UPDATE_BLOCK), dtype=np.float64)
        return h_off, h, grad_a, wt, parts, stats, penalty
