"""Tests of :mod:`sknn_scratch.core.losses`.

Each loss's ``value`` is compared with its textbook formula, written from the
predictions or probabilities rather than from the logits; sample weights are
checked against repeated rows; ``value_and_delta`` is checked to write the
sample-weighted derivative of each loss (the residual ``prediction - y`` for a
canonical link; the clipped residual, its sign or the pinball slope for the
Huber, absolute and quantile losses), which is also the finite-difference
gradient of the weighted sum of the per-sample losses with respect to the raw
output, away from the kinks; and the log-losses are checked to stay finite and
exact for saturated logits, where ``log(p)`` would be ``-inf``. The parametrised
losses are tested at their defaults and at other parameter values, and their
names are checked to carry the parameter through :data:`LOSSES`.
"""

import math
import pickle
import warnings

import numpy as np
import pytest

from sknn_scratch.core.activations import OUTPUT_ACTIVATIONS
from sknn_scratch.core.losses import (
    LOSSES,
    AbsoluteError,
    Huber,
    Loss,
    ParametrisedLoss,
    Quantile,
)

N_SAMPLES = 9
FD_STEP = 1e-6

# name: (n_outputs, kind of target). Every name of LOSSES is here, and the
# parametrised losses also at other values of their parameter.
LOSS_CASES = {
    "squared_error": (3, "real"),
    "poisson": (2, "counts"),
    "binary_log_loss": (3, "binary"),
    "log_loss": (4, "one_hot"),
    "huber(huber_delta=1.0)": (3, "real"),
    "huber(huber_delta=0.4)": (2, "real"),
    "absolute_error": (3, "real"),
    "quantile(quantile=0.5)": (2, "real"),
    "quantile(quantile=0.9)": (3, "real"),
    "quantile(quantile=0.1)": (2, "real"),
}
CANONICAL_LINKS = {"squared_error", "poisson", "binary_log_loss", "log_loss"}


def make_case(name, rng, n_samples=N_SAMPLES):
    """Return targets, raw outputs and predictions for the loss ``name``."""
    n_outputs, target_kind = LOSS_CASES[name]
    raw = rng.normal(scale=1.5, size=(n_samples, n_outputs))
    if target_kind == "one_hot":
        y = np.eye(n_outputs)[rng.randint(0, n_outputs, size=n_samples)]
    elif target_kind == "binary":
        y = rng.randint(0, 2, size=(n_samples, n_outputs)).astype(np.float64)
    elif target_kind == "counts":
        y = rng.poisson(1.0, size=(n_samples, n_outputs)).astype(np.float64)
        y[0] = 0.0
        y[1, 0] = 4.0
    else:
        y = rng.normal(size=(n_samples, n_outputs))
    prediction = LOSSES[name].link_inverse.forward(raw.copy())
    return y, raw, prediction


def explicit_sample_losses(name, y, prediction):
    """Return each sample's loss from its textbook formula in the predictions."""
    if name == "squared_error":
        return 0.5 * ((y - prediction) ** 2).sum(axis=1)
    if name == "poisson":
        y_log_y_over_p = np.zeros_like(y)
        positive = y > 0
        y_log_y_over_p[positive] = y[positive] * np.log(
            y[positive] / prediction[positive]
        )
        return (y_log_y_over_p - y + prediction).sum(axis=1)
    if name == "binary_log_loss":
        return -(y * np.log(prediction) + (1 - y) * np.log(1 - prediction)).sum(axis=1)
    if name == "log_loss":
        return -(y * np.log(prediction)).sum(axis=1)

    residual = prediction - y
    loss = LOSSES[name]
    if name == "absolute_error":
        return np.abs(residual).sum(axis=1)
    if isinstance(loss, Huber):
        d = loss.huber_delta
        # np.where computes both branches; the square of a huge residual,
        # thrown away, may overflow.
        with np.errstate(over="ignore"):
            quadratic = residual**2 / 2
        linear = d * (np.abs(residual) - d / 2)
        return np.where(np.abs(residual) <= d, quadratic, linear).sum(axis=1)
    q = loss.quantile
    per_target = np.where(y >= prediction, q * (y - prediction), (1 - q) * residual)
    return per_target.sum(axis=1)


def explicit_raw_gradient(name, y, prediction):
    """Return each target's derivative of its loss, from the textbook formula."""
    residual = prediction - y
    if name in CANONICAL_LINKS:
        return residual
    loss = LOSSES[name]
    if name == "absolute_error":
        return np.where(residual > 0, 1.0, np.where(residual < 0, -1.0, 0.0))
    if isinstance(loss, Huber):
        d = loss.huber_delta
        return np.where(np.abs(residual) <= d, residual, d * np.sign(residual))
    q = loss.quantile
    return np.where(residual > 0, 1 - q, np.where(residual < 0, -q, 0.0))


def distance_to_kink(name, y, prediction):
    """Return how near the residuals come to where the loss has a kink."""
    residual = np.abs(prediction - y)
    if name in CANONICAL_LINKS:
        return math.inf
    loss = LOSSES[name]
    if isinstance(loss, Huber):
        # The derivative is continuous there; the second derivative jumps.
        return float(np.abs(residual - loss.huber_delta).min())
    return float(residual.min())


def test_loss_registry_pairs_each_loss_with_its_output_activation():
    expected = {
        "squared_error": "identity",
        "poisson": "exp",
        "binary_log_loss": "logistic",
        "log_loss": "softmax",
        "absolute_error": "identity",
        "huber(huber_delta=1.0)": "identity",
        "quantile(quantile=0.5)": "identity",
    }

    assert {name: loss.output_activation for name, loss in LOSSES.items()} == expected
    assert len(LOSSES) == len(expected)
    for name, loss in LOSSES.items():
        assert isinstance(loss, Loss)
        assert loss.name == name
        assert loss.link_inverse is OUTPUT_ACTIVATIONS[expected[name]]


def test_every_registered_loss_has_a_test_case():
    assert set(LOSSES) <= set(LOSS_CASES)
    assert all(name in LOSSES for name in LOSS_CASES)


@pytest.mark.parametrize("name", [n for n in LOSS_CASES if n not in CANONICAL_LINKS])
def test_cases_reach_both_sides_of_each_kink(name):
    # Otherwise the tests below would check only one branch of the formulas.
    y, _, prediction = make_case(name, np.random.RandomState(0))
    residual = prediction - y
    loss = LOSSES[name]
    if isinstance(loss, Huber):
        inside = np.abs(residual) <= loss.huber_delta
        assert inside.any() and not inside.all()
    assert (residual > 0).any() and (residual < 0).any()


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_value_matches_explicit_formula(name):
    rng = np.random.RandomState(0)
    y, raw, prediction = make_case(name, rng)

    value = LOSSES[name].value(y, raw, prediction)

    assert isinstance(value, float)
    expected = explicit_sample_losses(name, y, prediction).mean()
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_sample_losses_match_explicit_formula(name):
    rng = np.random.RandomState(1)
    y, raw, prediction = make_case(name, rng)

    sample_losses = LOSSES[name].sample_losses(y, raw, prediction)

    assert sample_losses.shape == (N_SAMPLES,)
    np.testing.assert_allclose(
        sample_losses, explicit_sample_losses(name, y, prediction), rtol=1e-11
    )


def test_squared_error_is_half_the_summed_squares_averaged_over_samples():
    y = np.array([[1.0, 2.0], [0.0, -1.0]])
    prediction = np.array([[2.0, 0.0], [0.0, 2.0]])

    value = LOSSES["squared_error"].value(y, prediction, prediction)

    # Sample losses (1 + 4) / 2 and (0 + 9) / 2, averaged.
    assert value == 3.5


def test_poisson_handles_zero_counts():
    raw = np.array([[0.0, np.log(2.0)], [-3.0, 1.0]])
    prediction = np.exp(raw)
    y = np.zeros_like(raw)

    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("error")
        sample_losses = LOSSES["poisson"].sample_losses(y, raw, prediction)

    # With y = 0, y log(y / p) - y + p is just p.
    np.testing.assert_allclose(sample_losses, prediction.sum(axis=1), rtol=1e-15)


def test_poisson_is_zero_at_a_perfect_prediction():
    y = np.array([[0.0, 1.0, 3.0], [7.0, 0.5, 2.0]])
    raw = np.log(np.where(y > 0, y, 1e-300))
    prediction = np.exp(raw)

    sample_losses = LOSSES["poisson"].sample_losses(y, raw, prediction)

    np.testing.assert_allclose(sample_losses, 0.0, atol=1e-14)


def test_poisson_is_half_the_deviance():
    y = np.array([[2.0]])
    raw = np.array([[0.0]])

    value = LOSSES["poisson"].value(y, raw, np.exp(raw))

    # 2 log(2 / 1) - 2 + 1.
    assert value == pytest.approx(2 * np.log(2.0) - 1.0, rel=1e-15)


def test_binary_log_loss_of_a_known_probability():
    raw = np.array([[0.0], [np.log(3.0)]])
    prediction = 1 / (1 + np.exp(-raw))
    y = np.array([[1.0], [0.0]])

    sample_losses = LOSSES["binary_log_loss"].sample_losses(y, raw, prediction)

    # p = 1/2 for the first sample; p = 3/4 but y = 0 for the second.
    np.testing.assert_allclose(sample_losses, [np.log(2.0), np.log(4.0)], rtol=1e-15)


def test_log_loss_of_a_known_probability():
    raw = np.log(np.array([[1.0, 2.0, 5.0], [3.0, 3.0, 2.0]]))
    y = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    prediction = OUTPUT_ACTIVATIONS["softmax"].forward(raw.copy())

    sample_losses = LOSSES["log_loss"].sample_losses(y, raw, prediction)

    np.testing.assert_allclose(
        sample_losses, [-np.log(5 / 8), -np.log(3 / 8)], rtol=1e-14
    )


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_weighted_value_is_the_weighted_mean(name):
    rng = np.random.RandomState(2)
    y, raw, prediction = make_case(name, rng)
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES)

    value = LOSSES[name].value(y, raw, prediction, sample_weight)

    sample_losses = explicit_sample_losses(name, y, prediction)
    expected = (sample_losses * sample_weight).sum() / sample_weight.sum()
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_integer_weights_equal_repeated_rows(name):
    rng = np.random.RandomState(3)
    y, raw, prediction = make_case(name, rng)
    repeats = np.array([1, 0, 3, 2, 1, 5, 1, 2, 4])
    loss = LOSSES[name]

    weighted = loss.value(y, raw, prediction, repeats.astype(np.float64))

    repeated = loss.value(
        np.repeat(y, repeats, axis=0),
        np.repeat(raw, repeats, axis=0),
        np.repeat(prediction, repeats, axis=0),
    )
    assert weighted == pytest.approx(repeated, rel=1e-13)


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_unit_weights_equal_no_weights(name):
    rng = np.random.RandomState(4)
    y, raw, prediction = make_case(name, rng)
    loss = LOSSES[name]

    assert loss.value(y, raw, prediction, np.ones(N_SAMPLES)) == pytest.approx(
        loss.value(y, raw, prediction), rel=1e-14
    )


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_weights_are_normalised_by_their_sum(name):
    rng = np.random.RandomState(5)
    y, raw, prediction = make_case(name, rng)
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES)
    loss = LOSSES[name]

    assert loss.value(y, raw, prediction, 7.0 * sample_weight) == pytest.approx(
        loss.value(y, raw, prediction, sample_weight), rel=1e-14
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_value_and_delta_writes_the_weighted_derivative(name, weighted):
    rng = np.random.RandomState(6)
    y, raw, prediction = make_case(name, rng)
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES) if weighted else None
    delta = np.full_like(raw, np.nan)
    loss = LOSSES[name]

    value = loss.value_and_delta(y, raw, prediction, sample_weight, delta)

    assert value == loss.value(y, raw, prediction, sample_weight)
    weights = np.ones(N_SAMPLES) if sample_weight is None else sample_weight
    expected = weights[:, np.newaxis] * explicit_raw_gradient(name, y, prediction)
    np.testing.assert_allclose(delta, expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_value_and_delta_leaves_its_inputs_alone(name):
    rng = np.random.RandomState(7)
    y, raw, prediction = make_case(name, rng)
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES)
    before = [array.copy() for array in (y, raw, prediction, sample_weight)]

    LOSSES[name].value_and_delta(y, raw, prediction, sample_weight, np.empty_like(raw))

    for array, array_before in zip(
        (y, raw, prediction, sample_weight), before, strict=True
    ):
        np.testing.assert_array_equal(array, array_before)


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_delta_is_the_gradient_of_the_weighted_sum_of_losses(name):
    rng = np.random.RandomState(8)
    y, raw, prediction = make_case(name, rng)
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES)
    loss = LOSSES[name]
    delta = np.empty_like(raw)
    # The central differences below move each residual by FD_STEP.
    assert distance_to_kink(name, y, prediction) > 100 * FD_STEP

    loss.value_and_delta(y, raw, prediction, sample_weight, delta)

    def weighted_sum(raw_values):
        prediction_values = loss.link_inverse.forward(raw_values.copy())
        return sample_weight @ loss.sample_losses(y, raw_values, prediction_values)

    numeric = np.empty_like(raw)
    for index in np.ndindex(raw.shape):
        step = np.zeros_like(raw)
        step[index] = FD_STEP
        numeric[index] = (weighted_sum(raw + step) - weighted_sum(raw - step)) / (
            2 * FD_STEP
        )
    np.testing.assert_allclose(delta, numeric, rtol=1e-6, atol=1e-8)


def test_binary_log_loss_is_finite_and_exact_for_saturated_logits():
    raw = np.array([[800.0], [-800.0], [800.0], [-800.0], [40.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0], [0.0]])
    prediction = OUTPUT_ACTIVATIONS["logistic"].forward(raw.copy())
    # The probabilities are exactly 0 and 1: the formula in log(p) breaks down.
    assert prediction[1, 0] == 0.0
    assert prediction[0, 0] == 1.0

    with warnings.catch_warnings(), np.errstate(over="warn", divide="warn"):
        warnings.simplefilter("error")
        sample_losses = LOSSES["binary_log_loss"].sample_losses(y, raw, prediction)

    # -log(sigmoid(-800)) = 800 + log1p(exp(-800)), which is 800 in float64.
    np.testing.assert_array_equal(sample_losses[:4], [800.0, 800.0, 0.0, 0.0])
    assert sample_losses[4] == pytest.approx(40.0 + np.log1p(np.exp(-40.0)), rel=1e-15)


def test_log_loss_is_finite_and_exact_for_saturated_logits():
    raw = np.array(
        [
            [800.0, 0.0, -800.0],
            [800.0, 0.0, -800.0],
            [800.0, 0.0, -800.0],
            [800.0, 800.0, -800.0],
        ]
    )
    y = np.eye(3)[[0, 1, 2, 1]]
    prediction = OUTPUT_ACTIVATIONS["softmax"].forward(raw.copy())
    assert prediction[0, 2] == 0.0

    with warnings.catch_warnings(), np.errstate(over="warn", divide="warn"):
        warnings.simplefilter("error")
        sample_losses = LOSSES["log_loss"].sample_losses(y, raw, prediction)
        value = LOSSES["log_loss"].value(y, raw, prediction)

    np.testing.assert_array_equal(sample_losses[:3], [0.0, 800.0, 1600.0])
    assert sample_losses[3] == pytest.approx(np.log(2.0), rel=1e-15)
    assert value == pytest.approx((2400.0 + np.log(2.0)) / 4, rel=1e-15)


def test_log_loss_with_soft_targets_is_the_cross_entropy():
    rng = np.random.RandomState(9)
    raw = rng.normal(size=(5, 3))
    y = rng.dirichlet(np.ones(3), size=5)
    prediction = OUTPUT_ACTIVATIONS["softmax"].forward(raw.copy())

    sample_losses = LOSSES["log_loss"].sample_losses(y, raw, prediction)

    np.testing.assert_allclose(
        sample_losses, -(y * np.log(prediction)).sum(axis=1), rtol=1e-13
    )


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_float32_inputs(name):
    rng = np.random.RandomState(10)
    y, raw, prediction = (array.astype(np.float32) for array in make_case(name, rng))
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES).astype(np.float32)
    delta = np.empty_like(raw)

    value = LOSSES[name].value_and_delta(y, raw, prediction, sample_weight, delta)

    assert delta.dtype == np.float32
    expected = LOSSES[name].value(
        y.astype(np.float64),
        raw.astype(np.float64),
        prediction.astype(np.float64),
        sample_weight.astype(np.float64),
    )
    assert value == pytest.approx(expected, rel=1e-5)


# --------------------------------------------------------------------------------
# The robust and quantile regression losses


def test_huber_equals_the_squared_error_to_the_bit_within_its_threshold():
    rng = np.random.RandomState(11)
    y = rng.normal(size=(50, 2))
    prediction = y + rng.uniform(-1.5, 1.5, size=y.shape)
    huber, squared_error = Huber(huber_delta=1.5), LOSSES["squared_error"]
    huber_delta, squared_error_delta = np.empty_like(y), np.empty_like(y)

    huber_value = huber.value_and_delta(y, prediction, prediction, None, huber_delta)
    squared_error_value = squared_error.value_and_delta(
        y, prediction, prediction, None, squared_error_delta
    )

    assert huber_value == squared_error_value
    np.testing.assert_array_equal(huber_delta, squared_error_delta)


def test_huber_grows_linearly_beyond_its_threshold():
    y = np.zeros((4, 1))
    prediction = np.array([[2.0], [-2.0], [10.0], [0.5]])
    delta = np.empty_like(y)

    Huber(huber_delta=2.0).value_and_delta(y, prediction, prediction, None, delta)
    sample_losses = Huber(huber_delta=2.0).sample_losses(y, prediction, prediction)

    # At the threshold both parts give 2**2 / 2; beyond, 2 (10 - 1).
    np.testing.assert_array_equal(sample_losses, [2.0, 2.0, 18.0, 0.125])
    np.testing.assert_array_equal(delta.ravel(), [2.0, -2.0, 2.0, 0.5])


def test_quantile_costs_misses_from_below_more_at_a_high_level():
    y = np.array([[1.0], [1.0]])
    prediction = np.array([[2.0], [0.0]])  # one above the target, one below
    delta = np.empty_like(y)
    loss = Quantile(quantile=0.75)

    loss.value_and_delta(y, prediction, prediction, None, delta)

    np.testing.assert_array_equal(
        loss.sample_losses(y, prediction, prediction), [0.25, 0.75]
    )
    np.testing.assert_array_equal(delta.ravel(), [0.25, -0.75])


def test_quantile_at_one_half_is_half_the_absolute_error():
    rng = np.random.RandomState(12)
    y = rng.normal(size=(20, 3))
    prediction = rng.normal(size=(20, 3))
    sample_weight = rng.uniform(0.5, 2.0, size=20)
    quantile_delta, absolute_delta = np.empty_like(y), np.empty_like(y)

    quantile_value = Quantile(0.5).value_and_delta(
        y, prediction, prediction, sample_weight, quantile_delta
    )
    absolute_value = AbsoluteError().value_and_delta(
        y, prediction, prediction, sample_weight, absolute_delta
    )

    assert quantile_value == pytest.approx(absolute_value / 2, rel=1e-15)
    np.testing.assert_array_equal(quantile_delta, absolute_delta / 2)


@pytest.mark.parametrize(
    "name", ["absolute_error", "quantile(quantile=0.9)", "quantile(quantile=0.1)"]
)
def test_an_exact_prediction_gets_a_zero_delta(name):
    # At the kink any slope between the two one-sided ones is a subgradient;
    # zero is the one that leaves an exact prediction where it is.
    y = np.array([[1.0, -2.0], [0.5, 3.0]])
    prediction = np.array([[1.0, -1.0], [0.5, 2.0]])
    delta = np.full_like(y, np.nan)

    value = LOSSES[name].value_and_delta(y, prediction, prediction, None, delta)

    assert delta[0, 0] == 0.0 and delta[1, 0] == 0.0
    assert delta[0, 1] > 0 > delta[1, 1]
    assert value == pytest.approx(
        explicit_sample_losses(name, y, prediction).mean(), rel=1e-15
    )


@pytest.mark.parametrize("name", [n for n in LOSS_CASES if n not in CANONICAL_LINKS])
def test_robust_losses_stay_finite_with_bounded_deltas_for_huge_residuals(name):
    y = np.array([[1e300], [-1e300], [1.0]])
    prediction = np.array([[-1e300], [1e300], [1.0 + 1e-12]])
    delta = np.empty_like(y)
    loss = LOSSES[name]

    # Underflow of the last residual's tiny loss is harmless, and allowed.
    with warnings.catch_warnings(), np.errstate(over="warn", invalid="warn"):
        warnings.simplefilter("error")
        value = loss.value_and_delta(y, prediction, prediction, None, delta)

    # Where the squared error of 2e300 would overflow, these losses are about
    # 2e300, and the pull of each target on the network stays bounded.
    assert math.isfinite(value)
    assert value == pytest.approx(
        explicit_sample_losses(name, y, prediction).mean(), rel=1e-15
    )
    bound = loss.huber_delta if isinstance(loss, Huber) else 1.0
    assert np.all(np.abs(delta) <= bound)
    assert delta[0, 0] < 0 < delta[1, 0]
    assert delta[2, 0] > 0
    with np.errstate(over="ignore"):
        assert LOSSES["squared_error"].value(y, prediction, prediction) == math.inf


# --------------------------------------------------------------------------------
# Names of the parametrised losses


@pytest.mark.parametrize(
    "loss_class, value", [(Huber, 1.0), (Huber, 0.05), (Huber, 1e3), (Quantile, 0.9)]
)
def test_parametrised_name_reads_back_as_the_same_loss(loss_class, value):
    loss = loss_class(value)

    same = LOSSES[loss.name]

    assert type(same) is loss_class
    assert same.parameter_value == value
    assert same.name == loss.name
    assert loss.name == f"{loss_class.base_name}({loss_class.parameter}={value!r})"


def test_parametrised_name_holds_the_float_exactly():
    level = 1 / 3

    loss = LOSSES[Quantile(level).name]

    assert loss.quantile == level
    assert loss.name == "quantile(quantile=0.3333333333333333)"


def test_names_differ_with_the_parameter():
    assert Quantile(0.9).name != Quantile(0.1).name
    assert Huber(1.0).name != Huber(1.5).name
    # Integers and NumPy scalars give the name of the same float.
    assert Huber(2).name == Huber(np.float64(2.0)).name == "huber(huber_delta=2.0)"


def test_registry_accepts_any_spelling_of_the_parameter():
    assert LOSSES["quantile(quantile=0.90)"].name == "quantile(quantile=0.9)"
    assert LOSSES["huber(huber_delta=2)"].name == "huber(huber_delta=2.0)"


@pytest.mark.parametrize(
    "name, message",
    [
        ("bogus", "Unknown loss 'bogus'; the losses are squared_error, poisson"),
        ("huber", r"huber\(huber_delta=\.\.\.\), quantile\(quantile=\.\.\.\)"),
        ("quantile(huber_delta=0.5)", "Unknown loss"),
        ("squared_error(alpha=1.0)", "Unknown loss"),
        ("quantile(quantile=1.5)", r"quantile must be a number in \(0.0, 1.0\)"),
        ("quantile(quantile=nan)", r"got nan"),
        ("huber(huber_delta=0)", r"huber_delta must be a number in \(0.0, inf\)"),
        ("huber(huber_delta=inf)", r"huber_delta must be a number in \(0.0, inf\)"),
        ("huber(huber_delta=one)", "could not convert string to float: 'one'"),
    ],
)
def test_registry_refuses_unknown_names_and_bad_parameters(name, message):
    with pytest.raises(KeyError, match=message):
        LOSSES[name]
    assert name not in LOSSES


@pytest.mark.parametrize(
    "loss_class, value",
    [(Huber, 0.0), (Huber, -1.0), (Huber, math.inf), (Huber, "1.0")]
    + [(Quantile, 0.0), (Quantile, 1.0), (Quantile, math.nan), (Quantile, None)],
)
def test_parametrised_losses_reject_invalid_parameters(loss_class, value):
    with pytest.raises(ValueError, match=f"{loss_class.parameter} must be a number"):
        loss_class(value)


def test_parametrised_losses_pickle_with_their_parameter():
    for loss in (Huber(0.3), Quantile(0.95)):
        restored = pickle.loads(pickle.dumps(loss))

        assert isinstance(restored, ParametrisedLoss)
        assert restored.name == loss.name
        assert restored.parameter_value == loss.parameter_value
