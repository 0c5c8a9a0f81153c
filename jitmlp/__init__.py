"""jitmlp: scikit-learn's multilayer perceptrons, trained by Numba-compiled explicit loops."""

from ._estimators import MLPClassifier, MLPRegressor
from ._gradcheck import check_gradients
from ._io import load, save, skops_trusted_types
from ._loss_curve import LossCurveDisplay

__all__ = ["LossCurveDisplay", "MLPClassifier", "MLPRegressor", "check_gradients", "load",
           "save", "skops_trusted_types"]
__version__ = "0.1.0"
