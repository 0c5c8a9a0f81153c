"""MLPClassifier's ``class_weight``: per-class weights that multiply the sample weights.

As scikit-learn's other classifiers define it (``sklearn.utils.class_weight``): a sample of class
c gets the weight ``class_weight[c]`` (a dict; classes missing from it get 1) or, for
``"balanced"``, n_samples / (n_classes · count(c)) over the y of the fit. The weights enter the
fit only as sample weights do: a fit with ``class_weight`` is the fit with
``sample_weight = compute_sample_weight(class_weight, y) * sample_weight``.

Multilabel targets are several binary outputs, so the weights are those of scikit-learn's
multi-output ``compute_sample_weight``: ``"balanced"`` per label, or a list of one dict per
label ({0: w_0, 1: w_1}, keyed by the label's indicator value), and a sample's weight is the
product over the labels.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

# SGDClassifier's message (sklearn/linear_model/_stochastic_gradient.py), word for word
PARTIAL_FIT_BALANCED = (
    "class_weight '{0}' is not supported for "
    "partial_fit. In order to use 'balanced' weights,"
    " use compute_class_weight('{0}', "
    "classes=classes, y=y). "
    "In place of y you can use a large enough sample "
    "of the full training set target to properly "
    "estimate the class frequency distributions. "
    "Pass the resulting weights as the class_weight "
    "parameter."
)


def class_sample_weight(estimator, Y):
    """Each sample's class weight (float64) for the class indicators Y of a fitted binarizer.

    Parameters
    ----------
    estimator : MLPClassifier
        With ``class_weight`` set and ``_label_binarizer``/``classes_`` fitted.
    Y : ndarray of shape (n_samples, n_outputs)
        The targets as the loss reads them (``_binarized``): one column for binary targets,
        one per class for multiclass, one per label for multilabel.

    Returns
    -------
    weights : ndarray of shape (n_samples,), float64
    """
    class_weight = estimator.class_weight
    Y = np.asarray(Y)
    if estimator._label_binarizer.y_type_ == "multilabel-indicator":
        # scikit-learn's own checks and messages (a plain dict, a list of the wrong length)
        return compute_sample_weight(class_weight, Y.astype(np.int64))
    if isinstance(class_weight, list):
        raise ValueError(
            "class_weight as a list of dicts (one per label) is for multilabel targets; "
            f"y is {estimator._label_binarizer.y_type_}: pass a dict {{class: weight}} or "
            "'balanced'."
        )
    classes = estimator.classes_
    # the class of each sample: the positive column of binary targets, the hot one otherwise
    position = Y[:, 0].astype(np.intp) if Y.shape[1] == 1 else Y.argmax(axis=1)
    # against all classes_ (not only those of this y), so that partial_fit batches agree
    return compute_class_weight(class_weight, classes=classes, y=classes[position])[position]


def class_weighted(estimator, Y, sample_weight, dtype):
    """``sample_weight`` (None: ones) times the class weights, in ``dtype``.

    The product is formed in float64 from the sample weights as converted to X's dtype.
    """
    weights = class_sample_weight(estimator, Y)
    if sample_weight is not None:
        weights = weights * sample_weight
    return weights.astype(dtype, copy=False)
