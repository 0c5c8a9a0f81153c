"""validation_loss_curve_ (the loss on the early-stopping split per epoch) and LossCurveDisplay."""

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import jitmlp._estimators as estimators
from jitmlp import LossCurveDisplay, MLPClassifier, MLPRegressor

ROOT = Path(__file__).resolve().parents[1]
# alpha large enough that a loss with the L2 penalty would not match
PARAMS = dict(hidden_layer_sizes=(8,), random_state=0, alpha=0.1, learning_rate_init=0.02,
              early_stopping=True, validation_fraction=0.25, n_iter_no_change=100)


def problem(kind, n=160):
    rng = np.random.default_rng(0)
    sample_weight = rng.random(n) + 0.5
    if kind in ("binary", "multiclass"):
        X, y = make_classification(n, 5, n_informative=3, random_state=0,
                                   n_classes=2 if kind == "binary" else 3)
        return MLPClassifier, X, y, sample_weight
    X, y = make_regression(n, 5, n_targets=2, noise=0.5, random_state=0)
    if kind == "poisson":
        return MLPRegressor, X, rng.poisson(np.exp(X[:, :2] / 3)), sample_weight
    return MLPRegressor, X, y / y.std(axis=0), sample_weight


def numpy_loss(kind, model, X_val, y_val, sample_weight):
    """The loss, computed from the public predictions alone: weighted mean over samples."""
    if kind == "multiclass":
        p = np.clip(model.predict_proba(X_val), np.finfo(float).eps, 1 - np.finfo(float).eps)
        per_sample = -np.log(p[np.arange(len(y_val)), np.searchsorted(model.classes_, y_val)])
    elif kind == "binary":
        p = np.clip(model.predict_proba(X_val)[:, 1], np.finfo(float).eps,
                    1 - np.finfo(float).eps)
        per_sample = -(y_val * np.log(p) + (1 - y_val) * np.log(1 - p))
    elif kind == "poisson":
        mu = model.predict(X_val)
        y_log_y = np.where(y_val > 0, y_val * np.log(np.where(y_val > 0, y_val, 1) / mu), 0.0)
        per_sample = (y_log_y - y_val + mu).sum(axis=1)  # half deviance, summed over outputs
    else:
        per_sample = ((y_val - model.predict(X_val)) ** 2).mean(axis=1) / 2
    return np.sum(sample_weight * per_sample) / np.sum(sample_weight)


@pytest.fixture
def split_seen(monkeypatch):
    """The validation split each fit draws, as the fit returned it (labels for a classifier)."""
    seen = []
    original = estimators.BaseMultilayerPerceptron._validation_split

    def recording(self, X, y, sample_weight):
        parts = original(self, X, y, sample_weight)
        seen.append(parts)
        return parts

    monkeypatch.setattr(estimators.BaseMultilayerPerceptron, "_validation_split", recording)
    return seen


class EveryEpoch:
    """A callback keeping the model after each epoch."""

    def __init__(self):
        self.models = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch":
            self.models.append(fitted_estimator)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "squared_error", "poisson"])
def test_validation_loss_is_the_loss_of_each_epochs_model_on_the_split(kind, split_seen):
    Est, X, y, sw = problem(kind)
    loss = "poisson" if kind == "poisson" else "squared_error"
    params = PARAMS if Est is MLPClassifier else {**PARAMS, "loss": loss}
    every_epoch = EveryEpoch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = Est(max_iter=6, **params).set_callbacks(every_epoch).fit(X, y, sample_weight=sw)
    (_, _, _, X_val, y_val, _, sw_val), = split_seen
    assert len(model.validation_loss_curve_) == len(model.validation_scores_) == 6
    expected = [numpy_loss(kind, m, X_val, y_val, sw_val) for m in every_epoch.models]
    np.testing.assert_allclose(model.validation_loss_curve_, expected, rtol=1e-10)
    assert np.all(np.diff(expected) != 0)  # six different models: the epochs are not mixed up


def test_validation_loss_of_the_best_epoch_is_the_final_models(split_seen):
    """Without callbacks: early stopping keeps the weights of the best-scoring epoch."""
    Est, X, y, sw = problem("multiclass", n=300)
    clf = Est(max_iter=200, **{**PARAMS, "n_iter_no_change": 4}).fit(X, y, sample_weight=sw)
    best = int(np.argmax(clf.validation_scores_))  # the first best: later ties do not replace it
    assert best < clf.n_iter_ - 1  # stopped later than the best epoch
    (_, _, _, X_val, y_val, _, sw_val), = split_seen
    final = numpy_loss("multiclass", clf, X_val, y_val, sw_val)
    assert clf.validation_loss_curve_[best] == pytest.approx(final, rel=1e-10)
    assert clf.validation_loss_curve_[-1] != pytest.approx(final, rel=1e-6)


def test_validation_loss_curve_mirrors_validation_scores():
    Est, X, y, _ = problem("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = Est(max_iter=3, hidden_layer_sizes=(8,), random_state=0).fit(X, y)
        assert plain.validation_scores_ is None and plain.validation_loss_curve_ is None
        lbfgs = Est(solver="lbfgs", max_iter=3, hidden_layer_sizes=(8,)).fit(X, y)
        assert not hasattr(lbfgs, "validation_loss_curve_")  # as validation_scores_
        warm = Est(max_iter=3, warm_start=True, **PARAMS).fit(X, y)
        warm.fit(X, y)
    assert len(warm.validation_loss_curve_) == len(warm.validation_scores_) == 6


def test_float32_validation_loss():
    Est, X, y, _ = problem("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        f64 = Est(max_iter=3, **PARAMS).fit(X, y)
        f32 = Est(max_iter=3, **PARAMS).fit(X.astype(np.float32), y)
    assert all(type(v) is float for v in f32.validation_loss_curve_)
    np.testing.assert_allclose(f32.validation_loss_curve_, f64.validation_loss_curve_, rtol=1e-4)


# ------------------------------------------------------------------------------------- display
@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def fitted(Est=MLPClassifier, **params):
    _, X, y, _ = problem("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Est(**{"max_iter": 5, "hidden_layer_sizes": (8,), "random_state": 0,
                      **params}).fit(X, y)


def test_display_from_estimator_draws_both_curves(plt):
    clf = fitted(early_stopping=True)
    display = LossCurveDisplay.from_estimator(clf)
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(1, 6))
    np.testing.assert_array_equal(display.line_.get_ydata(), clf.loss_curve_)
    np.testing.assert_array_equal(display.validation_line_.get_ydata(),
                                  clf.validation_loss_curve_)
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_xlabel() == "epoch" and display.ax_.get_ylabel() == "log-loss"
    labels = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert labels == ["MLPClassifier: training (with L2 penalty)", "MLPClassifier: validation"]


def test_display_on_given_axes_with_style_and_without_validation(plt):
    reg = fitted(MLPRegressor)
    _, ax = plt.subplots()
    display = LossCurveDisplay.from_estimator(reg, ax=ax, name="net", line_kwargs={"c": "red"})
    assert display.ax_ is ax and display.validation_line_ is None
    assert display.line_.get_color() == "red" and display.line_.get_label().startswith("net:")
    assert ax.get_ylabel() == "squared error / 2"
    again = LossCurveDisplay(loss_curve=[3.0, 2.0, 1.5]).plot(ax=ax, name="other")
    assert again.ax_ is ax and len(ax.get_lines()) == 2


def test_display_from_a_pipeline(plt):
    _, X, y, _ = problem("multiclass")
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=4, early_stopping=True,
                                                         hidden_layer_sizes=(8,), random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, y)
    display = LossCurveDisplay.from_estimator(pipe)
    np.testing.assert_array_equal(display.validation_line_.get_ydata(),
                                  pipe[-1].validation_loss_curve_)


def test_display_errors(plt, monkeypatch):
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(MLPClassifier())
    with pytest.raises(ValueError, match="records no loss curve with solver='lbfgs'"):
        LossCurveDisplay.from_estimator(fitted(solver="lbfgs"))
    with pytest.raises(ValueError, match="one value per epoch"):
        LossCurveDisplay(loss_curve=[1.0, 0.5], validation_loss_curve=[1.0]).plot()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "jitmlp\[plot\]"'):
        LossCurveDisplay(loss_curve=[1.0]).plot()


def test_plot_script_writes_a_png(plt, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("plot_loss_curve",
                                                  ROOT / "scripts" / "plot_loss_curve.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "curve.png"
    script.main(["--out", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "validation loss lowest at epoch" in capsys.readouterr().out
