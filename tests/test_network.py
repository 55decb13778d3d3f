"""Tests of :mod:`sknn_scratch.core.network`.

The central test compares the analytic gradient that
:meth:`~sknn_scratch.core.network.Network.loss_gradient` writes into ``grads``
with a central finite difference of the loss it returns, over every parameter
of the flat buffer, for every hidden activation and every kind of output, with
and without L2 penalty and sample weights. The other tests pin down the buffer
layout and its views, the agreement between training and prediction, sparse and
float32 inputs, pickling, and the Glorot initialisation.

Networks with one activation per hidden layer are checked the same way, and
their Glorot factors layer by layer; the last tests check the estimators'
``activation`` given as a list. The allocation test covers every hidden
activation, with and without dropout.

The finite differences use float64, small networks, a step of ``1e-6`` and a
relative tolerance of ``1e-6``; networks with a kinked activation (ReLU, leaky
ReLU, and the ELU, whose second derivative jumps at zero) are checked on inputs
whose pre-activations all stay away from zero.
"""

import pickle
import tracemalloc
import warnings
from itertools import pairwise

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch.core import network as network_module
from sknn_scratch.core.activations import HIDDEN_ACTIVATIONS
from sknn_scratch.core.layers import Dense, Dropout
from sknn_scratch.core.network import Network, Workspace
from sknn_scratch.core.optimizers import Adam, step_work_size

N_SAMPLES = 7
N_FEATURES = 4
HIDDEN_SIZES = [5, 3]
FD_STEP = 1e-6
FD_RTOL = 1e-6
KINK_MARGIN = 1e-4
KINKED_ACTIVATIONS = {"relu", "leaky_relu", "elu"}

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
    pre_activations = []
    inputs = X
    for coef, intercept, name in zip(
        network.coefs[:-1], network.intercepts[:-1], network.activations, strict=True
    ):
        z = inputs @ coef + intercept
        pre_activations.append(z)
        inputs = HIDDEN_ACTIVATIONS[name].forward(z.copy())
    return pre_activations


def make_problem(layer_units, activation, loss, target_kind, seed=0):
    """Return an initialised network and data ``X, y`` for a gradient check.

    For a kinked activation, the seed is advanced until no pre-activation of
    its layers lies within ``KINK_MARGIN`` of zero, so that the finite
    differences never cross a kink.
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
        if all(
            np.abs(z).min() > KINK_MARGIN
            for z, name in zip(pre_activations, network.activations, strict=True)
            if name in KINKED_ACTIVATIONS
        ):
            return network, X, y, rng
    raise RuntimeError("no seed keeps the pre-activations off the kinks")


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


MIXED_ACTIVATIONS = [
    ["gelu_tanh", "relu"],
    ["silu", "logistic"],
    ["leaky_relu", "softplus", "elu"],
    ["tanh", "identity", "gelu_tanh"],
]


@pytest.mark.parametrize(
    "output_kind", ["softmax_multiclass", "identity_multi_output", "exp_poisson"]
)
@pytest.mark.parametrize("activations", MIXED_ACTIVATIONS, ids="-".join)
def test_gradient_with_one_activation_per_layer_matches_finite_differences(
    activations, output_kind
):
    loss, n_outputs, target_kind = OUTPUT_KINDS[output_kind]
    hidden_sizes = [5, 3, 4][: len(activations)]
    layer_units = [N_FEATURES, *hidden_sizes, n_outputs]
    network, X, y, rng = make_problem(layer_units, activations, loss, target_kind)
    sample_weight = random_sample_weight(rng)

    assert [layer.activation.name for layer in network.layers[:-1]] == activations
    assert_gradient_matches(network, X, y, sample_weight, alpha=0.1)


def test_each_hidden_layer_gets_its_own_activation():
    network = Network([3, 4, 5, 2], ("silu", "elu"), "log_loss")

    assert network.activation == ["silu", "elu"]
    assert network.activations == ["silu", "elu"]
    assert [layer.activation.name for layer in network.layers] == [
        "silu",
        "elu",
        "softmax",
    ]
    assert Network([3, 4, 5, 2], "elu", "log_loss").activations == ["elu", "elu"]


@pytest.mark.parametrize(
    "activation, match",
    [
        (["relu"], "holds 1 names, one per hidden layer, but the network has 2"),
        (["relu", "tanh", "elu"], "holds 3 names, .* has 2 hidden layers"),
        (["relu", "gelu"], "Unknown hidden activation 'gelu' for hidden layer 1"),
        ("swish", "Unknown hidden activation 'swish'; choose from"),
    ],
)
def test_network_rejects_activations_that_do_not_fit_its_layers(activation, match):
    with pytest.raises(ValueError, match=match):
        Network([3, 4, 5, 2], activation, "log_loss")


def test_a_list_of_one_repeated_name_is_the_single_name():
    single, X, y, _ = make_problem([N_FEATURES, 5, 3, 2], "tanh", "log_loss", "one_hot")
    repeated = Network(single.layer_units, ["tanh", "tanh"], "log_loss")
    single.initialize(np.random.RandomState(4))
    repeated.initialize(np.random.RandomState(4))

    np.testing.assert_array_equal(repeated.params, single.params)
    assert loss_at(repeated, X, y, None, 0.1) == loss_at(single, X, y, None, 0.1)
    np.testing.assert_array_equal(repeated.grads, single.grads)


def test_activations_that_need_z_get_a_kept_buffer_and_no_other_layer_does():
    network, X, y, _ = make_problem(
        [N_FEATURES, 5, 3, 4, 2], ["silu", "relu", "gelu_tanh"], "log_loss", "one_hot"
    )
    workspace = Workspace(network.layer_units, 2 * N_SAMPLES, np.float64)

    network.loss_gradient(X, y, None, 0.0, workspace)

    # The buffers live in a private list: the public accessor would make them.
    kept = workspace._pre_activations
    assert kept[1] is None
    assert kept[0].shape == (2 * N_SAMPLES, 5)
    assert kept[2].shape == (2 * N_SAMPLES, 4)
    # SiLU reads its z without changing it, so the buffer still holds it.
    np.testing.assert_allclose(
        kept[0][:N_SAMPLES], hidden_pre_activations(network, X)[0], rtol=1e-14
    )
    assert workspace.pre_activations(0, N_SAMPLES).base is kept[0]


def test_backward_of_an_activation_that_needs_z_refuses_to_run_without_it():
    network = Network([3, 4, 2], "silu", "log_loss")
    layer = network.layers[0]
    outputs = layer.forward(np.ones((2, 3)))

    with pytest.raises(ValueError, match="'silu' activation is written from the"):
        layer.backward(np.ones((2, 3)), outputs, np.ones((2, 4)))


REFERENCE_HIDDEN_FUNCTIONS = {
    "identity": lambda z: z,
    "logistic": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0.0)) - 1.0),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "silu": lambda z: z / (1.0 + np.exp(-z)),
    "gelu_tanh": lambda z: (
        0.5 * z * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3)))
    ),
}


def reference_forward(network, X):
    """Return ``(raw, prediction)`` by an independent plain NumPy forward pass."""
    inputs = X
    for coef, intercept, name in zip(
        network.coefs[:-1], network.intercepts[:-1], network.activations, strict=True
    ):
        inputs = REFERENCE_HIDDEN_FUNCTIONS[name](inputs @ coef + intercept)
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


@pytest.mark.parametrize("activation", list(HIDDEN_ACTIVATIONS))
@pytest.mark.parametrize(
    "input_kind", ["dense", "fortran", "float32", "csr", "csc"], ids=str
)
def test_predict_raw_in_chunks_equals_one_pass(monkeypatch, input_kind, activation):
    # 103 rows of a widest layer of 5 units, in chunks of at most 100 values
    # aligned on 16 rows: five chunks of 16 rows and a last one of 23.
    network, _, _, rng = make_problem(
        [N_FEATURES, 5, 3, 2], activation, "log_loss", "one_hot"
    )
    X = rng.normal(size=(103, N_FEATURES))
    X = {
        "dense": X,
        "fortran": np.asfortranarray(X),
        "float32": X.astype(np.float32),
        "csr": sp.csr_matrix(np.where(X > 0.3, X, 0.0)),
        "csc": sp.csc_matrix(np.where(X > 0.3, X, 0.0)),
    }[input_kind]
    raw_one_pass, prediction_one_pass = network.predict_raw(X)

    monkeypatch.setattr(network_module, "PREDICT_CHUNK_ELEMENTS", 100)
    monkeypatch.setattr(network_module, "PREDICT_CHUNK_ALIGNMENT", 16)
    layer_calls = []
    original_forward = Dense.forward

    def counting_forward(layer, inputs, *args, **kwargs):
        layer_calls.append(inputs.shape[0])
        return original_forward(layer, inputs, *args, **kwargs)

    monkeypatch.setattr(Dense, "forward", counting_forward)
    raw, prediction = network.predict_raw(X)

    first_layer_rows = layer_calls[::2]
    assert first_layer_rows == [16, 16, 16, 16, 16, 23]
    assert raw.dtype == prediction.dtype == np.float64
    np.testing.assert_array_equal(raw, raw_one_pass)
    np.testing.assert_array_equal(prediction, prediction_one_pass)
    expected_raw, _ = reference_forward(network, X)
    np.testing.assert_allclose(raw, expected_raw, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("input_kind", ["dense", "csc"])
def test_predict_raw_in_chunks_is_bit_identical_at_full_size(
    monkeypatch, input_kind, n_threads
):
    # Chunks that ended inside a block of the BLAS kernel's rows (2**20 // 60 =
    # 17,476 rows, say) gave some rows other last bits than one pass; aligned
    # ones (17,408 rows) do not, on one thread or two.
    network = Network([50, 60, 3], "relu", "log_loss")
    network.initialize(np.random.RandomState(0))
    X = np.random.RandomState(1).normal(size=(40_000, 50))
    if input_kind == "csc":
        X = sp.csc_matrix(np.where(X > 1.0, X, 0.0))

    assert network_module._prediction_chunks(40_000, 60)[1] == (17_408, 34_816)
    with threadpool_limits(limits=n_threads, user_api="blas"):
        chunked_raw, _ = network.predict_raw(X)
        monkeypatch.setattr(network_module, "PREDICT_CHUNK_ELEMENTS", 2**40)
        one_pass_raw, _ = network.predict_raw(X)

    np.testing.assert_array_equal(chunked_raw, one_pass_raw)


def test_predict_raw_allocates_no_hidden_array_for_all_rows():
    # Four hidden layers of 256 units: 78 MiB each for 40,000 rows at once.
    # Prediction keeps two arrays for them, used in turn, and a scratch.
    network = Network([8, 256, 256, 256, 256, 3], "relu", "log_loss")
    network.initialize(np.random.RandomState(0))
    X = np.random.RandomState(1).normal(size=(40_000, 8))
    network.predict_raw(X[:10])

    tracemalloc.start()
    raw, prediction = network.predict_raw(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    results = raw.nbytes + prediction.nbytes
    largest_chunk = max(
        stop - start for start, stop in network_module._prediction_chunks(40_000, 256)
    )
    chunk_arrays = 3 * largest_chunk * 256 * 8
    numpy_iteration_buffers = 3 * 8192 * 8
    assert peak <= results + chunk_arrays + numpy_iteration_buffers
    assert peak < 40_000 * 256 * 8 / 2


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


def test_kept_pre_activations_and_masks_follow_a_float32_network():
    rng = np.random.RandomState(0)
    layer_units = [N_FEATURES, 5, 3, 2]
    network = Network(layer_units, ["gelu_tanh", "silu"], "log_loss", np.float32)
    network.initialize(rng)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype(np.float32)
    y = make_targets("one_hot", N_SAMPLES, 2, rng).astype(np.float32)
    dropout = Dropout([0.3, 0.3], np.random.default_rng(0))
    workspace = Workspace(layer_units, N_SAMPLES, np.float32, dropout)

    loss = network.loss_gradient(X, y, None, 0.1, workspace)

    assert np.isfinite(loss)
    buffers = [*workspace._pre_activations, *workspace.masks, network.grads]
    assert {buffer.dtype for buffer in buffers} == {np.dtype(np.float32)}


@pytest.mark.parametrize("activation", ["gelu_tanh", "silu"])
def test_sparse_input_equals_dense_for_a_first_layer_that_keeps_z(activation):
    network, X, y, rng = make_problem(
        [N_FEATURES, 5, 3], activation, "log_loss", "one_hot"
    )
    X[rng.uniform(size=X.shape) < 0.5] = 0.0

    dense_loss = loss_at(network, X, y, None, 0.1)
    dense_grads = network.grads.copy()
    sparse_loss = loss_at(network, sp.csr_matrix(X), y, None, 0.1)

    assert sparse_loss == pytest.approx(dense_loss, rel=1e-13)
    np.testing.assert_allclose(network.grads, dense_grads, rtol=1e-12, atol=1e-15)


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


def test_pickle_round_trip_keeps_one_activation_per_layer():
    network, X, y, rng = make_problem(
        [N_FEATURES, 5, 3, 2], ["gelu_tanh", "leaky_relu"], "log_loss", "one_hot"
    )
    sample_weight = random_sample_weight(rng)

    restored = pickle.loads(pickle.dumps(network))

    assert restored.activation == ["gelu_tanh", "leaky_relu"]
    assert [layer.activation.name for layer in restored.layers[:-1]] == [
        "gelu_tanh",
        "leaky_relu",
    ]
    assert loss_at(restored, X, y, sample_weight, 0.1) == loss_at(
        network, X, y, sample_weight, 0.1
    )


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


@pytest.mark.parametrize(
    "activation, factors",
    [
        (["logistic", "relu"], [2.0, 6.0, 6.0]),
        (["relu", "logistic"], [6.0, 2.0, 2.0]),
        (["gelu_tanh", "softplus"], [6.0, 6.0, 6.0]),
        ("logistic", [2.0, 2.0, 2.0]),
    ],
)
def test_glorot_factors_follow_each_layers_activation(activation, factors):
    layer_units = [30, 20, 10, 3]
    network = Network(layer_units, activation, "log_loss")

    network.initialize(np.random.RandomState(42))

    assert network.glorot_factors() == factors
    reference = np.random.RandomState(42)
    for coef, intercept, factor in zip(
        network.coefs, network.intercepts, factors, strict=True
    ):
        bound = np.sqrt(factor / sum(coef.shape))
        np.testing.assert_array_equal(
            coef, reference.uniform(-bound, bound, coef.shape)
        )
        np.testing.assert_array_equal(
            intercept, reference.uniform(-bound, bound, intercept.shape)
        )


@pytest.mark.parametrize(
    "activation, factor", [("logistic", 2.0), ("relu", 6.0), ([], 6.0)]
)
def test_glorot_factor_of_a_network_without_hidden_layers(activation, factor):
    # scikit-learn gives the output layer the factor of the activation even
    # when no hidden layer uses it; an empty list names none.
    assert Network([5, 2], activation, "log_loss").glorot_factors() == [factor]


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


# Every hidden activation with and without dropout, and every output with one
# activation of each kind (derivative from a, derivative from z): the hidden
# layers' code does not depend on the output, nor the output's on them.
ALLOCATION_CASES = sorted(
    {
        (activation, "softmax_multiclass", rate)
        for activation in HIDDEN_ACTIVATIONS
        for rate in (0.0, 0.5)
    }
    | {
        (activation, output_kind, 0.0)
        for activation in ("relu", "gelu_tanh")
        for output_kind in OUTPUT_KINDS
    }
)


@pytest.mark.parametrize("activation, output_kind, dropout_rate", ALLOCATION_CASES)
def test_training_step_allocates_no_layer_sized_arrays(
    activation, output_kind, dropout_rate
):
    """A step (gradient and Adam update, in work memory lent by the workspace
    as in training) works in preallocated buffers: what it allocates stays
    within NumPy's iteration buffers of 8,192 values for broadcasting
    operations (one at a time; two for the outer product of a one-unit output
    layer) and a few per-sample vectors, below the size of one layer's output.
    The buffers that only some activations need are made by the first step,
    and the dropout masks with the workspace."""
    loss, n_outputs, target_kind = OUTPUT_KINDS[output_kind]
    rng = np.random.RandomState(0)
    layer_units = [32, 512, 256, n_outputs]
    n_samples = 256
    network = Network(layer_units, activation, loss)
    network.initialize(rng)
    X = rng.standard_normal((n_samples, layer_units[0]))
    y = make_targets(target_kind, n_samples, n_outputs, rng)
    sample_weight = rng.uniform(0.5, 2.0, n_samples)
    dropout = None
    if dropout_rate:
        dropout = Dropout([dropout_rate] * 2, np.random.default_rng(0))
    workspace = Workspace(
        layer_units,
        n_samples,
        np.float64,
        dropout,
        work_size=step_work_size(network.params.size),
    )
    optimizer = Adam(network.params)
    network.loss_gradient(X, y, sample_weight, 0.1, workspace)
    optimizer.step(network.params, network.grads, workspace.work)

    tracemalloc.start()
    try:
        network.loss_gradient(X, y, sample_weight, 0.1, workspace)
        optimizer.step(network.params, network.grads, workspace.work)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert optimizer._scratch is None  # the step used the lent memory only
    iteration_buffers = (2 if n_outputs == 1 else 1) * 8192 * 8
    per_sample_vectors = 16 * n_samples * 8
    smallest_hidden_output = n_samples * min(layer_units[1:-1]) * 8
    assert iteration_buffers + per_sample_vectors < smallest_hidden_output / 2
    assert peak < iteration_buffers + per_sample_vectors
    if dropout_rate:
        # The step did drop units: about half of each mask is zero.
        for mask in workspace.masks:
            assert 0.45 < np.mean(mask == 0) < 0.55


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


# --------------------------------------------------------------------------------
# One activation per hidden layer, through the estimators


def fit_estimator(estimator_class, **params):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, N_FEATURES))
    signal = X @ rng.normal(size=N_FEATURES)
    y = (signal > 0).astype(int) if estimator_class is ScratchMLPClassifier else signal
    settings = {"hidden_layer_sizes": (6, 4), "max_iter": 5, "random_state": 0}
    estimator = estimator_class(**{**settings, **params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y), X, y


ESTIMATORS = [ScratchMLPClassifier, ScratchMLPRegressor]


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_estimators_train_one_activation_per_hidden_layer(estimator_class):
    estimator, X, _ = fit_estimator(estimator_class, activation=["gelu_tanh", "elu"])

    assert estimator._network.activations == ["gelu_tanh", "elu"]
    raw, _ = reference_forward(estimator._network, X)
    if estimator_class is ScratchMLPClassifier:
        expected = 1 / (1 + np.exp(-raw[:, 0]))
        np.testing.assert_allclose(estimator.predict_proba(X)[:, 1], expected)
    else:
        np.testing.assert_allclose(estimator.predict(X), raw[:, 0], rtol=1e-12)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_a_repeated_name_trains_the_network_of_the_single_name(estimator_class):
    single, _, _ = fit_estimator(estimator_class, activation="logistic")
    repeated, _, _ = fit_estimator(estimator_class, activation=("logistic",) * 2)

    np.testing.assert_array_equal(repeated._network.params, single._network.params)
    assert repeated.loss_curve_ == single.loss_curve_


@pytest.mark.parametrize(
    "activation, error, match",
    [
        (
            ["relu"],
            ValueError,
            r"activation holds 1 name\(s\) but hidden_layer_sizes=\(6, 4\) gives 2",
        ),
        (["relu", "tanh", "elu"], ValueError, r"holds 3 name\(s\)"),
        (
            ["relu", "gelu"],
            InvalidParameterError,
            r"Each name in the 'activation' parameter of Scratch.* must be a str "
            r"among \{'elu', .*\}\. Got 'gelu' for hidden layer 1 instead\.",
        ),
        ([["relu"], "tanh"], InvalidParameterError, r"Got \['relu'\] for hidden"),
        ("gelu", InvalidParameterError, "The 'activation' parameter of"),
    ],
    ids=str,
)
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_estimators_refuse_activations_that_do_not_fit_the_layers(
    estimator_class, activation, error, match
):
    with pytest.raises(error, match=match):
        fit_estimator(estimator_class, activation=activation)


def test_clone_keeps_a_list_of_activations():
    estimator = ScratchMLPClassifier((6, 4), activation=["silu", "relu"])

    assert clone(estimator).get_params()["activation"] == ["silu", "relu"]


def test_a_warm_start_compares_the_activations_layer_by_layer():
    estimator, X, y = fit_estimator(ScratchMLPClassifier, warm_start=True)

    # 'relu' and ['relu', 'relu'] are the same network: training goes on.
    estimator.set_params(activation=["relu", "relu"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, y)
    assert len(estimator.loss_curve_) == 10

    estimator.set_params(activation=["relu", "tanh"])
    with pytest.raises(
        ValueError,
        match=r"has activation 'relu', but this call asks for \['relu', 'tanh'\]",
    ):
        estimator.fit(X, y)


def test_the_l2_gradient_of_a_network_larger_than_one_chunk_is_exact():
    # More weights than one chunk of the L2 term, and not a multiple of it.
    from sknn_scratch.core.network import L2_CHUNK

    network = Network([300, 250, 3], "tanh", "log_loss")
    network.initialize(np.random.RandomState(0))
    assert network.n_coef > 2 * L2_CHUNK and network.n_coef % L2_CHUNK
    rng = np.random.RandomState(1)
    X = rng.standard_normal((10, 300))
    y = np.eye(3)[rng.randint(0, 3, 10)]
    workspace = Workspace(network.layer_units, 10, np.float64)
    alpha = 0.5

    network.loss_gradient(X, y, None, 0.0, workspace)
    unregularised = network.grads.copy()
    network.loss_gradient(X, y, None, alpha, workspace)

    expected = unregularised.copy()
    expected[: network.n_coef] += alpha * network.params[: network.n_coef] / 10
    np.testing.assert_allclose(network.grads, expected, rtol=1e-12, atol=1e-15)
    assert workspace.l2_term.size == L2_CHUNK
