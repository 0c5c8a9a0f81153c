"""The compiled epoch shuffle gives scikit-learn's order and leaves the RandomState as it would."""

import numpy as np
import pytest
from sklearn.utils import shuffle

from jitmlp._shuffle import _state_words, compiled_shuffle_works, shuffle_in_place, shuffle_samples


def _same_state(a, b):
    sa, sb = a.get_state(), b.get_state()
    return sa[0] == sb[0] and np.array_equal(sa[1], sb[1]) and sa[2:] == sb[2:]


def test_compiled_path_is_taken():
    """The check that guards the compiled path passes here, and a RandomState qualifies (else
    the tests below would only compare numpy with itself)."""
    assert compiled_shuffle_works()
    assert _state_words(np.random.RandomState(0)) is not None


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 64, 623, 625, 1797, 20000])
@pytest.mark.parametrize("entry", ["kernel", "shuffle_samples"])
def test_same_order_and_state_as_sklearn_shuffle(entry, n, seed):
    """Five epochs in a row (the state carries over, and crosses MT19937's 624-word refills):
    the same permutation of non-trivial contents, and the same RandomState after each. The
    compiled kernel on its own (so a fault in it cannot hide behind the fallback), and the
    estimator's entry point."""
    ours, theirs = np.random.RandomState(seed), np.random.RandomState(seed)
    ours.normal(size=3)  # a cached Gaussian in the legacy state must survive too
    theirs.normal(size=3)
    idx = np.arange(n, dtype=np.int64) * 7 + 3
    expected = idx.copy()
    for _ in range(5):
        if entry == "kernel":
            shuffle_in_place(_state_words(ours), idx)
        else:
            shuffle_samples(idx, ours)
        expected = shuffle(expected, random_state=theirs)
        np.testing.assert_array_equal(idx, expected)
        assert _same_state(ours, theirs)
    assert ours.normal() == theirs.normal()


def test_other_bit_generators_use_numpy():
    """A RandomState over another bit generator is shuffled by numpy itself, with the same
    result as sklearn's shuffle."""
    ours = np.random.RandomState(np.random.PCG64(5))
    theirs = np.random.RandomState(np.random.PCG64(5))
    assert _state_words(ours) is None
    idx = np.arange(1000)
    shuffle_samples(idx, ours)
    np.testing.assert_array_equal(idx, shuffle(np.arange(1000), random_state=theirs))
    assert ours.randint(1 << 30) == theirs.randint(1 << 30)


def test_global_random_state():
    """random_state=None means numpy's global RandomState: it is advanced as sklearn's shuffle
    advances it."""
    from sklearn.utils import check_random_state

    np.random.seed(3)
    idx = np.arange(500)
    shuffle_samples(idx, check_random_state(None))
    after = np.random.get_state()
    np.random.seed(3)
    expected = shuffle(np.arange(500), random_state=check_random_state(None))
    np.testing.assert_array_equal(idx, expected)
    now = np.random.get_state()
    assert np.array_equal(after[1], now[1]) and after[2] == now[2]
