"""Tests of :mod:`sknn_scratch.core.activations`.

Each hidden activation's derivative is checked against a finite difference of
its forward pass and against its closed form, at moderate arguments and at
extreme ones (``|z|`` up to ``1e4``, float32 and float64) where a naive formula
would overflow, take log(0) or return NaN; the logistic, softmax and
log-probability functions against closed forms; the tanh form of GELU against
its definition and against the exact GELU; the in-place contract of ``forward``
and ``scale_delta``; and the names, Glorot factors and per-layer resolution of
the registry.
"""

import warnings

import numpy as np
import pytest
from scipy.special import erf

from sknn_scratch.core.activations import (
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    Activation,
    hidden_activation_names,
    log_logistic,
    log_softmax,
)

FD_STEP = 1e-6
EPS = np.finfo(np.float64).eps
SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
GELU_CUBIC = 0.044715

# Activations whose derivative is written from the pre-activation z, not from a.
FROM_PRE_ACTIVATION = {"silu", "gelu_tanh"}


def exact_log_logistic(z):
    """``log(1 / (1 + exp(-z)))``, by the formula that is exact on each side of 0."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(
        z >= 0, -np.log1p(np.exp(-np.abs(z))), z - np.log1p(np.exp(-np.abs(z)))
    )


def forward_copy(activation, z):
    """Return ``activation.forward`` of a copy of ``z``, leaving ``z`` untouched."""
    return activation.forward(np.array(z, copy=True))


def scaled_delta(activation, z, upstream):
    """Return ``upstream`` times ``f'(z)``, through ``scale_delta``."""
    a = forward_copy(activation, z)
    source = np.array(z, copy=True) if activation.needs_pre_activation else a
    delta = np.array(upstream, copy=True)
    activation.scale_delta(source, delta)
    return delta


def test_activation_registries():
    assert sorted(HIDDEN_ACTIVATIONS) == [
        "elu",
        "gelu_tanh",
        "identity",
        "leaky_relu",
        "logistic",
        "relu",
        "silu",
        "softplus",
        "tanh",
    ]
    assert sorted(OUTPUT_ACTIVATIONS) == ["exp", "identity", "logistic", "softmax"]
    for registry in (HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS):
        for name, activation in registry.items():
            assert isinstance(activation, Activation)
            assert activation.name == name
            assert repr(activation) == f"{type(activation).__name__}()"


def test_only_silu_and_gelu_need_the_pre_activation():
    needing = {
        name
        for name, activation in HIDDEN_ACTIVATIONS.items()
        if activation.needs_pre_activation
    }

    assert needing == FROM_PRE_ACTIVATION
    assert not any(a.needs_pre_activation for a in OUTPUT_ACTIVATIONS.values())


def test_glorot_factor_is_sklearns_two_for_logistic_and_six_otherwise():
    factors = {name: a.glorot_factor for name, a in HIDDEN_ACTIVATIONS.items()}

    assert factors.pop("logistic") == 2.0
    assert set(factors.values()) == {6.0}


@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_scale_delta_equals_numerical_derivative(name):
    activation = HIDDEN_ACTIVATIONS[name]
    rng = np.random.RandomState(0)
    z = rng.uniform(-4.0, 4.0, size=(6, 5))
    # Keep the (leaky) ReLU's inputs away from its kink at zero.
    z[np.abs(z) < 1e-2] = 0.5
    upstream = rng.normal(size=z.shape)

    delta = scaled_delta(activation, z, upstream)

    derivative = (
        forward_copy(activation, z + FD_STEP) - forward_copy(activation, z - FD_STEP)
    ) / (2 * FD_STEP)
    np.testing.assert_allclose(delta, upstream * derivative, rtol=1e-7, atol=1e-9)


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def _gelu_tanh_derivative(z):
    """The derivative of ``z/2 (1 + tanh(u))``, by the product and chain rules."""
    tanh_u = np.tanh(SQRT_2_OVER_PI * (z + GELU_CUBIC * z**3))
    du_dz = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * z**2)
    return 0.5 * (1.0 + tanh_u) + 0.5 * z * (1.0 - tanh_u**2) * du_dz


CLOSED_FORM_DERIVATIVES = {
    "identity": np.ones_like,
    "logistic": lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2,
    "tanh": lambda z: 1.0 / np.cosh(z) ** 2,
    "relu": lambda z: (z > 0).astype(np.float64),
    "leaky_relu": lambda z: np.where(z > 0, 1.0, 0.01),
    "elu": lambda z: np.where(z > 0, 1.0, np.exp(z)),
    "softplus": _logistic,
    "silu": lambda z: _logistic(z) + z * _logistic(z) * (1.0 - _logistic(z)),
    "gelu_tanh": _gelu_tanh_derivative,
}


@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_scale_delta_equals_closed_form_derivative(name):
    activation = HIDDEN_ACTIVATIONS[name]
    rng = np.random.RandomState(7)
    z = rng.uniform(-6.0, 6.0, size=(8, 5))
    upstream = rng.normal(size=z.shape)

    delta = scaled_delta(activation, z, upstream)

    expected = upstream * CLOSED_FORM_DERIVATIVES[name](z)
    # The derivatives of SiLU and GELU cross zero, where both formulas lose
    # their relative precision to cancellation.
    atol = 1e-14 if name in FROM_PRE_ACTIVATION else 1e-15
    np.testing.assert_allclose(delta, expected, rtol=1e-12, atol=atol)


@pytest.mark.parametrize(
    "name, derivative_at_zero",
    [
        ("identity", 1.0),
        ("relu", 0.0),
        ("tanh", 1.0),
        ("leaky_relu", 0.01),
        ("elu", 1.0),
        ("softplus", 0.5),
        ("silu", 0.5),
        ("gelu_tanh", 0.5),
    ],
)
def test_scale_delta_at_zero(name, derivative_at_zero):
    activation = HIDDEN_ACTIVATIONS[name]

    delta = scaled_delta(activation, np.zeros((2, 3)), np.full((2, 3), 2.5))

    np.testing.assert_array_equal(delta, np.full((2, 3), 2.5 * derivative_at_zero))


@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_scale_delta_works_in_place_and_leaves_outputs_alone(name):
    activation = HIDDEN_ACTIVATIONS[name]
    rng = np.random.RandomState(1)
    z = rng.uniform(-3.0, 3.0, size=(4, 3))
    a = forward_copy(activation, z)
    a_before = a.copy()
    delta = rng.normal(size=a.shape)
    delta_object = delta

    source = z.copy() if activation.needs_pre_activation else a
    returned = activation.scale_delta(source, delta, np.empty_like(a))

    assert returned is None
    assert delta is delta_object
    np.testing.assert_array_equal(a, a_before)


def test_silu_derivative_leaves_its_pre_activations_alone():
    z = np.linspace(-5.0, 5.0, 12).reshape(3, 4)
    z_before = z.copy()

    HIDDEN_ACTIVATIONS["silu"].scale_delta(z, np.ones_like(z), np.empty_like(z))

    np.testing.assert_array_equal(z, z_before)


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


@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_forward_with_a_scratch_array_equals_forward_without(name):
    activation = HIDDEN_ACTIVATIONS[name]
    z = np.random.RandomState(3).uniform(-4.0, 4.0, size=(6, 4))
    scratch = np.full_like(z, np.nan)

    with_scratch = activation.forward(z.copy(), scratch)

    np.testing.assert_array_equal(with_scratch, forward_copy(activation, z))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_derivative_keep_the_dtype(dtype):
    z_values = np.linspace(-3.0, 3.0, 12).reshape(4, 3)
    for registry in (HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS):
        for name, activation in registry.items():
            z = z_values.astype(dtype)

            assert activation.forward(z).dtype == dtype, name
    for name, activation in HIDDEN_ACTIVATIONS.items():
        z = z_values.astype(dtype)
        delta = np.ones_like(z)

        activation.scale_delta(
            z.copy() if activation.needs_pre_activation else activation.forward(z),
            delta,
        )

        assert delta.dtype == dtype, name


def test_hidden_forward_values():
    z = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])

    expected = {
        "identity": z,
        "logistic": 1.0 / (1.0 + np.exp(-z)),
        "tanh": np.tanh(z),
        "relu": np.array([[0.0, 0.0, 0.0, 0.5, 3.0]]),
        "leaky_relu": np.array([[-0.02, -0.005, 0.0, 0.5, 3.0]]),
        "elu": np.array([[np.exp(-2.0) - 1.0, np.exp(-0.5) - 1.0, 0.0, 0.5, 3.0]]),
        "softplus": np.log(1.0 + np.exp(z)),
        "silu": z / (1.0 + np.exp(-z)),
        "gelu_tanh": 0.5
        * z
        * (1.0 + np.tanh(SQRT_2_OVER_PI * (z + GELU_CUBIC * z**3))),
    }
    for name, activation in HIDDEN_ACTIVATIONS.items():
        np.testing.assert_allclose(
            forward_copy(activation, z), expected[name], rtol=1e-14, atol=EPS
        )


def test_leaky_relu_has_slope_one_hundredth():
    activation = HIDDEN_ACTIVATIONS["leaky_relu"]

    assert activation.negative_slope == 0.01
    np.testing.assert_array_equal(
        forward_copy(activation, np.array([[-100.0, -1.0, 2.0]])), [[-1.0, -0.01, 2.0]]
    )


def test_elu_is_exact_for_tiny_negative_inputs():
    # expm1 keeps exp(z) - 1 exact where 1 - exp(z) would round to 0 or to eps.
    z = np.array([[-1e-20, -1e-10, -1e-5]])

    a = forward_copy(HIDDEN_ACTIVATIONS["elu"], z)

    np.testing.assert_allclose(a, np.expm1(z), rtol=EPS)
    assert a[0, 0] == -1e-20


def test_softplus_derivative_is_accurate_where_the_output_is_tiny():
    # softplus(z) ~ exp(z) for z << 0, where 1 - exp(-a) would lose every digit.
    z = np.array([[-700.0, -300.0, -40.0, -20.0]])

    delta = scaled_delta(HIDDEN_ACTIVATIONS["softplus"], z, np.ones_like(z))

    np.testing.assert_allclose(delta, np.exp(z) / (1.0 + np.exp(z)), rtol=1e-14)


def test_gelu_tanh_equals_its_definition_in_long_double():
    # Down to z = -4, 1 + tanh(u) keeps 15 digits even in long double.
    z = np.linspace(-4.0, 6.0, 1001).reshape(1, -1)
    z_long = z.astype(np.longdouble)
    u = np.sqrt(np.longdouble(2.0) / np.pi) * (z_long + GELU_CUBIC * z_long**3)

    a = forward_copy(HIDDEN_ACTIVATIONS["gelu_tanh"], z)

    reference = (0.5 * z_long * (1.0 + np.tanh(u))).astype(np.float64)
    np.testing.assert_allclose(a, reference, rtol=1e-13, atol=1e-300)


def test_gelu_tanh_is_within_five_ten_thousandths_of_the_exact_gelu():
    z = np.linspace(-10.0, 10.0, 20001).reshape(1, -1)

    a = forward_copy(HIDDEN_ACTIVATIONS["gelu_tanh"], z)

    exact = 0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))
    difference = np.abs(a - exact).max()
    assert 1e-4 < difference < 5e-4


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


HUGE_INPUTS = [-1e30, -1e4, -1e3, -800.0, -50.0, 0.0, 50.0, 800.0, 1e3, 1e4, 1e30]

# The limits at -1e30 ... 1e30 of each function and of its derivative.
HUGE_INPUT_LIMITS = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "logistic": (lambda z: (z > 0) * 1.0, lambda z: np.zeros_like(z)),
    "tanh": (np.sign, lambda z: np.zeros_like(z)),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
    "leaky_relu": (
        lambda z: np.maximum(z, 0.01 * z),
        lambda z: np.where(z > 0, 1.0, 0.01),
    ),
    "elu": (lambda z: np.where(z > 0, z, -1.0), lambda z: (z > 0) * 1.0),
    "softplus": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
    "silu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
    "gelu_tanh": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(HIDDEN_ACTIVATIONS))
def test_hidden_activations_are_warning_free_and_saturate_for_huge_inputs(name, dtype):
    activation = HIDDEN_ACTIVATIONS[name]
    z = np.array([HUGE_INPUTS], dtype=dtype)

    with (
        warnings.catch_warnings(),
        np.errstate(over="warn", divide="warn", invalid="warn"),
    ):
        warnings.simplefilter("error")
        delta = scaled_delta(activation, z, np.ones_like(z))
        a = forward_copy(activation, z)

    assert a.dtype == delta.dtype == dtype
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(delta))
    value_limit, derivative_limit = HUGE_INPUT_LIMITS[name]
    # Away from 0 the functions have reached their limits to within rounding
    # (tanh(50) is 1 exactly, softplus(50) is 50 + 2e-22).
    far = np.abs(z) >= 50.0
    np.testing.assert_allclose(a[far], value_limit(z)[far], rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose(
        delta[far], derivative_limit(z)[far], rtol=1e-6, atol=1e-15
    )


def test_hidden_activation_names_repeats_a_single_name():
    assert hidden_activation_names("tanh", 3) == ["tanh", "tanh", "tanh"]
    assert hidden_activation_names("logistic", 0) == []
    assert hidden_activation_names(("elu", "silu"), 2) == ["elu", "silu"]
    assert hidden_activation_names(np.array(["elu"]), 1) == ["elu"]
    assert type(hidden_activation_names(np.array(["elu"]), 1)[0]) is str


def test_hidden_activation_names_names_both_lengths():
    with pytest.raises(ValueError, match="holds 3 names.*has 2 hidden layers"):
        hidden_activation_names(["relu", "tanh", "elu"], 2)


@pytest.mark.parametrize(
    "activation, match",
    [
        ("gelu", r"Unknown hidden activation 'gelu'; choose from \['elu', "),
        (["relu", "softmax"], "'softmax' for hidden layer 1"),
        (["relu", None], "None for hidden layer 1"),
        ([["relu"]], r"\['relu'\] for hidden layer 0"),
    ],
)
def test_hidden_activation_names_rejects_unknown_names(activation, match):
    n_hidden = 1 if isinstance(activation, str) else len(activation)

    with pytest.raises(ValueError, match=match):
        hidden_activation_names(activation, n_hidden)


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
