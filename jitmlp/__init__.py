"""jitmlp: scikit-learn's multilayer perceptrons, trained by Numba-compiled explicit loops."""

from ._estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
__version__ = "0.1.0"
