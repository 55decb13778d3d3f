"""Tests of :mod:`sknn_scratch.gradient_check`.

The checker must pass on the correct networks, for every hidden activation and
every kind of output, unfitted or fitted by any solver; and it must fail, naming
the right parameter, when the gradient is broken on purpose: by an activation or
a loss with a wrong derivative plugged into the network the way the core builds
it, or by backpropagation patched to be off in one coordinate. Around that: the
weights are restored exactly, the objective is the one ``fit`` minimises, ReLU
kinks are left out, and bad input gets a clear error.
"""

import warnings
from itertools import pairwise

import numpy as np
import pytest
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.utils._param_validation import InvalidParameterError

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch.core.activations import HIDDEN_ACTIVATIONS
from sknn_scratch.core.losses import SquaredError
from sknn_scratch.core.network import Network
from sknn_scratch.gradient_check import (
    ParameterLocation,
    check_gradients,
    locate_parameter,
)

N_SAMPLES = 12
N_FEATURES = 3
HIDDEN_SIZES = (4, 3)

# name: (estimator class, extra parameters, output activation, kind of target)
OUTPUT_KINDS = {
    "softmax_multiclass": (ScratchMLPClassifier, {}, "softmax", "classes"),
    "logistic_binary": (ScratchMLPClassifier, {}, "logistic", "two_classes"),
    "logistic_multilabel": (ScratchMLPClassifier, {}, "logistic", "indicator"),
    "identity_single_output": (ScratchMLPRegressor, {}, "identity", "real"),
    "identity_multi_output": (ScratchMLPRegressor, {}, "identity", "reals"),
    "exp_poisson": (ScratchMLPRegressor, {"loss": "poisson"}, "exp", "counts"),
}


def make_targets(kind, rng):
    """Return targets of the given kind for ``N_SAMPLES`` samples."""
    if kind == "classes":
        return np.arange(N_SAMPLES) % 3
    if kind == "two_classes":
        return np.arange(N_SAMPLES) % 2
    if kind == "indicator":
        indicator = rng.randint(0, 2, size=(N_SAMPLES, 3))
        indicator[:2] = [[0, 0, 0], [1, 1, 1]]  # every label seen both ways
        return indicator
    if kind == "counts":
        return rng.poisson(1.5, size=N_SAMPLES).astype(float)
    if kind == "reals":
        return rng.normal(size=(N_SAMPLES, 2))
    return rng.normal(size=N_SAMPLES)


def make_problem(output_kind, activation="tanh", seed=0, **params):
    """Return an unfitted estimator, ``X``, ``y`` and positive sample weights."""
    estimator_class, kind_params, _, target_kind = OUTPUT_KINDS[output_kind]
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    y = make_targets(target_kind, rng)
    sample_weight = rng.uniform(0.2, 3.0, size=N_SAMPLES)
    settings = dict(
        hidden_layer_sizes=HIDDEN_SIZES,
        activation=activation,
        alpha=0.1,
        random_state=seed,
    )
    estimator = estimator_class(**{**settings, **kind_params, **params})
    return estimator, X, y, sample_weight


def quiet_fit(estimator, X, y, sample_weight=None):
    """Fit, ignoring the ConvergenceWarning of deliberately short runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, sample_weight=sample_weight)


def flat_index(network, kind, layer, position):
    """Return the index in ``params`` of one weight, read from the memory layout."""
    view = (network.coefs if kind == "coef" else network.intercepts)[layer]
    start = view.__array_interface__["data"][0]
    buffer_start = network.params.__array_interface__["data"][0]
    offset = (start - buffer_start) // network.params.itemsize
    return offset + int(np.ravel_multi_index(position, view.shape))


def n_parameters(layer_units):
    return sum(a * b + b for a, b in pairwise(layer_units))


# --------------------------------------------------------------------------------
# Correct networks pass


@pytest.mark.parametrize("output_kind", list(OUTPUT_KINDS))
@pytest.mark.parametrize("activation", list(HIDDEN_ACTIVATIONS))
def test_passes_for_every_activation_and_output_kind(activation, output_kind):
    estimator, X, y, sample_weight = make_problem(output_kind, activation)

    unfitted = check_gradients(estimator, X, y, sample_weight)
    quiet_fit(estimator.set_params(solver="lbfgs", max_iter=20), X, y, sample_weight)
    fitted = check_gradients(estimator, X, y, sample_weight)

    assert estimator.out_activation_ == OUTPUT_KINDS[output_kind][2]
    total = n_parameters([N_FEATURES, *HIDDEN_SIZES, estimator.n_outputs_])
    for result in (unfitted, fitted):
        assert result.passed, str(result)
        assert len(result.indices) == total
        assert result.n_checked == total - len(result.skipped)
    # Away from a minimum, the gradient is far from flat, so the check is not
    # vacuous, and both gradients agree to many digits.
    assert np.abs(unfitted.numeric).max() > 1e-2
    assert unfitted.max_rel_error < 1e-5


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_passes_on_a_model_fitted_by_any_solver(solver):
    estimator, X, y, sample_weight = make_problem(
        "softmax_multiclass", "logistic", solver=solver, max_iter=30
    )
    quiet_fit(estimator, X, y, sample_weight)

    result = check_gradients(estimator, X, y, sample_weight, raise_on_failure=True)

    assert result.passed
    assert result.n_checked == n_parameters([N_FEATURES, *HIDDEN_SIZES, 3])


def test_the_objective_is_the_one_lbfgs_minimised():
    # After L-BFGS, loss_ is the objective at the final weights over the whole
    # training set: target encoding, sample weights and the L2 term included.
    estimator, X, y, sample_weight = make_problem(
        "logistic_multilabel", solver="lbfgs", max_iter=15
    )
    quiet_fit(estimator, X, y, sample_weight)

    result = check_gradients(estimator, X, y, sample_weight)

    np.testing.assert_allclose(result.loss, estimator.loss_, rtol=1e-12)


def test_an_unfitted_model_is_checked_at_the_weights_fit_starts_from():
    estimator, X, y, _ = make_problem("identity_multi_output", "relu")
    result = check_gradients(estimator, X, y)

    # One full-batch SGD epoch with a vanishing step: its recorded loss is the
    # loss at fit's initial weights, which the step cannot move.
    quiet_fit(
        estimator.set_params(
            solver="sgd",
            learning_rate_init=1e-300,
            batch_size=N_SAMPLES,
            shuffle=False,
            max_iter=1,
        ),
        X,
        y,
    )

    assert result.loss == estimator.loss_curve_[0]


def test_sparse_input_gives_the_dense_result():
    estimator, X, y, sample_weight = make_problem("softmax_multiclass")

    dense = check_gradients(estimator, X, y, sample_weight)
    sparse = check_gradients(estimator, scipy.sparse.csr_matrix(X), y, sample_weight)

    assert sparse.passed
    np.testing.assert_allclose(sparse.analytic, dense.analytic, rtol=1e-12)


# --------------------------------------------------------------------------------
# Broken gradients fail, at the right place


def with_wrong_derivative(activation):
    """Return a copy of ``activation`` whose derivative is 10% too large."""

    class WrongDerivative(type(activation)):
        def scale_delta(self, a, delta, scratch=None):
            super().scale_delta(a, delta, scratch)
            delta *= 1.1

    return WrongDerivative()


@pytest.mark.parametrize("activation", list(HIDDEN_ACTIVATIONS))
def test_fails_in_the_layer_of_an_activation_with_a_wrong_derivative(activation):
    estimator, X, y, sample_weight = make_problem(
        "identity_multi_output",
        activation,
        hidden_layer_sizes=(4,),
        solver="lbfgs",
        max_iter=5,
    )
    quiet_fit(estimator, X, y, sample_weight)
    network = estimator._network
    # The network gives each hidden layer its activation object; replace it.
    network.layers[0].activation = with_wrong_derivative(network.layers[0].activation)

    result = check_gradients(estimator, X, y, sample_weight)

    assert not result.passed
    # Only the hidden layer's parameters see the wrong derivative.
    assert result.worst_parameter.layer == 0
    output_layer = [
        locate_parameter(network.layer_units, index).layer == 1
        for index in result.indices
    ]
    np.testing.assert_allclose(
        result.analytic[output_layer], result.numeric[output_layer], rtol=1e-5
    )


class SquaredErrorWithDoubledGradient(SquaredError):
    """Half the squared error whose gradient forgot the half: ``2 (p - y)``."""

    def value_and_delta(self, y, raw, prediction, sample_weight, delta, scratch=None):
        loss = super().value_and_delta(
            y, raw, prediction, sample_weight, delta, scratch
        )
        delta *= 2.0
        return loss


class RegressorWithBrokenLoss(ScratchMLPRegressor):
    """A regressor whose network is built as usual, then given the broken loss."""

    def _initialize(self, layer_units, dtype, label_state, random_state):
        super()._initialize(layer_units, dtype, label_state, random_state)
        self._network.loss = SquaredErrorWithDoubledGradient()


def test_fails_everywhere_with_a_loss_whose_gradient_is_doubled():
    X, y = np.random.RandomState(0).normal(size=(2, N_SAMPLES, N_FEATURES))
    estimator = RegressorWithBrokenLoss(
        hidden_layer_sizes=HIDDEN_SIZES, activation="tanh", alpha=0.0, random_state=0
    )

    result = check_gradients(estimator, X, y[:, :2])

    assert not result.passed
    np.testing.assert_allclose(result.analytic, 2.0 * result.numeric, rtol=1e-4)
    assert not hasattr(estimator, "coefs_")


@pytest.mark.parametrize(
    "kind, layer, position, name",
    [
        ("coef", 0, (0, 0), "coefs_[0][0, 0]"),
        ("coef", 1, (2, 1), "coefs_[1][2, 1]"),
        ("coef", 2, (2, 2), "coefs_[2][2, 2]"),
        ("intercept", 0, (3,), "intercepts_[0][3]"),
        ("intercept", 2, (0,), "intercepts_[2][0]"),
    ],
)
def test_names_the_one_coordinate_backprop_gets_wrong(
    monkeypatch, kind, layer, position, name
):
    estimator, X, y, sample_weight = make_problem("softmax_multiclass")
    quiet_fit(estimator.set_params(solver="lbfgs", max_iter=5), X, y, sample_weight)
    network = estimator._network
    broken = flat_index(network, kind, layer, position)
    correct_loss_gradient = network.loss_gradient

    def loss_gradient_off_in_one_coordinate(*args, **kwargs):
        loss = correct_loss_gradient(*args, **kwargs)
        network.grads[broken] += 1e-3
        return loss

    monkeypatch.setattr(network, "loss_gradient", loss_gradient_off_in_one_coordinate)
    result = check_gradients(estimator, X, y, sample_weight)

    assert not result.passed
    assert result.worst_index == broken
    assert result.worst_parameter == ParameterLocation(layer, kind, position)
    assert str(result.worst_parameter) == name
    np.testing.assert_allclose(result.max_abs_error, 1e-3, rtol=1e-4)
    others = result.indices != broken
    np.testing.assert_allclose(
        result.analytic[others], result.numeric[others], rtol=1e-5, atol=1e-8
    )


def test_a_non_finite_gradient_fails_as_an_infinite_error(monkeypatch):
    estimator, X, y, _ = make_problem("logistic_binary")
    quiet_fit(estimator.set_params(solver="lbfgs", max_iter=5), X, y)
    network = estimator._network
    broken = flat_index(network, "intercept", 1, (1,))
    correct_loss_gradient = network.loss_gradient

    def loss_gradient_with_a_nan(*args, **kwargs):
        loss = correct_loss_gradient(*args, **kwargs)
        network.grads[broken] = np.nan
        return loss

    monkeypatch.setattr(network, "loss_gradient", loss_gradient_with_a_nan)
    result = check_gradients(estimator, X, y)

    assert not result.passed
    assert result.worst_index == broken
    assert result.max_abs_error == result.max_rel_error == np.inf
    assert "backprop nan" in str(result)


def test_a_subset_misses_nothing_it_draws(monkeypatch):
    estimator, X, y, _ = make_problem("identity_single_output")
    quiet_fit(estimator.set_params(solver="lbfgs", max_iter=5), X, y)
    network = estimator._network
    first = check_gradients(estimator, X, y, n_params=7, random_state=3)
    broken = int(first.indices[4])
    correct_loss_gradient = network.loss_gradient

    def loss_gradient_off_in_one_coordinate(*args, **kwargs):
        loss = correct_loss_gradient(*args, **kwargs)
        network.grads[broken] -= 1e-2
        return loss

    monkeypatch.setattr(network, "loss_gradient", loss_gradient_off_in_one_coordinate)
    again = check_gradients(estimator, X, y, n_params=7, random_state=3)

    assert first.passed and not again.passed
    assert again.worst_index == broken
    np.testing.assert_array_equal(again.indices, first.indices)


def test_raise_on_failure_raises_with_the_summary():
    X, y = np.random.RandomState(0).normal(size=(2, N_SAMPLES, N_FEATURES))
    estimator = RegressorWithBrokenLoss(
        hidden_layer_sizes=(3,), alpha=0.0, random_state=0
    )

    with pytest.raises(AssertionError, match=r"Gradient check FAILED on 24 para"):
        check_gradients(estimator, X, y, raise_on_failure=True)


# --------------------------------------------------------------------------------
# The estimator is left as it was


def test_the_weights_are_restored_exactly():
    estimator, X, y, sample_weight = make_problem("exp_poisson", "logistic")
    quiet_fit(estimator.set_params(max_iter=10), X, y, sample_weight)
    network = estimator._network
    params, params_before = network.params, network.params.copy()
    coefs_before = [coef.copy() for coef in estimator.coefs_]
    prediction_before = estimator.predict(X)

    result = check_gradients(estimator, X, y, sample_weight)

    assert result.passed
    assert network.params is params
    assert network.params.tobytes() == params_before.tobytes()
    for coef, coef_before in zip(estimator.coefs_, coefs_before, strict=True):
        np.testing.assert_array_equal(coef, coef_before)
    np.testing.assert_array_equal(estimator.predict(X), prediction_before)


def test_the_weights_are_restored_when_the_check_raises(monkeypatch):
    estimator, X, y, _ = make_problem("softmax_multiclass")
    quiet_fit(estimator.set_params(max_iter=5), X, y)
    network = estimator._network
    params_before = network.params.copy()
    grads_before = network.grads.copy()
    correct_loss_gradient = network.loss_gradient
    n_calls = 0

    def loss_gradient_that_fails_midway(*args, **kwargs):
        nonlocal n_calls
        n_calls += 1
        if n_calls == 10:
            raise RuntimeError("interrupted")
        return correct_loss_gradient(*args, **kwargs)

    monkeypatch.setattr(network, "loss_gradient", loss_gradient_that_fails_midway)
    with pytest.raises(RuntimeError, match="interrupted"):
        check_gradients(estimator, X, y)

    assert n_calls == 10
    assert network.params.tobytes() == params_before.tobytes()
    assert network.grads.tobytes() == grads_before.tobytes()


def test_an_unfitted_estimator_stays_unfitted():
    estimator, X, y, _ = make_problem("logistic_binary")
    state_before = dict(vars(estimator))

    check_gradients(estimator, X, y)

    assert vars(estimator) == state_before
    assert not hasattr(estimator, "coefs_")


# --------------------------------------------------------------------------------
# ReLU kinks


def test_a_difference_across_a_relu_kink_is_skipped():
    estimator, X, y, _ = make_problem("identity_single_output", "relu")
    quiet_fit(estimator.set_params(solver="lbfgs", max_iter=5), X, y)
    # Sample 0 sets the first hidden unit's pre-activation to exactly zero.
    X[0] = 0.0
    estimator.intercepts_[0][0] = 0.0
    at_kink = flat_index(estimator._network, "intercept", 0, (0,))

    result = check_gradients(estimator, X, y)

    assert at_kink in result.skipped
    assert result.passed
    assert result.n_checked == len(result.indices) - len(result.skipped)
    # Compared, the two would disagree: the skip is what lets the check pass.
    position = np.searchsorted(result.indices, at_kink)
    error = abs(result.analytic[position] - result.numeric[position])
    assert error > 1e-3 * abs(result.numeric[position]) + 1e-6


# --------------------------------------------------------------------------------
# Locations in the flat buffer


@pytest.mark.parametrize("layer_units", [[3, 4, 2], [2, 5], [4, 3, 2, 3]], ids=str)
def test_locate_parameter_agrees_with_the_network_views(layer_units):
    network = Network(layer_units, "relu", "squared_error")
    network.params[:] = np.arange(network.params.size)

    for index in range(network.params.size):
        layer, kind, position = locate_parameter(layer_units, index)
        views = network.coefs if kind == "coef" else network.intercepts
        assert views[layer][position] == index

    with pytest.raises(IndexError, match="out of range for a network of"):
        locate_parameter(layer_units, network.params.size)


def test_summary_reads_the_verdict_and_the_worst_parameter():
    estimator, X, y, _ = make_problem("softmax_multiclass", hidden_layer_sizes=(2,))

    result = check_gradients(estimator, X, y)

    summary = str(result)
    assert summary.startswith("Gradient check passed on 17 parameter(s): ")
    assert f"worst at {result.worst_parameter} (flat index {result.worst_index})" in (
        summary
    )


# --------------------------------------------------------------------------------
# Bad input


def test_rejects_an_estimator_that_is_not_a_scratch_mlp():
    X, y = np.ones((4, 2)), [0, 1, 0, 1]
    with pytest.raises(TypeError, match="needs a ScratchMLPClassifier or Scratch"):
        check_gradients(MLPClassifier(), X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"epsilon": 0.0}, r"'epsilon' parameter of check_gradients must be a float"),
        ({"rtol": -1.0}, r"'rtol' parameter of check_gradients must be a float"),
        ({"n_params": 0}, r"'n_params' parameter of check_gradients must be an int"),
        ({"raise_on_failure": "yes"}, r"'raise_on_failure' parameter"),
    ],
)
def test_rejects_invalid_settings(params, message):
    estimator, X, y, _ = make_problem("softmax_multiclass")
    with pytest.raises(InvalidParameterError, match=message):
        check_gradients(estimator, X, y, **params)


def test_rejects_more_parameters_than_the_network_has():
    estimator, X, y, _ = make_problem("softmax_multiclass", hidden_layer_sizes=(2,))
    with pytest.raises(ValueError, match="n_params=100 is more than the network's 17"):
        check_gradients(estimator, X, y, n_params=100)


def test_rejects_invalid_estimator_parameters():
    estimator, X, y, _ = make_problem("softmax_multiclass", alpha=-1.0)
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of Scratch"):
        check_gradients(estimator, X, y)


def test_rejects_bad_data():
    estimator, X, y, sample_weight = make_problem("softmax_multiclass")
    X_nan = X.copy()
    X_nan[0, 0] = np.nan

    with pytest.raises(ValueError, match="Input X contains NaN"):
        check_gradients(estimator, X_nan, y)
    with pytest.raises(ValueError, match="requires y to be passed, but the target"):
        check_gradients(estimator, X, None)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        check_gradients(estimator, X, y, -sample_weight)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected"):
        check_gradients(estimator, X, y, sample_weight[:3])


def test_rejects_data_a_fitted_model_cannot_take():
    estimator, X, y, _ = make_problem("softmax_multiclass")
    quiet_fit(estimator.set_params(max_iter=2), X, y)

    with pytest.raises(ValueError, match="X has 2 features, but ScratchMLPClassifier"):
        check_gradients(estimator, X[:, :2], y)
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        check_gradients(estimator, X, y + 1)


def test_rejects_a_model_fitted_in_float32():
    estimator, X, y, _ = make_problem("identity_single_output")
    quiet_fit(estimator.set_params(max_iter=2), X.astype(np.float32), y)

    with pytest.raises(ValueError, match="needs a float64 network, but this Scratch"):
        check_gradients(estimator, X, y)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_rejects_weights_whose_loss_overflows():
    estimator, X, y, _ = make_problem("identity_single_output", "relu")
    quiet_fit(estimator.set_params(max_iter=2), X, y)
    estimator._network.params[:] = 1e200

    with pytest.raises(ValueError, match="The training objective is inf at"):
        check_gradients(estimator, X, y)
