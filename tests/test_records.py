"""The compiled kernels take a few named records (``jitmlp/_records.py``), not long argument
lists, and the estimators fill each field from the parameter of that name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pytest
from numba.core.registry import CPUDispatcher
from sklearn.exceptions import ConvergenceWarning

import jitmlp
import jitmlp._estimators as estimators
from jitmlp import MLPClassifier, MLPRegressor
from jitmlp._optimizers import ADAM, SGD
from jitmlp._records import Data, Network, Step, Workspace

MAX_PARAMETERS = 11  # "about 10": run_epoch's kernels, data, X_csr, order, θ, 4 records, t, loss


def _compiled_functions():
    for info in pkgutil.iter_modules(jitmlp.__path__):
        module = importlib.import_module(f"jitmlp.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == module.__name__:
                yield f"{info.name}.{name}", value.py_func


def test_no_compiled_function_takes_more_than_about_ten_parameters():
    functions = dict(_compiled_functions())
    assert "_epoch.run_epoch" in functions and "_epoch.chunk" in functions  # found them all
    too_long = {name: len(inspect.signature(f).parameters) for name, f in functions.items()
                if len(inspect.signature(f).parameters) > MAX_PARAMETERS}
    assert too_long == {}


@pytest.mark.parametrize("entry", ["run_epoch", "batch_loss_and_grad", "chunk", "update_theta"])
def test_the_epoch_kernels_take_the_records(entry):
    import jitmlp._epoch as epoch

    parameters = list(inspect.signature(getattr(epoch, entry).py_func).parameters)
    assert "net" in parameters and "work" in parameters
    assert ("step" in parameters) == (entry in ("run_epoch", "update_theta"))


@pytest.fixture
def epoch_calls(monkeypatch):
    """The arguments of each compiled epoch call of the fits in the test, by name."""
    calls = []
    original = estimators.run_epoch
    names = list(inspect.signature(original.py_func).parameters)

    def spy(*args):
        calls.append(dict(zip(names, args)))
        return original(*args)

    monkeypatch.setattr(estimators, "run_epoch", spy)
    return calls


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_each_step_field_is_the_parameter_of_its_name(epoch_calls, solver):
    """Distinct values for every hyper-parameter: a field filled from another parameter (two
    floats swapped) shows."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    params = dict(solver=solver, learning_rate_init=0.011, momentum=0.33, beta_1=0.81,
                  beta_2=0.97, epsilon=3e-7, alpha=0.021, batch_size=7, max_grad_norm=5.5,
                  weight_decay=0.0125, nesterovs_momentum=False)
    model = _fit(MLPRegressor(hidden_layer_sizes=(5,), max_iter=2, random_state=0, **params),
                 X, X[:, 0])
    assert len(epoch_calls) == 2
    step = epoch_calls[0]["step"]
    assert isinstance(step, Step)
    assert step.solver == {"sgd": SGD, "adam": ADAM}[solver]
    assert step.learning_rate == params["learning_rate_init"]
    for field in ("momentum", "beta_1", "beta_2", "epsilon", "alpha", "batch_size",
                  "max_grad_norm", "weight_decay"):
        assert getattr(step, field) == params[field], field
    assert step.nesterov is False
    assert step.state_1 is model._optimizer.state_1
    assert step.state_2 is model._optimizer.state_2


def test_network_data_and_workspace_describe_the_fit(epoch_calls):
    X = np.random.default_rng(1).normal(size=(30, 4))
    y = np.arange(30) % 3
    model = _fit(MLPClassifier(hidden_layer_sizes=(6, 5), max_iter=1, random_state=0,
                               batch_size=10), X, y)
    call = epoch_calls[0]
    net, data, work = call["net"], call["data"], call["work"]
    assert isinstance(net, Network) and isinstance(data, Data) and isinstance(work, Workspace)
    assert list(net.units) == [4, 6, 5, 3]
    theta = call["theta"]
    for k in (1, 2, 3):  # W_k and b_k where net says, the model's coefs_ and intercepts_
        W = theta[net.w_off[k - 1]:net.w_off[k - 1] + net.units[k - 1] * net.units[k]]
        np.testing.assert_array_equal(W.reshape(net.units[k - 1], net.units[k]),
                                      model.coefs_[k - 1])
        b = theta[net.b_off[k - 1]:net.b_off[k - 1] + net.units[k]]
        np.testing.assert_array_equal(b, model.intercepts_[k - 1])
    assert net.loss_param == np.finfo(np.float64).eps
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.Y, np.eye(3)[y])
    assert (data.sw == 1).all() and not data.X.flags.writeable
    assert work.grad.shape == theta.shape and work.parts.shape == (1, theta.size)
    assert work.stats.shape == (10,)  # a row per row of the batch
