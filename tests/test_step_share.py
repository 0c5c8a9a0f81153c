"""The optimizer step shared by a batch's row groups (``_epoch._step_share``): whoever steps,
and whether a group waits for the other or leaves the step to it, θ and Adam's state get the
bits of the step run as its own phase after the groups.

The parallel region decides at run time which thread runs which group and when, so a fit shows
only the common case (both groups side by side, the first to finish waits and takes half of the
blocks). Here the two items run one after the other on the calling thread, which forces the
other two paths: the first item finds its partner not started and leaves the whole step to it;
or (its partner marked as started) it waits in vain until SPIN_LIMIT polls, gives up, and the
partner steps alone. (The first path only saves those polls: it gives the bits of the second.)
The workspace is filled with NaN before each run, so a step that reads the partner's sums
before they are written shows. A barrier that lets the first item step at once fails here,
and so does a waiter that steps after giving up.
"""

import warnings

import numba
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import jitmlp._estimators as estimators
from jitmlp import MLPClassifier
from jitmlp._config import UPDATE_BLOCK
from jitmlp._epoch import (
    EPOCH_ITEM,
    FINISHED,
    NEXT_SHARE,
    ROW_UNITS,
    STARTED,
    STEP_PASS,
    UNITS_THEN_STEP,
    _batch_sums,
    _plan,
    _weight_sum,
    schedule,
    step_size,
)
from jitmlp._native import call_native, kernel_at


@numba.njit
def _one_batch(kernels, data, X_csr, idx, theta, net, work, step, dropout, shared, started):
    """One Adam step (t = 1) of the batch ``idx`` as two row groups run one after the other:
    with ``shared``, as UNITS_THEN_STEP items (``started`` items counted as started before);
    else the groups (ROW_UNITS), then every block of θ (STEP_PASS)."""
    plan = _plan(idx.shape[0], net.units, False, 2)
    eta = step_size(theta, step, 1)
    one = theta.dtype.type(1)
    if shared:  # Σw known before the data term, as run_epoch passes it
        sw_sum = _weight_sum(data.sw, idx)
        work.sync[STARTED] = started
        work.sync[FINISHED] = 0
        work.sync[NEXT_SHARE] = 0
        for i in range(2):
            call_native(kernel_at(kernels, EPOCH_ITEM, 0),
                        (kernels, data, X_csr, idx, theta, net, work, step, dropout,
                         (np.int64(UNITS_THEN_STEP), np.int64(2), plan, eta, sw_sum, one),
                         np.int64(i)))
        return
    for i in range(2):
        call_native(kernel_at(kernels, EPOCH_ITEM, 0),
                    (kernels, data, X_csr, idx, theta, net, work, step, dropout,
                     (np.int64(ROW_UNITS), np.int64(2), plan, eta, 0.0, one), np.int64(i)))
    sw_sum = _batch_sums(work.stats, data.sw, idx, net.units, net.out)[1]
    n_blocks = (theta.shape[0] + UPDATE_BLOCK - 1) // UPDATE_BLOCK
    for blk in range(n_blocks):
        call_native(kernel_at(kernels, EPOCH_ITEM, 0),
                    (kernels, data, X_csr, idx, theta, net, work, step, dropout,
                     (np.int64(STEP_PASS), np.int64(n_blocks), plan, eta, sw_sum, one),
                     np.int64(blk)))


@pytest.fixture(scope="module")
def epoch_arguments():
    """The arguments of the first compiled epoch call of a 2-thread digits fit, whose batches
    of 200 rows run as two row groups, each whole on a thread (``_epoch._plan``)."""
    calls = []
    original = estimators.run_epoch

    def spy(*args):
        calls.append(args)
        return original(*args)

    X, y = load_digits(return_X_y=True)
    estimators.run_epoch = spy
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            MLPClassifier((100,), batch_size=200, max_iter=1, random_state=0,
                          n_jobs=2).fit(X / 16, y)
    finally:
        estimators.run_epoch = original
    return calls[0]


def _stepped(arguments, shared, started=0):
    """(θ, m, v) after ``_one_batch`` from copies of the fit's initial θ and Adam state."""
    kernels, data, X_csr, order, theta, net, work, step = arguments[:8]
    dropout = arguments[-1]
    for buffer in (work.parts, work.stats, work.h_buf, work.ga_buf, work.grad):
        buffer[...] = np.nan  # nothing left from the run before passes for this one's values
    theta = theta.copy()
    step = step._replace(state_1=step.state_1.copy(), state_2=step.state_2.copy())
    _one_batch(kernels, data, X_csr, order[:200], theta, net, work, step, dropout, shared,
               started)
    return theta, step.state_1, step.state_2


def test_fit_runs_the_groups_with_the_shared_step(epoch_arguments):
    kernels, data, X_csr, order, theta, net, work, step = epoch_arguments[:8]
    assert schedule(200, net.units, 2) == (2, 0)  # two whole groups, no gradient phase
    assert step.max_grad_norm == np.inf  # no clipping: run_epoch shares the step
    assert work.sync.dtype == np.int64 and work.sync.shape[0] > NEXT_SHARE


@pytest.mark.parametrize("started", [0, 1], ids=["partner-not-started", "wait-gives-up"])
def test_shared_step_gives_the_bits_of_the_step_phase(epoch_arguments, started):
    theta0 = epoch_arguments[4]
    reference = _stepped(epoch_arguments, shared=False)
    shared = _stepped(epoch_arguments, shared=True, started=started)
    assert not np.array_equal(reference[0], theta0)  # the step moved θ
    for ours, theirs in zip(shared, reference):
        np.testing.assert_array_equal(ours, theirs)
