"""jitmlp: scikit-learn's multilayer perceptrons, trained by Numba-compiled explicit loops."""

from ._estimators import MLPClassifier, MLPRegressor

__all__ = ["LossCurveDisplay", "MLPClassifier", "MLPRegressor", "check_gradients", "load",
           "save", "skops_trusted_types"]
__version__ = "0.1.0"

# The other public names are imported on first use (PEP 562), so that a process that only fits
# or predicts (or unpickles a model) does not import what they need; tests/test_import_graph.py.
_LAZY = {
    "LossCurveDisplay": "._loss_curve",
    "check_gradients": "._gradcheck",
    "load": "._io",
    "save": "._io",
    "skops_trusted_types": "._io",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__():
    return sorted({*globals(), *__all__})
