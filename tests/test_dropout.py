"""Dropout: the masks' generator, the thinned network's loss and gradient, and the estimators."""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import jitmlp
import jitmlp._estimators as estimators
from jitmlp import MLPClassifier, MLPRegressor, check_gradients
from jitmlp._activations import ACTIVATIONS, g_kernels
from jitmlp._dropout import EPOCH, RATES, SEED, keep_mask, record
from jitmlp._epoch import (
    DROPOUT,
    ROWS_PARALLEL,
    SERIAL,
    UNITS,
    batch_loss_and_grad,
    chunk_kernels_of,
    regime_of,
)
from jitmlp._estimators import _frozen, _kernel_input
from jitmlp._gradcheck import compiled_objective
from jitmlp._network import Layout
from jitmlp._outputs import OUTPUTS
from jitmlp._records import Data
from tests.reference import G_PRIME, OUTPUT, G, sample_loss

EPS = float(np.finfo(np.float64).eps)


# ------------------------------------------------------------ the generator, in plain numpy
def _mix(z):
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _child(key, index):
    with np.errstate(over="ignore"):
        return _mix(np.uint64(key) + np.uint64(0x9E3779B97F4A7C15)
                    * (np.asarray(index, dtype=np.uint64) + np.uint64(1)))


def numpy_mask(p, seed, epoch, samples, k, n_units):
    """m_k for ``samples`` (rows) as the module docstring defines it: u >= p, u the top 53
    bits of the hash of (seed, epoch, layer k, sample, unit), over 2^53."""
    key = _child(_child(_child(0, seed), epoch), k)
    rows = _child(key, np.asarray(samples))[:, None]
    bits = _child(rows, np.arange(n_units)[None, :]) >> np.uint64(11)
    return bits.astype(np.float64) * 2.0**-53 >= p


def test_masks_are_the_documented_hash_of_seed_epoch_layer_sample_unit():
    samples = [0, 1, 7, 123456, 2**40]
    for p, seed, epoch, k in [(0.5, 0, 0, 1), (0.1, 12345, 3, 2), (0.9, 2**31 - 2, 10**6, 1)]:
        rates = [p, p]
        got = keep_mask(rates, seed, epoch, samples, k, 37)
        assert (got == numpy_mask(p, seed, epoch, samples, k, 37)).all()


def test_kept_share_is_one_minus_the_rate_and_masks_change_with_every_key():
    samples = np.arange(2000)
    for p in (0.1, 0.5, 0.9):
        mask = keep_mask([p], 7, 0, samples, 1, 100)
        n = mask.size
        assert abs(mask.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
        # no structure along units or samples: each unit and each sample keeps about 1 - p
        assert abs(mask.mean(axis=0) - (1 - p)).max() < 5 * np.sqrt(p * (1 - p) / 2000)
    base = keep_mask([0.5, 0.5], 7, 0, samples, 1, 100)
    for other in (keep_mask([0.5, 0.5], 8, 0, samples, 1, 100),   # seed
                  keep_mask([0.5, 0.5], 7, 1, samples, 1, 100),   # epoch
                  keep_mask([0.5, 0.5], 7, 0, samples, 2, 100),   # layer
                  keep_mask([0.5, 0.5], 7, 0, samples + 1, 1, 100)):  # sample
        agree = (base == other).mean()
        assert abs(agree - 0.5) < 0.01  # independent masks agree on half the units
    # neighbouring units are uncorrelated
    centered = base - base.mean()
    assert abs((centered[:, 1:] * centered[:, :-1]).mean()) < 0.01


def test_masks_scale_kept_units_by_one_over_one_minus_p_in_float32_too():
    from jitmlp._dropout import dropout_rows

    h = np.random.default_rng(0).normal(size=(50, 20)).astype(np.float32)
    out = np.empty_like(h)
    drop = record([0.25], seed=3, epoch=1)
    dropout_rows(h, out, np.arange(50, 100), np.int64(1), drop)
    mask = numpy_mask(0.25, 3, 1, np.arange(50, 100), 1, 20)
    assert (out == np.where(mask, h * np.float32(1 / 0.75), 0)).all()


# --------------------------------------------- the thinned network's loss and gradient, exact
def reference(coefs, intercepts, X, Y, samples, g, out, rates, seed, epoch):
    """Loss and gradient (Σ_n loss_n, unscaled sums) of the thinned network in numpy, samples
    as columns, following the formulas of ``_dropout``."""
    L = len(coefs)
    W = [None] + [c.T for c in coefs]
    b = [None] + list(intercepts)
    a, h, h_tilde, masks = [None], [X.T], [X.T], [None]
    for k in range(1, L):
        a.append(b[k][:, None] + W[k] @ h_tilde[k - 1])
        h.append(G[g](a[k]))
        m = numpy_mask(rates[k - 1], seed, epoch, samples, k, len(b[k])).T / (1 - rates[k - 1])
        masks.append(m if rates[k - 1] > 0 else np.ones_like(m))
        h_tilde.append(h[k] * masks[k])
    y_hat = OUTPUT[out](b[L][:, None] + W[L] @ h_tilde[L - 1])
    loss = sample_loss(out, Y.T, y_hat, EPS).sum()
    grad_a = y_hat - Y.T
    grad_W, grad_b = [None] * (L + 1), [None] * (L + 1)
    for k in range(L, 0, -1):
        grad_W[k] = grad_a @ h_tilde[k - 1].T
        grad_b[k] = grad_a.sum(axis=1)
        if k > 1:
            grad_a = (W[k].T @ grad_a) * masks[k - 1] * G_PRIME[g](a[k - 1], h[k - 1])
    return loss, [gw.T for gw in grad_W[1:]], grad_b[1:]


def compiled(layout, theta, X, Y, samples, g, out, drop):
    """Σ_n loss_n and the unscaled gradient sums of the samples ``samples`` of X as one batch,
    from the kernel lbfgs and check_gradients call."""
    n = len(samples)
    work = layout.workspace(n, X.dtype, dropout=bool((drop[RATES:] > 0).any()))
    X_dense, X_csr = _kernel_input(X, X.dtype)
    data = Data(X_dense, _frozen(Y), _frozen(np.ones(X.shape[0])))
    idx = _frozen(np.asarray(samples, dtype=np.int64))
    net = layout.network(g_kernels([ACTIVATIONS[g]] * (layout.n_layers - 1), X.dtype),
                         OUTPUTS[out], EPS)
    args = (data, X_csr, idx, theta.copy(), net, work)
    kernel = chunk_kernels_of(*args, [n], dropout=drop)
    loss = batch_loss_and_grad(kernel, *args, 0.0, drop)
    return loss * n, work.grad * n


@pytest.mark.parametrize("hidden, n, g, out", [
    ((7, 5), 20, "tanh", "softmax"),          # on the calling thread
    ((64, 48), 300, "logistic", "logistic"),  # units of rows, then blocks of the gradients
    ((512, 512), 200, "relu", "identity"),    # one pass, rows split over threads
])
def test_loss_and_gradient_equal_the_thinned_networks_for_every_way_of_running_a_batch(
        hidden, n, g, out):
    rng = np.random.default_rng(0)
    n_features, n_outputs = 30, 3
    units = [n_features, *hidden, n_outputs]
    layout = Layout.from_units(units)
    assert regime_of(n, layout.units) == {20: SERIAL, 300: UNITS, 200: ROWS_PARALLEL}[n]
    X = rng.normal(size=(n + 50, n_features))
    Y = np.eye(n_outputs)[rng.integers(0, n_outputs, n + 50)] if out != "identity" else \
        rng.normal(size=(n + 50, n_outputs))
    coefs = [rng.normal(scale=0.3, size=(i, o)) for i, o in zip(units[:-1], units[1:])]
    intercepts = [rng.normal(scale=0.1, size=o) for o in units[1:]]
    theta = layout.pack(coefs, intercepts, np.float64)
    rates, seed, epoch = (0.3, 0.6), 11, 4
    samples = rng.permutation(n + 50)[:n]  # a minibatch: sample numbers, not positions
    drop = record(rates, seed, epoch)
    loss, grad = compiled(layout, theta, X, Y, samples, g, out, drop)
    ref_loss, ref_W, ref_b = reference(coefs, intercepts, X[samples], Y[samples], samples, g,
                                       out, rates, seed, epoch)
    ref = layout.pack(ref_W, ref_b, np.float64)
    if out == "identity":
        ref_loss /= n_outputs  # scikit-learn's report of squared error
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    # the same samples split into two batches: the masks go with the samples
    half = n // 2
    loss_a, grad_a = compiled(layout, theta, X, Y, samples[:half], g, out, drop)
    loss_b, grad_b = compiled(layout, theta, X, Y, samples[half:], g, out, drop)
    assert loss_a + loss_b == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(grad_a + grad_b, grad, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    # another epoch, other masks
    other = compiled(layout, theta, X, Y, samples, g, out, record(rates, seed, epoch + 1))[1]
    assert np.abs(other - grad).max() > 1e-3 * np.abs(grad).max()


def test_rates_of_zero_compile_and_change_nothing():
    X, y = _digits()
    layout = Layout.from_units([64, 10, 10])
    objective = compiled_objective(layout, X, np.eye(10)[y], None, ACTIVATIONS["relu"],
                                   OUTPUTS["softmax"], 1e-4, np.float64)
    theta = np.random.default_rng(0).normal(size=layout.size)
    zero = compiled_objective(layout, X, np.eye(10)[y], None, ACTIVATIONS["relu"],
                              OUTPUTS["softmax"], 1e-4, np.float64, dropout=record([0.0]))
    assert objective(theta)[0] == zero(theta)[0]
    assert (objective(theta)[1] == zero(theta)[1]).all()
    assert tuple(_table(layout, X, [0.0])[DROPOUT]) == (0, 0)  # not compiled, never called
    assert _table(layout, X, [0.5])[DROPOUT, 0] != 0


def _table(layout, X, rates):
    n = X.shape[0]
    X_dense, X_csr = _kernel_input(X, X.dtype)
    return chunk_kernels_of(
        Data(X_dense, _frozen(np.zeros((n, 10))), _frozen(np.ones(n))), X_csr,
        _frozen(np.arange(n, dtype=np.int64)), np.empty(layout.size),
        layout.network(g_kernels([ACTIVATIONS["relu"]], X.dtype), OUTPUTS["softmax"], EPS),
        layout.workspace(n, X.dtype, dropout=True), [n], dropout=record(rates))


# --------------------------------------------------------------------------- the estimators
def _digits(n=120):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16, y[:n]


def _fit(model, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **kwargs)


@pytest.mark.parametrize("dropout", [0.0, (0.0, 0.0), [0, 0]])
def test_rate_zero_is_the_model_without_dropout_bit_for_bit(dropout):
    X, y = _digits()
    plain = _fit(MLPClassifier((16, 8), max_iter=3, random_state=0), X, y)
    zero = _fit(MLPClassifier((16, 8), max_iter=3, random_state=0, dropout=dropout), X, y)
    for a, b in zip(plain.coefs_ + plain.intercepts_, zero.coefs_ + zero.intercepts_):
        assert (a == b).all()
    assert plain.loss_curve_ == zero.loss_curve_


def test_dropout_changes_training_but_predict_never_drops():
    X, y = _digits()
    plain = _fit(MLPClassifier((16, 8), max_iter=3, random_state=0), X, y)
    model = _fit(MLPClassifier((16, 8), max_iter=3, random_state=0, dropout=(0.5, 0.2)), X, y)
    assert not np.array_equal(plain.coefs_[0], model.coefs_[0])
    same_weights = copy.deepcopy(model).set_params(dropout=0.0)
    proba = model.predict_proba(X)
    assert (proba == same_weights.predict_proba(X)).all()
    assert (proba == model.predict_proba(X)).all()  # no mask: the same every call
    assert (model.predict(X) == same_weights.predict(X)).all()
    # the same fit again: the same model (the masks' seed comes from random_state)
    again = _fit(MLPClassifier((16, 8), max_iter=3, random_state=0, dropout=(0.5, 0.2)), X, y)
    assert all((a == b).all() for a, b in zip(model.coefs_, again.coefs_))


@pytest.fixture
def records(monkeypatch):
    """The dropout record (seed, epoch, rates) each compiled epoch call receives."""
    seen = []
    original = estimators.run_epoch

    def spy(*args):
        seen.append(args[-1].copy())
        return original(*args)

    monkeypatch.setattr(estimators, "run_epoch", spy)
    return seen


def test_each_epoch_has_its_number_and_partial_fit_goes_on_counting(records):
    X, y = _digits()
    y = y.astype(float)
    _fit(MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0, dropout=0.2), X, y)
    assert [r[EPOCH] for r in records] == [0, 1, 2]
    assert len({r[SEED] for r in records}) == 1
    assert all(list(r[2:]) == [0.2] for r in records)
    records.clear()
    model = MLPRegressor(hidden_layer_sizes=(8,), random_state=0, dropout=0.2)
    model.partial_fit(X, y).partial_fit(X, y)
    assert [r[EPOCH] for r in records] == [0, 1]
    records.clear()
    _fit(MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0), X, y)
    assert all(r[SEED] == 0 and not r[2:].any() for r in records)  # off: no seed drawn


def test_gradient_check_covers_dropout_with_a_fixed_mask(monkeypatch):
    X, y = _digits(60)
    for dtype, tol in ((np.float64, 1e-5), (np.float32, 1e-3)):
        model = _fit(MLPClassifier((12, 9), activation="tanh", max_iter=5, random_state=0,
                                   dropout=(0.3, 0.5)), X.astype(dtype), y)
        assert check_gradients(model, X, y) < tol
    X_csr = sp.csr_matrix(np.where(X > 0.5, X, 0))
    sparse = _fit(MLPRegressor(hidden_layer_sizes=(10,), activation="logistic", max_iter=5,
                               random_state=0, dropout=0.4), X_csr, y / 9)
    assert check_gradients(sparse, X_csr, y / 9) < 1e-5
    # backprop with other masks than the differences': the check sees it
    import jitmlp._gradcheck as gradcheck

    original = gradcheck.compiled_objective
    calls = []

    def other_masks(*args):
        calls.append(None)
        drop = args[-1].copy()
        if len(calls) == 1:  # the first objective is backprop's
            drop[EPOCH] += 1
        return original(*args[:-1], drop)

    monkeypatch.setattr(gradcheck, "compiled_objective", other_masks)
    assert check_gradients(model.set_params(dropout=(0.3, 0.5)), X, y) > 0.1


@pytest.mark.parametrize("dropout, match", [
    ((0.1,), r"one rate per hidden layer \(2\)"),
    ((0.1, 0.2, 0.3), r"one rate per hidden layer \(2\)"),
    ((0.1, 1.0), r"in \[0, 1\)"),
    ((0.1, -0.2), r"in \[0, 1\)"),
    ((0.1, np.nan), r"in \[0, 1\)"),
    (np.array([[0.1, 0.2]]), "one rate per hidden layer"),
    (("a", 0.1), "number in"),
    (1.0, "dropout"),
    (-0.1, "dropout"),
    ("0.5", "dropout"),
])
def test_bad_rates_raise_value_errors_that_say_what_is_wrong(dropout, match):
    X, y = _digits(40)
    with pytest.raises(ValueError, match=match):
        MLPClassifier((4, 3), max_iter=1, dropout=dropout).fit(X, y)


def test_lbfgs_refuses_dropout_and_accepts_rate_zero():
    X, y = _digits(40)
    with pytest.raises(ValueError, match="needs solver='sgd' or 'adam'"):
        MLPClassifier((4,), solver="lbfgs", dropout=0.5).fit(X, y)
    _fit(MLPClassifier((4,), solver="lbfgs", max_iter=2, dropout=0.0), X, y)


def test_exports_and_files():
    """Dropout acts in training only: the exported network is the plain MLP."""
    X, y = _digits(40)
    model = _fit(MLPClassifier((6,), max_iter=2, random_state=0, dropout=0.3), X, y)
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['dropout'\]"):
        model.to_sklearn()
    with pytest.raises(ValueError, match=r"\(dropout=0.0\)"):
        copy.deepcopy(model).set_params(dropout=np.array([0.3])).to_sklearn()
    for off in (0.0, [0.0], np.zeros(1)):  # rates all 0: no dropout, converts
        sk = copy.deepcopy(model).set_params(dropout=off).to_sklearn()
        assert (sk.predict(X) == model.predict(X)).all()
    import io

    buffer = io.BytesIO()
    jitmlp.save(model, buffer)
    buffer.seek(0)
    loaded = jitmlp.load(buffer)
    assert loaded.dropout == 0.3
    assert (loaded.predict_proba(X) == model.predict_proba(X)).all()
    per_layer = copy.deepcopy(model).set_params(dropout=(0.3,))
    with pytest.raises(ValueError, match="Cannot save parameter dropout"):
        jitmlp.save(per_layer, io.BytesIO())


def test_onnx_graph_is_the_plain_network():
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    from skl2onnx import to_onnx

    import jitmlp.onnx  # noqa: F401  (registers the converters)

    X, y = _digits(40)
    X32 = X.astype(np.float32)
    model = _fit(MLPClassifier((6, 5), max_iter=2, random_state=0, dropout=(0.5, 0.3)), X32, y)
    onx = to_onnx(model, X32[:1], options={"zipmap": False})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    label, proba = session.run(None, {session.get_inputs()[0].name: X32})
    np.testing.assert_allclose(proba, model.predict_proba(X32), atol=1e-5)
    assert (label == model.predict(X32)).all()
