"""Numerical safety of both estimators where floating point is pushed to its limits.

Three situations are checked, for every hidden activation and every kind of
output (binary, multiclass and multilabel classification; single, multiple and
Poisson regression):

- saturation: features scaled by 1e4 and logits of 1e3, where a naive sigmoid,
  softmax or log-loss overflows. Training and every prediction method must run
  without an overflow, invalid-value or division-by-zero error while NumPy is
  told to raise on each (underflow to zero is the correct limit there and stays
  ignored, as NumPy ignores it by default), and probabilities must stay finite
  and sum to one;
- divergence: a run whose loss or weights become infinite (a huge learning rate,
  or huge features) must stop, for every solver, with one clear ValueError that
  names the remedy, leave a warm model's finite weights exactly as they were, and
  do so even when warnings are turned into errors;
- overflow at prediction: a model that fitted without complaint never returns
  NaN; an input so large that the forward pass overflows is refused.

The Poisson output ``exp(z)`` is the one place where the true answer itself
leaves the float range (``z > log(max float)``, about 709.8 in float64); there
the prediction is infinite, never NaN, and NumPy's overflow warning stays.
"""

import contextlib
import functools
import itertools
import re
import warnings

import numpy as np
import pytest
import scipy.special
from sklearn.exceptions import ConvergenceWarning

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

HIDDEN_ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
OUTPUT_KINDS = [
    "binary",
    "multiclass",
    "multilabel",
    "regression",
    "multioutput_regression",
    "poisson",
]
CLASSIFICATION_KINDS = ["binary", "multiclass", "multilabel"]
SOLVERS = ["sgd", "adam", "lbfgs"]

N_SAMPLES, N_FEATURES = 60, 4
SATURATING_SCALE = 1e4


# --------------------------------------------------------------------------------
# Helpers


def make_problem(kind, dtype=np.float64):
    """Return standardised ``X``, targets of the given kind and the estimator."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES))
    signal = X @ rng.standard_normal((N_FEATURES, 3))
    targets = {
        "binary": (signal[:, 0] > 0).astype(int),
        "multiclass": np.argmax(signal, axis=1),
        "multilabel": (signal > 0).astype(int),
        "regression": signal[:, 0],
        "multioutput_regression": signal[:, :2],
        "poisson": rng.poisson(np.exp(0.3 * signal[:, 0])).astype(float),
    }
    if kind in CLASSIFICATION_KINDS:
        estimator = ScratchMLPClassifier
    else:
        loss = "poisson" if kind == "poisson" else "squared_error"
        estimator = functools.partial(ScratchMLPRegressor, loss=loss)
    return X.astype(dtype), targets[kind], estimator


@contextlib.contextmanager
def floating_point_errors_raise():
    """Make overflow, invalid operations and division by zero raise.

    Both routes are closed: NumPy's own floating-point checks raise
    FloatingPointError, and any RuntimeWarning becomes an error. Underflow to
    zero stays allowed, and so do the ConvergenceWarnings of short runs.
    """
    with (
        warnings.catch_warnings(),
        np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"),
    ):
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        yield


def fit_quietly(estimator, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit_params)


def assert_probabilities(proba, log_proba, kind):
    """Finite probabilities in [0, 1] (rows summing to one unless multilabel),
    finite log-probabilities <= 0 whose exponential is the probability."""
    assert np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()
    if kind != "multilabel":
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    assert np.isfinite(log_proba).all()
    assert (log_proba <= 0).all()
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------------
# Saturating inputs


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("kind", OUTPUT_KINDS)
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_saturating_features_predict_without_floating_point_errors(
    activation, kind, dtype
):
    """A model fitted on standardised data predicts on features 1e4 times larger
    (hidden units and outputs far into saturation) with no overflow or invalid
    operation, and with finite probabilities that sum to one."""
    X, y, estimator = make_problem(kind, dtype)
    model = fit_quietly(
        estimator(
            hidden_layer_sizes=(6,),
            activation=activation,
            solver="lbfgs",
            max_iter=15,
            random_state=0,
        ),
        X,
        y,
    )
    # With an unbounded hidden layer, saturating features make the Poisson
    # output z itself huge, and exp(z) leaves the float range: that case is
    # test_poisson_prediction_is_infinite_only_beyond_the_float_range.
    saturating = not (kind == "poisson" and activation in ("identity", "relu"))
    X_saturating = X * dtype(SATURATING_SCALE if saturating else 10.0)

    with floating_point_errors_raise():
        prediction = model.predict(X_saturating)
        if kind in CLASSIFICATION_KINDS:
            proba = model.predict_proba(X_saturating)
            log_proba = model.predict_log_proba(X_saturating)

    # Saturation really happened: some hidden pre-activation is far past the
    # point where exp overflows (about 709 in float64, 88 in float32).
    hidden_z = X_saturating @ model.coefs_[0] + model.intercepts_[0]
    assert np.abs(hidden_z).max() > np.log(np.finfo(dtype).max) or not saturating
    assert prediction.shape[0] == N_SAMPLES
    if kind in CLASSIFICATION_KINDS:
        assert proba.dtype == dtype
        assert_probabilities(proba, log_proba, kind)
    else:
        assert prediction.dtype == dtype
        assert np.isfinite(prediction).all()


@pytest.mark.parametrize(
    "kind, activation, solver",
    list(itertools.product(OUTPUT_KINDS, HIDDEN_ACTIVATIONS, SOLVERS)),
)
def test_training_on_saturating_features_never_hits_a_floating_point_error(
    kind, activation, solver
):
    """Training on features scaled by 1e4 either converges with finite weights,
    or, where the step is too large for such features, stops with the clear
    divergence error, never with an overflow or invalid-value error."""
    X, y, estimator = make_problem(kind)
    model = estimator(
        hidden_layer_sizes=(6,),
        activation=activation,
        solver=solver,
        max_iter=20,
        random_state=0,
    )

    try:
        with floating_point_errors_raise():
            model.fit(X * SATURATING_SCALE, y)
    except ValueError as error:
        assert str(error).startswith("Training diverged")
        assert not hasattr(model, "coefs_")
        return
    assert np.isfinite(model._network.params).all()
    assert np.isfinite(model.loss_curve_).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("kind", CLASSIFICATION_KINDS)
def test_logits_of_a_thousand_give_exact_probabilities(kind, dtype):
    """With logits of +-1e3 (probabilities that round to exactly 0 and 1), the
    probabilities sum to one and the log-probabilities are exact and finite:
    log p = -2000 where p rounds to 0."""
    X, y, estimator = make_problem(kind, dtype)
    model = fit_quietly(estimator(hidden_layer_sizes=(5,), max_iter=2), X, y)
    n_outputs = model.n_outputs_
    logits = np.array([1e3, -1e3, 0.0][:n_outputs], dtype=dtype)
    model.coefs_[-1] = np.zeros_like(model.coefs_[-1])
    model.intercepts_[-1] = logits

    with floating_point_errors_raise():
        proba = model.predict_proba(X)
        log_proba = model.predict_log_proba(X)
        prediction = model.predict(X)

    if kind == "multiclass":
        # log_softmax([1000, -1000, 0]) = [0, -2000, -1000].
        expected_log_proba = np.array([0.0, -2e3, -1e3])
        assert (prediction == model.classes_[0]).all()
    elif kind == "binary":
        # Column 0 is the negative class, whose logit is -1000.
        expected_log_proba = np.array([-1e3, 0.0])
        assert (prediction == model.classes_[1]).all()
    else:
        expected_log_proba = np.array([0.0, -1e3, -np.log(2.0)])
        np.testing.assert_array_equal(prediction, np.tile([1, 0, 0], (N_SAMPLES, 1)))
    assert_probabilities(proba, log_proba, kind)
    np.testing.assert_allclose(
        log_proba, np.tile(expected_log_proba, (N_SAMPLES, 1)), rtol=1e-6
    )
    np.testing.assert_array_equal(proba, np.exp(log_proba).astype(dtype))


@pytest.mark.parametrize("kind", CLASSIFICATION_KINDS)
def test_training_from_saturated_wrong_logits_is_finite(kind):
    """A partial_fit step from logits of +-1e3 that are confidently wrong has a
    loss of the size of the logits and a finite step: the log-loss is computed
    from the logits, never as log(0)."""
    X, y, estimator = make_problem(kind)
    model = estimator(hidden_layer_sizes=(5,), solver="sgd", random_state=0)
    model.partial_fit(
        X, y, classes=np.arange(3) if kind == "multilabel" else np.unique(y)
    )
    # Every sample is pushed to the class or labels it does not have.
    model.coefs_[-1] = np.zeros_like(model.coefs_[-1])
    if kind == "multiclass":
        model.intercepts_[-1] = [1e3, -1e3, -1e3]
        y_wrong = np.full(N_SAMPLES, model.classes_[1])
        expected_loss = 2e3
    elif kind == "binary":
        model.intercepts_[-1] = [1e3]
        y_wrong = np.full(N_SAMPLES, model.classes_[0])
        expected_loss = 1e3
    else:
        model.intercepts_[-1] = [1e3, 1e3, 1e3]
        y_wrong = np.zeros((N_SAMPLES, 3), dtype=int)
        expected_loss = 3e3

    with floating_point_errors_raise():
        model.partial_fit(X, y_wrong)

    assert model.loss_curve_[-1] == pytest.approx(expected_loss, rel=1e-3)
    assert np.isfinite(model._network.params).all()


def test_poisson_prediction_beyond_the_float_range_is_refused():
    """The Poisson prediction exp(z) is finite and warning-free up to z = 700;
    past log(max float) it would be +inf, which predict refuses with the error
    of any overflowing input."""
    X, y, estimator = make_problem("poisson")
    model = fit_quietly(estimator(hidden_layer_sizes=(5,), max_iter=2), X, y)
    model.coefs_[-1] = np.zeros_like(model.coefs_[-1])

    model.intercepts_[-1] = [700.0]
    with floating_point_errors_raise():
        prediction = model.predict(X)
    np.testing.assert_allclose(prediction, np.exp(700.0), rtol=1e-12)

    model.intercepts_[-1] = [710.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's, from exp
        with pytest.raises(ValueError, match="is not finite for 60 of the 60"):
            model.predict(X)


# --------------------------------------------------------------------------------
# Divergence

# For each estimator and solver, a run that diverges from standardised data: a
# huge learning rate where the solver's step grows with it, huge features where
# it does not (Adam's step is bounded by its rate; L-BFGS has none).
DIVERGING_RUNS = {
    ("classifier", "sgd"): {"learning_rate_init": 1e6},
    ("classifier", "adam"): {"learning_rate_init": 1e200},
    ("classifier", "lbfgs"): {"feature_scale": 1e200},
    ("regressor", "sgd"): {"learning_rate_init": 1e6},
    ("regressor", "adam"): {"feature_scale": 1e200},
    ("regressor", "lbfgs"): {"feature_scale": 1e100},
}
ESTIMATORS = {"classifier": ScratchMLPClassifier, "regressor": ScratchMLPRegressor}

STOCHASTIC_REMEDY = (
    r"To fix it, lower learning_rate_init=\S+, or scale the input data \(for "
    r"example with StandardScaler\)\. The estimator was left as it was before "
    r"this call\.$"
)
LBFGS_REMEDY = (
    r"To fix it, scale the input data \(for example with StandardScaler\)\. The "
    r"estimator was left as it was before this call\.$"
)


def _diverging_setup(name, solver):
    """The estimator class, data and parameters of a diverging run."""
    X, y, _ = make_problem("multiclass" if name == "classifier" else "regression")
    run = dict(DIVERGING_RUNS[name, solver])
    scale = run.pop("feature_scale", 1.0)
    params = {
        "hidden_layer_sizes": (6,),
        "solver": solver,
        "batch_size": 10,
        "max_iter": 50,
        "random_state": 0,
    }
    return ESTIMATORS[name], X, X * scale, y, params, run


@pytest.mark.parametrize("name, solver", list(DIVERGING_RUNS))
def test_divergence_stops_every_solver_with_a_clear_error(name, solver):
    """A diverging fit raises one ValueError that says where it diverged and what
    to do (lower the learning rate for the stochastic solvers, scale the data),
    and leaves the estimator unfitted."""
    cls, _, X_run, y, params, run = _diverging_setup(name, solver)
    model = cls(**params, **run)
    where = r"at epoch \d+" if solver != "lbfgs" else r"after \d+ L-BFGS iteration\(s\)"
    remedy = STOCHASTIC_REMEDY if solver != "lbfgs" else LBFGS_REMEDY

    with pytest.raises(ValueError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(X_run, y)

    assert re.match(
        rf"^Training diverged {where}: the loss is (nan|inf) and the weights are "
        rf"(finite|not all finite)\. {remedy}",
        str(info.value),
    )
    assert not hasattr(model, "coefs_")


@pytest.mark.parametrize("name, solver", list(DIVERGING_RUNS))
def test_divergence_of_a_warm_fit_keeps_the_last_finite_weights(name, solver):
    """A warm-started fit that diverges leaves the model's finite weights exactly
    as they were, and the model predicts as before."""
    cls, X, X_run, y, params, run = _diverging_setup(name, solver)
    model = fit_quietly(cls(**{**params, "max_iter": 5}, warm_start=True), X, y)
    weights_before = model._network.params.copy()
    prediction_before = model.predict(X)

    model.set_params(**run)
    with pytest.raises(ValueError, match="^Training diverged"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            model.fit(X_run, y)

    assert np.isfinite(model._network.params).all()
    assert model._network.params.tobytes() == weights_before.tobytes()
    np.testing.assert_array_equal(model.predict(X), prediction_before)


@pytest.mark.parametrize("name, solver", DIVERGING_RUNS)
def test_divergence_is_reported_clearly_when_warnings_are_errors(name, solver):
    """Under warnings and floating-point errors raised as exceptions (as in a
    test suite run with -W error), a diverging run still ends with the clear
    divergence ValueError, not with NumPy's report of the overflow."""
    cls, _, X_run, y, params, run = _diverging_setup(name, solver)
    model = cls(**params, **run)

    with pytest.raises(ValueError, match="^Training diverged"):
        with floating_point_errors_raise():
            model.fit(X_run, y)
    assert not hasattr(model, "coefs_")


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_a_last_step_that_overflows_the_network_is_reported(loss):
    """One full-batch SGD step on huge features gives finite but huge weights
    whose output overflows on the training data itself: the squared error's
    linear output becomes infinite, the Poisson exp(z) in float32 too. Such a
    run diverged, and fit must say so rather than return a model that cannot
    predict its own training data."""
    if loss == "poisson":
        X = np.array([[48.730362], [-18.352692]], dtype=np.float32)
        y = np.array([1.0, 3.0])
    else:
        rng = np.random.RandomState(0)
        X, y = rng.standard_normal((10, 2)) * 1e150, rng.standard_normal(10)
    model = ScratchMLPRegressor(
        hidden_layer_sizes=(),
        loss=loss,
        solver="sgd",
        learning_rate_init=0.1 if loss == "squared_error" else 1e-3,
        batch_size=len(X),
        max_iter=1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(ValueError, match="^Training diverged"):
            model.fit(X, y)
    assert not hasattr(model, "coefs_")


# --------------------------------------------------------------------------------
# A model that fitted never predicts NaN


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", OUTPUT_KINDS)
def test_a_model_that_fitted_never_predicts_nan(kind, solver):
    """Over activations, with huge features or a huge learning rate, a fit either
    raises the divergence error or leaves a model whose every output, on its
    own training data, is free of NaN."""
    X, y, estimator = make_problem(kind)
    # Huge features, and a huge learning rate (which L-BFGS has not). For
    # features scaled by 1e4, see
    # test_training_on_saturating_features_never_hits_a_floating_point_error.
    runs = [(1e100, 1e-2)] if solver == "lbfgs" else [(1e100, 1e-2), (1.0, 1e3)]
    for activation, (scale, rate) in itertools.product(HIDDEN_ACTIVATIONS, runs):
        model = estimator(
            hidden_layer_sizes=(5,),
            activation=activation,
            solver=solver,
            learning_rate_init=rate,
            max_iter=5,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                model.fit(X * scale, y)
            except ValueError as error:
                assert str(error).startswith("Training diverged")
                continue
            outputs = [model.predict(X * scale)]
            if kind in CLASSIFICATION_KINDS:
                outputs += [
                    model.predict_proba(X * scale),
                    model.predict_log_proba(X * scale),
                ]
        for output in outputs:
            assert not np.isnan(np.asarray(output, dtype=float)).any(), (
                activation,
                scale,
                rate,
            )


@functools.cache
def _overflowing_model(kind):
    """A relu model fitted on standardised data, and an input that overflows its
    forward pass: infinite hidden activations of both signs meet in the output."""
    X, y, estimator = make_problem(kind)
    model = fit_quietly(
        estimator(
            hidden_layer_sizes=(6, 5), solver="lbfgs", max_iter=50, random_state=0
        ),
        X,
        y,
    )
    # The largest scale that keeps every input finite.
    scale = np.finfo(X.dtype).max / np.abs(X).max() / 2
    return model, X * scale


@pytest.mark.parametrize("kind", OUTPUT_KINDS)
def test_an_input_that_overflows_the_network_is_refused(kind):
    """Finite inputs so large that the forward pass overflows are refused with
    an error that names the rows and the remedy, where the outputs would be NaN
    (the softmax of infinite logits) or meaningless."""
    model, X_overflowing = _overflowing_model(kind)
    methods = ["predict", "score"]
    if kind in CLASSIFICATION_KINDS:
        methods += ["predict_proba", "predict_log_proba"]
    y = make_problem(kind)[1]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        raw, prediction = model._forward(X_overflowing)
    assert not np.isfinite(raw).all(), "the input no longer overflows this network"
    # The regressor checks its prediction, which exp(z) can overflow alone.
    checked = raw if kind in CLASSIFICATION_KINDS else prediction
    n_bad = int((~np.isfinite(checked).all(axis=1)).sum())
    for method in methods:
        args = (X_overflowing, y) if method == "score" else (X_overflowing,)
        with pytest.raises(ValueError) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            getattr(model, method)(*args)
        assert re.match(
            rf"^The output of {type(model).__name__}'s network is not finite for "
            rf"{n_bad} of the {N_SAMPLES} samples of X \(rows \[\d+(, \d+)*(, \.\.\.)?"
            r"\]\): the forward pass overflowed\. X holds values far larger than the "
            r"network can take; scale X as the training data was scaled\.$",
            str(info.value),
        ), str(info.value)


def test_softmax_of_the_overflowing_input_would_be_nan():
    """The case the refusal above guards against is real: the network's own
    softmax of these infinite logits is NaN."""
    model, X_overflowing = _overflowing_model("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        raw, _ = model._forward(X_overflowing)
        naive = scipy.special.softmax(raw, axis=1)
    assert np.isnan(naive).any()
