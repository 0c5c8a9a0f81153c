"""The compiled loss and gradient equal the plain numpy algorithm of tests/reference.py.

Every activation and output function, with sample weights and an L2 term, in each way the
kernels run a batch: one chunk on the calling thread, several row chunks side by side, one chunk
whose layer products split their rows over the threads (over CHUNKED_MAX_FLOPS), and CSR input.
The batch sizes come from the thresholds in jitmlp/_config.py, and each test checks that its
batch really runs that way. float64; the two sum in different orders, so they agree to rounding:
each gradient array within 1e-10 of its largest element, the loss within 1e-12 relative.
"""

import zlib

import numpy as np
import pytest
import scipy.sparse as sp

from jitmlp._activations import ACTIVATIONS
from jitmlp._config import CHUNKED_MAX_FLOPS, SERIAL_MAX_FLOPS
from jitmlp._epoch import ROWS_PARALLEL, SERIAL, UNITS, batch_flops, regime_of
from jitmlp._network import Layout

from helpers import EPS, compiled_loss_and_grad, rel_diff, targets_for
from reference import loss_and_gradient

RTOL_GRAD = 1e-10
RTOL_LOSS = 1e-12

HUBER_DELTA = 0.5

OUTPUT_CASES = [("softmax", 3), ("logistic", 1), ("logistic", 3), ("identity", 1), ("huber", 2),
                ("identity", 2), ("exp", 2)]


def rows_for(regime, units):
    """The smallest batch (at least 20 rows) that runs as ``regime``, from the thresholds."""
    per_row = batch_flops(1, units)
    if regime in ("chunked", "sparse"):
        return max(20, int(SERIAL_MAX_FLOPS // per_row) + 1)
    if regime == "row-parallel":
        return int(CHUNKED_MAX_FLOPS // per_row) + 1
    return 20  # one chunk on the calling thread


def problem(regime, out, n_outputs, rng):
    units = np.array([24, 40, 32, n_outputs], dtype=np.int64)
    n = rows_for(regime, units)
    flops = batch_flops(n, units)
    runs_as = regime_of(n, units)
    if regime == "one-chunk":
        assert runs_as == SERIAL and flops < SERIAL_MAX_FLOPS
    elif regime == "row-parallel":
        assert runs_as == ROWS_PARALLEL and flops >= CHUNKED_MAX_FLOPS
    else:
        assert runs_as == UNITS
    X = rng.normal(size=(n, units[0]))
    if regime == "sparse":
        X[rng.random(X.shape) < 0.7] = 0
        X = sp.csr_matrix(X)
    Y = targets_for(out, n_outputs, n, rng)
    return X, Y, rng.uniform(0.2, 3.0, n), Layout.from_units(units)


# every pair of activation and output function in the regimes of small batches; each
# activation and each output function once in the row-parallel one (its batches, of
# CHUNKED_MAX_FLOPS, take ~0.1 s each: a machine-independent ~16,000 rows here)
SKLEARN_ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
CASES = [(regime, act, out, n_out) for regime in ("one-chunk", "chunked", "sparse")
         for act in SKLEARN_ACTIVATIONS for out, n_out in OUTPUT_CASES]
CASES += [("row-parallel", act, out, n_out)
          for act, (out, n_out) in zip(SKLEARN_ACTIVATIONS * 2, OUTPUT_CASES)]
# issue 14's activations, alone and one per layer (the network has two hidden layers), with
# two output functions in the small regimes, and the kept-g' ones row-parallel
NEW = [act for act in ACTIVATIONS if act not in SKLEARN_ACTIVATIONS]
PER_LAYER = [("gelu", "relu"), ("leaky_relu", "elu"), ("softplus", "silu")]
CASES += [(regime, act, out, n_out) for regime in ("one-chunk", "chunked", "sparse")
          for act in NEW + PER_LAYER for out, n_out in [("softmax", 3), ("identity", 2)]]
CASES += [("row-parallel", act, "logistic", 1) for act in ["gelu", ("silu", "elu")]]


@pytest.mark.parametrize("regime,act,out,n_outputs", CASES)
def test_compiled_gradient_equals_reference(regime, act, out, n_outputs):
    rng = np.random.default_rng(zlib.crc32(repr((regime, act, out, n_outputs)).encode()))
    X, Y, sw, layout = problem(regime, out, n_outputs, rng)
    theta = rng.uniform(-0.3, 0.3, layout.size)
    alpha = 0.3
    param = HUBER_DELTA if out == "huber" else EPS  # (targets ~ N(0, 1): both sides of δ)
    loss, grad = compiled_loss_and_grad(theta, layout, X, Y, act, out, alpha, sw, param)
    coefs, intercepts = layout.unpack(theta)
    X_dense = X.toarray() if sp.issparse(X) else X
    ref_loss, ref_coefs, ref_intercepts = loss_and_gradient(coefs, intercepts, X_dense, Y, sw, act,
                                                            out, alpha, param)
    got_coefs, got_intercepts = layout.unpack(grad)
    assert abs(loss - ref_loss) <= RTOL_LOSS * abs(ref_loss)
    for k, (got, ref) in enumerate(zip(got_coefs + got_intercepts, ref_coefs + ref_intercepts)):
        assert got.shape == ref.shape
        assert rel_diff(got, ref) < RTOL_GRAD, f"array {k}: {rel_diff(got, ref):.2e}"


@pytest.mark.parametrize("out,param", [("softmax", EPS), ("huber", HUBER_DELTA)])
def test_reference_gradient_matches_its_own_finite_differences(out, param):
    """The reference itself is right: central differences of its loss, on a tiny problem."""
    rng = np.random.default_rng(0)
    # one output for huber: its loss, like the squared error's, is reported ÷ n_outputs while
    # the gradient is that of the sum (scikit-learn's convention); they agree for one output
    layout = Layout.from_units([3, 4, 3, 2 if out == "softmax" else 1])
    X, sw = rng.normal(size=(7, 3)), rng.uniform(0.5, 2, 7)
    Y = np.eye(2)[rng.integers(0, 2, 7)] if out == "softmax" else 2 * rng.normal(size=(7, 1))
    theta = rng.uniform(-0.7, 0.7, layout.size)

    def loss_of(t):
        return loss_and_gradient(*layout.unpack(t), X, Y, sw, "tanh", out, 0.3, param)[0]

    _, gc, gi = loss_and_gradient(*layout.unpack(theta), X, Y, sw, "tanh", out, 0.3, param)
    grad = np.concatenate([g.ravel() for g in gc + gi])
    step = 1e-6
    fd = np.array([(loss_of(theta + step * e) - loss_of(theta - step * e)) / (2 * step)
                   for e in np.eye(layout.size)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
