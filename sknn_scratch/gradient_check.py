"""Check an estimator's backpropagated gradient against finite differences.

For users who extend the core (a new activation, a new loss, a changed layer):
:func:`check_gradients` takes a :class:`ScratchMLPClassifier` or
:class:`ScratchMLPRegressor`, evaluates the training objective that ``fit``
minimises on the given data, and compares the gradient that
:meth:`~sknn_scratch.core.network.Network.loss_gradient` backpropagates with
central finite differences of the same objective, parameter by parameter. The
answer is a :class:`GradientCheckResult` that says whether the two agree and
where they disagree most, as a location users can read:
``coefs_[layer][row, column]`` or ``intercepts_[layer][unit]``.

The estimator's weights are perturbed in place, one at a time, and restored
exactly afterwards, also when the check raises.
"""

import math
import operator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    validate_parameter_constraints,
)
from sklearn.utils.validation import validate_data

from sknn_scratch._base import BaseScratchMLP
from sknn_scratch._validation import reject_zero_columns, validate_sample_weight
from sknn_scratch.core.activations import LeakyReLU, ReLU
from sknn_scratch.core.network import Workspace

# Each loss value is rounded to about 1e-16 of its size, times the number of
# terms summed; the central difference divides that by epsilon. The default
# absolute tolerance is this noise with a margin of a hundred.
NOISE_PER_UNIT_LOSS = 1e-14


class ParameterLocation(NamedTuple):
    """Where one entry of the flat parameter buffer lives in the estimator.

    Attributes
    ----------
    layer : int
        Index of the layer, 0 for the first hidden layer; the same index as in
        ``coefs_`` and ``intercepts_``.
    kind : {"coef", "intercept"}
        Whether the entry is a weight or a bias.
    position : tuple of int
        ``(row, column)`` in ``coefs_[layer]``, or ``(unit,)`` in
        ``intercepts_[layer]``.

    Examples
    --------
    >>> from sknn_scratch.gradient_check import ParameterLocation
    >>> location = ParameterLocation(layer=1, kind="coef", position=(0, 2))
    >>> print(location)
    coefs_[1][0, 2]
    """

    layer: int
    kind: str
    position: tuple

    def __str__(self):
        indices = ", ".join(str(index) for index in self.position)
        return f"{self.kind}s_[{self.layer}][{indices}]"


@dataclass(frozen=True, eq=False)
class GradientCheckResult:
    """What :func:`check_gradients` found.

    The error of one parameter is ``|analytic - numeric|``; it passes when that
    is at most ``atol + rtol * max(|analytic|, |numeric|)``.

    Attributes
    ----------
    passed : bool
        Whether every compared parameter passed.
    max_abs_error : float
        Largest absolute error over the compared parameters.
    max_rel_error : float
        Largest relative error ``|analytic - numeric| / max(|analytic|,
        |numeric|)`` over the compared parameters whose gradient exceeds
        ``atol`` in magnitude (below it, the relative error measures nothing
        but rounding noise); 0.0 when there are none. Noise can make it exceed
        ``rtol`` for gradients just above ``atol`` while the check passes.
    worst_index : int
        Index in the flat parameter buffer of the parameter furthest outside
        its tolerance (the nearest to failing, when all passed).
    worst_parameter : ParameterLocation
        The same parameter as a layer, a kind and a position; ``str`` of it
        reads ``coefs_[0][2, 1]`` or ``intercepts_[1][0]``.
    loss : float
        The training objective at the checked weights, as ``fit`` computes it.
    indices : ndarray of shape (n_chosen,)
        Flat indices of the parameters the check evaluated, in increasing order.
    analytic, numeric : ndarray of shape (n_chosen,)
        The backpropagated and the finite-difference gradient at ``indices``.
    skipped : ndarray of shape (n_skipped,)
        The flat indices left out of the comparison because their finite
        difference crossed the kink of a ReLU unit, where the loss has no
        derivative.
    n_checked : int
        Number of parameters compared: ``len(indices) - len(skipped)``.
    epsilon, rtol, atol : float
        The step and the tolerances the check used; ``atol`` as computed when
        it was left to None.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn_scratch import ScratchMLPRegressor
    >>> from sknn_scratch.gradient_check import check_gradients
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    >>> reg = ScratchMLPRegressor(hidden_layer_sizes=(4,), random_state=0)
    >>> result = check_gradients(reg, X, y)
    >>> result.passed, len(result.indices), result.n_checked + len(result.skipped)
    (True, 21, 21)
    >>> result.worst_parameter.kind in ("coef", "intercept")
    True
    """

    passed: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: int
    worst_parameter: ParameterLocation
    loss: float
    indices: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    skipped: np.ndarray
    n_checked: int
    epsilon: float
    rtol: float
    atol: float

    def __str__(self):
        verdict = "passed" if self.passed else "FAILED"
        worst = (
            f"worst at {self.worst_parameter} (flat index {self.worst_index}): "
            f"backprop {self._worst('analytic'):.6g}, "
            f"finite differences {self._worst('numeric'):.6g}"
        )
        skipped = (
            f", {len(self.skipped)} skipped at ReLU kinks" if len(self.skipped) else ""
        )
        return (
            f"Gradient check {verdict} on {self.n_checked} parameter(s){skipped}: "
            f"max absolute error {self.max_abs_error:.3g}, max relative error "
            f"{self.max_rel_error:.3g} (rtol={self.rtol:g}, atol={self.atol:g}); "
            f"{worst}."
        )

    def _worst(self, which):
        position = np.searchsorted(self.indices, self.worst_index)
        return float(getattr(self, which)[position])


# The settings of check_gradients, validated with scikit-learn's wording. The
# estimator, X and y are validated as fit validates them.
_SETTINGS_CONSTRAINTS = {
    "sample_weight": ["array-like", Interval(Real, 0, None, closed="left"), None],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "rtol": [Interval(Real, 0, None, closed="left")],
    "atol": [Interval(Real, 0, None, closed="left"), None],
    "n_params": [Interval(Integral, 1, None, closed="left"), None],
    "random_state": ["random_state"],
    "raise_on_failure": ["boolean"],
}


def check_gradients(
    estimator,
    X,
    y,
    sample_weight=None,
    *,
    epsilon=1e-6,
    rtol=1e-5,
    atol=None,
    n_params=None,
    random_state=None,
    raise_on_failure=False,
):
    """Compare the backpropagated gradient with central finite differences.

    The objective is the one ``fit`` minimises: the (sample-weighted) mean loss
    of ``X, y`` plus the L2 term ``alpha / 2 * ||coefs||**2`` divided by the
    weight sum, computed by the estimator's own network. Its gradient from
    backpropagation is compared, parameter by parameter, with
    ``(L(w + epsilon) - L(w - epsilon)) / (2 * epsilon)``.

    A fitted estimator is checked at its current weights. An unfitted one is
    checked at the weights ``fit`` would start from (the same validation,
    target encoding and random initialisation from ``random_state``), on a
    clone, so that it stays unfitted. The estimator's weights are never
    changed: they are restored exactly after the check, also when it raises.

    Parameters
    ----------
    estimator : ScratchMLPClassifier or ScratchMLPRegressor
        The model to check, fitted or not; any subclass of their base class.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The input data. A few dozen samples are enough.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The targets, as ``fit`` takes them.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights; ``None`` weighs every sample by one.
    epsilon : float, default=1e-6
        Step of the central differences. With float64, the rounding error of
        the difference grows like ``1e-16 * loss / epsilon`` and the
        truncation error like ``epsilon**2``; the default balances both.
    rtol : float, default=1e-5
        Relative tolerance, applied to ``max(|analytic|, |numeric|)``.
    atol : float, default=None
        Absolute tolerance, which judges the gradients near zero. None sets it
        to ``1e-14 * max(1, |loss|) / epsilon`` (``1e-8`` for a loss of at most
        one and the default ``epsilon``), a little above the rounding noise of
        a central difference, which grows with the loss.
    n_params : int, default=None
        Number of parameters to check, drawn at random without replacement;
        None checks every one. Each costs two forward and backward passes over
        ``X``, so a large network wants a sample.
    random_state : int, RandomState instance or None, default=None
        Draws the parameters to check when ``n_params`` is set. The initial
        weights of an unfitted estimator come from the estimator's own
        ``random_state``, as in ``fit``.
    raise_on_failure : bool, default=False
        Raise an AssertionError, whose message is the summary of the result,
        when the check fails; convenient in a test.

    Returns
    -------
    result : GradientCheckResult
        The verdict, the errors, and the worst parameter's location.

    Raises
    ------
    TypeError
        When ``estimator`` is not one of this package's MLPs.
    AssertionError
        When ``raise_on_failure=True`` and the gradients disagree.
    ValueError
        On invalid data, on an estimator fitted in float32 (whose finite
        differences would be rounding noise), and on a non-finite objective.

    See Also
    --------
    sknn_scratch.core.network.Network.loss_gradient : The backpropagation that
        is checked.

    Notes
    -----
    The loss has no derivative where a ReLU unit's pre-activation is zero. A
    parameter whose finite difference switches any ReLU unit on or off, for any
    sample, is left out of the comparison and reported in ``skipped``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn_scratch import ScratchMLPClassifier
    >>> from sknn_scratch.gradient_check import check_gradients
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ScratchMLPClassifier(hidden_layer_sizes=(5,), activation="tanh",
    ...                            alpha=0.1, random_state=0)
    >>> result = check_gradients(clf, X[::5], y[::5])
    >>> result.passed, result.n_checked
    (True, 43)
    >>> print(result)
    Gradient check passed on 43 parameter(s): max absolute error ...
    >>> hasattr(clf, "coefs_")  # an unfitted estimator stays unfitted
    False
    """
    settings = dict(
        sample_weight=sample_weight,
        epsilon=epsilon,
        rtol=rtol,
        atol=atol,
        n_params=n_params,
        random_state=random_state,
        raise_on_failure=raise_on_failure,
    )
    validate_parameter_constraints(
        _SETTINGS_CONSTRAINTS, settings, caller_name="check_gradients"
    )
    network, X, Y, sample_weight = _training_problem(estimator, X, y, sample_weight)
    indices = _chosen_indices(network.params.size, n_params, random_state)

    with _weights_restored(network):
        loss, analytic, numeric, crosses_kink = _gradients(
            network, X, Y, sample_weight, estimator.alpha, indices, epsilon
        )

    result = _compare(
        network, indices, analytic, numeric, crosses_kink, loss, epsilon, rtol, atol
    )
    if raise_on_failure and not result.passed:
        raise AssertionError(str(result))
    return result


def _training_problem(estimator, X, y, sample_weight):
    """Return the network to check and the data, validated as ``fit`` does."""
    if not isinstance(estimator, BaseScratchMLP):
        raise TypeError(
            "check_gradients needs a ScratchMLPClassifier or ScratchMLPRegressor "
            f"(or a subclass of BaseScratchMLP); got {type(estimator).__name__}. "
            "For a pipeline, pass its last step and the transformed X."
        )
    estimator._validate_params()

    # A fitted model is checked where it stands; an unfitted one is initialised
    # on a clone, so that the check leaves it as it was.
    fitted = hasattr(estimator, "coefs_")
    model = estimator if fitted else clone(estimator)
    if fitted and model._network.params.dtype != np.float64:
        raise ValueError(
            f"check_gradients needs a float64 network, but this "
            f"{type(estimator).__name__} was fitted in "
            f"{model._network.params.dtype}, where finite differences are "
            f"rounding noise. Check a clone fitted on X.astype(np.float64)."
        )

    hidden_layer_sizes = model._hidden_layer_sizes()
    reject_zero_columns(X, model)
    X, y = validate_data(
        model,
        X,
        y,
        accept_sparse=["csr", "csc"],
        multi_output=True,
        dtype=np.float64,
        y_numeric=not is_classifier(model),
        reset=not fitted,
    )
    # For a fitted model, the targets are encoded as partial_fit encodes them:
    # with the known classes, refusing unknown ones, and changing nothing.
    Y, label_state = model._encode_targets(y, first_pass=not fitted, incremental=fitted)
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    sample_weight = validate_sample_weight(sample_weight, X.shape[0], np.float64)

    if not fitted:
        model.__dict__.update(label_state)
        layer_units = [X.shape[1], *hidden_layer_sizes, Y.shape[1]]
        random_state = check_random_state(model.random_state)
        model._initialize(layer_units, X.dtype, label_state, random_state)
    return model._network, X, Y, sample_weight


def _chosen_indices(n_total, n_params, random_state):
    """Return the sorted flat indices of the parameters to check."""
    if n_params is None:
        return np.arange(n_total)
    if n_params > n_total:
        raise ValueError(
            f"n_params={n_params} is more than the network's {n_total} "
            f"parameters; pass at most {n_total}, or None to check them all."
        )
    chosen = check_random_state(random_state).choice(n_total, n_params, replace=False)
    return np.sort(chosen)


@contextmanager
def _weights_restored(network):
    """Give the network back its parameters and gradient buffer as they were."""
    params, grads = network.params.copy(), network.grads.copy()
    try:
        yield
    finally:
        np.copyto(network.params, params)
        np.copyto(network.grads, grads)


def _gradients(network, X, Y, sample_weight, alpha, indices, epsilon):
    """Return the loss, both gradients at ``indices``, and the kink crossings."""
    workspace = Workspace(network.layer_units, X.shape[0], network.params.dtype)
    relu_outputs = [
        output
        for output, layer in zip(workspace.outputs, network.layers[:-1], strict=True)
        # Both have a kink at 0, where the output changes sign.
        if isinstance(layer.activation, (ReLU, LeakyReLU))
    ]

    def objective():
        return network.loss_gradient(X, Y, sample_weight, alpha, workspace)

    def active_units():
        return [output > 0 for output in relu_outputs]

    # The backpropagated gradient at the weights as they are.
    loss = objective()
    if not math.isfinite(loss):
        raise ValueError(
            f"The training objective is {loss} at the estimator's weights; a "
            f"gradient check needs a finite loss. Check the data for extreme "
            f"values, or the weights for overflow."
        )
    analytic = network.grads[indices].copy()

    # Central differences, one parameter at a time. The division uses the steps
    # as they were rounded into the buffer, not epsilon itself.
    params = network.params
    numeric = np.empty(len(indices))
    crosses_kink = np.zeros(len(indices), dtype=bool)
    for position, index in enumerate(indices):
        original = params[index]
        upper, lower = original + epsilon, original - epsilon

        params[index] = upper
        loss_upper = objective()
        active_upper = active_units()

        params[index] = lower
        loss_lower = objective()
        active_lower = active_units()

        params[index] = original
        numeric[position] = (loss_upper - loss_lower) / (upper - lower)
        crosses_kink[position] = not all(
            np.array_equal(a, b)
            for a, b in zip(active_upper, active_lower, strict=True)
        )
    return loss, analytic, numeric, crosses_kink


def _compare(
    network, indices, analytic, numeric, crosses_kink, loss, epsilon, rtol, atol
):
    """Judge both gradients and build the result."""
    compared = ~crosses_kink
    if not compared.any():
        raise ValueError(
            "Every chosen parameter's finite difference crosses the kink of a ReLU "
            "unit, so none can be checked; use a smaller epsilon or other data."
        )

    if atol is None:
        atol = NOISE_PER_UNIT_LOSS * max(1.0, abs(loss)) / epsilon

    # How far each error is from its tolerance (above 1 fails), and relative.
    abs_error = np.abs(analytic - numeric)
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(abs_error == 0, 0.0, abs_error / (atol + rtol * scale))
        relative = np.where(scale > atol, abs_error / scale, 0.0)
    # A non-finite gradient is an error as large as they come, never a NaN.
    non_finite = ~np.isfinite(abs_error)
    abs_error[non_finite] = excess[non_finite] = relative[non_finite] = np.inf

    worst = int(np.flatnonzero(compared)[np.argmax(excess[compared])])
    worst_index = int(indices[worst])
    return GradientCheckResult(
        passed=bool(np.all(excess[compared] <= 1.0)),
        max_abs_error=float(abs_error[compared].max()),
        max_rel_error=float(relative[compared].max()),
        worst_index=worst_index,
        worst_parameter=locate_parameter(network.layer_units, worst_index),
        loss=float(loss),
        indices=indices,
        analytic=analytic,
        numeric=numeric,
        skipped=indices[crosses_kink],
        n_checked=int(compared.sum()),
        epsilon=float(epsilon),
        rtol=float(rtol),
        atol=float(atol),
    )


def locate_parameter(layer_units, index):
    """Return where entry ``index`` of a network's flat parameter buffer lives.

    The buffer holds every layer's ``coef`` (row-major) and then every layer's
    ``intercept``, as described in :mod:`sknn_scratch.core.network`.

    Parameters
    ----------
    layer_units : list of int
        Width of every layer, inputs first, as in ``Network.layer_units``.
    index : int
        Position in the flat buffer, from 0.

    Returns
    -------
    location : ParameterLocation
        The layer, ``"coef"`` or ``"intercept"``, and the position in
        ``coefs_[layer]`` or ``intercepts_[layer]``.

    Examples
    --------
    >>> from sknn_scratch.gradient_check import locate_parameter
    >>> locate_parameter([3, 4, 2], 13)
    ParameterLocation(layer=1, kind='coef', position=(0, 1))
    >>> print(locate_parameter([3, 4, 2], 25))
    intercepts_[1][1]
    """
    index = operator.index(index)
    shapes = list(pairwise(layer_units))
    n_coef = sum(fan_in * fan_out for fan_in, fan_out in shapes)
    n_total = n_coef + sum(layer_units[1:])
    if not 0 <= index < n_total:
        raise IndexError(
            f"index {index} is out of range for a network of {n_total} parameters."
        )

    offset = index
    if offset < n_coef:
        for layer, (fan_in, fan_out) in enumerate(shapes):
            if offset < fan_in * fan_out:
                return ParameterLocation(layer, "coef", divmod(offset, fan_out))
            offset -= fan_in * fan_out
    offset -= n_coef
    for layer, (_, fan_out) in enumerate(shapes):
        if offset < fan_out:
            return ParameterLocation(layer, "intercept", (offset,))
        offset -= fan_out
