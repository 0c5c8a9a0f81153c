"""The blocked layer product in an epoch: its own kernel, compiled only where a layer needs it,
and the same bits as the unblocked row-parallel product it stands in for."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

import jitmlp._epoch as epoch
import jitmlp._estimators as estimators
from jitmlp import MLPClassifier
from jitmlp._config import TILE_VECTORS
from jitmlp._layers import runs_blocked


def test_may_run_blocked_only_past_l2():
    assert not epoch.may_run_blocked([64, 100, 10], [200], 8)
    assert not epoch.may_run_blocked([64, 512, 512, 10], [], 8)  # no row-parallel batch
    # a 512 x 512 float64 weight matrix is 2 MiB (BLOCKED_MIN_BYTES); in float32 it is not
    assert epoch.may_run_blocked([64, 512, 512, 10], [256], 8) == (TILE_VECTORS == 4)
    assert not epoch.may_run_blocked([64, 512, 512, 10], [256], 4)


def _fit(monkeypatch, blocked):
    tables = []
    original = estimators.chunk_kernels_of

    def recording(*args, **kwargs):
        tables.append(original(*args, **kwargs))
        return tables[-1]

    with monkeypatch.context() as patched:
        patched.setattr(estimators, "chunk_kernels_of", recording)
        if not blocked:
            patched.setattr(epoch, "may_run_blocked", lambda *args: False)
        X, y = make_classification(300, 64, n_informative=20, n_classes=4, random_state=0)
        model = MLPClassifier((512, 512), batch_size=256, max_iter=1, random_state=0).fit(X, y)
    return model, tables


@pytest.mark.skipif(TILE_VECTORS != 4, reason="the blocked product needs AVX-512's 4-vector tiles")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_blocked_product_in_an_epoch_gives_the_unblocked_bits(monkeypatch):
    blocked, tables = _fit(monkeypatch, blocked=True)
    # with grad h = grad a W_kᵀ blocked too, from W_k read as W_k.T (no transposed copy)
    assert all(table[row, 0] != 0 for table in tables
               for row in (epoch.PRODUCT_LARGE, epoch.PRODUCT_LARGE_T))
    unblocked, tables = _fit(monkeypatch, blocked=False)
    assert all(table[row, 0] == 0 for table in tables
               for row in (epoch.PRODUCT_LARGE, epoch.PRODUCT_LARGE_T))
    for a, b in zip(blocked.coefs_ + blocked.intercepts_, unblocked.coefs_ + unblocked.intercepts_):
        assert np.array_equal(a, b)
    assert blocked.loss_ == unblocked.loss_
    # and the second layer's forward product of a 256-row batch does run blocked, as does its
    # grad h (W_2ᵀ is 512 x 512 too)
    W, a = np.empty((512, 512)), np.empty((256, 512))
    assert runs_blocked(False, W, a)
