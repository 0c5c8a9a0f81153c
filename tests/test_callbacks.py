"""scikit-learn's callbacks (``sklearn.callback``): one task per epoch, stopping, progress bars.

A fit is a task with one sub-task per epoch (lbfgs: per iteration), each ended with the model as
it is then; a callback returning True stops the fit, which then equals a fit of that many epochs.
"""

import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import jitmlp._callbacks as callbacks
import jitmlp._estimators as estimators
from jitmlp import MLPClassifier, MLPRegressor

SMALL = dict(hidden_layer_sizes=(8,), random_state=0)


def classification(n=120):
    X, y = make_classification(n, 5, n_informative=3, n_classes=3, random_state=0)
    return X, np.array(["a", "b", "c"])[y]  # string labels: the hooks must see labels


def regression(n=120):
    X, y = make_regression(n, 5, noise=0.5, random_state=0)
    return X, y / y.std()


def fit_quietly(estimator, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit_params)


def same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.coefs_ + a.intercepts_,
                                                    b.coefs_ + b.intercepts_))


class Recorder:
    """Records every hook call; returns True at the end of the task named ``stop_task`` whose
    task_id is ``stop_id`` (within the epoch ``stop_epoch`` for a progress part)."""

    def __init__(self, stop_task=None, stop_id=None, stop_epoch=None):
        self.calls = []
        self.stop_task, self.stop_id, self.stop_epoch = stop_task, stop_id, stop_epoch

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name, None, None))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name, None, None))

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, metadata=None,
                          fitted_estimator=None):
        self.calls.append(("begin", context.task_name, context.task_id, None))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, metadata=None,
                        fitted_estimator=None):
        self.calls.append(("end", context.task_name, context.task_id,
                           dict(context=context, X=X, y=y, metadata=metadata,
                                fitted=fitted_estimator)))
        if context.task_name != self.stop_task or context.task_id != self.stop_id:
            return False
        return self.stop_epoch is None or context.parent.task_id == self.stop_epoch

    def ends(self, task_name):
        return [info for kind, name, _, info in self.calls if kind == "end" and name == task_name]


def test_set_callbacks_on_both_estimators_and_clone_keeps_them():
    for Est in (MLPClassifier, MLPRegressor):
        recorder = Recorder()
        est = Est(**SMALL)
        assert est.set_callbacks(recorder) is est
        assert clone(est)._skl_callbacks == [recorder]
        with pytest.raises(TypeError, match="FitCallback protocol"):
            est.set_callbacks(object())


@pytest.mark.parametrize("Est,data", [(MLPClassifier, classification),
                                      (MLPRegressor, regression)])
def test_one_task_per_epoch_ended_with_the_model_of_that_epoch(Est, data):
    X, y = data()
    sw = np.random.default_rng(0).random(len(y)) + 0.5
    recorder = Recorder()
    fit_quietly(Est(max_iter=3, **SMALL).set_callbacks(recorder), X, y, sample_weight=sw)
    names = [(kind, name, task_id) for kind, name, task_id, _ in recorder.calls]
    assert names == [("setup", "fit", None), ("begin", "fit", 0),
                     ("begin", "epoch", 0), ("end", "epoch", 0),
                     ("begin", "epoch", 1), ("end", "epoch", 1),
                     ("begin", "epoch", 2), ("end", "epoch", 2),
                     ("end", "fit", 0), ("teardown", "fit", None)]
    root = recorder.ends("fit")[0]["context"]
    assert root.max_subtasks == 3
    for epoch, info in enumerate(recorder.ends("epoch")):
        assert info["context"].parent is root
        after = fit_quietly(Est(max_iter=epoch + 1, **SMALL), X, y, sample_weight=sw)
        assert same_weights(info["fitted"], after)  # the model as it was after that epoch
        assert info["fitted"].loss_curve_ == after.loss_curve_
        np.testing.assert_array_equal(info["fitted"].predict(X), after.predict(X))
        assert info["X"] is not None and info["metadata"]["sample_weight"] is not None
        if Est is MLPClassifier:
            assert set(np.unique(info["y"])) == {"a", "b", "c"}  # labels, not indicators


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("Est,data", [(MLPClassifier, classification),
                                      (MLPRegressor, regression)])
def test_a_callback_stops_the_fit_as_max_iter_would(Est, data, solver):
    X, y = data()
    task = "iteration" if solver == "lbfgs" else "epoch"
    recorder = Recorder(stop_task=task, stop_id=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopped on request: no warning
        stopped = Est(solver=solver, max_iter=50, **SMALL).set_callbacks(recorder).fit(X, y)
    assert len(recorder.ends(task)) == 3
    three = fit_quietly(Est(solver=solver, max_iter=3, **SMALL), X, y)
    assert stopped.n_iter_ == three.n_iter_ == 3
    assert same_weights(stopped, three)
    assert stopped.loss_ == three.loss_
    if solver != "lbfgs":
        assert stopped.loss_curve_ == three.loss_curve_
        assert stopped.t_ == three.t_
    # the fit's own task ends with the fitted (stopped) model
    assert same_weights(recorder.ends("fit")[0]["fitted"], stopped)


def test_stopping_with_early_stopping_keeps_the_best_weights_as_max_iter_would():
    X, y = classification(200)
    params = dict(early_stopping=True, n_iter_no_change=100, learning_rate_init=0.05, **SMALL)
    stopped = MLPClassifier(max_iter=50, **params).set_callbacks(
        Recorder(stop_task="epoch", stop_id=5)).fit(X, y)
    six = fit_quietly(MLPClassifier(max_iter=6, **params), X, y)
    assert same_weights(stopped, six)
    assert stopped.validation_scores_ == six.validation_scores_
    assert stopped.validation_loss_curve_ == six.validation_loss_curve_
    assert len(stopped.validation_loss_curve_) == stopped.n_iter_ == 6


def test_partial_fit_is_a_task_of_one_epoch():
    X, y = classification()
    recorder = Recorder()
    clf = MLPClassifier(**SMALL).set_callbacks(recorder)
    clf.partial_fit(X, y, classes=["a", "b", "c"])
    clf.partial_fit(X, y)
    names = [(kind, name) for kind, name, _, _ in recorder.calls]
    one_call = [("setup", "partial_fit"), ("begin", "partial_fit"), ("begin", "epoch"),
                ("end", "epoch"), ("end", "partial_fit"), ("teardown", "partial_fit")]
    assert names == one_call * 2
    assert recorder.ends("partial_fit")[0]["context"].max_subtasks == 1
    first, second = recorder.ends("epoch")
    assert first["fitted"].loss_curve_ == clf.loss_curve_[:1]
    assert same_weights(second["fitted"], clf)


@pytest.fixture
def long_epochs(monkeypatch):
    """Every compiled call one minibatch, and every epoch long enough to show progress."""
    monkeypatch.setattr(estimators, "SLICE_FLOPS", 1.0)
    monkeypatch.setattr(callbacks, "PROGRESS_EPOCH_FLOPS", 0.0)


def test_long_epochs_report_progress_in_parts_and_train_the_same(long_epochs, monkeypatch):
    X, y = classification(160)  # batch 40: 4 calls per epoch
    params = dict(max_iter=2, batch_size=40, **SMALL)
    plain = fit_quietly(MLPClassifier(**params), X, y)
    recorder = Recorder()
    watched = fit_quietly(MLPClassifier(**params).set_callbacks(recorder), X, y)
    assert same_weights(plain, watched) and plain.loss_curve_ == watched.loss_curve_
    assert [info["context"].max_subtasks for info in recorder.ends("epoch")] == [4, 4]
    parts = recorder.ends("minibatches")
    assert len(parts) == 8 and all(info["fitted"] is None for info in parts)
    assert [info["context"].parent.task_id for info in parts] == [0] * 4 + [1] * 4
    # at most MAX_PROGRESS_PARTS parts: consecutive calls grouped
    monkeypatch.setattr(callbacks, "MAX_PROGRESS_PARTS", 3)
    recorder = Recorder()
    fit_quietly(MLPClassifier(**params).set_callbacks(recorder), X, y)
    assert [info["context"].max_subtasks for info in recorder.ends("epoch")] == [3, 3]
    assert len(recorder.ends("minibatches")) == 6


def test_a_stop_inside_a_long_epoch_takes_it_back_to_its_start(long_epochs):
    X, y = classification(160)
    params = dict(max_iter=10, batch_size=40, **SMALL)
    recorder = Recorder(stop_task="minibatches", stop_id=1, stop_epoch=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither "interrupted" nor ConvergenceWarning
        stopped = MLPClassifier(**params).set_callbacks(recorder).fit(X, y)
    two = fit_quietly(MLPClassifier(**{**params, "max_iter": 2}), X, y)
    assert stopped.n_iter_ == 2 and stopped.t_ == two.t_
    assert same_weights(stopped, two) and stopped.loss_curve_ == two.loss_curve_
    assert stopped._optimizer.t == two._optimizer.t
    # the stopped epoch's task ended, without a model
    assert recorder.ends("epoch")[-1]["fitted"] is None
    assert len(recorder.ends("epoch")) == 3



@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_stop_inside_the_first_epoch_takes_it_back_to_the_initial_model(long_epochs, solver):
    # the first epoch keeps no copies to go back to: the initial weights and zero moments
    X, y = classification(160)
    params = dict(max_iter=10, batch_size=40, solver=solver, **SMALL)
    recorder = Recorder(stop_task="minibatches", stop_id=1, stop_epoch=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stopped = MLPClassifier(**params).set_callbacks(recorder).fit(X, y)
    initial = fit_quietly(MLPClassifier(**{**params, "max_iter": 1}), X, y)
    assert stopped.n_iter_ == 0 and stopped.t_ == 0 and stopped._optimizer.t == 0
    assert all(np.array_equal(u, v) for u, v in zip(
        stopped.coefs_ + stopped.intercepts_, initial._best_coefs + initial._best_intercepts))
    assert not stopped._optimizer.state_1.any() and not stopped._optimizer.state_2.any()


def test_a_stop_inside_a_partial_fit_takes_it_back_to_the_previous_call(long_epochs):
    X, y = classification(160)
    model = MLPClassifier(batch_size=40, **SMALL)
    model.partial_fit(X, y, classes=np.unique(y))
    opt = model._optimizer
    before = ([a.copy() for a in model.coefs_ + model.intercepts_], opt.state_1.copy(),
              opt.state_2.copy(), opt.t, model.t_)
    model.set_callbacks(Recorder(stop_task="minibatches", stop_id=1, stop_epoch=0))
    model.partial_fit(X, y)
    assert all(np.array_equal(u, v) for u, v in zip(model.coefs_ + model.intercepts_, before[0]))
    assert np.array_equal(opt.state_1, before[1]) and np.array_equal(opt.state_2, before[2])
    assert (opt.t, model.t_) == before[3:] and opt.state_1.any()

def test_scikit_learn_progress_bar(capsys, long_epochs):
    pytest.importorskip("rich")
    X, y = classification()
    fit_quietly(MLPClassifier(max_iter=3, batch_size=40, **SMALL).set_callbacks(ProgressBar()),
                X, y)
    fit_quietly(MLPRegressor(solver="lbfgs", max_iter=5, **SMALL).set_callbacks(ProgressBar()),
                *regression())
    out = capsys.readouterr().out
    assert re.search(r"MLPClassifier - fit", out)
    for epoch in range(3):  # long epochs: a bar each, moving within the epoch
        assert re.search(rf"MLPClassifier - epoch #{epoch}", out)
    assert re.search(r"MLPRegressor - fit", out)
    assert "100%" in out and not re.search(r"\b[0-9]{1,2}%", out)  # every bar complete


def test_scikit_learn_scoring_monitor_logs_every_epoch():
    X, y = classification()
    monitor = ScoringMonitor(scoring="accuracy")
    fit_quietly(MLPClassifier(max_iter=3, **SMALL).set_callbacks(monitor), X, y)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in epochs] == [0, 1, 2]
    for row in epochs:
        after = fit_quietly(MLPClassifier(max_iter=row["task_id"] + 1, **SMALL), X, y)
        assert row["accuracy"] == after.score(X, y)


def test_callbacks_inside_pipeline_and_grid_search(capsys):
    pytest.importorskip("rich")
    X, y = classification()
    recorder = Recorder()
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=2, **SMALL).set_callbacks(
        recorder))
    fit_quietly(pipe, X, y)
    assert len(recorder.ends("epoch")) == 2 and len(recorder.ends("fit")) == 1
    # an auto-propagated callback set on the Pipeline reaches the MLP's epochs
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier(max_iter=2, **SMALL))])
    fit_quietly(pipe.set_callbacks(ProgressBar(max_propagation_depth=None)), X, y)
    assert re.search(r"Pipeline - fit-final-estimator \| MLPClassifier - fit",
                     capsys.readouterr().out)
    # GridSearchCV clones the estimator: every clone keeps the callback
    recorder = Recorder()
    grid = GridSearchCV(MLPClassifier(max_iter=2, **SMALL).set_callbacks(recorder),
                        {"alpha": [1e-4, 1e-2]}, cv=2)
    fit_quietly(grid, X, y)
    assert len(recorder.ends("fit")) == 2 * 2 + 1  # folds x candidates, and the refit
    assert len(recorder.ends("epoch")) == 2 * len(recorder.ends("fit"))


def test_a_fit_without_callbacks_leaves_no_callback_state():
    clf = fit_quietly(MLPClassifier(max_iter=2, **SMALL), *classification())
    assert not [name for name in vars(clf) if "callback" in name]
