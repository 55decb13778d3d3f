"""Tests of :mod:`sknn_scratch.core.losses`.

Each loss's ``value`` is compared with its textbook formula, written from the
predictions or probabilities rather than from the logits; sample weights are
checked against repeated rows; ``value_and_delta`` is checked to write the
sample-weighted residual ``sample_weight * (prediction - y)``, which is also the
finite-difference gradient of the weighted sum of the per-sample losses with
respect to the raw output; and the log-losses are checked to stay finite and
exact for saturated logits, where ``log(p)`` would be ``-inf``.
"""

import warnings

import numpy as np
import pytest

from sknn_scratch.core.activations import OUTPUT_ACTIVATIONS
from sknn_scratch.core.losses import LOSSES, Loss

N_SAMPLES = 9
FD_STEP = 1e-6

# name: (n_outputs, kind of target)
LOSS_CASES = {
    "squared_error": (3, "real"),
    "poisson": (2, "counts"),
    "binary_log_loss": (3, "binary"),
    "log_loss": (4, "one_hot"),
}


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
    return -(y * np.log(prediction)).sum(axis=1)


def test_loss_registry_pairs_each_loss_with_its_canonical_link():
    expected = {
        "squared_error": "identity",
        "poisson": "exp",
        "binary_log_loss": "logistic",
        "log_loss": "softmax",
    }

    assert {name: loss.output_activation for name, loss in LOSSES.items()} == expected
    for name, loss in LOSSES.items():
        assert isinstance(loss, Loss)
        assert loss.name == name
        assert loss.link_inverse is OUTPUT_ACTIVATIONS[expected[name]]


@pytest.mark.parametrize("name", list(LOSSES))
def test_value_matches_explicit_formula(name):
    rng = np.random.RandomState(0)
    y, raw, prediction = make_case(name, rng)

    value = LOSSES[name].value(y, raw, prediction)

    assert isinstance(value, float)
    expected = explicit_sample_losses(name, y, prediction).mean()
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", list(LOSSES))
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


@pytest.mark.parametrize("name", list(LOSSES))
def test_weighted_value_is_the_weighted_mean(name):
    rng = np.random.RandomState(2)
    y, raw, prediction = make_case(name, rng)
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES)

    value = LOSSES[name].value(y, raw, prediction, sample_weight)

    sample_losses = explicit_sample_losses(name, y, prediction)
    expected = (sample_losses * sample_weight).sum() / sample_weight.sum()
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", list(LOSSES))
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


@pytest.mark.parametrize("name", list(LOSSES))
def test_unit_weights_equal_no_weights(name):
    rng = np.random.RandomState(4)
    y, raw, prediction = make_case(name, rng)
    loss = LOSSES[name]

    assert loss.value(y, raw, prediction, np.ones(N_SAMPLES)) == pytest.approx(
        loss.value(y, raw, prediction), rel=1e-14
    )


@pytest.mark.parametrize("name", list(LOSSES))
def test_weights_are_normalised_by_their_sum(name):
    rng = np.random.RandomState(5)
    y, raw, prediction = make_case(name, rng)
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES)
    loss = LOSSES[name]

    assert loss.value(y, raw, prediction, 7.0 * sample_weight) == pytest.approx(
        loss.value(y, raw, prediction, sample_weight), rel=1e-14
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_value_and_delta_writes_the_weighted_residual(name, weighted):
    rng = np.random.RandomState(6)
    y, raw, prediction = make_case(name, rng)
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES) if weighted else None
    delta = np.full_like(raw, np.nan)
    loss = LOSSES[name]

    value = loss.value_and_delta(y, raw, prediction, sample_weight, delta)

    assert value == loss.value(y, raw, prediction, sample_weight)
    weights = np.ones(N_SAMPLES) if sample_weight is None else sample_weight
    np.testing.assert_allclose(
        delta, weights[:, np.newaxis] * (prediction - y), rtol=1e-15, atol=0
    )


@pytest.mark.parametrize("name", list(LOSSES))
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


@pytest.mark.parametrize("name", list(LOSSES))
def test_delta_is_the_gradient_of_the_weighted_sum_of_losses(name):
    rng = np.random.RandomState(8)
    y, raw, prediction = make_case(name, rng)
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES)
    loss = LOSSES[name]
    delta = np.empty_like(raw)

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


@pytest.mark.parametrize("name", list(LOSSES))
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
