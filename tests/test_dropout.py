"""Tests of dropout: the core's :class:`~sknn_scratch.core.layers.Dropout` in the
training step, and the estimators' ``dropout`` parameter.

In the core: the masks keep each unit with probability ``1 - rate`` and scale it
by ``1 / (1 - rate)``, so the masked outputs keep their expected value; the loss
of a step is the loss of the network thinned by the masks drawn from the
generator, layer by layer; the gradient with a fixed mask matches central finite
differences; prediction never drops a unit. Through the estimators: dropout
changes training but leaves prediction deterministic, the same ``random_state``
gives the same fit, a zero rate draws nothing (so every draw stays
scikit-learn's) and a positive one exactly one number, and dropout narrows the
gap between training and test scores on a small noisy problem. Bad rates and
``solver='lbfgs'`` are refused with clear errors.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import InvalidParameterError

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch.core.activations import HIDDEN_ACTIVATIONS
from sknn_scratch.core.layers import Dropout
from sknn_scratch.core.network import Network, Workspace

N_SAMPLES = 9
N_FEATURES = 4
FD_STEP = 1e-6
FD_RTOL = 1e-6


# --------------------------------------------------------------------------------
# The masks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rate", [0.1, 0.3, 0.8])
def test_mask_keeps_each_unit_with_probability_one_minus_rate(rate, dtype):
    mask = np.empty((2000, 50), dtype=dtype)

    Dropout([rate], np.random.default_rng(0)).draw_mask(0, mask)

    dropped = mask == 0
    # 100000 draws: the share of zeros is within 7 standard deviations.
    assert abs(dropped.mean() - rate) < 7 * np.sqrt(rate * (1 - rate) / mask.size)
    np.testing.assert_array_equal(
        mask[~dropped], np.asarray(1 / (1 - rate), dtype=dtype)
    )
    assert mask.dtype == dtype


def test_masked_outputs_keep_the_expected_scale():
    # ReLU outputs of a random layer, as a hidden layer would pass them on.
    rng = np.random.RandomState(0)
    outputs = np.maximum(rng.normal(size=(4000, 20)) @ rng.normal(size=(20, 30)), 0)
    mask = np.empty_like(outputs)

    Dropout([0.5], np.random.default_rng(1)).draw_mask(0, mask)
    masked = outputs * mask

    # Half the units are gone, yet the mean of every unit stays where it was:
    # each unit's mean over 4000 samples is off by less than 5 standard errors.
    assert np.mean(masked == 0) > 0.5
    standard_error = masked.std(axis=0) / np.sqrt(outputs.shape[0])
    assert np.all(
        np.abs(masked.mean(axis=0) - outputs.mean(axis=0)) < 5 * standard_error
    )
    np.testing.assert_allclose(masked.mean(), outputs.mean(), rtol=0.02)


def test_masks_differ_from_batch_to_batch_and_come_from_the_generator():
    first, second, again = (np.empty((5, 8)) for _ in range(3))
    dropout = Dropout([0.5], np.random.default_rng(3))

    dropout.draw_mask(0, first)
    dropout.draw_mask(0, second)
    Dropout([0.5], np.random.default_rng(3)).draw_mask(0, again)

    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, np.nan])
def test_dropout_rejects_a_rate_outside_zero_one(rate):
    with pytest.raises(ValueError, match=r"must be in \[0, 1\); got .* hidden layer 1"):
        Dropout([0.2, rate], np.random.default_rng(0))


def test_workspace_refuses_a_dropout_for_other_layers():
    dropout = Dropout([0.2, 0.3], np.random.default_rng(0))

    with pytest.raises(ValueError, match="2 rates but the network has 1 hidden"):
        Workspace([4, 5, 2], 3, np.float64, dropout)


def test_workspace_makes_masks_only_for_layers_with_a_positive_rate():
    dropout = Dropout([0.0, 0.5, 0.2], np.random.default_rng(0))

    workspace = Workspace([4, 5, 6, 7, 2], 3, np.float32, dropout)

    assert workspace.masks[0] is None
    assert [mask.shape for mask in workspace.masks[1:]] == [(3, 6), (3, 7)]
    assert {mask.dtype for mask in workspace.masks[1:]} == {np.dtype(np.float32)}
    assert Workspace([4, 5, 2], 3, np.float64).masks == [None]


# --------------------------------------------------------------------------------
# The training step


def make_network(activation, loss="log_loss", hidden_sizes=(6, 5), n_outputs=3):
    """Return an initialised network with random biases, and data for it."""
    rng = np.random.RandomState(0)
    network = Network([N_FEATURES, *hidden_sizes, n_outputs], activation, loss)
    network.initialize(rng)
    network.params[network.n_coef :] = rng.uniform(
        -1.0, 1.0, network.params.size - network.n_coef
    )
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    if loss == "log_loss":
        y = np.eye(n_outputs)[np.arange(N_SAMPLES) % n_outputs]
    elif loss == "poisson":
        y = rng.poisson(1.5, size=(N_SAMPLES, n_outputs)).astype(np.float64)
    else:
        y = rng.normal(size=(N_SAMPLES, n_outputs))
    return network, X, y, rng.uniform(0.2, 3.0, N_SAMPLES)


def loss_with_fixed_masks(network, X, y, sample_weight, rates, seed, alpha=0.1):
    """Return the loss of one step whose masks come from ``default_rng(seed)``.

    A new generator per call draws the same masks every time, which makes the
    loss a smooth function of the parameters for the finite differences.
    """
    dropout = Dropout(rates, np.random.default_rng(seed))
    workspace = Workspace(network.layer_units, X.shape[0], np.float64, dropout)
    return network.loss_gradient(X, y, sample_weight, alpha, workspace)


def reference_thinned_loss(network, X, y, sample_weight, rates, seed, alpha):
    """Return the loss of the thinned network by a plain forward pass.

    The masks are drawn as the step draws them: for each hidden layer in turn,
    one uniform number per sample and unit, kept when not below the rate.
    """
    generator = np.random.default_rng(seed)
    inputs = X
    for coef, intercept, name, rate in zip(
        network.coefs[:-1],
        network.intercepts[:-1],
        network.activations,
        rates,
        strict=True,
    ):
        z = inputs @ coef + intercept
        inputs = HIDDEN_ACTIVATIONS[name].forward(z)
        if rate > 0:
            kept = generator.random(inputs.shape) >= rate
            inputs = inputs * kept / (1.0 - rate)
    raw = inputs @ network.coefs[-1] + network.intercepts[-1]
    log_proba = raw - np.log(np.exp(raw).sum(axis=1, keepdims=True))
    sample_losses = -(y * log_proba).sum(axis=1)
    penalty = 0.5 * alpha * sum((coef**2).sum() for coef in network.coefs)
    return (sample_losses @ sample_weight + penalty) / sample_weight.sum()


@pytest.mark.parametrize("rates", [[0.5, 0.3], [0.0, 0.6], [0.4, 0.0]])
@pytest.mark.parametrize("activation", ["tanh", ["gelu_tanh", "relu"]], ids=str)
def test_loss_is_that_of_the_network_thinned_by_the_drawn_masks(activation, rates):
    network, X, y, sample_weight = make_network(activation)

    loss = loss_with_fixed_masks(network, X, y, sample_weight, rates, seed=5)

    expected = reference_thinned_loss(
        network, X, y, sample_weight, rates, seed=5, alpha=0.1
    )
    assert loss == pytest.approx(expected, rel=1e-12)


def numerical_gradient(network, loss_of_params):
    gradient = np.empty_like(network.params)
    for i in range(network.params.size):
        original = network.params[i]
        network.params[i] = original + FD_STEP
        loss_plus = loss_of_params()
        network.params[i] = original - FD_STEP
        loss_minus = loss_of_params()
        network.params[i] = original
        gradient[i] = (loss_plus - loss_minus) / (2 * FD_STEP)
    return gradient


# Smooth activations, whose derivative comes from the output (and so from the
# output before dropout, which the backward pass restores) or from z.
@pytest.mark.parametrize(
    "loss, n_outputs", [("log_loss", 3), ("squared_error", 2), ("poisson", 2)]
)
@pytest.mark.parametrize(
    "activation",
    ["tanh", "logistic", "softplus", "elu", "silu", "gelu_tanh", ["silu", "tanh"]],
    ids=str,
)
def test_gradient_with_a_fixed_mask_matches_finite_differences(
    activation, loss, n_outputs
):
    network, X, y, sample_weight = make_network(activation, loss, n_outputs=n_outputs)
    rates = [0.5, 0.3]

    def loss_of_params():
        return loss_with_fixed_masks(network, X, y, sample_weight, rates, seed=2)

    loss_of_params()
    analytic = network.grads.copy()
    numeric = numerical_gradient(network, loss_of_params)

    scale = np.abs(numeric).max()
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_RTOL * scale)
    # The masks do change the gradient: the check is not that of the full net.
    workspace = Workspace(network.layer_units, N_SAMPLES, np.float64)
    network.loss_gradient(X, y, sample_weight, 0.1, workspace)
    assert np.abs(network.grads - analytic).max() > 0.01 * scale


def test_a_unit_dropped_for_every_sample_gets_no_gradient_downstream():
    network, X, y, sample_weight = make_network("tanh")
    X, y, sample_weight = X[:4], y[:4], sample_weight[:4]
    dropout = Dropout([0.7, 0.0], np.random.default_rng(2))
    workspace = Workspace(network.layer_units, 4, np.float64, dropout)

    network.loss_gradient(X, y, sample_weight, 0.0, workspace)

    # The units of the first hidden layer that the mask removed from every
    # sample feed nothing forward: their outgoing weights and incoming
    # weights get no gradient.
    always_dropped = np.all(workspace.masks[0] == 0, axis=0)
    assert always_dropped.any() and not always_dropped.all()
    np.testing.assert_array_equal(network.layers[1].coef_grad[always_dropped], 0.0)
    np.testing.assert_array_equal(network.layers[0].coef_grad[:, always_dropped], 0.0)
    assert np.all(network.layers[1].coef_grad[~always_dropped].any(axis=1))


def test_zero_rates_draw_nothing_and_give_the_full_network():
    network, X, y, sample_weight = make_network("relu")
    generator = np.random.default_rng(0)
    state_before = generator.bit_generator.state
    dropout = Dropout([0.0, 0.0], generator)

    loss = network.loss_gradient(
        X, y, sample_weight, 0.1, Workspace(network.layer_units, 9, float, dropout)
    )
    grads = network.grads.copy()
    full_loss = network.loss_gradient(
        X, y, sample_weight, 0.1, Workspace(network.layer_units, 9, float)
    )

    assert generator.bit_generator.state == state_before
    assert loss == full_loss
    np.testing.assert_array_equal(grads, network.grads)


def test_prediction_drops_nothing_after_training_steps_with_dropout():
    network, X, y, sample_weight = make_network(["relu", "silu"])
    raw_before, _ = network.predict_raw(X)

    loss_with_fixed_masks(network, X, y, sample_weight, [0.5, 0.5], seed=0)
    raw_first, _ = network.predict_raw(X)
    raw_second, _ = network.predict_raw(X)

    np.testing.assert_array_equal(raw_first, raw_before)
    np.testing.assert_array_equal(raw_second, raw_before)


# --------------------------------------------------------------------------------
# Through the estimators


def make_data(kind, n_samples=60, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, N_FEATURES))
    signal = X @ rng.normal(size=N_FEATURES)
    y = (signal > 0).astype(int) if kind == "classifier" else signal
    return X, y


ESTIMATORS = {"classifier": ScratchMLPClassifier, "regressor": ScratchMLPRegressor}


def fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def make_estimator(kind, **params):
    settings = {
        "hidden_layer_sizes": (8, 6),
        "max_iter": 15,
        "batch_size": 16,
        "learning_rate_init": 0.01,
        "random_state": 0,
    }
    return ESTIMATORS[kind](**{**settings, **params})


def relu_forward(estimator, X):
    """The estimator's raw output by a plain NumPy pass over its weights."""
    inputs = X
    for coef, intercept in zip(
        estimator.coefs_[:-1], estimator.intercepts_[:-1], strict=True
    ):
        inputs = np.maximum(inputs @ coef + intercept, 0.0)
    return inputs @ estimator.coefs_[-1] + estimator.intercepts_[-1]


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_dropout_changes_training_but_prediction_is_deterministic(kind):
    X, y = make_data(kind)
    plain = fit_quietly(make_estimator(kind), X, y)
    dropped = fit_quietly(make_estimator(kind, dropout=0.5), X, y)

    assert not np.allclose(dropped.coefs_[0], plain.coefs_[0])
    assert dropped.loss_curve_ != plain.loss_curve_
    # Prediction runs the whole network: twice the same, and equal to a plain
    # forward pass over the weights.
    raw = relu_forward(dropped, X)
    if kind == "classifier":
        np.testing.assert_array_equal(dropped.predict(X), dropped.predict(X))
        np.testing.assert_allclose(
            dropped.predict_proba(X)[:, 1], 1 / (1 + np.exp(-raw[:, 0])), rtol=1e-12
        )
    else:
        np.testing.assert_array_equal(dropped.predict(X), dropped.predict(X))
        np.testing.assert_allclose(dropped.predict(X), raw[:, 0], rtol=1e-12)


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_same_random_state_gives_identical_fits(kind):
    X, y = make_data(kind)
    params = {"dropout": [0.5, 0.2]}

    first = fit_quietly(make_estimator(kind, **params), X, y)
    second = fit_quietly(make_estimator(kind, **params), X, y)
    other_seed = fit_quietly(make_estimator(kind, random_state=1, **params), X, y)

    assert first.loss_curve_ == second.loss_curve_
    for first_coef, second_coef in zip(first.coefs_, second.coefs_, strict=True):
        np.testing.assert_array_equal(first_coef, second_coef)
    assert not np.allclose(first.coefs_[0], other_seed.coefs_[0])


@pytest.mark.parametrize("zero", [0, 0.0, [0.0, 0.0], (0, 0), np.zeros(2)], ids=str)
def test_zero_dropout_keeps_every_draw_of_the_plain_fit(zero):
    X, y = make_data("classifier")
    plain = fit_quietly(make_estimator("classifier"), X, y)

    zero_dropout = fit_quietly(make_estimator("classifier", dropout=zero), X, y)

    assert zero_dropout.loss_curve_ == plain.loss_curve_
    for coef, plain_coef in zip(zero_dropout.coefs_, plain.coefs_, strict=True):
        np.testing.assert_array_equal(coef, plain_coef)


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_positive_dropout_draws_exactly_one_number_from_random_state(kind):
    # Without shuffling, a fit draws the initial weights only (a shuffle's
    # number of draws depends on the values drawn); the dropout fit then stands
    # one seed draw ahead of the plain one.
    X, y = make_data(kind)
    plain_state, dropout_state = np.random.RandomState(7), np.random.RandomState(7)
    params = {"max_iter": 4, "shuffle": False}

    fit_quietly(make_estimator(kind, random_state=plain_state, **params), X, y)
    fit_quietly(
        make_estimator(kind, random_state=dropout_state, dropout=0.3, **params),
        X,
        y,
    )
    plain_state.randint(np.iinfo(np.int32).max)

    assert plain_state.random_sample() == dropout_state.random_sample()


def test_dropout_narrows_the_gap_between_train_and_test_scores():
    # 40 noisy samples, 8 features, 64 hidden units: without dropout the
    # network fits the noise (train R^2 near 1, test far lower). Averaged over
    # three problems, dropout gives a smaller gap and a better test score.
    gaps, test_scores = {0.0: [], 0.5: []}, {0.0: [], 0.5: []}
    for seed in range(3):
        rng = np.random.RandomState(seed)
        weights = rng.normal(size=8)
        X = rng.normal(size=(440, 8))
        y = X @ weights / np.sqrt(8) + rng.normal(size=440)
        X_train, y_train, X_test, y_test = X[:40], y[:40], X[40:], y[40:]
        for rate in gaps:
            model = ScratchMLPRegressor(
                (64,),
                dropout=rate,
                alpha=0.0,
                learning_rate_init=0.01,
                batch_size=20,
                max_iter=300,
                n_iter_no_change=300,
                random_state=0,
            )
            fit_quietly(model, X_train, y_train)
            train = r2_score(y_train, model.predict(X_train))
            test = r2_score(y_test, model.predict(X_test))
            gaps[rate].append(train - test)
            test_scores[rate].append(test)

    assert np.mean(gaps[0.0]) > 0.6  # the plain network does overfit
    assert np.mean(gaps[0.5]) < np.mean(gaps[0.0]) - 0.1
    assert np.mean(test_scores[0.5]) > np.mean(test_scores[0.0]) + 0.05


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_partial_fit_with_dropout_is_reproducible(kind):
    X, y = make_data(kind)
    extra = {"classes": [0, 1]} if kind == "classifier" else {}
    models = [make_estimator(kind, dropout=0.4) for _ in range(2)]

    for model in models:
        for _ in range(3):
            model.partial_fit(X, y, **extra)

    np.testing.assert_array_equal(models[0].coefs_[1], models[1].coefs_[1])
    assert models[0].loss_curve_ == models[1].loss_curve_


def test_dropout_in_a_float32_network():
    X, y = make_data("classifier")

    model = fit_quietly(
        make_estimator("classifier", dropout=[0.3, 0.0], dtype="float32"), X, y
    )

    assert {coef.dtype for coef in model.coefs_} == {np.dtype(np.float32)}
    assert np.all(np.isfinite(model.predict_proba(X)))


def test_clone_keeps_per_layer_rates():
    model = make_estimator("classifier", dropout=[0.1, 0.2])

    assert clone(model).get_params()["dropout"] == [0.1, 0.2]


@pytest.mark.parametrize("dropout", [0.5, [0.0, 0.2]], ids=str)
def test_lbfgs_refuses_a_positive_rate(dropout):
    X, y = make_data("classifier")
    model = make_estimator("classifier", solver="lbfgs", dropout=dropout)

    with pytest.raises(ValueError, match="only applies to the stochastic solvers"):
        model.fit(X, y)


def test_lbfgs_accepts_zero_rates():
    X, y = make_data("regressor")

    model = fit_quietly(
        make_estimator("regressor", solver="lbfgs", dropout=[0, 0]), X, y
    )

    assert model.n_iter_ > 0


def test_a_refused_dropout_leaves_a_fitted_model_unchanged():
    X, y = make_data("classifier")
    model = fit_quietly(make_estimator("classifier"), X, y)
    proba_before = model.predict_proba(X)

    model.set_params(warm_start=True, solver="lbfgs", dropout=0.5)
    with pytest.raises(ValueError, match="dropout=0.5 only applies"):
        model.fit(X, y)

    np.testing.assert_array_equal(model.predict_proba(X), proba_before)


@pytest.mark.parametrize(
    "dropout, error, match",
    [
        (1.0, InvalidParameterError, "The 'dropout' parameter of"),
        (-0.1, InvalidParameterError, "The 'dropout' parameter of"),
        ([0.1], ValueError, r"holds 1 rate\(s\) but hidden_layer_sizes=\(8, 6\) "),
        ([0.1, 0.2, 0.3], ValueError, r"holds 3 rate\(s\) .* gives 2 hidden"),
        ([0.1, 1.0], InvalidParameterError, "Got 1.0 for hidden layer 1 instead"),
        ([0.1, np.nan], InvalidParameterError, "Got nan for hidden layer 1"),
        ([0.1, "a"], InvalidParameterError, "Got 'a' for hidden layer 1"),
        ([0.1, True], InvalidParameterError, "Got True for hidden layer 1"),
    ],
    ids=str,
)
def test_bad_rates_are_refused_naming_the_problem(dropout, error, match):
    X, y = make_data("classifier")

    with pytest.raises(error, match=match):
        make_estimator("classifier", dropout=dropout).fit(X, y)
