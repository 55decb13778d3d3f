"""The ONNX operators that compute each activation, for :mod:`sknn_scratch.onnx`.

:data:`ONNX_ACTIVATIONS` maps every activation name of
:mod:`sknn_scratch.core.activations`, hidden or output, to a writer: a function
``write(graph, z, output=None)`` that adds to ``graph`` the nodes computing the
activation of the tensor named ``z`` and returns the name of the result,
``output`` when given. ``graph`` offers ``graph.node(op_type, inputs, output=None,
**attributes)`` and ``graph.constant(hint, values)``, whose float constants take
the graph's dtype (see ``_GraphWriter`` in :mod:`sknn_scratch.onnx`). A new
activation needs one entry here: ``_operator("OpType")`` when one ONNX operator
computes it, or a small writer of its own.

Every writer uses operators that onnxruntime runs in float32 and float64 alike.
That rules out ``LeakyRelu``, ``Elu`` and ``Softplus``, which it implements for
float32 only, so those three are written out from elementary operators, in the
form the NumPy core computes them. Constants that the core defines (the leaky
ReLU's slope, the GELU's coefficients) are read from its activation objects
when a graph is written, so the graph cannot drift from the core.

This module imports neither onnx nor skl2onnx.
"""

from sknn_scratch.core.activations import HIDDEN_ACTIVATIONS


def _operator(op_type, **attributes):
    """Return the writer of an activation that one ONNX operator computes."""

    def write(graph, z, output=None):
        return graph.node(op_type, [z], output, **attributes)

    write.__name__ = f"write_{op_type.lower()}"
    return write


def _leaky_relu(graph, z, output=None):
    """``max(z, slope * z)``."""
    slope = HIDDEN_ACTIVATIONS["leaky_relu"].negative_slope
    scaled = graph.node("Mul", [z, graph.constant("negative_slope", [slope])])
    return graph.node("Max", [z, scaled], output)


def _elu(graph, z, output=None):
    """``max(z, 0) + exp(min(z, 0)) - 1``, the ELU with ``alpha = 1``."""
    negative_part = graph.node("Min", [z, graph.constant("zero", [0.0])])
    exponential = graph.node("Exp", [negative_part])
    expm1 = graph.node("Sub", [exponential, graph.constant("one", [1.0])])
    return graph.node("Add", [graph.node("Relu", [z]), expm1], output)


def _softplus(graph, z, output=None):
    """``max(z, 0) + log(1 + exp(-|z|))``, which cannot overflow."""
    decay = graph.node("Exp", [graph.node("Neg", [graph.node("Abs", [z])])])
    tail = graph.node("Log", [graph.node("Add", [graph.constant("one", [1.0]), decay])])
    return graph.node("Add", [graph.node("Relu", [z]), tail], output)


def _silu(graph, z, output=None):
    """``z * sigmoid(z)``."""
    return graph.node("Mul", [z, graph.node("Sigmoid", [z])], output)


def _gelu_tanh(graph, z, output=None):
    """``z * sigmoid(2u)``, ``u = sqrt(2 / pi) (z + k z**3)``, as the core has it.

    The core computes ``2u`` as ``z (1 + k z**2)`` times ``2 sqrt(2 / pi)``;
    the nodes follow the same order of operations.
    """
    gelu = HIDDEN_ACTIVATIONS["gelu_tanh"]
    square = graph.node("Mul", [z, z])
    scaled = graph.node("Mul", [square, graph.constant("k", [gelu.cubic_coefficient])])
    factor = graph.node("Add", [scaled, graph.constant("one", [1.0])])
    argument = graph.node(
        "Mul",
        [
            graph.node("Mul", [factor, z]),
            graph.constant("two_sqrt_2_over_pi", [2.0 * gelu.sqrt_2_over_pi]),
        ],
    )
    return graph.node("Mul", [z, graph.node("Sigmoid", [argument])], output)


ONNX_ACTIVATIONS = {
    "identity": _operator("Identity"),
    "logistic": _operator("Sigmoid"),
    "tanh": _operator("Tanh"),
    "relu": _operator("Relu"),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "softplus": _softplus,
    "silu": _silu,
    "gelu_tanh": _gelu_tanh,
    # axis=1 normalises each row, under the flatten-to-2-D semantics of the
    # opsets before 13 and the single-axis semantics from 13 on alike.
    "softmax": _operator("Softmax", axis=1),
    "exp": _operator("Exp"),
}


def onnx_activation(name):
    """Return the writer of the activation ``name``.

    Parameters
    ----------
    name : str
        A hidden or output activation of :mod:`sknn_scratch.core.activations`.

    Returns
    -------
    write : callable
        ``write(graph, z, output=None)``, as described in the module docstring.

    Raises
    ------
    NotImplementedError
        When :data:`ONNX_ACTIVATIONS` has no entry for ``name``.

    Examples
    --------
    >>> onnx_activation("relu").__name__
    'write_relu'
    """
    if name not in ONNX_ACTIVATIONS:
        raise NotImplementedError(
            f"The ONNX converter of sknn_scratch has no operator for the "
            f"activation {name!r}; it knows {sorted(ONNX_ACTIVATIONS)}. Add a "
            f"writer for it to ONNX_ACTIVATIONS in sknn_scratch/_onnx_ops.py."
        )
    return ONNX_ACTIVATIONS[name]
