"""No compiled kernel keeps a reference to an array: every fit and prediction gives back all
the memory numba allocated or took hold of.

Kernels compiled without reference counting (``_config``: ``nrt=False``) must call nothing that
returns an array: a callee compiled with counting hands them a reference they never give back,
and the arrays it points into (θ, the workspace, X) would never be freed. numba's allocation
counts show it: each array a kernel is given from Python gets a "meminfo" that is freed when
its last reference goes, so a reference kept shows as one more meminfo allocated than freed.
"""

import gc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numba.core.runtime import _nrt_python, rtsys
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from jitmlp import MLPClassifier, MLPRegressor

X, y = make_classification(600, 40, n_informative=20, n_classes=4, random_state=0)


def _fits(dtype):
    """A model of every kind: the serial, row-unit and row-parallel minibatch (the shapes pick
    the regime), sparse input, sgd, clipping with weight decay, dropout, early stopping, lbfgs,
    a regressor and partial_fit; each then predicts."""
    Xd = X.astype(dtype)
    small = dict(max_iter=2, random_state=0)
    return [
        (MLPClassifier((8,), activation="tanh", batch_size=16, **small), Xd, y),
        (MLPClassifier((160, 96), batch_size=300, **small), Xd, y),
        (MLPClassifier((512, 256), batch_size=600, **small), Xd, y),
        (MLPClassifier((64,), **small), sp.csr_matrix(np.where(np.abs(Xd) > 1, Xd, 0)), y),
        (MLPClassifier((64,), solver="sgd", max_grad_norm=0.05, weight_decay=1e-3, **small),
         Xd, y),
        (MLPClassifier((160, 96), batch_size=300, dropout=0.2, **small), Xd, y),
        (MLPClassifier((32,), early_stopping=True, **small), Xd, y),
        (MLPClassifier((32,), solver="lbfgs", **small), Xd, y),
        (MLPRegressor(hidden_layer_sizes=(32,), **small), Xd, Xd[:, :2]),
    ]


def _run_all(dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for model, Xf, target in _fits(dtype):
            model.fit(Xf, target)
            model.predict(Xf[:50])
        model = MLPClassifier((16,), random_state=0).partial_fit(X, y, classes=np.unique(y))
        model.partial_fit(X, y).predict_proba(X[:5])
    gc.collect()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fits_and_predictions_give_back_every_array(dtype):
    _run_all(dtype)  # compiled or loaded from the cache first: what compiling keeps is not ours
    _nrt_python.memsys_enable_stats()
    try:
        before = rtsys.get_allocation_stats()
        _run_all(dtype)
        after = rtsys.get_allocation_stats()
    finally:
        _nrt_python.memsys_disable_stats()
    kept_meminfos = (after.mi_alloc - before.mi_alloc) - (after.mi_free - before.mi_free)
    kept_allocations = (after.alloc - before.alloc) - (after.free - before.free)
    assert after.mi_alloc > before.mi_alloc  # the counts ran: every fit takes hold of arrays
    assert (kept_meminfos, kept_allocations) == (0, 0)
