"""ONNX export of the fitted estimators, through skl2onnx's converter registry.

Importing this module registers a converter for :class:`ScratchMLPClassifier` and
one for :class:`ScratchMLPRegressor` with skl2onnx, so that
``skl2onnx.to_onnx(model, X[:1])`` converts a fitted estimator, alone or as a
step of a scikit-learn pipeline, into an ONNX graph that onnxruntime can run.
The module needs the optional dependencies of the ``onnx`` extra; the package's
``__init__`` does not import it, so sknn_scratch works without them.

The graph is written from the fitted weights, one ``Gemm`` per layer followed by
the ONNX operators of the layer's activation, looked up by name in
:data:`ONNX_ACTIVATIONS` (defined in ``sknn_scratch/_onnx_ops.py``, where a new
activation needs one entry). It computes in the dtype of its input: a float32 input
(``FloatTensorType``) gives a float32 graph, a float64 input
(``DoubleTensorType``) a float64 graph, whatever dtype the model was fitted in.

Outputs keep the names and layouts skl2onnx gives scikit-learn's own MLPs, so a
graph exported from a ScratchMLP is a drop-in for one exported from
``MLPClassifier`` or ``MLPRegressor``:

- the classifier gives ``label`` and ``probabilities``. ``label`` holds what
  ``predict`` returns: int64 for integer, boolean or integral float classes,
  strings for string classes, and for multilabel targets the ``(n_samples,
  n_labels)`` int64 indicator matrix. ``probabilities`` equals
  ``predict_proba`` (two columns for a binary problem). skl2onnx's options
  work as for its own classifiers: by default (``zipmap=True``) the outputs
  are ``output_label`` and ``output_probability``, a list of ``{class:
  probability}`` dictionaries; ``zipmap=False`` keeps the probability matrix;
  ``zipmap='columns'`` gives one output per class; ``nocl=True`` makes the
  labels the class indices. ONNX's ZipMap takes float32 only, so a float64
  graph needs ``zipmap=False`` or ``'columns'``; asking for ``zipmap=True``
  raises a ValueError saying so, where skl2onnx would write a graph that
  onnxruntime cannot load.
- the regressor gives ``variable`` of shape ``(n_samples, n_outputs)``. For a
  single output that is ``(n_samples, 1)``, where ``predict`` returns
  ``(n_samples,)``: the layout skl2onnx gives every regressor, on which its
  converters of meta-estimators rely (that of ``StackingRegressor``
  concatenates its members' outputs along axis 1). ``variable.ravel()`` gives
  ``predict``'s shape. With several outputs, skl2onnx's converter of
  ``MLPRegressor`` stacks them into one column of ``n_samples * n_outputs``
  rows; this one keeps one column per output, as ``predict`` does.

Examples
--------
>>> import numpy as np
>>> import onnxruntime
>>> from skl2onnx import to_onnx
>>> from sklearn.datasets import load_iris
>>> import sknn_scratch.onnx  # registers the converters with skl2onnx
>>> from sknn_scratch import ScratchMLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> X = X.astype(np.float32)
>>> clf = ScratchMLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs",
...                            max_iter=200, random_state=0).fit(X, y)
>>> onnx_model = to_onnx(clf, X[:1], options={"zipmap": False})
>>> session = onnxruntime.InferenceSession(
...     onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
>>> label, probabilities = session.run(None, {"X": X[::50]})
>>> label
array([0, 1, 2]...)
>>> bool(np.abs(probabilities - clf.predict_proba(X[::50])).max() < 1e-5)
True
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from sknn_scratch._classifier import ScratchMLPClassifier
from sknn_scratch._onnx_ops import ONNX_ACTIVATIONS, onnx_activation
from sknn_scratch._regressor import ScratchMLPRegressor

try:
    from onnx import TensorProto
    from skl2onnx import update_registered_converter

    # skl2onnx offers no public hook for the ZipMap step that its classifier
    # parser appends; this is the function that parser calls, so the zipmap
    # option gives exactly the outputs it gives for skl2onnx's own classifiers.
    from skl2onnx._parse import _apply_zipmap
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )
    from skl2onnx.common.utils import check_input_and_output_numbers
except ImportError as error:
    raise ImportError(
        "sknn_scratch.onnx needs skl2onnx (and onnxruntime to run the graphs): "
        'install them with pip install "sknn_scratch[onnx]".'
    ) from error

__all__ = ["ONNX_ACTIVATIONS"]

CLASSIFIER_ALIAS = "SknnScratchMLPClassifier"
REGRESSOR_ALIAS = "SknnScratchMLPRegressor"

# The float types a graph computes in, by the type of its input.
GRAPH_DTYPES = {
    FloatTensorType: (np.float32, TensorProto.FLOAT),
    DoubleTensorType: (np.float64, TensorProto.DOUBLE),
}


# ---------------------------------------------------------------------------------
# What the fitted model computes


def _hidden_activations(model):
    """Return the name of each hidden layer's activation, first layer first.

    Parameters
    ----------
    model : ScratchMLPClassifier or ScratchMLPRegressor
        A fitted estimator.

    Returns
    -------
    names : list of str
        One name per hidden layer; empty for a network without hidden layers.
    """
    n_hidden = len(model.coefs_) - 1
    # predict runs the network the model was fitted with, whose activation stays
    # the fitted one after set_params(activation=...); the graph must do the same.
    network = getattr(model, "_network", None)
    activation = getattr(network, "activation", model.activation)
    if isinstance(activation, str):
        return [activation] * n_hidden
    names = list(activation)
    if len(names) != n_hidden:
        raise ValueError(
            f"The {type(model).__name__} has {n_hidden} hidden layer(s) but "
            f"{len(names)} activation name(s): {names}."
        )
    return names


def _class_labels(model, scope=None):
    """Return the classifier's classes as ONNX can hold them, and their kind.

    Integer, boolean and integral float classes become int64, as skl2onnx does
    for its own classifiers; string classes stay strings. With skl2onnx's
    ``nocl`` option set for the model, the labels are the class indices.

    Parameters
    ----------
    model : ScratchMLPClassifier
        A fitted classifier.
    scope : skl2onnx Scope, default=None
        The conversion's scope, which holds the options; None reads no option.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        int64 values, or Python strings in an object array.
    is_string : bool
    """
    classes = np.asarray(model.classes_)
    if scope is not None and scope.get_options(model, {"nocl": False})["nocl"]:
        return np.arange(len(classes), dtype=np.int64), False
    if all(isinstance(label, str) for label in classes):
        return classes.astype(object), True
    as_integers = classes.astype(np.int64)
    if not np.array_equal(as_integers, classes):
        raise ValueError(
            f"ONNX labels are integers or strings, but {type(model).__name__} "
            f"has the classes {classes!r}."
        )
    return as_integers, False


def _graph_dtype(operator):
    """Return the NumPy and ONNX float types the operator's graph computes in."""
    input_type = type(operator.inputs[0].type)
    if input_type not in GRAPH_DTYPES:
        raise TypeError(
            f"The ONNX graph of {type(operator.raw_operator).__name__} takes a "
            f"FloatTensorType or DoubleTensorType input, got {input_type.__name__}; "
            f"cast X to float32 or float64."
        )
    return GRAPH_DTYPES[input_type]


# ---------------------------------------------------------------------------------
# Writing the graph


class _GraphWriter:
    """Add constants and nodes of one dtype to a graph that skl2onnx is building.

    Parameters
    ----------
    scope : skl2onnx Scope
        Hands out names unique in the whole graph.
    container : skl2onnx ModelComponentContainer
        Receives the initializers and nodes.
    dtype : {np.float32, np.float64}
        Float type of every float constant.
    proto_dtype : int
        The matching ``onnx.TensorProto`` element type.
    """

    def __init__(self, scope, container, dtype, proto_dtype):
        self.scope = scope
        self.container = container
        self.dtype = dtype
        self.proto_dtype = proto_dtype

    def constant(self, hint, values, proto_dtype=None):
        """Add ``values`` as an initializer and return its name.

        Float values are cast to the graph's dtype unless ``proto_dtype`` is
        given.
        """
        name = self.scope.get_unique_variable_name(hint)
        if proto_dtype is None:
            proto_dtype, values = self.proto_dtype, np.asarray(values, self.dtype)
        values = np.asarray(values)
        if proto_dtype == TensorProto.STRING:
            content = [label.encode("utf-8") for label in values.ravel()]
        else:
            content = values.ravel()
        self.container.add_initializer(name, proto_dtype, list(values.shape), content)
        return name

    def node(self, op_type, inputs, output=None, **attributes):
        """Add a node with one output and return the output's name.

        A new name is made from ``op_type`` when ``output`` is None.
        """
        if output is None:
            output = self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(
            op_type,
            inputs,
            output,
            name=self.scope.get_unique_operator_name(op_type),
            **attributes,
        )
        return output

    def forward(self, model, inputs, output=None):
        """Add the network's forward pass and return the name of its prediction.

        Parameters
        ----------
        model : ScratchMLPClassifier or ScratchMLPRegressor
            A fitted estimator.
        inputs : str
            Name of the ``(n_samples, n_features)`` input.
        output : str, default=None
            Name to give the output layer's activations.

        Returns
        -------
        prediction : str
            Name of the ``(n_samples, n_outputs)`` output-layer activations.
        """
        # Every activation is resolved first, so that an unknown one fails
        # before any node is added.
        activations = [*_hidden_activations(model), model.out_activation_]
        writers = [onnx_activation(name) for name in activations]
        layers = list(zip(model.coefs_, model.intercepts_, writers, strict=True))
        for depth, (coef, intercept, write_activation) in enumerate(layers):
            pre_activation = self.node(
                "Gemm",
                [
                    inputs,
                    self.constant(f"coef{depth}", coef),
                    self.constant(f"intercept{depth}", intercept),
                ],
            )
            is_last = depth == len(layers) - 1
            inputs = write_activation(self, pre_activation, output if is_last else None)
        return inputs


# ---------------------------------------------------------------------------------
# Classifier


def _is_multilabel(model):
    """Whether the classifier has independent logistic outputs, one per label."""
    return model.out_activation_ == "logistic" and model.n_outputs_ > 1


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    """Declare the classifier's operator and outputs, then apply ``zipmap``.

    The operator's outputs are ``label`` and ``probabilities``; their exact
    types are set by :func:`_classifier_output_shapes`. With ``zipmap`` True or
    ``'columns'``, skl2onnx's ZipMap step follows, as for its own classifiers.
    """
    check_is_fitted(model)
    operator = scope.declare_local_operator(CLASSIFIER_ALIAS, model)
    operator.inputs = inputs
    label = scope.declare_local_variable("label", Int64TensorType())
    probabilities = scope.declare_local_variable(
        "probabilities", type(inputs[0].type)()
    )
    operator.outputs.extend([label, probabilities])

    zipmap = scope.get_options(model, {"zipmap": True})["zipmap"]
    if zipmap is False:
        return list(operator.outputs)
    if len(model.classes_) == 1:
        raise ValueError(
            f"The {type(model).__name__} was fitted on the single class "
            f"{model.classes_.tolist()[0]!r}, so predict_proba has two columns for one "
            f"class label and zipmap={zipmap!r} cannot name them. Convert with "
            f"options={{'zipmap': False}}."
        )
    if zipmap is True and isinstance(inputs[0].type, DoubleTensorType):
        # ONNX's ZipMap operator takes float32 values only: skl2onnx would
        # write a graph that onnxruntime refuses to load.
        raise ValueError(
            f"The {type(model).__name__} graph computes in float64, but ZipMap, "
            f"which turns the probabilities into dictionaries (zipmap=True, the "
            f"default), takes float32 only. Convert with options={{'zipmap': "
            f"False}} for a float64 probability matrix, or zipmap='columns' for "
            f"one float64 output per class, or give a float32 X."
        )
    return _apply_zipmap(zipmap, scope, model, inputs[0].type, operator.outputs)


def _classifier_output_shapes(operator):
    """Set the types and shapes of ``label`` and ``probabilities``."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    model = operator.raw_operator
    check_is_fitted(model)
    _graph_dtype(operator)  # rejects an input that is not float32 or float64
    n_samples = operator.inputs[0].get_first_dimension()

    label, probabilities = operator.outputs
    if _is_multilabel(model):
        label.type = Int64TensorType([n_samples, model.n_outputs_])  # multilabel
    else:
        _, is_string = _class_labels(model, operator.scope_inst)
        label_type = StringTensorType if is_string else Int64TensorType
        label.type = label_type([n_samples])
    n_columns = 2 if model.n_outputs_ == 1 else model.n_outputs_
    probabilities.type = type(operator.inputs[0].type)([n_samples, n_columns])


def _convert_classifier(scope, operator, container):
    """Write the graph of ``predict`` and ``predict_proba`` of the classifier."""
    model = operator.raw_operator
    graph = _GraphWriter(scope, container, *_graph_dtype(operator))
    inputs = operator.inputs[0].full_name
    label, probabilities = (output.full_name for output in operator.outputs)

    # Multilabel: independent logistic outputs, each thresholded at 0.5, and
    # the indicator matrix as the label.
    if _is_multilabel(model):
        graph.forward(model, inputs, probabilities)
        positive = graph.node("Greater", [probabilities, graph.constant("half", [0.5])])
        graph.node("Cast", [positive], label, to=TensorProto.INT64)
        return

    # Binary and multiclass: the index of the predicted class, then its label.
    classes, is_string = _class_labels(model, scope)
    if model.n_outputs_ == 1:
        index = _binary_index(graph, model, inputs, probabilities)
        # A model fitted on a single class predicts it everywhere, as here.
        if len(classes) == 1:
            classes = np.repeat(classes, 2)
    else:
        graph.forward(model, inputs, probabilities)
        # ArgMax keeps the first of tied maxima, as numpy's argmax in predict.
        index = graph.node("ArgMax", [probabilities], axis=1, keepdims=0)
    proto_label = TensorProto.STRING if is_string else TensorProto.INT64
    graph.node(
        "Gather", [graph.constant("classes", classes, proto_label), index], label
    )


def _binary_index(graph, model, inputs, probabilities):
    """Write both columns of a binary ``predict_proba``; return the class index."""
    positive_proba = graph.forward(model, inputs)
    negative_proba = graph.node("Sub", [graph.constant("one", [1.0]), positive_proba])
    graph.node("Concat", [negative_proba, positive_proba], probabilities, axis=1)

    # predict picks the second class where its probability exceeds 0.5.
    positive = graph.node("Greater", [positive_proba, graph.constant("half", [0.5])])
    return graph.node(
        "Reshape",
        [
            graph.node("Cast", [positive], to=TensorProto.INT64),
            graph.constant("flat", [-1], TensorProto.INT64),
        ],
    )


# ---------------------------------------------------------------------------------
# Regressor


def _regressor_output_shapes(operator):
    """Set the type and shape of ``variable``, ``(n_samples, n_outputs)``."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    model = operator.raw_operator
    check_is_fitted(model)
    _graph_dtype(operator)  # rejects an input that is not float32 or float64
    n_samples = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = type(operator.inputs[0].type)(
        [n_samples, model.n_outputs_]
    )


def _convert_regressor(scope, operator, container):
    """Write the graph of the regressor's ``predict``, one column per output."""
    graph = _GraphWriter(scope, container, *_graph_dtype(operator))
    graph.forward(
        operator.raw_operator,
        operator.inputs[0].full_name,
        operator.outputs[0].full_name,
    )


# ---------------------------------------------------------------------------------
# Registration

update_registered_converter(
    ScratchMLPClassifier,
    CLASSIFIER_ALIAS,
    _classifier_output_shapes,
    _convert_classifier,
    parser=_parse_classifier,
    options={"zipmap": [True, False, "columns"], "nocl": [False, True]},
)
update_registered_converter(
    ScratchMLPRegressor,
    REGRESSOR_ALIAS,
    _regressor_output_shapes,
    _convert_regressor,
)
