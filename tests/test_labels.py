"""The classifier's label indicator is scikit-learn's LabelBinarizer output, whatever the labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import LabelBinarizer

from jitmlp._estimators import _binarized

LABELS = {
    "int multiclass": np.array([3, 1, 2, 1, 3, 7]),
    "str multiclass": np.array(["b", "a", "a", "c"]),
    "int binary": np.array([0, 1, 1, 0]),
    "str binary": np.array(["x", "y", "x"]),
    "bool binary": np.array([True, False, True]),
    "negative ints": np.array([-5, 0, -5, 2]),
    "object str": np.array(["cat", "dog", "emu", "cat"], dtype=object),
    "single class": np.array([5, 5, 5]),
    "multilabel": np.array([[1, 0, 1], [0, 1, 0]]),
}


@pytest.mark.parametrize("name", list(LABELS))
def test_binarized_is_label_binarizer_transform(name):
    y = LABELS[name]
    lb = LabelBinarizer().fit(y)
    expected = lb.transform(y).astype(bool)
    got = _binarized(lb, y)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_binarized_subset_of_classes():
    """partial_fit batches may hold only some of the classes: columns stay those of classes_."""
    lb = LabelBinarizer().fit(np.array([1, 2, 3, 4]))
    for y in (np.array([4, 4, 1]), np.array([2]), np.array([3, 1])):
        np.testing.assert_array_equal(_binarized(lb, y), lb.transform(y).astype(bool))


def test_binarized_unknown_label_goes_through_transform():
    """A label that is not a class is not silently mapped to a neighbouring column."""
    lb = LabelBinarizer().fit(np.array([1, 3, 5]))
    for y in (np.array([1, 9, 3]), np.array([1, 2, 3]), np.array([0, 5])):  # past, between, before
        np.testing.assert_array_equal(_binarized(lb, y), lb.transform(y).astype(bool))
