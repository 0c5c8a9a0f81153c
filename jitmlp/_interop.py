"""Conversion to and from scikit-learn's ``MLPClassifier``/``MLPRegressor``.

Both libraries hold the same fitted attributes (jitmlp keeps scikit-learn's names and meanings),
so a conversion copies parameters, weights, labels and the training history, and translates the
one thing kept differently: the stochastic optimizer's state. scikit-learn keeps it per layer in
an ``SGDOptimizer``/``AdamOptimizer``; jitmlp as vectors laid out like the packed θ
(``_network.Layout``). With it converted, ``partial_fit`` and ``warm_start`` fits continue on the
other side as they would have on this one.
"""

from __future__ import annotations

import copy

import numpy as np
import sklearn.neural_network as sk
from sklearn.base import ClassifierMixin, is_classifier
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from ._io import SCALAR_ATTRIBUTES
from ._network import Layout
from ._optimizers import ADAM, SGD, OptimizerState


def _copy_fitted_state(source, target):
    """Deep copies of ``source``'s fitted state (scalars, weights, labels, names) on ``target``."""
    for name in SCALAR_ATTRIBUTES:
        if hasattr(source, name):
            setattr(target, name, copy.deepcopy(getattr(source, name)))
    target.coefs_ = [c.copy() for c in source.coefs_]
    target.intercepts_ = [i.copy() for i in source.intercepts_]
    target._best_coefs = [c.copy() for c in getattr(source, "_best_coefs", source.coefs_)]
    target._best_intercepts = [i.copy() for i in getattr(source, "_best_intercepts",
                                                         source.intercepts_)]
    if hasattr(source, "feature_names_in_"):
        target.feature_names_in_ = source.feature_names_in_.copy()
    if hasattr(source, "_label_binarizer"):
        target._label_binarizer = copy.deepcopy(source._label_binarizer)
        target.classes_ = target._label_binarizer.classes_
    return target


def _layout(model):
    return Layout.from_units([model.coefs_[0].shape[0]] + [c.shape[1] for c in model.coefs_])


def _at_default(value, default) -> bool:
    """Whether a parameter's value is its default; a sequence is a number's default where each
    element is (dropout rates all 0: no dropout)."""
    if isinstance(value, (list, tuple, np.ndarray)) and not isinstance(default, (list, tuple)):
        return all(_at_default(v, default) for v in value)
    return bool(value == default)


def _sklearn_activation(activation, cls):
    """scikit-learn's name for ``activation``: one of its four, the same for every layer."""
    names = {activation} if isinstance(activation, str) else set(activation)
    name = names.pop() if len(names) == 1 else None
    if name not in ("identity", "logistic", "tanh", "relu"):
        raise ValueError(
            f"Cannot convert: scikit-learn's {cls.__name__} has no activation "
            f"{activation!r}; it takes one of 'identity', 'logistic', 'tanh', 'relu' for "
            "every hidden layer.")
    return name


def to_sklearn(model):
    """scikit-learn's estimator with ``model``'s parameters and fitted state (see the method)."""
    cls = sk.MLPClassifier if is_classifier(model) else sk.MLPRegressor
    params = copy.deepcopy(model.get_params(deep=False))
    del params["n_jobs"]  # jitmlp's thread count: nothing to carry over
    # jitmlp's own training parameters: only at their defaults (where the fits are alike)
    defaults = type(model)().get_params(deep=False)
    own = sorted(set(params) - set(cls().get_params(deep=False)))
    changed = [name for name in own if not _at_default(params[name], defaults[name])]
    if changed:
        raise ValueError(
            f"Cannot convert: scikit-learn's {cls.__name__} has no parameter(s) {changed}. "
            f"Set them to their defaults first (model.set_params("
            + ", ".join(f"{name}={defaults[name]!r}" for name in changed) + "))."
        )
    if params.get("loss") == "huber":
        raise ValueError("Cannot convert: scikit-learn's MLPRegressor has no loss 'huber' (its "
                         "losses are 'squared_error' and 'poisson').")
    params["activation"] = _sklearn_activation(params["activation"], cls)
    est = cls(**{name: value for name, value in params.items() if name not in own})
    if not hasattr(model, "coefs_"):
        return est
    _copy_fitted_state(model, est)
    opt = getattr(model, "_optimizer", None)
    if opt is None:
        return est
    layout = _layout(model)
    state_1 = layout.unpack(opt.state_1)
    weights = est.coefs_ + est.intercepts_
    if opt.solver == SGD:
        sgd = SGDOptimizer(weights, model.learning_rate_init, model.learning_rate,
                           model.momentum, model.nesterovs_momentum, model.power_t)
        sgd.learning_rate = float(opt.learning_rate)
        sgd.velocities = state_1[0] + state_1[1]
        est._optimizer = sgd
    else:
        adam = AdamOptimizer(weights, opt.learning_rate, model.beta_1, model.beta_2,
                             model.epsilon)
        adam.t = int(opt.t)
        adam.ms = state_1[0] + state_1[1]
        state_2 = layout.unpack(opt.state_2)
        adam.vs = state_2[0] + state_2[1]
        if adam.t > 0:  # the step size of the last update, as scikit-learn leaves it
            adam.learning_rate = (opt.learning_rate * np.sqrt(1 - model.beta_2**adam.t)
                                  / (1 - model.beta_1**adam.t))
        est._optimizer = adam
    return est


def _check_same(est, optimizer, pairs):
    for opt_name, param in pairs:
        if getattr(optimizer, opt_name) != getattr(est, param):
            raise ValueError(
                f"Cannot convert: the fitted {type(optimizer).__name__} uses {opt_name}="
                f"{getattr(optimizer, opt_name)!r} but the estimator's {param} is "
                f"{getattr(est, param)!r} (changed after the optimizer was created). jitmlp "
                "reads it from the estimator; set it back, or fit again."
            )


def _optimizer_from_sklearn(est, layout, dtype):
    opt = est._optimizer
    n_layers = layout.n_layers

    def packed(per_layer):
        if len(per_layer) != 2 * n_layers:
            raise ValueError(f"Cannot convert: the optimizer holds {len(per_layer)} arrays "
                             f"for {n_layers} layers")
        return layout.pack(per_layer[:n_layers], per_layer[n_layers:], dtype)

    if type(opt) is SGDOptimizer and est.solver == "sgd":
        _check_same(est, opt, [("lr_schedule", "learning_rate"), ("momentum", "momentum"),
                               ("nesterov", "nesterovs_momentum"), ("power_t", "power_t"),
                               ("learning_rate_init", "learning_rate_init")])
        return OptimizerState(SGD, float(opt.learning_rate), packed(opt.velocities),
                              np.empty(0, dtype=dtype))
    if type(opt) is AdamOptimizer and est.solver == "adam":
        _check_same(est, opt, [("beta_1", "beta_1"), ("beta_2", "beta_2"),
                               ("epsilon", "epsilon")])
        return OptimizerState(ADAM, float(opt.learning_rate_init), packed(opt.ms),
                              packed(opt.vs), int(opt.t))
    raise ValueError(
        f"Cannot convert the optimizer state {type(opt).__name__} of a solver={est.solver!r} "
        "estimator: jitmlp continues scikit-learn's SGDOptimizer (solver='sgd') and "
        "AdamOptimizer (solver='adam')."
    )


def from_sklearn(cls, est):
    """``cls`` (a jitmlp estimator class) with ``est``'s parameters and state (see the method)."""
    expected = sk.MLPClassifier if issubclass(cls, ClassifierMixin) else sk.MLPRegressor
    if not isinstance(est, expected):
        raise TypeError(f"{cls.__name__}.from_sklearn converts a "
                        f"sklearn.neural_network.{expected.__name__}, got {type(est).__name__}.")
    params = copy.deepcopy(est.get_params(deep=False))
    unknown = sorted(set(params) - set(cls().get_params(deep=False)))
    if unknown:
        raise ValueError(f"Cannot convert: jitmlp's {cls.__name__} has no parameter(s) "
                         f"{unknown}.")
    model = cls(**params)
    if not hasattr(est, "coefs_"):
        return model
    dtypes = {a.dtype for a in (*est.coefs_, *est.intercepts_)}
    if len(dtypes) != 1 or dtypes.pop() not in (np.float32, np.float64):
        raise ValueError(f"Cannot convert: weights of dtype(s) "
                         f"{sorted(str(a.dtype) for a in est.coefs_ + est.intercepts_)}; "
                         "jitmlp needs all float64 or all float32.")
    _copy_fitted_state(est, model)
    scores = getattr(est, "validation_scores_", None)
    if scores is not None and not hasattr(est, "validation_loss_curve_"):
        # scikit-learn does not keep the validation loss: unknown (NaN) for its epochs, so that
        # a warm_start fit with early stopping appends to a curve as long as validation_scores_
        model.validation_loss_curve_ = [float("nan")] * len(scores)
    elif hasattr(est, "validation_scores_"):
        model.validation_loss_curve_ = getattr(est, "validation_loss_curve_", None)
    if hasattr(est, "_optimizer"):
        model._optimizer = _optimizer_from_sklearn(est, _layout(est), est.coefs_[0].dtype)
    return model
