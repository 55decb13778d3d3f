"""Tests of ScratchMLPRegressor's 'huber', 'absolute_error' and 'quantile' losses.

Each loss is first checked at what it is for, on data built for it, with fixed
seeds and clear margins: the Huber loss ignores outliers that drag the squared
error away, the absolute error follows the conditional median of skewed noise
where the squared error follows the mean, and the quantile loss at level 0.9
(0.1) lies above about 90% (10%) of held-out targets. Then the training itself:
the backpropagated gradient against finite differences, sample weights against
repeated rows, exact equivalences with the squared and absolute errors, and
``loss_`` and ``validation_loss_curve_`` against scikit-learn's own metrics.
Last the parameters: ``huber_delta`` and ``quantile`` are validated with
scikit-learn's messages, ignored by the other losses, and a warm start that would
change them is refused; pickling, float32 and ONNX export keep working.
"""

import inspect
import pickle
import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_absolute_error, mean_pinball_loss, r2_score
from sklearn.utils._param_validation import InvalidParameterError

from sknn_scratch import ScratchMLPRegressor
from sknn_scratch.gradient_check import check_gradients

NEW_LOSSES = {
    "huber": {"loss": "huber", "huber_delta": 0.7},
    "absolute_error": {"loss": "absolute_error"},
    "quantile": {"loss": "quantile", "quantile": 0.8},
}

# Settings under which adam learns the smooth functions below in a fraction of a
# second.
QUICK_ADAM = {
    "hidden_layer_sizes": (16,),
    "activation": "tanh",
    "learning_rate_init": 0.01,
    "max_iter": 300,
    "random_state": 0,
}


def true_function(X):
    return np.sin(2 * X[:, 0]) + 0.5 * X[:, 1]


def make_inputs(rng, n_samples):
    return rng.uniform(-1.5, 1.5, size=(n_samples, 2))


def fit_quietly(estimator, X, y, **fit_params):
    """Fit, ignoring the ConvergenceWarning of deliberately short runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit_params)


def huber_loss(y, prediction, huber_delta):
    """Return the mean Huber loss, written from its textbook definition."""
    residual = np.abs(np.asarray(prediction) - np.asarray(y))
    quadratic = residual <= huber_delta
    per_target = np.where(
        quadratic, residual**2 / 2, huber_delta * (residual - huber_delta / 2)
    )
    return per_target.reshape(len(per_target), -1).sum(axis=1).mean()


def reference_loss(params, y, prediction):
    """Return the mean over the samples of each sample's loss summed over its
    outputs, from scikit-learn's metrics (which give one mean per output)."""
    if params["loss"] == "huber":
        return huber_loss(y, prediction, params["huber_delta"])
    if params["loss"] == "absolute_error":
        per_output = mean_absolute_error(y, prediction, multioutput="raw_values")
    else:
        per_output = mean_pinball_loss(
            y, prediction, alpha=params["quantile"], multioutput="raw_values"
        )
    return per_output.sum()


# --------------------------------------------------------------------------------
# What each loss is for


def test_huber_ignores_outliers_that_pull_the_squared_error_away():
    rng = np.random.RandomState(0)
    X, X_test = make_inputs(rng, 300), make_inputs(rng, 400)
    y = true_function(X) + 0.1 * rng.normal(size=300)
    # 15% of the training targets are shifted upwards by 5 to 15.
    outliers = rng.rand(300) < 0.15
    y[outliers] += rng.uniform(5, 15, size=outliers.sum())

    errors = {}
    for loss in ("squared_error", "huber"):
        model = ScratchMLPRegressor(loss=loss, huber_delta=0.5, **QUICK_ADAM)
        prediction = fit_quietly(model, X, y).predict(X_test)
        errors[loss] = np.median(np.abs(prediction - true_function(X_test)))

    # Observed: about 0.11 for huber and 1.6 for the squared error.
    assert errors["huber"] < 0.2
    assert errors["huber"] < 0.25 * errors["squared_error"]


def test_absolute_error_tracks_the_conditional_median_of_skewed_noise():
    rng = np.random.RandomState(0)
    X, X_test = make_inputs(rng, 1000), make_inputs(rng, 400)
    # Exponential noise of scale 2: median 2 log 2 = 1.39, mean 2.
    y = true_function(X) + rng.exponential(2.0, size=1000)
    median = true_function(X_test) + 2.0 * np.log(2.0)

    errors = {}
    for loss in ("squared_error", "absolute_error"):
        model = ScratchMLPRegressor(loss=loss, **QUICK_ADAM)
        prediction = fit_quietly(model, X, y).predict(X_test)
        errors[loss] = np.mean(np.abs(prediction - median))

    # Observed: about 0.09 against 0.67; the gap between mean and median is 0.61.
    assert errors["absolute_error"] < 0.2
    assert errors["absolute_error"] < 0.5 * errors["squared_error"]


@pytest.fixture(scope="module")
def heteroscedastic_data():
    """Training and held-out data whose noise grows with the first feature."""
    rng = np.random.RandomState(0)
    X, X_test = make_inputs(rng, 1000), make_inputs(rng, 1000)

    def noisy(X):
        scale = 0.3 + 0.3 * np.abs(X[:, 0])
        return true_function(X) + scale * rng.normal(size=len(X))

    return X, noisy(X), X_test, noisy(X_test)


@pytest.fixture(scope="module")
def quantile_predictions(heteroscedastic_data):
    X, y, X_test, _ = heteroscedastic_data
    predictions = {}
    for level in (0.1, 0.9):
        model = ScratchMLPRegressor(loss="quantile", quantile=level, **QUICK_ADAM)
        predictions[level] = fit_quietly(model, X, y).predict(X_test)
    return predictions


@pytest.mark.parametrize("level", [0.1, 0.9])
def test_quantile_prediction_lies_above_its_level_of_held_out_targets(
    level, heteroscedastic_data, quantile_predictions
):
    y_test = heteroscedastic_data[3]

    coverage = np.mean(y_test <= quantile_predictions[level])

    # 1000 held-out targets: the binomial standard error alone is 0.01; the
    # tolerance of 0.05 leaves room for the model's own error. A squared-error
    # fit covers about 0.45 here.
    assert abs(coverage - level) < 0.05


def test_quantile_band_widens_where_the_noise_grows(
    heteroscedastic_data, quantile_predictions
):
    X_test = heteroscedastic_data[2]
    width = quantile_predictions[0.9] - quantile_predictions[0.1]
    near_zero, far_out = np.abs(X_test[:, 0]) < 0.4, np.abs(X_test[:, 0]) > 1.1

    assert np.mean(width > 0) > 0.99
    # The noise's scale is 0.3 + 0.3 |x0|: the band should be wider far out.
    assert width[far_out].mean() > 1.5 * width[near_zero].mean()


# --------------------------------------------------------------------------------
# Training: gradients, weights, equivalences, reported losses


def small_problem(seed=0, n_samples=30, n_outputs=1, far_targets=False):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 3))
    shape = (n_samples,) if n_outputs == 1 else (n_samples, n_outputs)
    if far_targets:
        # Far from every initial prediction, so that no finite difference
        # crosses the kink where a prediction meets its target (see below).
        y = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(8.0, 12.0, size=shape)
    else:
        y = 2.0 * rng.normal(size=shape)
    sample_weight = rng.uniform(0.2, 3.0, size=n_samples)
    return X, y, sample_weight


@pytest.mark.parametrize("name", list(NEW_LOSSES))
def test_backpropagated_gradient_matches_finite_differences(name):
    # With 3 tanh units, the initial output weights and bias are at most
    # sqrt(6 / 4) = 1.22 in size, so every initial prediction lies within 4.9 of
    # zero and every residual exceeds 3 for targets of size 8 to 12. The Huber
    # loss has a continuous derivative, so its targets need no such care.
    X, y, sample_weight = small_problem(far_targets=name != "huber")
    model = ScratchMLPRegressor(
        hidden_layer_sizes=(3,),
        activation="tanh",
        alpha=0.1,
        random_state=0,
        **NEW_LOSSES[name],
    )

    result = check_gradients(model, X, y, sample_weight, raise_on_failure=True)

    assert result.n_checked == 3 * 3 + 3 + 3 + 1
    assert np.abs(result.analytic).max() > 1e-2


@pytest.mark.parametrize("name", list(NEW_LOSSES))
def test_integer_sample_weights_equal_repeated_rows(name):
    X, y, _ = small_problem(seed=1, n_samples=12)
    repeats = np.array([1, 0, 3, 2, 1, 1, 2, 4, 1, 0, 2, 1])
    settings = {
        "hidden_layer_sizes": (4,),
        "activation": "tanh",
        "solver": "sgd",
        "learning_rate_init": 0.05,
        "shuffle": False,
        "max_iter": 4,
        "random_state": 0,
        **NEW_LOSSES[name],
    }

    weighted = ScratchMLPRegressor(batch_size=len(X), **settings)
    fit_quietly(weighted, X, y, sample_weight=repeats.astype(float))
    repeated = ScratchMLPRegressor(batch_size=int(repeats.sum()), **settings)
    fit_quietly(repeated, np.repeat(X, repeats, axis=0), np.repeat(y, repeats))

    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-12)
    for ours, theirs in zip(weighted.coefs_, repeated.coefs_, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_huber_above_every_residual_trains_exactly_as_the_squared_error():
    # Below its threshold the Huber loss is half the squared error, to the bit.
    X, y, sample_weight = small_problem(seed=2)
    settings = {"hidden_layer_sizes": (5,), "max_iter": 5, "random_state": 0}

    huber = ScratchMLPRegressor(loss="huber", huber_delta=1e6, **settings)
    fit_quietly(huber, X, y, sample_weight=sample_weight)
    squared_error = ScratchMLPRegressor(loss="squared_error", **settings)
    fit_quietly(squared_error, X, y, sample_weight=sample_weight)

    assert huber.loss_curve_ == squared_error.loss_curve_
    for ours, theirs in zip(huber.coefs_, squared_error.coefs_, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_median_quantile_trains_as_the_absolute_error_at_half_the_step():
    # At level 0.5 the pinball loss and its gradient are half the absolute
    # error's, so plain SGD with twice the step follows the same weights.
    X, y, _ = small_problem(seed=3)
    settings = {
        "hidden_layer_sizes": (5,),
        "solver": "sgd",
        "momentum": 0.0,
        "alpha": 0.0,
        "max_iter": 5,
        "random_state": 0,
    }

    quantile = ScratchMLPRegressor(
        loss="quantile", quantile=0.5, learning_rate_init=0.02, **settings
    )
    absolute = ScratchMLPRegressor(
        loss="absolute_error", learning_rate_init=0.01, **settings
    )
    fit_quietly(quantile, X, y)
    fit_quietly(absolute, X, y)

    np.testing.assert_allclose(
        quantile.loss_curve_, np.multiply(absolute.loss_curve_, 0.5), rtol=1e-14
    )
    for ours, theirs in zip(quantile.coefs_, absolute.coefs_, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("name", list(NEW_LOSSES))
def test_lbfgs_loss_is_the_loss_at_its_solution(name, n_outputs):
    # Also checks that L-BFGS reaches a solution on the non-smooth losses.
    X, y, _ = small_problem(seed=4, n_samples=40, n_outputs=n_outputs)
    alpha = 0.01
    model = ScratchMLPRegressor(
        hidden_layer_sizes=(5,),
        activation="tanh",
        solver="lbfgs",
        alpha=alpha,
        max_iter=100,
        random_state=0,
        **NEW_LOSSES[name],
    )
    fit_quietly(model, X, y)
    prediction = model.predict(X)

    data_term = reference_loss(NEW_LOSSES[name], y, prediction)
    l2_term = 0.5 * alpha * sum((coef**2).sum() for coef in model.coefs_) / len(X)
    assert model.loss_ == pytest.approx(data_term + l2_term, rel=1e-10)
    assert model.loss_curve_[-1] == pytest.approx(model.loss_, rel=1e-10)
    initial_guess = reference_loss(NEW_LOSSES[name], y, np.zeros_like(y))
    assert data_term < 0.8 * initial_guess


@pytest.mark.parametrize("name", list(NEW_LOSSES))
def test_validation_loss_curve_reports_the_loss(name):
    X, y, _ = small_problem(seed=5, n_samples=60)
    X_val, y_val, _ = small_problem(seed=6, n_samples=25)
    model = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), max_iter=4, random_state=0, **NEW_LOSSES[name]
    )

    fit_quietly(model, X, y, X_val=X_val, y_val=y_val)

    expected = reference_loss(NEW_LOSSES[name], y_val, model.predict(X_val))
    assert model.validation_loss_curve_[-1] == pytest.approx(expected, rel=1e-12)
    # The score stays R^2, which is not what these losses minimise.
    assert model.validation_scores_[-1] == pytest.approx(
        r2_score(y_val, model.predict(X_val)), rel=1e-12
    )
    assert model.score(X_val, y_val) == model.validation_scores_[-1]


@pytest.mark.parametrize("name", list(NEW_LOSSES))
def test_huge_outliers_keep_training_finite(name):
    X, y, _ = small_problem(seed=7, n_samples=50)
    y[:3] = [1e12, -1e12, 1e15]
    model = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), max_iter=20, random_state=0, **NEW_LOSSES[name]
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(X, y)

    assert np.isfinite(model.loss_curve_).all()
    assert all(np.isfinite(coef).all() for coef in model.coefs_)
    # Every target pulls with a bounded force, so the clean ones still count:
    # the fit stays near them rather than near 1e12.
    assert np.abs(model.predict(X)).max() < 100


@pytest.mark.parametrize("name", list(NEW_LOSSES))
def test_float32_training(name):
    X, y, _ = small_problem(seed=8, n_samples=40)
    model = ScratchMLPRegressor(
        hidden_layer_sizes=(5,),
        solver="lbfgs",
        alpha=0.0,
        max_iter=30,
        random_state=0,
        dtype="float32",
        **NEW_LOSSES[name],
    )

    fit_quietly(model, X, y)

    prediction = model.predict(X)
    assert prediction.dtype == np.float32
    expected = reference_loss(NEW_LOSSES[name], y, prediction.astype(np.float64))
    assert model.loss_ == pytest.approx(expected, rel=1e-5)


# --------------------------------------------------------------------------------
# The parameters


BAD_VALUES = [
    ("huber_delta", 0),
    ("huber_delta", -1.0),
    ("huber_delta", np.inf),
    ("huber_delta", np.nan),
    ("huber_delta", "1.0"),
    ("quantile", 0),
    ("quantile", 1),
    ("quantile", 1.5),
    ("quantile", -0.1),
    ("quantile", np.nan),
    ("quantile", None),
]
RANGES = {"huber_delta": r"\(0\.0, inf\)", "quantile": r"\(0\.0, 1\.0\)"}


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("name, value", BAD_VALUES)
def test_invalid_parameter_is_refused_naming_it_and_its_value(name, value, method):
    X, y, _ = small_problem()
    # Checked whatever the loss, as scikit-learn checks every parameter.
    model = ScratchMLPRegressor(**{name: value})

    message = (
        rf"The '{name}' parameter of ScratchMLPRegressor must be a float in the "
        rf"range {RANGES[name]}\. Got {re.escape(repr(value))} instead\."
    )
    with pytest.raises(InvalidParameterError, match=message):
        getattr(model, method)(X, y)


@pytest.mark.parametrize("value", [0.0, 1.0, 2, -0.5])
def test_invalid_quantile_is_refused_in_gradient_boostings_words(value):
    # GradientBoostingRegressor's quantile level, alpha, has the same range.
    X, y, _ = small_problem()
    with pytest.raises(InvalidParameterError) as theirs:
        GradientBoostingRegressor(loss="quantile", alpha=value).fit(X, y)
    with pytest.raises(InvalidParameterError) as ours:
        ScratchMLPRegressor(loss="quantile", quantile=value).fit(X, y)

    expected = str(theirs.value).replace("'alpha'", "'quantile'")
    expected = expected.replace("GradientBoostingRegressor", "ScratchMLPRegressor")
    assert str(ours.value) == expected


def test_unknown_loss_is_refused_listing_every_loss():
    X, y, _ = small_problem()

    with pytest.raises(InvalidParameterError) as error:
        ScratchMLPRegressor(loss="pinball").fit(X, y)

    message = str(error.value)
    assert message.startswith("The 'loss' parameter of ScratchMLPRegressor must be")
    for loss in ("squared_error", "poisson", "huber", "absolute_error", "quantile"):
        assert f"'{loss}'" in message


def test_parameters_are_stored_unchanged_and_cloned():
    level, threshold = np.float32(0.9), 2

    model = ScratchMLPRegressor(loss="quantile", quantile=level, huber_delta=threshold)

    assert model.get_params()["quantile"] is level
    assert model.get_params()["huber_delta"] is threshold
    # scikit-learn 1.7's clone deep-copies the value, later versions keep it.
    cloned_level = clone(model).get_params()["quantile"]
    assert cloned_level == level and type(cloned_level) is np.float32
    signature = list(inspect.signature(ScratchMLPRegressor).parameters)
    loss_position = signature.index("loss")
    assert signature[loss_position : loss_position + 3] == [
        "loss",
        "huber_delta",
        "quantile",
    ]
    assert ScratchMLPRegressor().get_params()["huber_delta"] == 1.0
    assert ScratchMLPRegressor().get_params()["quantile"] == 0.5


@pytest.mark.parametrize(
    "loss, unused",
    [("squared_error", {"huber_delta": 3.0, "quantile": 0.2})]
    + [("huber", {"quantile": 0.2}), ("quantile", {"huber_delta": 3.0})],
)
def test_parameters_of_other_losses_change_nothing(loss, unused):
    X, y, _ = small_problem(seed=9)
    settings = {"hidden_layer_sizes": (4,), "max_iter": 5, "random_state": 0}

    default = fit_quietly(ScratchMLPRegressor(loss=loss, **settings), X, y)
    changed = fit_quietly(ScratchMLPRegressor(loss=loss, **settings, **unused), X, y)

    assert changed.loss_curve_ == default.loss_curve_
    np.testing.assert_array_equal(changed.predict(X), default.predict(X))


@pytest.mark.parametrize(
    "params, changed",
    [
        ({"loss": "quantile", "quantile": 0.9}, {"quantile": 0.5}),
        ({"loss": "huber", "huber_delta": 1.0}, {"huber_delta": 2.0}),
        ({"loss": "huber"}, {"loss": "absolute_error"}),
    ],
)
@pytest.mark.parametrize("method", ["warm_start", "partial_fit"])
def test_continued_training_refuses_a_changed_loss_parameter(params, changed, method):
    X, y, _ = small_problem()
    model = ScratchMLPRegressor(hidden_layer_sizes=(4,), max_iter=3, **params)
    if method == "warm_start":
        model.set_params(warm_start=True)
    train = model.fit if method == "warm_start" else model.partial_fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        train(X, y)
    fitted_name = model._network.loss.name

    model.set_params(**changed)
    with pytest.raises(ValueError, match="The fitted network has loss") as error:
        train(X, y)

    # The message names both losses with their parameters.
    assert repr(fitted_name) in str(error.value)
    assert repr(model._loss_name({})) in str(error.value)


@pytest.mark.parametrize("method", ["warm_start", "partial_fit"])
def test_continued_training_keeps_going_with_the_same_parameters(method):
    X, y, _ = small_problem()
    params = {"loss": "quantile", "quantile": 0.9, "huber_delta": 1.0}
    model = ScratchMLPRegressor(hidden_layer_sizes=(4,), max_iter=3, **params)
    if method == "warm_start":
        model.set_params(warm_start=True)
    train = model.fit if method == "warm_start" else model.partial_fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        train(X, y)
        n_epochs = len(model.loss_curve_)
        # huber_delta plays no part in a quantile loss: changing it is harmless.
        model.set_params(huber_delta=5.0)
        train(X, y)

    assert len(model.loss_curve_) > n_epochs
    assert model._network.loss.name == "quantile(quantile=0.9)"


def test_pickled_model_keeps_its_loss():
    X, y, _ = small_problem()
    model = fit_quietly(
        ScratchMLPRegressor(hidden_layer_sizes=(4,), max_iter=3, **NEW_LOSSES["huber"]),
        X,
        y,
    )

    restored = pickle.loads(pickle.dumps(model))

    assert restored._network.loss.name == "huber(huber_delta=0.7)"
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    restored.partial_fit(X, y)
    restored.set_params(huber_delta=0.8)
    with pytest.raises(ValueError, match=r"'huber\(huber_delta=0\.7\)'"):
        restored.partial_fit(X, y)


# --------------------------------------------------------------------------------
# Export


@pytest.mark.parametrize("name", list(NEW_LOSSES))
def test_onnx_export_matches_predict(name):
    skl2onnx = pytest.importorskip("skl2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    import sknn_scratch.onnx  # noqa: F401  (registers the converters)

    X, y, _ = small_problem(seed=10, n_outputs=2)
    model = fit_quietly(
        ScratchMLPRegressor(hidden_layer_sizes=(4,), max_iter=5, **NEW_LOSSES[name]),
        X,
        y,
    )
    assert model.out_activation_ == "identity"

    onnx_model = skl2onnx.to_onnx(model, X[:1])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    (variable,) = session.run(None, {"X": X})

    prediction = model.predict(X)
    np.testing.assert_allclose(
        variable, prediction, rtol=0, atol=1e-10 * np.abs(prediction).max()
    )
