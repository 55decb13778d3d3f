"""Tests of :mod:`sknn_scratch.core.network`.

The central test compares the analytic gradient that
:meth:`~sknn_scratch.core.network.Network.loss_gradient` writes into ``grads``
with a central finite difference of the loss it returns, over every parameter
of the flat buffer, for every hidden activation and every kind of output, with
and without L2 penalty and sample weights. The other tests pin down the buffer
layout and its views, the agreement between training and prediction, sparse and
float32 inputs, pickling, and the Glorot initialisation.

The finite differences use float64, small networks, a step of ``1e-6`` and a
relative tolerance of ``1e-6``; ReLU networks are checked on inputs whose
pre-activations all stay away from the kink at zero.
"""

import pickle
import tracemalloc
from itertools import pairwise

import numpy as np
import pytest
import scipy.sparse as sp

from sknn_scratch.core.activations import HIDDEN_ACTIVATIONS
from sknn_scratch.core.network import Network, Workspace
from sknn_scratch.core.optimizers import Adam

N_SAMPLES = 7
N_FEATURES = 4
HIDDEN_SIZES = [5, 3]
FD_STEP = 1e-6
FD_RTOL = 1e-6
RELU_MARGIN = 1e-4

# name: (loss, n_outputs, kind of target)
OUTPUT_KINDS = {
    "softmax_multiclass": ("log_loss", 3, "one_hot"),
    "logistic_binary": ("binary_log_loss", 1, "binary"),
    "logistic_multilabel": ("binary_log_loss", 3, "binary"),
    "identity_single_output": ("squared_error", 1, "real"),
    "identity_multi_output": ("squared_error", 3, "real"),
    "exp_poisson": ("poisson", 2, "counts"),
}


def make_targets(kind, n_samples, n_outputs, rng):
    """Return targets of the given kind, of shape (n_samples, n_outputs)."""
    if kind == "one_hot":
        # Every class appears, so each column gets a nonzero target somewhere.
        classes = np.arange(n_samples) % n_outputs
        rng.shuffle(classes)
        return np.eye(n_outputs)[classes]
    if kind == "binary":
        return rng.randint(0, 2, size=(n_samples, n_outputs)).astype(np.float64)
    if kind == "counts":
        # Counts that include zeros, the case where y log(y) needs care.
        counts = rng.poisson(1.5, size=(n_samples, n_outputs)).astype(np.float64)
        counts[0, 0] = 0.0
        return counts
    return rng.normal(size=(n_samples, n_outputs))


def hidden_pre_activations(network, X):
    """Return the pre-activations of every hidden layer, by a plain forward pass."""
    activation = HIDDEN_ACTIVATIONS[network.activation]
    pre_activations = []
    inputs = X
    for coef, intercept in zip(
        network.coefs[:-1], network.intercepts[:-1], strict=True
    ):
        z = inputs @ coef + intercept
        pre_activations.append(z)
        inputs = activation.forward(z.copy())
    return pre_activations


def make_problem(layer_units, activation, loss, target_kind, seed=0):
    """Return an initialised network and data ``X, y`` for a gradient check.

    For ReLU, the seed is advanced until no hidden pre-activation lies within
    ``RELU_MARGIN`` of zero, so that the finite differences never cross a kink.
    """
    for attempt in range(1000):
        rng = np.random.RandomState(seed + attempt)
        network = Network(layer_units, activation, loss)
        network.initialize(rng)
        # Larger random biases than Glorot's keep the outputs away from zero.
        network.params[network.n_coef :] = rng.uniform(
            -1.0, 1.0, network.params.size - network.n_coef
        )
        X = rng.normal(size=(N_SAMPLES, layer_units[0]))
        y = make_targets(target_kind, N_SAMPLES, layer_units[-1], rng)
        pre_activations = hidden_pre_activations(network, X)
        if activation != "relu" or all(
            np.abs(z).min() > RELU_MARGIN for z in pre_activations
        ):
            return network, X, y, rng
    raise RuntimeError("no seed keeps the ReLU pre-activations off the kink")


def loss_at(network, X, y, sample_weight, alpha):
    """Return the loss of ``network`` at its current ``params``."""
    workspace = Workspace(network.layer_units, X.shape[0], network.params.dtype)
    return network.loss_gradient(X, y, sample_weight, alpha, workspace)


def analytic_gradient(network, X, y, sample_weight, alpha):
    """Return a copy of the gradient that ``loss_gradient`` stores in ``grads``."""
    loss_at(network, X, y, sample_weight, alpha)
    return network.grads.copy()


def numerical_gradient(network, X, y, sample_weight, alpha, step=FD_STEP):
    """Return the central finite-difference gradient over the whole ``params``."""
    gradient = np.empty_like(network.params)
    for i in range(network.params.size):
        original = network.params[i]

        network.params[i] = original + step
        loss_plus = loss_at(network, X, y, sample_weight, alpha)

        network.params[i] = original - step
        loss_minus = loss_at(network, X, y, sample_weight, alpha)

        network.params[i] = original
        gradient[i] = (loss_plus - loss_minus) / (2 * step)
    return gradient


def assert_gradient_matches(network, X, y, sample_weight, alpha):
    """Assert that the analytic gradient equals the finite-difference one."""
    params_before = network.params.copy()

    analytic = analytic_gradient(network, X, y, sample_weight, alpha)
    numeric = numerical_gradient(network, X, y, sample_weight, alpha)

    # The check would be vacuous on a flat loss.
    scale = np.abs(numeric).max()
    assert scale > 1e-3
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_RTOL * scale)
    np.testing.assert_array_equal(network.params, params_before)


def random_sample_weight(rng, n_samples=N_SAMPLES):
    return rng.uniform(0.2, 3.0, size=n_samples)


@pytest.mark.parametrize("use_sample_weight", [False, True], ids=["unweighted", "sw"])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("output_kind", list(OUTPUT_KINDS))
@pytest.mark.parametrize("activation", list(HIDDEN_ACTIVATIONS))
def test_gradient_matches_finite_differences(
    activation, output_kind, alpha, use_sample_weight
):
    loss, n_outputs, target_kind = OUTPUT_KINDS[output_kind]
    layer_units = [N_FEATURES, *HIDDEN_SIZES, n_outputs]
    network, X, y, rng = make_problem(layer_units, activation, loss, target_kind)
    sample_weight = random_sample_weight(rng) if use_sample_weight else None

    assert_gradient_matches(network, X, y, sample_weight, alpha)


@pytest.mark.parametrize(
    "hidden_sizes", [[], [6], [5, 3], [4, 3, 5]], ids=["0", "1", "2", "3"]
)
@pytest.mark.parametrize("activation", list(HIDDEN_ACTIVATIONS))
@pytest.mark.parametrize("output_kind", ["softmax_multiclass", "identity_multi_output"])
def test_gradient_matches_finite_differences_for_any_depth(
    output_kind, activation, hidden_sizes
):
    loss, n_outputs, target_kind = OUTPUT_KINDS[output_kind]
    layer_units = [N_FEATURES, *hidden_sizes, n_outputs]
    network, X, y, rng = make_problem(layer_units, activation, loss, target_kind)
    sample_weight = random_sample_weight(rng)

    assert len(network.coefs) == len(hidden_sizes) + 1
    assert_gradient_matches(network, X, y, sample_weight, alpha=0.1)


def reference_forward(network, X):
    """Return ``(raw, prediction)`` by an independent plain NumPy forward pass."""
    hidden = {
        "identity": lambda z: z,
        "logistic": lambda z: 1.0 / (1.0 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0.0),
    }[network.activation]
    inputs = X
    for coef, intercept in zip(
        network.coefs[:-1], network.intercepts[:-1], strict=True
    ):
        inputs = hidden(inputs @ coef + intercept)
    raw = inputs @ network.coefs[-1] + network.intercepts[-1]

    if network.out_activation == "softmax":
        exp_raw = np.exp(raw - raw.max(axis=1, keepdims=True))
        prediction = exp_raw / exp_raw.sum(axis=1, keepdims=True)
    elif network.out_activation == "logistic":
        prediction = 1.0 / (1.0 + np.exp(-raw))
    elif network.out_activation == "exp":
        prediction = np.exp(raw)
    else:
        prediction = raw.copy()
    return raw, prediction


def reference_sample_losses(loss, y, prediction):
    """Return each sample's loss, computed from the probabilities or predictions."""
    if loss == "squared_error":
        return 0.5 * ((prediction - y) ** 2).sum(axis=1)
    if loss == "poisson":
        y_log_y_over_p = np.where(
            y > 0, y * np.log(np.where(y > 0, y, 1) / prediction), 0
        )
        return (y_log_y_over_p - y + prediction).sum(axis=1)
    if loss == "binary_log_loss":
        return -(y * np.log(prediction) + (1 - y) * np.log1p(-prediction)).sum(axis=1)
    return -(y * np.log(prediction)).sum(axis=1)


@pytest.mark.parametrize("use_sample_weight", [False, True], ids=["unweighted", "sw"])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("output_kind", list(OUTPUT_KINDS))
@pytest.mark.parametrize("activation", list(HIDDEN_ACTIVATIONS))
def test_loss_value_matches_explicit_formula(
    activation, output_kind, alpha, use_sample_weight
):
    loss, n_outputs, target_kind = OUTPUT_KINDS[output_kind]
    layer_units = [N_FEATURES, *HIDDEN_SIZES, n_outputs]
    network, X, y, rng = make_problem(layer_units, activation, loss, target_kind)
    sample_weight = random_sample_weight(rng) if use_sample_weight else None

    _, prediction = reference_forward(network, X)
    sample_losses = reference_sample_losses(loss, y, prediction)
    weights = np.ones(N_SAMPLES) if sample_weight is None else sample_weight
    squared_norm = sum((coef**2).sum() for coef in network.coefs)
    expected = (sample_losses @ weights + 0.5 * alpha * squared_norm) / weights.sum()

    assert loss_at(network, X, y, sample_weight, alpha) == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize("output_kind", list(OUTPUT_KINDS))
@pytest.mark.parametrize("activation", list(HIDDEN_ACTIVATIONS))
def test_predict_raw_equals_training_forward_pass(activation, output_kind):
    loss, n_outputs, target_kind = OUTPUT_KINDS[output_kind]
    layer_units = [N_FEATURES, *HIDDEN_SIZES, n_outputs]
    network, X, y, _ = make_problem(layer_units, activation, loss, target_kind)
    # A workspace larger than the batch: only its first rows are used.
    workspace = Workspace(layer_units, 3 * N_SAMPLES, np.float64)

    network.loss_gradient(X, y, None, 0.0, workspace)
    raw, prediction = network.predict_raw(X)

    np.testing.assert_allclose(raw, workspace.raw[:N_SAMPLES], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(
        prediction, workspace.prediction[:N_SAMPLES], rtol=1e-14, atol=1e-15
    )
    expected_raw, expected_prediction = reference_forward(network, X)
    np.testing.assert_allclose(raw, expected_raw, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(prediction, expected_prediction, rtol=1e-12, atol=1e-14)


def test_predict_raw_writes_nothing_and_returns_new_arrays():
    network, X, y, _ = make_problem([N_FEATURES, 5, 3], "tanh", "log_loss", "one_hot")
    params_before = network.params.copy()
    X_before = X.copy()

    raw_first, prediction_first = network.predict_raw(X)
    raw_second, prediction_second = network.predict_raw(X)

    assert not np.shares_memory(raw_first, raw_second)
    assert not np.shares_memory(raw_first, prediction_first)
    assert not np.shares_memory(prediction_first, prediction_second)
    np.testing.assert_array_equal(raw_first, raw_second)
    np.testing.assert_array_equal(network.params, params_before)
    np.testing.assert_array_equal(X, X_before)


def test_loss_gradient_overwrites_grads_instead_of_accumulating():
    network, X, y, rng = make_problem(
        [N_FEATURES, 5, 3, 2], "tanh", "squared_error", "real"
    )
    sample_weight = random_sample_weight(rng)
    workspace = Workspace(network.layer_units, N_SAMPLES, np.float64)

    first_loss = network.loss_gradient(X, y, sample_weight, 0.1, workspace)
    first_grads = network.grads.copy()
    network.grads[:] = 123.0
    second_loss = network.loss_gradient(X, y, sample_weight, 0.1, workspace)

    assert second_loss == first_loss
    np.testing.assert_array_equal(network.grads, first_grads)


def test_loss_gradient_on_a_smaller_batch_than_the_workspace():
    network, X, y, rng = make_problem(
        [N_FEATURES, 5, 3, 3], "relu", "log_loss", "one_hot"
    )
    sample_weight = random_sample_weight(rng)
    exact_workspace = Workspace(network.layer_units, N_SAMPLES, np.float64)
    large_workspace = Workspace(network.layer_units, 4 * N_SAMPLES, np.float64)

    exact_loss = network.loss_gradient(X, y, sample_weight, 0.1, exact_workspace)
    exact_grads = network.grads.copy()
    large_loss = network.loss_gradient(X, y, sample_weight, 0.1, large_workspace)

    assert large_loss == pytest.approx(exact_loss, rel=1e-14)
    np.testing.assert_allclose(network.grads, exact_grads, rtol=1e-13, atol=1e-16)


def test_unit_weights_equal_no_weights():
    network, X, y, _ = make_problem([N_FEATURES, 5, 2], "logistic", "poisson", "counts")

    unweighted_loss = loss_at(network, X, y, None, 0.2)
    unweighted_grads = network.grads.copy()
    unit_loss = loss_at(network, X, y, np.ones(N_SAMPLES), 0.2)

    assert unit_loss == pytest.approx(unweighted_loss, rel=1e-14)
    np.testing.assert_allclose(network.grads, unweighted_grads, rtol=1e-13, atol=1e-16)


def test_integer_weights_equal_repeated_rows():
    network, X, y, _ = make_problem(
        [N_FEATURES, 5, 3], "relu", "binary_log_loss", "binary"
    )
    repeats = np.array([1, 3, 2, 1, 4, 1, 2])

    weighted_loss = loss_at(network, X, y, repeats.astype(np.float64), 0.1)
    weighted_grads = network.grads.copy()
    repeated_loss = loss_at(
        network, np.repeat(X, repeats, axis=0), np.repeat(y, repeats, axis=0), None, 0.1
    )

    assert weighted_loss == pytest.approx(repeated_loss, rel=1e-13)
    np.testing.assert_allclose(weighted_grads, network.grads, rtol=1e-12, atol=1e-15)


LAYOUT_UNITS = [4, 5, 3, 2]


def test_params_and_grads_have_the_documented_size():
    network = Network(LAYOUT_UNITS, "relu", "log_loss")

    n_coef = 4 * 5 + 5 * 3 + 3 * 2
    assert network.n_coef == n_coef
    assert network.params.shape == (n_coef + 5 + 3 + 2,)
    assert network.grads.shape == network.params.shape
    assert [coef.shape for coef in network.coefs] == [(4, 5), (5, 3), (3, 2)]
    assert [intercept.shape for intercept in network.intercepts] == [(5,), (3,), (2,)]


def test_coefs_and_intercepts_are_views_of_params():
    network = Network(LAYOUT_UNITS, "relu", "log_loss")
    values = np.arange(network.params.size, dtype=np.float64)

    network.params[:] = values

    # Every coef, row-major, then every intercept.
    expected_coefs, expected_intercepts = [], []
    start = 0
    for fan_in, fan_out in pairwise(LAYOUT_UNITS):
        expected_coefs.append(values[start : start + fan_in * fan_out])
        start += fan_in * fan_out
    for fan_out in LAYOUT_UNITS[1:]:
        expected_intercepts.append(values[start : start + fan_out])
        start += fan_out
    for coef, expected in zip(network.coefs, expected_coefs, strict=True):
        np.testing.assert_array_equal(coef, expected.reshape(coef.shape))
    for intercept, expected in zip(
        network.intercepts, expected_intercepts, strict=True
    ):
        np.testing.assert_array_equal(intercept, expected)


def test_writing_a_coef_view_changes_params():
    network = Network(LAYOUT_UNITS, "relu", "log_loss")

    network.coefs[1][2, 0] = 7.0
    network.intercepts[2][1] = -3.0

    flat_coef_index = 4 * 5 + 2 * 3 + 0
    flat_intercept_index = network.n_coef + 5 + 3 + 1
    assert network.params[flat_coef_index] == 7.0
    assert network.params[flat_intercept_index] == -3.0
    assert np.count_nonzero(network.params) == 2


def test_layers_use_views_of_params_and_grads():
    network = Network(LAYOUT_UNITS, "tanh", "squared_error")

    for layer, coef, intercept in zip(
        network.layers, network.coefs, network.intercepts, strict=True
    ):
        assert layer.coef is coef
        assert layer.intercept is intercept
        for view in (layer.coef, layer.intercept):
            assert np.shares_memory(view, network.params)
            assert not np.shares_memory(view, network.grads)
        for view in (layer.coef_grad, layer.intercept_grad):
            assert np.shares_memory(view, network.grads)
            assert not np.shares_memory(view, network.params)


def test_grads_follow_the_layout_of_params():
    network, X, y, _ = make_problem(LAYOUT_UNITS, "tanh", "log_loss", "one_hot")

    loss_at(network, X, y, None, 0.1)

    layer_grads = [layer.coef_grad.ravel() for layer in network.layers] + [
        layer.intercept_grad for layer in network.layers
    ]
    np.testing.assert_array_equal(network.grads, np.concatenate(layer_grads))
    # The intercept gradient is the mean of the output deltas over the samples.
    _, prediction = network.predict_raw(X)
    np.testing.assert_allclose(
        network.grads[-y.shape[1] :], (prediction - y).mean(axis=0), rtol=1e-12
    )


def test_output_layer_uses_the_loss_link():
    for loss, out_activation in [
        ("squared_error", "identity"),
        ("poisson", "exp"),
        ("binary_log_loss", "logistic"),
        ("log_loss", "softmax"),
    ]:
        network = Network([3, 4, 2], "relu", loss)

        assert network.out_activation == out_activation
        assert network.layers[-1].activation.name == out_activation
        assert all(layer.activation.name == "relu" for layer in network.layers[:-1])


@pytest.mark.parametrize("sparse_container", [sp.csr_matrix, sp.csr_array])
@pytest.mark.parametrize("hidden_sizes", [[], [5, 3]], ids=["no_hidden", "2_hidden"])
def test_sparse_input_equals_dense(hidden_sizes, sparse_container):
    layer_units = [N_FEATURES, *hidden_sizes, 3]
    network, X, y, rng = make_problem(layer_units, "relu", "log_loss", "one_hot")
    X[rng.uniform(size=X.shape) < 0.5] = 0.0
    X_sparse = sparse_container(X)
    sample_weight = random_sample_weight(rng)

    dense_raw, dense_prediction = network.predict_raw(X)
    sparse_raw, sparse_prediction = network.predict_raw(X_sparse)

    assert type(sparse_raw) is np.ndarray
    assert type(sparse_prediction) is np.ndarray
    np.testing.assert_allclose(sparse_raw, dense_raw, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(sparse_prediction, dense_prediction, rtol=1e-13)

    dense_loss = loss_at(network, X, y, sample_weight, 0.1)
    dense_grads = network.grads.copy()
    sparse_loss = loss_at(network, X_sparse, y, sample_weight, 0.1)

    assert sparse_loss == pytest.approx(dense_loss, rel=1e-13)
    np.testing.assert_allclose(network.grads, dense_grads, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("sparse_input", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("output_kind", list(OUTPUT_KINDS))
def test_float32_network_keeps_float32_everywhere(output_kind, sparse_input):
    loss, n_outputs, target_kind = OUTPUT_KINDS[output_kind]
    layer_units = [N_FEATURES, *HIDDEN_SIZES, n_outputs]
    rng = np.random.RandomState(0)
    network = Network(layer_units, "tanh", loss, dtype=np.float32)
    network.initialize(rng)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype(np.float32)
    y = make_targets(target_kind, N_SAMPLES, n_outputs, rng).astype(np.float32)
    sample_weight = random_sample_weight(rng).astype(np.float32)
    workspace = Workspace(layer_units, N_SAMPLES, np.float32)
    if sparse_input:
        X = sp.csr_matrix(X)

    loss_value = network.loss_gradient(X, y, sample_weight, 0.1, workspace)
    raw, prediction = network.predict_raw(X)

    assert np.isfinite(loss_value)
    arrays = {
        "params": network.params,
        "grads": network.grads,
        "raw": raw,
        "prediction": prediction,
        "workspace.raw": workspace.raw,
        "workspace.prediction": workspace.prediction,
        "workspace.l2_term": workspace.l2_term,
    }
    for i, layer in enumerate(network.layers):
        arrays[f"coefs[{i}]"] = network.coefs[i]
        arrays[f"intercepts[{i}]"] = network.intercepts[i]
        arrays[f"layers[{i}].coef_grad"] = layer.coef_grad
        arrays[f"layers[{i}].intercept_grad"] = layer.intercept_grad
    for i, buffer in enumerate(workspace.outputs):
        arrays[f"workspace.outputs[{i}]"] = buffer
    for i, buffer in enumerate(workspace.deltas):
        arrays[f"workspace.deltas[{i}]"] = buffer
    dtypes = {name: array.dtype for name, array in arrays.items()}
    assert dtypes == dict.fromkeys(arrays, np.dtype(np.float32))


def test_float32_gradient_is_close_to_float64_gradient():
    network64, X, y, rng = make_problem(
        [N_FEATURES, 5, 3, 3], "logistic", "log_loss", "one_hot"
    )
    sample_weight = random_sample_weight(rng)
    network32 = Network(network64.layer_units, "logistic", "log_loss", np.float32)
    network32.params[:] = network64.params

    loss64 = loss_at(network64, X, y, sample_weight, 0.1)
    loss32 = loss_at(
        network32,
        X.astype(np.float32),
        y.astype(np.float32),
        sample_weight.astype(np.float32),
        0.1,
    )

    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(network32.grads, network64.grads, rtol=1e-3, atol=1e-5)


def test_pickle_round_trip_rebuilds_the_views():
    network, X, y, _ = make_problem(LAYOUT_UNITS, "relu", "log_loss", "one_hot")
    loss_at(network, X, y, None, 0.1)
    raw_before, prediction_before = network.predict_raw(X)

    restored = pickle.loads(pickle.dumps(network))

    np.testing.assert_array_equal(restored.params, network.params)
    assert not np.shares_memory(restored.params, network.params)
    # The gradient of the last step is not kept, but its buffer is rebuilt.
    assert restored.grads.shape == network.grads.shape
    assert restored.grads.dtype == network.grads.dtype
    assert not np.shares_memory(restored.grads, restored.params)
    assert restored.layer_units == network.layer_units
    assert restored.out_activation == network.out_activation
    for layer, coef, intercept in zip(
        restored.layers, restored.coefs, restored.intercepts, strict=True
    ):
        assert layer.coef is coef
        assert layer.intercept is intercept
        assert np.shares_memory(coef, restored.params)
        assert np.shares_memory(intercept, restored.params)
        assert np.shares_memory(layer.coef_grad, restored.grads)
        assert np.shares_memory(layer.intercept_grad, restored.grads)

    raw_after, prediction_after = restored.predict_raw(X)
    np.testing.assert_array_equal(raw_after, raw_before)
    np.testing.assert_array_equal(prediction_after, prediction_before)

    # Writing through the restored params reaches its layers.
    restored.params[:] = 0.0
    raw_zero, _ = restored.predict_raw(X)
    np.testing.assert_array_equal(raw_zero, np.zeros_like(raw_zero))


def test_pickle_round_trip_keeps_training_working():
    network, X, y, rng = make_problem(LAYOUT_UNITS, "tanh", "log_loss", "one_hot")
    sample_weight = random_sample_weight(rng)
    restored = pickle.loads(pickle.dumps(network))

    expected_loss = loss_at(network, X, y, sample_weight, 0.1)
    restored_loss = loss_at(restored, X, y, sample_weight, 0.1)

    assert restored_loss == expected_loss
    np.testing.assert_array_equal(restored.grads, network.grads)
    for layer in restored.layers:
        assert np.shares_memory(layer.coef_grad, restored.grads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pickle_holds_the_params_once(dtype):
    network = Network([50, 40, 30, 10], "relu", "log_loss", dtype=dtype)
    network.initialize(np.random.RandomState(0))

    size = len(pickle.dumps(network))

    # The params are kept once, beside a few hundred bytes of metadata; neither
    # the views, which would hold them a second time, nor the gradient, which
    # holds nothing between steps, are kept.
    assert network.params.nbytes < size < network.params.nbytes + 2048
    assert size < network.params.nbytes + network.grads.nbytes


GLOROT_UNITS = [[30, 20, 10, 3], [6, 1], [12, 40, 2]]


@pytest.mark.parametrize("layer_units", GLOROT_UNITS, ids=str)
@pytest.mark.parametrize("activation", list(HIDDEN_ACTIVATIONS))
def test_glorot_draws_equal_those_of_random_state_in_order(activation, layer_units):
    seed = 42
    network = Network(layer_units, activation, "log_loss")

    network.initialize(np.random.RandomState(seed))

    factor = 2.0 if activation == "logistic" else 6.0
    reference = np.random.RandomState(seed)
    for coef, intercept in zip(network.coefs, network.intercepts, strict=True):
        fan_in, fan_out = coef.shape
        bound = np.sqrt(factor / (fan_in + fan_out))
        np.testing.assert_array_equal(
            coef, reference.uniform(-bound, bound, (fan_in, fan_out))
        )
        np.testing.assert_array_equal(
            intercept, reference.uniform(-bound, bound, fan_out)
        )


@pytest.mark.parametrize(
    "activation, factor",
    [("logistic", 2.0), ("identity", 6.0), ("tanh", 6.0), ("relu", 6.0)],
)
def test_glorot_bounds(activation, factor):
    layer_units = [60, 40, 20]
    network = Network(layer_units, activation, "squared_error")

    network.initialize(np.random.RandomState(0))

    for coef, intercept in zip(network.coefs, network.intercepts, strict=True):
        fan_in, fan_out = coef.shape
        bound = np.sqrt(factor / (fan_in + fan_out))
        assert np.abs(coef).max() <= bound
        assert np.abs(intercept).max() <= bound
        # Thousands of uniform draws come close to both ends of the interval.
        assert coef.max() > 0.97 * bound
        assert coef.min() < -0.97 * bound


def test_initialize_draws_in_float64_for_a_float32_network():
    layer_units = [8, 6, 3]
    network64 = Network(layer_units, "relu", "log_loss", dtype=np.float64)
    network32 = Network(layer_units, "relu", "log_loss", dtype=np.float32)

    network64.initialize(np.random.RandomState(3))
    network32.initialize(np.random.RandomState(3))

    assert network32.params.dtype == np.float32
    np.testing.assert_array_equal(network32.params, network64.params.astype(np.float32))


def test_initialize_consumes_exactly_the_parameter_draws():
    network = Network([5, 4, 3], "tanh", "log_loss")
    random_state = np.random.RandomState(7)
    reference = np.random.RandomState(7)

    network.initialize(random_state)
    reference.uniform(size=network.params.size)

    assert random_state.uniform() == reference.uniform()


@pytest.mark.parametrize("activation", sorted(HIDDEN_ACTIVATIONS))
@pytest.mark.parametrize("output_kind", sorted(OUTPUT_KINDS))
def test_training_step_allocates_no_layer_sized_arrays(activation, output_kind):
    """A step (gradient and Adam update) works in preallocated buffers: what it
    allocates (NumPy's fixed-size iteration buffers, per-sample vectors) stays
    far below the size of one layer's output."""
    loss, n_outputs, target_kind = OUTPUT_KINDS[output_kind]
    rng = np.random.RandomState(0)
    layer_units = [32, 512, 256, n_outputs]
    n_samples = 256
    network = Network(layer_units, activation, loss)
    network.initialize(rng)
    X = rng.standard_normal((n_samples, layer_units[0]))
    y = make_targets(target_kind, n_samples, n_outputs, rng)
    sample_weight = rng.uniform(0.5, 2.0, n_samples)
    workspace = Workspace(layer_units, n_samples, np.float64)
    optimizer = Adam(network.params)
    network.loss_gradient(X, y, sample_weight, 0.1, workspace)
    optimizer.step(network.params, network.grads)  # allocates its scratch once

    tracemalloc.start()
    try:
        network.loss_gradient(X, y, sample_weight, 0.1, workspace)
        optimizer.step(network.params, network.grads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    smallest_hidden_output = n_samples * min(layer_units[1:-1]) * 8
    assert peak < smallest_hidden_output / 4


def test_assigning_a_view_copies_into_the_buffer():
    network = Network([3, 4, 2], "tanh", "log_loss")
    first_coef = network.coefs[0]
    new_coef = np.arange(12.0).reshape(3, 4)

    network.coefs[0] = new_coef
    network.intercepts[:] = [np.ones(4), np.full(2, 2.0)]

    assert network.coefs[0] is first_coef
    np.testing.assert_array_equal(network.params[:12], new_coef.ravel())
    np.testing.assert_array_equal(network.params[-6:], [1, 1, 1, 1, 2, 2])
    with pytest.raises(ValueError, match=r"coefs\[0\] of shape \(3, 4\) to an array"):
        network.coefs[0] = np.ones((4, 3))
    with pytest.raises(ValueError, match="Got 1 arrays for 2 coefs"):
        network.coefs[:] = [new_coef]
    with pytest.raises(TypeError, match="cannot be added, removed or reordered"):
        network.coefs.append(new_coef)


def test_a_failing_assignment_changes_no_view():
    network = Network([3, 4, 2], "tanh", "log_loss")
    network.initialize(np.random.RandomState(0))
    before = network.params.copy()

    with pytest.raises(ValueError, match=r"intercepts\[1\] of shape \(2,\)"):
        network.intercepts[:] = [np.zeros(4), np.zeros(3)]

    np.testing.assert_array_equal(network.params, before)


def test_views_can_be_reassigned_from_each_other():
    network = Network([2, 2, 2, 2], "relu", "log_loss")
    network.initialize(np.random.RandomState(0))
    first, last = network.coefs[0].copy(), network.coefs[2].copy()

    network.coefs[0:3:2] = [network.coefs[2], network.coefs[0]]

    np.testing.assert_array_equal(network.coefs[0], last)
    np.testing.assert_array_equal(network.coefs[2], first)
