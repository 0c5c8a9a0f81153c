"""Ctrl-C during a fit: it stops after the minibatch in progress and leaves a consistent model.

Long epochs run as several compiled calls over slices of their minibatches (``SLICE_FLOPS``), so
SIGINT is seen between calls; an epoch interrupted inside goes back to where it began, so that
the weights, the optimizer's state, ``n_iter_``, ``t_`` and ``loss_curve_`` describe one point:
the model equals an uninterrupted fit of ``n_iter_`` epochs, bit for bit, and continues from there.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import jitmlp._estimators as estimators
from jitmlp import MLPClassifier, MLPRegressor


def _fit(cls, X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(**params).fit(X, y)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_epochs_in_slices_give_the_same_model(monkeypatch, solver):
    """One compiled call per minibatch (the smallest slice) or one per epoch: the same bits."""
    X, y = load_digits(return_X_y=True)
    params = dict(hidden_layer_sizes=(16,), max_iter=3, batch_size=64, random_state=0,
                  solver=solver)
    whole = _fit(MLPClassifier, X / 16, y, **params)
    monkeypatch.setattr(estimators, "SLICE_FLOPS", 1.0)
    assert estimators._slice_length(1e6, 64) == 64  # every call: one minibatch
    sliced = _fit(MLPClassifier, X / 16, y, **params)
    for a, b in zip(whole.coefs_ + whole.intercepts_, sliced.coefs_ + sliced.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert sliced.loss_curve_ == whole.loss_curve_
    assert (sliced.t_, sliced.n_iter_, sliced._optimizer.t) == (whole.t_, whole.n_iter_,
                                                                 whole._optimizer.t)


def test_slice_length_is_whole_minibatches():
    assert estimators._slice_length(10.0, 200) % 200 == 0
    assert estimators._slice_length(1e12, 200) == 200  # never less than one minibatch
    assert estimators._slice_length(1.0, 32) == 32 * int(estimators.SLICE_FLOPS // 32)


CHILD = textwrap.dedent(
    """
    import json, signal, sys, time, warnings
    import numpy as np
    # Python's own Ctrl-C handler, as a terminal gives a foreground process: a child inherits an
    # ignored SIGINT from a suite started in the background of a non-interactive shell (POSIX),
    # and would then run its hours-long fit to the timeout
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from sklearn.datasets import make_regression
    from jitmlp import MLPRegressor
    X, y = make_regression(20000, 100, random_state=0)
    y = y / y.std()
    params = dict(hidden_layer_sizes=(256, 256), random_state=0, tol=0.0, n_iter_no_change=10**6)
    MLPRegressor(max_iter=1, **params).fit(X[:500], y[:500])  # compile (or load) first
    print("ready", flush=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MLPRegressor(max_iter=100000, **params).fit(X, y)  # hours, unless interrupted
    messages = [str(w.message) for w in caught]
    n = model.n_iter_
    again = MLPRegressor(max_iter=n, **params).fit(X, y) if n else None
    same = again is not None and all(
        np.array_equal(a, b) for a, b in zip(model.coefs_ + model.intercepts_,
                                             again.coefs_ + again.intercepts_))
    print(json.dumps({
        "n_iter": n, "curve": len(model.loss_curve_), "t": model.t_, "adam_t": model._optimizer.t,
        "messages": messages, "same_as_uninterrupted": same,
        "same_loss_curve": again is not None and again.loss_curve_ == model.loss_curve_,
    }))
    model.partial_fit(X, y)  # and it continues from there
    print(json.dumps({"t": model.t_, "adam_t": model._optimizer.t}))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX signals")
def test_sigint_stops_the_fit_inside_an_epoch_with_a_consistent_model():
    """A real SIGINT to a process whose fit would run for hours; each epoch is five calls here
    (20,000 x 100 into (256, 256): 10 GFLOP an epoch, SLICE_FLOPS 2 GFLOP a call), so the signal
    lands inside an epoch four times out of five, and the fit must still stop at once and report
    an uninterrupted fit's model. The timeout only guards against a hang."""
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        import time

        time.sleep(1.5)  # into the long fit: a few epochs done, one in progress
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err[-3000:]
    report, continued = (json.loads(line) for line in out.strip().splitlines()[-2:])
    n = report["n_iter"]
    assert "Training interrupted by user." in report["messages"]
    assert report["curve"] == n and report["t"] == n * 20000 and report["adam_t"] == n * 100
    if n:
        assert report["same_as_uninterrupted"] and report["same_loss_curve"]
    assert continued == {"t": (n + 1) * 20000, "adam_t": (n + 1) * 100}


def test_interrupt_in_a_thread_or_under_a_custom_handler_is_left_to_python():
    """The deferred handler is installed only in the main thread over Python's default one."""
    previous = signal.getsignal(signal.SIGINT)

    def custom(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, custom)
    try:
        with estimators._sigint_deferred() as hit:
            assert signal.getsignal(signal.SIGINT) is custom
        assert hit == []
    finally:
        signal.signal(signal.SIGINT, previous)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with estimators._sigint_deferred() as hit:
        os.kill(os.getpid(), signal.SIGINT)  # deferred: no KeyboardInterrupt here
        for _ in range(1000):  # let Python run the handler
            if hit:
                break
    signal.signal(signal.SIGINT, previous)
    assert hit


def test_fits_leave_the_sigint_handler_as_they_found_it():
    before = signal.getsignal(signal.SIGINT)
    X, y = load_digits(return_X_y=True)
    clf = _fit(MLPClassifier, X / 16, y, hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    reg = _fit(MLPRegressor, X / 16, y.astype(float), hidden_layer_sizes=(8,), max_iter=2,
               random_state=0)
    assert clf.n_iter_ == reg.n_iter_ == 2
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("sparse", [False, True])
def test_predict_in_slices_gives_the_same_probabilities(monkeypatch, sparse):
    """A large X is predicted in several calls (Ctrl-C is seen between them): the same bits."""
    import scipy.sparse as sp

    X, y = load_digits(return_X_y=True)
    clf = _fit(MLPClassifier, X / 16, y, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    Xp = sp.csr_matrix(X / 16) if sparse else X / 16
    whole = clf.predict_proba(Xp)
    monkeypatch.setattr(estimators, "SLICE_FLOPS", 1.0)  # one PREDICT_BLOCK of rows per call
    monkeypatch.setattr(estimators, "PREDICT_BLOCK", 100)  # 1797 rows: 18 calls
    np.testing.assert_array_equal(clf.predict_proba(Xp), whole)
