"""jitmlp: scikit-learn's multilayer perceptrons, trained by Numba-compiled explicit loops."""

from ._estimators import MLPClassifier, MLPRegressor
from ._loss_curve import LossCurveDisplay

__all__ = ["LossCurveDisplay", "MLPClassifier", "MLPRegressor"]
__version__ = "0.1.0"
