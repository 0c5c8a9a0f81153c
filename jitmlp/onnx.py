"""ONNX export through skl2onnx: ``import jitmlp.onnx`` registers jitmlp's estimators.

skl2onnx looks converters up by class, so it does not know jitmlp's classes until this module
registers them (``skl2onnx.update_registered_converter``). Afterwards ``skl2onnx.to_onnx(model,
X_sample)`` converts a fitted jitmlp model, alone or inside a Pipeline, with skl2onnx's usual
options (``zipmap``, ``nocl``, ``output_class_labels``).

The graph is the network itself: ``MatMul`` + ``Add`` per layer, the hidden activation
(``Relu``, ``Tanh``, ``Sigmoid``, ``Identity``) and the output function. It fixes what
skl2onnx's own converter for scikit-learn's MLPs gets wrong:

- a multi-output regressor's ``variable`` has shape (N, n_outputs) (skl2onnx reshapes every
  regressor's output to (N·n_outputs, 1));
- the Poisson loss's output function ``exp`` becomes an ``Exp`` node (skl2onnx has none and
  fails);
- a multilabel classifier gives ``label`` of shape (N, n_labels), 1 where the label's
  probability is above 0.5 as ``predict`` does, and ``probabilities`` of shape (N, n_labels),
  one logistic output per label (skl2onnx declares labels of shape (N,), and with two labels
  returns four columns of probabilities); no ZipMap for it;

Outputs: a regressor gives ``variable`` (N, n_outputs) in the input's float type (double for
float64 input, float otherwise); a classifier gives ``label`` (int64 for integer and boolean
classes, string for strings) and ``probabilities`` (N, n_classes) or, by default for single-label
classifiers, skl2onnx's ZipMap of them (``options={"zipmap": False}`` keeps the tensor).
"""

from __future__ import annotations

import numpy as np

try:
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import _parse_sklearn_classifier
    from skl2onnx.common._apply_operation import apply_add, apply_cast, apply_concat, apply_sub
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_proto_type,
        guess_tensor_type,
    )
    from skl2onnx.common.utils_classifier import get_label_classes
    from skl2onnx.proto import onnx_proto
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError(
        'jitmlp.onnx needs skl2onnx and onnx: pip install "jitmlp[onnx]"'
    ) from exc

from ._activations import LEAKY_SLOPE
from ._estimators import MLPClassifier, MLPRegressor

__all__ = ["CLASSIFIER_ALIAS", "REGRESSOR_ALIAS"]

CLASSIFIER_ALIAS = "JitmlpMLPClassifier"
REGRESSOR_ALIAS = "JitmlpMLPRegressor"
_ACTIVATIONS = {"identity": "Identity", "tanh": "Tanh", "logistic": "Sigmoid", "relu": "Relu",
                "softmax": "Softmax", "exp": "Exp", "leaky_relu": "LeakyRelu", "elu": "Elu",
                "softplus": "Softplus"}
_ATTRIBUTES = {"leaky_relu": {"alpha": LEAKY_SLOPE}, "elu": {"alpha": 1.0}}


def _is_multilabel(model):
    return model._label_binarizer.y_type_ == "multilabel-indicator"


def _float_types(operator):
    """(proto dtype, tensor type) the network computes in: double for double input, else float."""
    if guess_proto_type(operator.inputs[0].type) == onnx_proto.TensorProto.DOUBLE:
        return onnx_proto.TensorProto.DOUBLE, DoubleTensorType
    return onnx_proto.TensorProto.FLOAT, FloatTensorType


def _label_classes(scope, model):
    """(classes as an ONNX initializer array, its proto dtype) for the label output.

    Numbers and booleans become int64 (float classes are integers: scikit-learn refuses other
    float targets as continuous), anything else UTF-8 strings.
    """
    classes = np.asarray(get_label_classes(scope, model))
    if classes.dtype.kind in "biuf":
        return classes.astype(np.int64), onnx_proto.TensorProto.INT64
    return (np.array([str(c).encode("utf-8") for c in classes]),
            onnx_proto.TensorProto.STRING)


def _shapes_classifier(operator):
    model = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    n_classes = len(model.classes_)
    _, tensor_type = _float_types(operator)
    if _is_multilabel(model):
        operator.outputs[0].type = Int64TensorType([n, n_classes])
    else:
        classes = np.asarray(get_label_classes(operator.scope_inst, model))
        label_type = StringTensorType if classes.dtype.kind in "OUS" else Int64TensorType
        operator.outputs[0].type = label_type([n])
    operator.outputs[1].type = tensor_type([n, n_classes])


def _shapes_regressor(operator):
    model = operator.raw_operator
    _, tensor_type = _float_types(operator)
    operator.outputs[0].type = tensor_type([operator.inputs[0].get_first_dimension(),
                                            model.n_outputs_])


def _forward(scope, operator, container):
    """ŷ = O(a_L) through every layer; returns the name of ŷ (N, n_outputs)."""
    model = operator.raw_operator
    proto_dtype, _ = _float_types(operator)
    numpy_dtype = np.float64 if proto_dtype == onnx_proto.TensorProto.DOUBLE else np.float32
    h = scope.get_unique_variable_name("cast_input")
    apply_cast(scope, operator.inputs[0].full_name, h, container, to=proto_dtype)
    n_layers = len(model.coefs_)
    for k, (coef, intercept) in enumerate(zip(model.coefs_, model.intercepts_)):
        w_name = scope.get_unique_variable_name(f"coefficient_{k}")
        b_name = scope.get_unique_variable_name(f"intercepts_{k}")
        container.add_initializer(w_name, proto_dtype, coef.shape,
                                  coef.astype(numpy_dtype).ravel())
        container.add_initializer(b_name, proto_dtype, [1, len(intercept)],
                                  intercept.astype(numpy_dtype))
        product = scope.get_unique_variable_name(f"mat_mul_{k}")
        container.add_node("MatMul", [h, w_name], product,
                           name=scope.get_unique_operator_name("MatMul"))
        a = scope.get_unique_variable_name(f"a_{k + 1}")
        apply_add(scope, [product, b_name], a, container, broadcast=1)
        function = (model.out_activation_ if k == n_layers - 1
                    else model.activation if isinstance(model.activation, str)
                    else model.activation[k])
        h = scope.get_unique_variable_name(f"h_{k + 1}")
        if function in _COMPOSED:
            _COMPOSED[function](scope, container, a, h, proto_dtype, numpy_dtype)
            continue
        op_type = _ACTIVATIONS[function]
        attributes = {"axis": 1} if op_type == "Softmax" else {}
        attributes.update(_ATTRIBUTES.get(function, {}))
        container.add_node(op_type, a, h, name=scope.get_unique_operator_name(op_type),
                           **attributes)
    return h


def _node(scope, container, op_type, inputs, name):
    out = scope.get_unique_variable_name(name)
    container.add_node(op_type, inputs, out, name=scope.get_unique_operator_name(op_type))
    return out


def _silu(scope, container, a, h, proto_dtype, numpy_dtype):
    """h = a σ(a)."""
    _silu_of(scope, container, a, a, h)


def _gelu(scope, container, a, h, proto_dtype, numpy_dtype):
    """h = a σ(z), z = a (2c + 2ck a²): the tanh form of gelu, as jitmlp computes it."""
    c = np.sqrt(2 / np.pi)
    consts = []
    for name, value in (("gelu_2c", 2 * c), ("gelu_2ck", 2 * c * 0.044715)):
        const = scope.get_unique_variable_name(name)
        container.add_initializer(const, proto_dtype, [], [numpy_dtype(value)])
        consts.append(const)
    a2 = _node(scope, container, "Mul", [a, a], "a_squared")
    t = _node(scope, container, "Mul", [a2, consts[1]], "gelu_t")
    t = _node(scope, container, "Add", [t, consts[0]], "gelu_u")
    z = _node(scope, container, "Mul", [a, t], "gelu_z")
    _silu_of(scope, container, a, z, h)


def _silu_of(scope, container, a, z, h):
    """h = a σ(z)."""
    s = _node(scope, container, "Sigmoid", [z], "sigmoid")
    container.add_node("Mul", [a, s], h, name=scope.get_unique_operator_name("Mul"))


_COMPOSED = {"silu": _silu, "gelu": _gelu}


def _convert_regressor(scope, operator, container):
    y_hat = _forward(scope, operator, container)
    container.add_node("Identity", y_hat, operator.outputs[0].full_name,
                       name=scope.get_unique_operator_name("Identity"))


def _convert_classifier(scope, operator, container):
    model = operator.raw_operator
    y_hat = _forward(scope, operator, container)
    label, probabilities = operator.outputs[0].full_name, operator.outputs[1].full_name
    if _is_multilabel(model):
        container.add_node("Identity", y_hat, probabilities,
                           name=scope.get_unique_operator_name("Identity"))
        above = scope.get_unique_variable_name("above_half")
        container.add_node("Binarizer", y_hat, above, threshold=0.5, op_domain="ai.onnx.ml",
                           name=scope.get_unique_operator_name("Binarizer"))
        apply_cast(scope, above, label, container, to=onnx_proto.TensorProto.INT64)
        return
    if model.n_outputs_ == 1:  # binary: ŷ is P(second class); probabilities [1 - ŷ, ŷ]
        proto_dtype, _ = _float_types(operator)
        one = scope.get_unique_variable_name("one")
        container.add_initializer(one, proto_dtype, [], [1.0])
        negative = scope.get_unique_variable_name("negative_class_proba")
        apply_sub(scope, [one, y_hat], negative, container, broadcast=1)
        apply_concat(scope, [negative, y_hat], probabilities, container, axis=1)
    else:
        container.add_node("Identity", y_hat, probabilities,
                           name=scope.get_unique_operator_name("Identity"))
    classes, classes_dtype = _label_classes(scope, model)
    classes_name = scope.get_unique_variable_name("classes")
    container.add_initializer(classes_name, classes_dtype, classes.shape, classes.tolist())
    index = scope.get_unique_variable_name("argmax")
    container.add_node("ArgMax", probabilities, index, axis=1, keepdims=0,
                       name=scope.get_unique_operator_name("ArgMax"))
    container.add_node("Gather", [classes_name, index], label, axis=0,
                       name=scope.get_unique_operator_name("Gather"))


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    """skl2onnx's classifier parser (ZipMap, class labels), except for multilabel models."""
    if not _is_multilabel(model):
        return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)
    operator = scope.declare_local_operator(CLASSIFIER_ALIAS, model)
    operator.inputs = inputs
    operator.outputs.append(scope.declare_local_variable("label", Int64TensorType()))
    operator.outputs.append(scope.declare_local_variable(
        "probabilities", guess_tensor_type(inputs[0].type)))
    return operator.outputs


update_registered_converter(
    MLPClassifier, CLASSIFIER_ALIAS, _shapes_classifier, _convert_classifier,
    parser=_parse_classifier,
    options={"zipmap": [True, False, "columns"], "output_class_labels": [False, True],
             "nocl": [True, False]},
)
update_registered_converter(MLPRegressor, REGRESSOR_ALIAS, _shapes_regressor,
                            _convert_regressor)
