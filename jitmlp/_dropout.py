"""Dropout: inverted dropout of hidden units in training, masks from a counter-based generator.

In the lecture's notation, a hidden layer k (1 <= k <= L-1) with rate p_k > 0 passes on, during
training only,

    h̃_k = h_k ⊙ m_k / (1 − p_k),     m_k,j ∈ {0, 1},  P(m_k,j = 0) = p_k

instead of h_k: a_{k+1} = b_{k+1} + W_{k+1} h̃_k. Backward, with the same mask:

    grad W_{k+1} = grad a_{k+1} h̃_kᵀ
    grad h_k     = (W_{k+1}ᵀ grad a_{k+1}) ⊙ m_k / (1 − p_k)
    grad a_k     = grad h_k ⊙ g'(a_k)                 (g' from h_k, the activation before the mask)

Prediction never drops: dividing the kept units by 1 − p_k during training keeps E[h̃_k] = h_k,
so the trained network is used as it is.

The mask is not drawn from a stream but computed from its coordinates: m_k,j of sample n (its
row in the training data) in epoch e is ``u >= p_k``, u ∈ [0, 1) the top 53 bits of a hash of
(seed, e, k, n, j). The hash is splitmix64's (Steele, Lea & Flood, "Fast splittable pseudorandom
number generators", 2014): a key per level, key' = mix(key + γ·(index + 1)), for the seed,
epoch, layer, sample and unit in turn. So a mask does not depend on which thread, minibatch or
row chunk computes it, and backward recomputes it instead of storing it.

The epoch gets the rates, the seed and the epoch number in one float64 record (``record``):
[seed, epoch, p_1, ..., p_{L-1}]. ``dropout_rows`` applies one layer's mask forward,
``dropout_rows_in_place`` backward; the chunk calls them through their addresses
(``_epoch.DROPOUT``) only for layers with p_k > 0, so a fit without dropout compiles none of
this.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from ._config import jit

SEED, EPOCH, RATES = 0, 1, 2  # the record's fields: seed, epoch, then one rate per hidden layer

# splitmix64's increment (the golden ratio's odd 64-bit integer) and its mixing multipliers
GAMMA = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
ONE = np.uint64(1)
SEED_BOUND = 2**31 - 1  # seeds drawn in [0, 2^31 - 1): exact in the float64 record


@jit(inline="always")
def mix(z):
    """splitmix64's finalizer: a bijection of uint64 that spreads every input bit.

    Arguments of compiled callees arrive as int64 (``_config.canonical_type``): taken back to
    uint64 here, the same bits."""
    z = np.uint64(z)
    z = (z ^ (z >> np.uint64(30))) * M1
    z = (z ^ (z >> np.uint64(27))) * M2
    return z ^ (z >> np.uint64(31))


@jit(inline="always")
def child(key, index):
    """The key of item ``index`` (>= 0) under ``key``."""
    return mix(np.uint64(key) + GAMMA * (np.uint64(index) + ONE))


@jit(internal=True)
def layer_key(drop, k):
    """The key of hidden layer k (1..L-1) in the record's epoch: seed -> epoch -> layer."""
    key = child(np.uint64(0), np.int64(drop[SEED]))
    return child(child(key, np.int64(drop[EPOCH])), k)


@jit(internal=True)
def keep_threshold(p):
    """The integer t with ``u >= p`` ⇔ ``bits >= t``, for u = bits · 2⁻⁵³ (p·2⁵³ is exact)."""
    return np.uint64(math.ceil(p * 9007199254740992.0))


@jit(inline="always")
def _mask_setup(h, k, drop):
    """(scale 1/(1 − p_k) in h's dtype, the keep threshold, layer k's key) for ``drop``."""
    p = drop[RATES + k - 1]
    return h.dtype.type(1.0 / (1.0 - p)), keep_threshold(p), layer_key(drop, k)


@jit(inline="always")
def unit_bits(row_key, j):
    """The top 53 bits of unit j's hash under its sample's key: u = bits · 2⁻⁵³."""
    return mix(np.uint64(row_key) + GAMMA * (np.uint64(j) + ONE)) >> np.uint64(11)


@jit
def dropout_rows(h, out, rows, k, drop):
    """out = h ⊙ m_k / (1 − p_k) for the rows of a chunk (row r is sample rows[r]), hidden
    layer k (1..L-1), the epoch and seed of ``drop`` (the record); h and out distinct."""
    scale, threshold, key = _mask_setup(h, k, drop)
    zero = h.dtype.type(0)
    for r in range(rows.shape[0]):
        row_key = child(key, rows[r])
        src = h[r]
        dst = out[r]
        for j in range(h.shape[1]):
            dst[j] = src[j] * scale if unit_bits(row_key, j) >= threshold else zero


@jit(internal=True)
def dropout_rows_in_place(grad, rows, k, drop):
    """grad ← grad ⊙ m_k / (1 − p_k), the mask of ``dropout_rows``: backward's grad h_k from
    grad h̃_k. (Its own loop: ``dropout_rows`` with out = h would fail LLVM's run-time check
    that the two do not overlap and run unvectorized.)"""
    scale, threshold, key = _mask_setup(grad, k, drop)
    zero = grad.dtype.type(0)
    for r in range(rows.shape[0]):
        row_key = child(key, rows[r])
        row = grad[r]
        for j in range(grad.shape[1]):
            row[j] = row[j] * scale if unit_bits(row_key, j) >= threshold else zero


def record(rates, seed=0, epoch=0) -> np.ndarray:
    """The dropout record the epoch reads: [seed, epoch, p_1, ..., p_{L-1}] (float64)."""
    return np.array([seed, epoch, *rates], dtype=np.float64)


def rates_of(dropout, n_hidden: int) -> tuple:
    """The estimator's ``dropout`` as one rate per hidden layer, validated.

    A number is every hidden layer's rate; a sequence gives one per hidden layer. Each rate must
    be in [0, 1).
    """
    if isinstance(dropout, Real) and not isinstance(dropout, bool):
        rates = [float(dropout)] * n_hidden
    else:
        try:
            values = np.asarray(dropout, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"dropout must be a number in [0, 1) or one such number per hidden layer, got "
                f"{dropout!r}.") from None
        if values.ndim != 1 or values.shape[0] != n_hidden:
            raise ValueError(
                f"dropout must be a number or have one rate per hidden layer ({n_hidden}), "
                f"got {dropout!r}.")
        rates = [float(v) for v in values]
    for p in rates:
        if not 0.0 <= p < 1.0:  # NaN fails too
            raise ValueError(f"dropout rates must be in [0, 1), got {dropout!r}.")
    return tuple(rates)


def training_record(estimator, n_hidden: int, stochastic: bool) -> tuple:
    """(rates, record) of a fit: the record with seed and epoch 0; rates all 0 if off.

    Dropout makes every step's loss a different function of θ: lbfgs, whose line search
    compares losses, is refused with it."""
    rates = rates_of(getattr(estimator, "dropout", 0.0), n_hidden)
    if any(rates) and not stochastic:
        raise ValueError(
            f"dropout={estimator.dropout!r} needs solver='sgd' or 'adam': with dropout every "
            "evaluation of the loss uses other masks, which lbfgs's line search cannot take. "
            "Use dropout=0.0 with lbfgs.")
    return rates, record(rates)


def keep_mask(rates, seed, epoch, samples, k, n_units, dtype=np.float64) -> np.ndarray:
    """The mask m_k (bool, one row per sample of ``samples``) that training applies, computed by
    the compiled ``dropout_rows`` (for tests and for reading)."""
    drop = record(rates, seed, epoch)
    ones = np.ones((len(samples), n_units), dtype=dtype)
    out = np.empty_like(ones)
    dropout_rows(ones, out, np.asarray(samples, dtype=np.int64), np.int64(k), drop)
    return out != 0
