"""Loss per epoch: the validation loss an early-stopping fit records, and a display of both curves.

``validation_loss_curve_`` (scikit-learn issue #18507) is the loss on the early-stopping split,
after each epoch, in the units of ``loss_curve_``: scikit-learn's own loss functions
(``sklearn.neural_network._base.LOSS_FUNCTIONS``, the ones its ``loss_curve_`` uses), on the
network output the validation score is computed from (one compiled forward pass gives both),
weighted by the split's sample weights. It leaves out the L2 penalty ``alpha/2 ||W||^2 / n``
that ``loss_curve_`` includes: the penalty measures the weights, not the fit to held-out data,
and scikit-learn scales it by the size of each minibatch, so no one value of it belongs to the
validation set. With ``alpha`` small the two curves are directly comparable; with a large
``alpha`` the training curve sits above by the penalty.

matplotlib is imported only when a display is drawn (``pip install "jitmlp[plot]"``).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils._plotting import _validate_style_kwargs
from sklearn.utils.validation import check_is_fitted


def _loss_function_name(estimator):
    """The key of scikit-learn's ``LOSS_FUNCTIONS`` that ``estimator``'s training loss uses."""
    if estimator.loss == "log_loss" and estimator.out_activation_ == "logistic":
        return "binary_log_loss"
    return estimator.loss


def validation_loss(estimator, Y, y_hat, sample_weight=None):
    """The training loss function on held-out data, without the L2 penalty.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted (its ``loss`` and ``out_activation_``).
    Y : ndarray of shape (n_samples, n_outputs)
        The targets as the loss reads them: class indicators (0/1) for a classifier.
    y_hat : ndarray of shape (n_samples, n_outputs)
        The network's output ŷ = O(a_L) for the same samples.
    sample_weight : ndarray of shape (n_samples,) or None
        Weights of the samples in the average.

    Returns
    -------
    loss : float
        Weighted mean over samples of log-loss (summed over classes), squared error / 2
        (averaged over outputs) or half the Poisson deviance (summed over outputs), as
        scikit-learn's ``loss_curve_`` defines them; NaN or inf where ŷ is not finite.
    """
    # imported here: sklearn.neural_network imports its MLP module, model_selection and metrics
    from sklearn.neural_network._base import LOSS_FUNCTIONS

    with np.errstate(all="ignore"):
        if estimator.loss == "huber":
            return huber_loss(Y, y_hat, estimator.huber_delta, sample_weight)
        return float(LOSS_FUNCTIONS[_loss_function_name(estimator)](Y, y_hat, sample_weight))


def huber_loss(Y, y_hat, delta, sample_weight=None):
    """Weighted mean over samples of the Huber loss ρ_δ(y - ŷ) averaged over outputs (as the
    squared error is): ½ r² for |r| <= δ, δ (|r| - ½ δ) beyond."""
    r = np.abs(np.asarray(Y, dtype=np.float64) - np.asarray(y_hat, dtype=np.float64))
    rho = np.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta))
    return float(np.average(rho.mean(axis=1), weights=sample_weight))


_LOSS_LABELS = {
    "log_loss": "log-loss",
    "binary_log_loss": "log-loss",
    "squared_error": "squared error / 2",
    "poisson": "half Poisson deviance",
    "huber": "Huber loss",
}


def _check_matplotlib(caller):
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"{caller} requires matplotlib. Install it with: pip install \"jitmlp[plot]\""
        ) from error


class LossCurveDisplay:
    """Loss per epoch of a fitted MLP: training and, with early stopping, validation.

    Create it with :meth:`from_estimator`, or from the curves themselves and then call
    :meth:`plot`. Needs matplotlib (``pip install "jitmlp[plot]"``) to draw.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss per epoch, L2 penalty included (the estimator's ``loss_curve_``).
    validation_loss_curve : array-like of shape (n_epochs,), default=None
        Loss on the early-stopping validation split per epoch, without the penalty (the
        estimator's ``validation_loss_curve_``); None draws the training curve only.
    loss_name : str, default=None
        What the loss is, for the y-axis label (e.g. ``"log-loss"``); None: ``"loss"``.
    name : str, default=None
        Name of the model, put before the curves' labels in the legend.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The training loss curve.
    validation_line_ : matplotlib Line2D or None
        The validation loss curve, None without one.
    ax_ : matplotlib Axes
        The axes drawn on.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.datasets import load_iris
    >>> from jitmlp import LossCurveDisplay, MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), early_stopping=True, max_iter=20, random_state=0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # 20 epochs: a ConvergenceWarning
    ...     clf = clf.fit(X, y)
    >>> display = LossCurveDisplay.from_estimator(clf)
    >>> len(display.line_.get_xdata()) == len(clf.loss_curve_) == clf.n_iter_
    True
    >>> display.validation_line_ is not None
    True
    """

    def __init__(self, *, loss_curve, validation_loss_curve=None, loss_name=None, name=None):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.loss_name = loss_name
        self.name = name

    def plot(self, ax=None, *, name=None, line_kwargs=None, validation_line_kwargs=None):
        """Draw the curves: epoch (from 1) on the x-axis, loss on the y-axis.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure and axes.
        name : str, default=None
            Overrides the ``name`` given at construction, for the legend.
        line_kwargs : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the training curve.
        validation_line_kwargs : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the validation curve.

        Returns
        -------
        display : LossCurveDisplay
            ``self``, with ``line_``, ``validation_line_``, ``ax_`` and ``figure_`` set.
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        name = self.name if name is None else name
        prefix = "" if name is None else f"{name}: "
        loss_curve = np.asarray(self.loss_curve, dtype=float)
        if loss_curve.ndim != 1 or loss_curve.size == 0:
            raise ValueError(
                f"loss_curve must be a non-empty 1-D sequence, got shape {loss_curve.shape}."
            )
        validation = self.validation_loss_curve
        if validation is not None:
            validation = np.asarray(validation, dtype=float)
            if validation.shape != loss_curve.shape:
                raise ValueError(
                    "validation_loss_curve must have one value per epoch, as loss_curve: got "
                    f"shape {validation.shape}, expected {loss_curve.shape}."
                )
        if ax is None:
            _, ax = plt.subplots()
        epochs = np.arange(1, loss_curve.size + 1)
        line_kwargs = _validate_style_kwargs(
            {"label": f"{prefix}training (with L2 penalty)", "color": "tab:blue"},
            line_kwargs or {})
        self.line_ = ax.plot(epochs, loss_curve, **line_kwargs)[0]
        self.validation_line_ = None
        if validation is not None:
            validation_line_kwargs = _validate_style_kwargs(
                {"label": f"{prefix}validation", "color": "tab:orange"},
                validation_line_kwargs or {})
            self.validation_line_ = ax.plot(epochs, validation, **validation_line_kwargs)[0]
        ax.set(xlabel="epoch", ylabel=self.loss_name or "loss")
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, line_kwargs=None,
                       validation_line_kwargs=None):
        """Draw the loss curves of a fitted jitmlp (or scikit-learn) MLP.

        Parameters
        ----------
        estimator : MLPClassifier, MLPRegressor or Pipeline
            A model fitted by ``solver="sgd"`` or ``"adam"`` (lbfgs records no curve); of a
            Pipeline, its final step. Its ``validation_loss_curve_`` is drawn where it has one
            (``early_stopping=True``).
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure and axes.
        name : str, default=None
            Name for the legend; None: the estimator's class name.
        line_kwargs : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the training curve.
        validation_line_kwargs : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the validation curve.

        Returns
        -------
        display : LossCurveDisplay
            The display, drawn.
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        final = estimator
        if hasattr(final, "steps"):  # a Pipeline: its model is the last step
            final = final.steps[-1][1]
        check_is_fitted(final)
        if getattr(final, "loss_curve_", None) is None:
            raise ValueError(
                f"{type(final).__name__} records no loss curve with solver={final.solver!r}; "
                "fit it with solver='sgd' or 'adam' to plot one."
            )
        display = cls(
            loss_curve=final.loss_curve_,
            validation_loss_curve=getattr(final, "validation_loss_curve_", None),
            loss_name=_LOSS_LABELS.get(_loss_function_name(final)),
            name=type(final).__name__ if name is None else name,
        )
        return display.plot(ax=ax, line_kwargs=line_kwargs,
                            validation_line_kwargs=validation_line_kwargs)
