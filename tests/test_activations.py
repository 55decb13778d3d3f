"""Tests of :mod:`sknn_scratch.core.activations`.

Each hidden activation's derivative is checked against a finite difference of
its forward pass; the logistic, softmax and log-probability functions against
closed forms, at moderate and at extreme arguments where a naive formula would
overflow or take log(0); and the in-place contract of ``forward`` and
``scale_delta``.
"""

import warnings

import numpy as np
import pytest

from sknn_scratch.core.activations import (
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    Activation,
    log_logistic,
    log_softmax,
)

FD_STEP = 1e-6
EPS = np.finfo(np.float64).eps


def exact_log_logistic(z):
    """``log(1 / (1 + exp(-z)))``, by the formula that is exact on each side of 0."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(
        z >= 0, -np.log1p(np.exp(-np.abs(z))), z - np.log1p(np.exp(-np.abs(z)))
    )


def forward_copy(activation, z):
    """Return ``activation.forward`` of a copy of ``z``, leaving ``z`` untouched."""
    return activation.forward(np.array(z, dtype=np.float64, copy=True))


def test_activation_registries():
    assert sorted(HIDDEN_ACTIVATIONS) == ["identity", "logistic", "relu", "tanh"]
    assert sorted(OUTPUT_ACTIVATIONS) == ["exp", "identity", "logistic", "softmax"]
    for registry in (HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS):
        for name, activation in registry.items():
            assert isinstance(activation, Activation)
            assert activation.name == name
            assert repr(activation) == f"{type(activation).__name__}()"


@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_scale_delta_equals_numerical_derivative(name):
    activation = HIDDEN_ACTIVATIONS[name]
    rng = np.random.RandomState(0)
    z = rng.uniform(-4.0, 4.0, size=(6, 5))
    # Keep ReLU's inputs away from its kink at zero.
    z[np.abs(z) < 1e-2] = 0.5
    upstream = rng.normal(size=z.shape)
    a = forward_copy(activation, z)

    delta = upstream.copy()
    activation.scale_delta(a, delta)

    derivative = (
        forward_copy(activation, z + FD_STEP) - forward_copy(activation, z - FD_STEP)
    ) / (2 * FD_STEP)
    np.testing.assert_allclose(delta, upstream * derivative, rtol=1e-7, atol=1e-9)


CLOSED_FORM_DERIVATIVES = {
    "identity": np.ones_like,
    "logistic": lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2,
    "tanh": lambda z: 1.0 / np.cosh(z) ** 2,
    "relu": lambda z: (z > 0).astype(np.float64),
}


@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_scale_delta_equals_closed_form_derivative(name):
    activation = HIDDEN_ACTIVATIONS[name]
    rng = np.random.RandomState(7)
    z = rng.uniform(-6.0, 6.0, size=(8, 5))
    upstream = rng.normal(size=z.shape)
    a = forward_copy(activation, z)

    delta = upstream.copy()
    activation.scale_delta(a, delta)

    expected = upstream * CLOSED_FORM_DERIVATIVES[name](z)
    np.testing.assert_allclose(delta, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "name, derivative_at_zero", [("identity", 1.0), ("relu", 0.0), ("tanh", 1.0)]
)
def test_scale_delta_at_zero(name, derivative_at_zero):
    activation = HIDDEN_ACTIVATIONS[name]
    a = forward_copy(activation, np.zeros((2, 3)))
    delta = np.full((2, 3), 2.5)

    activation.scale_delta(a, delta)

    np.testing.assert_array_equal(delta, np.full((2, 3), 2.5 * derivative_at_zero))


@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_scale_delta_works_in_place_and_leaves_outputs_alone(name):
    activation = HIDDEN_ACTIVATIONS[name]
    rng = np.random.RandomState(1)
    a = forward_copy(activation, rng.uniform(-3.0, 3.0, size=(4, 3)))
    a_before = a.copy()
    delta = rng.normal(size=a.shape)
    delta_object = delta

    returned = activation.scale_delta(a, delta)

    assert returned is None
    assert delta is delta_object
    np.testing.assert_array_equal(a, a_before)


@pytest.mark.parametrize("registry", [HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS])
def test_forward_returns_the_same_array_it_overwrites(registry):
    rng = np.random.RandomState(2)
    for name, activation in registry.items():
        z = rng.uniform(-2.0, 2.0, size=(5, 3))
        z_before = z.copy()

        a = activation.forward(z)

        assert a is z, name
        if name != "identity":
            assert not np.array_equal(z, z_before), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_keeps_the_dtype(dtype):
    z_values = np.linspace(-3.0, 3.0, 12).reshape(4, 3)
    for registry in (HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS):
        for name, activation in registry.items():
            z = z_values.astype(dtype)

            assert activation.forward(z).dtype == dtype, name


def test_hidden_forward_values():
    z = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])

    expected = {
        "identity": z,
        "logistic": 1.0 / (1.0 + np.exp(-z)),
        "tanh": np.tanh(z),
        "relu": np.array([[0.0, 0.0, 0.0, 0.5, 3.0]]),
    }
    for name, activation in HIDDEN_ACTIVATIONS.items():
        np.testing.assert_allclose(
            forward_copy(activation, z), expected[name], rtol=1e-15, atol=EPS
        )


def test_exp_forward_values():
    z = np.array([[-3.0, 0.0, 1.0, 20.0]])

    np.testing.assert_allclose(
        forward_copy(OUTPUT_ACTIVATIONS["exp"], z), np.exp(z), rtol=1e-15
    )


@pytest.mark.parametrize("name", ["logistic", "identity"])
def test_hidden_and_output_registries_share_the_common_functions(name):
    z = np.linspace(-5.0, 5.0, 11).reshape(1, -1)

    np.testing.assert_array_equal(
        forward_copy(HIDDEN_ACTIVATIONS[name], z),
        forward_copy(OUTPUT_ACTIVATIONS[name], z),
    )


def test_logistic_equals_its_definition():
    z = np.linspace(-40.0, 40.0, 801).reshape(-1, 1)
    z_long = z.astype(np.longdouble)

    a = forward_copy(HIDDEN_ACTIVATIONS["logistic"], z)

    reference = (1 / (1 + np.exp(-z_long))).astype(np.float64)
    np.testing.assert_allclose(a, reference, rtol=4 * EPS, atol=EPS)


def test_logistic_is_symmetric_and_half_at_zero():
    z = np.linspace(-30.0, 30.0, 61).reshape(1, -1)
    logistic = HIDDEN_ACTIVATIONS["logistic"]

    a = forward_copy(logistic, z)

    assert a[0, 30] == 0.5
    np.testing.assert_allclose(a + forward_copy(logistic, -z), 1.0, rtol=0, atol=EPS)
    assert np.all(np.diff(a) >= 0)


def test_logistic_emits_no_warning_and_saturates_for_huge_logits():
    z = np.array([[-1e4, -1e3, -800.0, -50.0, 0.0, 50.0, 800.0, 1e3, 1e4]])

    with (
        warnings.catch_warnings(),
        np.errstate(over="warn", divide="warn", invalid="warn"),
    ):
        warnings.simplefilter("error")
        a = forward_copy(HIDDEN_ACTIVATIONS["logistic"], z)

    assert np.all(np.isfinite(a))
    assert np.all((a >= 0.0) & (a <= 1.0))
    np.testing.assert_array_equal(a[0, :3], 0.0)
    np.testing.assert_array_equal(a[0, -4:], 1.0)
    assert a[0, 4] == 0.5


def test_tanh_and_relu_emit_no_warning_for_huge_inputs():
    z = np.array([[-1e4, -800.0, 0.0, 800.0, 1e4]])

    with (
        warnings.catch_warnings(),
        np.errstate(over="warn", divide="warn", invalid="warn"),
    ):
        warnings.simplefilter("error")
        tanh = forward_copy(HIDDEN_ACTIVATIONS["tanh"], z)
        relu = forward_copy(HIDDEN_ACTIVATIONS["relu"], z)

    np.testing.assert_array_equal(tanh, [[-1.0, -1.0, 0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(relu, [[0.0, 0.0, 0.0, 800.0, 1e4]])


def test_softmax_rows_sum_to_one_and_match_definition():
    rng = np.random.RandomState(3)
    z = rng.normal(scale=3.0, size=(20, 4))

    p = forward_copy(OUTPUT_ACTIVATIONS["softmax"], z)

    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=4 * EPS)
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, expected, rtol=1e-14)


def test_softmax_is_invariant_to_a_shift_of_each_row():
    rng = np.random.RandomState(4)
    z = rng.normal(size=(5, 3))
    shifts = rng.uniform(-500.0, 500.0, size=(5, 1))
    softmax = OUTPUT_ACTIVATIONS["softmax"]

    np.testing.assert_allclose(
        forward_copy(softmax, z + shifts), forward_copy(softmax, z), rtol=1e-11
    )


def test_softmax_does_not_overflow_for_huge_logits():
    z = np.array(
        [
            [1e3, 0.0, -1e3],
            [1e3, 1e3, 1e3],
            [1e3, 1e3 - 1.0, -1e4],
            [-1e3, -1e3, -1e3 + 1.0],
        ]
    )

    with (
        warnings.catch_warnings(),
        np.errstate(over="warn", divide="warn", invalid="warn"),
    ):
        warnings.simplefilter("error")
        p = forward_copy(OUTPUT_ACTIVATIONS["softmax"], z)

    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=4 * EPS)
    np.testing.assert_array_equal(p[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(p[1], 1 / 3, rtol=1e-15)
    e = np.exp(-1.0)
    np.testing.assert_allclose(p[2], [1 / (1 + e), e / (1 + e), 0.0], rtol=1e-15)
    np.testing.assert_allclose(
        p[3], [1 / (2 + 1 / e)] * 2 + [1 / (1 + 2 * e)], rtol=1e-14
    )


def test_log_logistic_matches_exact_formula_over_a_wide_range():
    z = np.concatenate(
        [-np.logspace(-8, 4, 200), [0.0], np.logspace(-8, 4, 200)]
    ).reshape(-1, 1)

    log_p = log_logistic(z)

    assert np.all(np.isfinite(log_p))
    assert np.all(log_p <= 0.0)
    np.testing.assert_allclose(log_p, exact_log_logistic(z), rtol=4 * EPS, atol=0)


def test_log_logistic_matches_long_double_reference():
    if np.finfo(np.longdouble).maxexp <= np.finfo(np.float64).maxexp:
        pytest.skip("long double has no wider exponent range than double here")
    z = np.linspace(-700.0, 700.0, 1401)

    log_p = log_logistic(z)

    reference = -np.log1p(np.exp(-z.astype(np.longdouble)))
    np.testing.assert_allclose(log_p, reference.astype(np.float64), rtol=4 * EPS)


def test_log_logistic_known_limits():
    z = np.array([-1e4, -1000.0, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])

    with (
        warnings.catch_warnings(),
        np.errstate(over="warn", divide="warn", invalid="warn"),
    ):
        warnings.simplefilter("error")
        log_p = log_logistic(z)

    # log(sigmoid(z)) = z - log(1 + exp(z)), exactly z for very negative z.
    np.testing.assert_array_equal(log_p[:3], [-1e4, -1000.0, -800.0])
    np.testing.assert_allclose(log_p[3], -40.0 - np.exp(-40.0), rtol=EPS)
    assert log_p[4] == -np.log(2.0)
    # For z >> 0, log(sigmoid(z)) = -log1p(exp(-z)) ~ -exp(-z).
    np.testing.assert_allclose(log_p[5], -np.exp(-40.0), rtol=4 * EPS)
    np.testing.assert_array_equal(log_p[6:], 0.0)


def test_log_logistic_leaves_its_input_alone():
    z = np.array([[-3.0, 0.0, 2.0]])
    z_before = z.copy()

    log_p = log_logistic(z)

    np.testing.assert_array_equal(z, z_before)
    assert not np.shares_memory(log_p, z)


def test_log_softmax_matches_log_of_softmax_where_not_saturated():
    rng = np.random.RandomState(5)
    z = rng.normal(scale=4.0, size=(10, 5))

    log_p = log_softmax(z)

    expected = np.log(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(log_p, expected, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=1), 1.0, rtol=1e-15)


def test_log_softmax_of_two_classes_is_log_logistic_of_the_difference():
    rng = np.random.RandomState(6)
    a = rng.uniform(-1e3, 1e3, size=50)
    b = rng.uniform(-1e3, 1e3, size=50)

    log_p = log_softmax(np.column_stack([a, b]))

    # log(1 + tiny) of the larger logit is exact only up to an absolute eps.
    np.testing.assert_allclose(
        log_p[:, 0], exact_log_logistic(a - b), rtol=1e-12, atol=EPS
    )
    np.testing.assert_allclose(
        log_p[:, 1], exact_log_logistic(b - a), rtol=1e-12, atol=EPS
    )


def test_log_softmax_is_finite_and_exact_for_huge_logits():
    logit_rows = [
        [0.0, 1e3],
        [1e3, 1e3],
        [-1e4, 0.0, 1e4],
        [800.0, -800.0, 0.0],
        [-1e3, -1e3, -1e3 + 1.0],
    ]

    with (
        warnings.catch_warnings(),
        np.errstate(over="warn", divide="warn", invalid="warn"),
    ):
        warnings.simplefilter("error")
        rows = [log_softmax(np.array([row]))[0] for row in logit_rows]

    for row in rows:
        assert np.all(np.isfinite(row))
    np.testing.assert_array_equal(rows[0], [-1e3, 0.0])
    np.testing.assert_allclose(rows[1], -np.log(2.0), rtol=EPS)
    np.testing.assert_array_equal(rows[2], [-2e4, -1e4, 0.0])
    np.testing.assert_array_equal(rows[3], [0.0, -1600.0, -800.0])
    log_normaliser = np.log(2.0 + np.e)
    np.testing.assert_allclose(
        rows[4], [-log_normaliser, -log_normaliser, 1.0 - log_normaliser], rtol=1e-14
    )


def test_log_softmax_leaves_its_input_alone():
    z = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    z_before = z.copy()

    log_p = log_softmax(z)

    np.testing.assert_array_equal(z, z_before)
    assert not np.shares_memory(log_p, z)
