"""scikit-learn's shuffle of the samples before every epoch, compiled: the same order, bit for bit.

scikit-learn draws each epoch's order with ``sklearn.utils.shuffle``, that is numpy's legacy
``RandomState.shuffle`` of ``arange(n)``: Fisher-Yates from the last position down, position i
swapped with j drawn by numpy's ``random_interval(i)`` (a masked draw from the MT19937 stream,
repeated until it is <= i), a Python-level call plus indexing once per epoch. Here the same
swaps run compiled, drawing from
the RandomState's own MT19937 state in place, so the RandomState ends in the state numpy's
shuffle leaves it in.

Only a RandomState (not a subclass) backed by MT19937 qualifies (the default, and what
``check_random_state`` makes of None or an int), and only after a one-time check that the
compiled shuffle reproduces numpy's on this numpy (``compiled_shuffle_works``); anything else
takes numpy's own shuffle.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from ._config import jit

_N = 624  # MT19937's state words; numpy's mt19937_state is {uint32 key[624]; int pos}
_M = 397


@jit(internal=True)
def _twist(key):
    """The next 624 words of MT19937's state (numpy's mt19937_gen)."""
    upper, lower = np.uint64(0x80000000), np.uint64(0x7FFFFFFF)
    matrix_a, one, zero = np.uint64(0x9908B0DF), np.uint64(1), np.uint64(0)
    for i in range(_N):
        nxt = i + 1 if i + 1 < _N else 0
        far = i + _M if i + _M < _N else i + _M - _N
        y = (np.uint64(key[i]) & upper) | (np.uint64(key[nxt]) & lower)
        key[i] = np.uint64(key[far]) ^ (y >> one) ^ (matrix_a if y & one else zero)


@jit(nogil=False)  # keeps the GIL while it changes the state, as numpy's shuffle does
def shuffle_in_place(state, x):
    """x permuted as numpy's legacy ``RandomState.shuffle`` permutes it, drawing from ``state``
    (the 625 words of a RandomState's MT19937 state, key then pos, updated in place).

    numpy's loop, for i = n-1 .. 1: draw 32-bit words w (mt19937_next) until w & mask <= i,
    mask the smallest 2^b - 1 >= i, then swap x[i] and x[w & mask]. Written here as one loop
    over the draws, without a branch on the random outcome: a rejected draw swaps x[i] with
    itself and keeps i (the outcome would mispredict a branch about every third draw). Draws are
    32-bit, so len(x) <= 2^32.
    """
    key = state[:_N]
    pos = np.int64(state[_N])
    i = x.shape[0] - 1
    if i <= 0:
        return
    mask = np.uint64(i)
    for shift in (1, 2, 4, 8, 16):
        mask |= mask >> np.uint64(shift)
    while i > 0:
        if pos >= _N:
            _twist(key)
            pos = 0
        w = np.uint64(key[pos])  # tempered as in mt19937_next
        pos += 1
        w ^= w >> np.uint64(11)
        w ^= (w << np.uint64(7)) & np.uint64(0x9D2C5680)
        w ^= (w << np.uint64(15)) & np.uint64(0xEFC60000)
        w ^= w >> np.uint64(18)
        top = np.uint64(i)
        half = mask >> np.uint64(1)
        mask = half if top <= half else mask  # i only ever steps down by one
        w &= mask
        accepted = w <= top
        j = np.int64(w) if accepted else i
        x_i = x[i]
        x[i] = x[j]
        x[j] = x_i
        i -= np.int64(accepted)
    state[_N] = pos


def _state_words(random_state):
    """A uint32 view of random_state's MT19937 state (key[624], then pos), or None."""
    if type(random_state) is not np.random.RandomState:
        return None
    bit_generator = getattr(random_state, "_bit_generator", None)
    if type(bit_generator) is not np.random.MT19937:
        return None
    words = (ctypes.c_uint32 * (_N + 1)).from_address(bit_generator.ctypes.state_address)
    return np.ctypeslib.as_array(words)


@functools.cache
def compiled_shuffle_works() -> bool:
    """Once per process: does the compiled shuffle give numpy's permutation and end state?"""
    ours, theirs = np.random.RandomState(2024), np.random.RandomState(2024)
    try:
        for n in (1, 2, 3, 700, 2000):  # 2000 draws and more: past the end of the 624 words
            x, y = np.arange(n), np.arange(n)
            words = _state_words(ours)
            if words is None or not np.array_equal(words[:_N], ours.get_state()[1]):
                return False
            shuffle_in_place(words, x)
            theirs.shuffle(y)
            a, b = ours.get_state(), theirs.get_state()
            if not (np.array_equal(x, y) and np.array_equal(a[1], b[1]) and a[2] == b[2]):
                return False
    except Exception:  # noqa: BLE001 - whatever fails here (numba, ctypes), numpy's shuffle remains
        return False
    return True


def shuffle_samples(sample_idx, random_state):
    """Permute ``sample_idx`` in place as ``sklearn.utils.shuffle(sample_idx, random_state=...)``
    orders it, drawing from random_state as that would (compiled where it can be)."""
    words = None
    if sample_idx.shape[0] <= 2**32 and compiled_shuffle_works():
        words = _state_words(random_state)
    if words is None:
        permutation = np.arange(sample_idx.shape[0])
        random_state.shuffle(permutation)
        sample_idx[:] = sample_idx[permutation]
        return
    with random_state._bit_generator.lock:  # the lock numpy's own shuffle holds
        shuffle_in_place(words, sample_idx)
