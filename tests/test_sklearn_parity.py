"""Numerical parity of the scratch estimators with scikit-learn's own MLPs.

Three levels of agreement are checked, from the most local to the most global:

- the forward pass: with scikit-learn's weights copied into ours, every
  prediction method returns the same numbers;
- the training step: from identical weights, one or two optimizer steps (plain
  SGD, SGD with classical or Nesterov momentum, Adam) land on the same weights,
  with and without L2 penalty and sample weights;
- whole fits: with the same ``random_state`` both packages draw the same initial
  weights, shuffle the same way and follow the same trajectory (loss curves,
  validation scores, final weights), and L-BFGS reaches the same loss.

The deliberate differences are checked as such: for a multi-output squared
error our ``loss_`` sums over the outputs, where scikit-learn averages them.
"""

import itertools
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

HIDDEN_ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
CLASSIFICATION_TARGETS = ["binary", "multiclass", "multilabel"]
REGRESSION_TARGETS = ["regression", "multioutput_regression", "poisson"]
TARGET_TYPES = CLASSIFICATION_TARGETS + REGRESSION_TARGETS

N_SAMPLES = 40
N_FEATURES = 5

# Settings under which one call to fit takes exactly max_iter steps, each over
# the whole training set in its original order.
FULL_BATCH = {"batch_size": N_SAMPLES, "shuffle": False}

STEP_SOLVERS = {
    "sgd": {"solver": "sgd", "momentum": 0.0, "max_iter": 1},
    "adam": {"solver": "adam", "max_iter": 1},
    "sgd_momentum": {
        "solver": "sgd",
        "momentum": 0.9,
        "nesterovs_momentum": False,
        "max_iter": 2,
    },
    "sgd_nesterov": {
        "solver": "sgd",
        "momentum": 0.9,
        "nesterovs_momentum": True,
        "max_iter": 2,
    },
}


# --------------------------------------------------------------------------------
# Helpers


def make_problem(target_type, dtype=np.float64):
    """Return a small, reproducible ``(X, y)`` of the given target type."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES))
    signal = X @ rng.standard_normal((N_FEATURES, 3))
    noise = 0.1 * rng.standard_normal((N_SAMPLES, 3))

    if target_type == "binary":
        y = (signal[:, 0] > 0).astype(int)
    elif target_type == "multiclass":
        y = np.argmax(signal, axis=1)
    elif target_type == "multilabel":
        y = (signal > 0).astype(int)
    elif target_type == "regression":
        y = signal[:, 0] + noise[:, 0]
    elif target_type == "multioutput_regression":
        y = signal[:, :2] + noise[:, :2]
    elif target_type == "poisson":
        y = rng.poisson(np.exp(0.5 * signal[:, 0])).astype(float)
    else:
        raise ValueError(target_type)
    return X.astype(dtype), y


def make_sample_weight():
    """Return positive, uneven sample weights for ``make_problem``'s data."""
    return np.random.RandomState(1).uniform(0.2, 3.0, N_SAMPLES)


def make_estimator_pair(target_type, **params):
    """Return scikit-learn's estimator and ours for the target type, same params."""
    if target_type in CLASSIFICATION_TARGETS:
        return MLPClassifier(**params), ScratchMLPClassifier(**params)
    loss = "poisson" if target_type == "poisson" else "squared_error"
    return (
        MLPRegressor(loss=loss, **params),
        ScratchMLPRegressor(loss=loss, **params),
    )


def fit_quietly(estimator, X, y, sample_weight=None):
    """Fit, ignoring the ConvergenceWarning of deliberately short runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, sample_weight=sample_weight)


def fit_same_seed_pair(their_class, our_class, params, X, y, sample_weight=None):
    """Build scikit-learn's estimator and ours with the same ``params``, fit both
    on the same data and return ``(theirs, ours)``."""
    theirs, ours = their_class(**params), our_class(**params)
    fit_quietly(theirs, X, y, sample_weight)
    fit_quietly(ours, X, y, sample_weight)
    return theirs, ours


def transplant_weights(source, target):
    """Copy ``source``'s weights into ``target``'s arrays, in place."""
    for target_coef, source_coef in zip(target.coefs_, source.coefs_, strict=True):
        target_coef[...] = source_coef
    for target_bias, source_bias in zip(
        target.intercepts_, source.intercepts_, strict=True
    ):
        target_bias[...] = source_bias


def all_weights(estimator):
    """Return every weight and bias of a fitted estimator as one 1-D array."""
    return np.concatenate(
        [array.ravel() for array in [*estimator.coefs_, *estimator.intercepts_]]
    )


def assert_same_weights(theirs, ours, atol):
    assert len(ours.coefs_) == len(theirs.coefs_)
    for our_coef, their_coef in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(our_coef, their_coef, rtol=0, atol=atol)
    for our_bias, their_bias in zip(ours.intercepts_, theirs.intercepts_, strict=True):
        np.testing.assert_allclose(our_bias, their_bias, rtol=0, atol=atol)


def assert_same_predictions(theirs, ours, X, atol):
    """Assert that every prediction method of both estimators agrees on X."""
    their_prediction = theirs.predict(X)
    our_prediction = ours.predict(X)
    assert our_prediction.shape == their_prediction.shape
    assert our_prediction.dtype == their_prediction.dtype
    if isinstance(ours, ScratchMLPRegressor):
        np.testing.assert_allclose(our_prediction, their_prediction, rtol=0, atol=atol)
        return
    np.testing.assert_array_equal(our_prediction, their_prediction)

    their_proba = theirs.predict_proba(X)
    our_proba = ours.predict_proba(X)
    assert our_proba.dtype == their_proba.dtype
    np.testing.assert_allclose(our_proba, their_proba, rtol=0, atol=atol)

    with np.errstate(divide="ignore"):
        their_log_proba = np.log(their_proba)
    finite = np.isfinite(their_log_proba)
    assert finite.any()
    np.testing.assert_allclose(
        ours.predict_log_proba(X)[finite], their_log_proba[finite], rtol=0, atol=atol
    )


# --------------------------------------------------------------------------------
# Forward pass at identical weights


def transplanted_pair(target_type, activation, hidden_layer_sizes, dtype):
    """Fit both packages differently on one problem, then copy scikit-learn's
    weights into ours; returns ``(X, theirs, ours)``."""
    X, y = make_problem(target_type, dtype=dtype)
    theirs, ours = make_estimator_pair(
        target_type,
        hidden_layer_sizes=hidden_layer_sizes,
        activation=activation,
        learning_rate_init=0.05,
        max_iter=5,
        random_state=0,
    )
    fit_quietly(theirs, X, y)
    # A different seed and length, so that only the transplant can make them agree.
    fit_quietly(ours.set_params(random_state=1, max_iter=2), X, y)
    assert ours.coefs_[0].dtype == theirs.coefs_[0].dtype == dtype

    transplant_weights(theirs, ours)
    return X, theirs, ours


@pytest.mark.parametrize(
    "hidden_layer_sizes", [(7,), (6, 4)], ids=["1-hidden", "2-hidden"]
)
@pytest.mark.parametrize("target_type", TARGET_TYPES)
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_predictions_match_sklearn_at_transplanted_weights(
    activation, target_type, hidden_layer_sizes
):
    X, theirs, ours = transplanted_pair(
        target_type, activation, hidden_layer_sizes, np.float64
    )

    assert_same_predictions(theirs, ours, X, atol=1e-10)


@pytest.mark.parametrize("target_type", TARGET_TYPES)
@pytest.mark.parametrize("activation", ["logistic", "relu"])
def test_float32_predictions_match_sklearn_at_transplanted_weights(
    activation, target_type
):
    X, theirs, ours = transplanted_pair(target_type, activation, (6, 4), np.float32)

    assert_same_predictions(theirs, ours, X, atol=1e-5)


# --------------------------------------------------------------------------------
# Training steps from identical weights


def take_steps_from_same_weights(theirs, ours, X, y, sample_weight):
    """Put both estimators on the same weights, then fit each once more.

    Both must be built with ``warm_start=True``: the first fit only creates the
    networks, the second starts from the weights copied from scikit-learn's,
    each with a new optimizer. Returns those starting weights.
    """
    fit_quietly(theirs, X, y, sample_weight)
    fit_quietly(ours, X, y, sample_weight)
    transplant_weights(theirs, ours)
    starting_weights = all_weights(theirs)

    fit_quietly(theirs, X, y, sample_weight)
    fit_quietly(ours, X, y, sample_weight)
    return starting_weights


def check_steps_match_sklearn(target_type, step_solver, activation, alpha, weighted):
    X, y = make_problem(target_type)
    sample_weight = make_sample_weight() if weighted else None
    theirs, ours = make_estimator_pair(
        target_type,
        hidden_layer_sizes=(6, 4),
        activation=activation,
        alpha=alpha,
        # The exponential output makes large Poisson steps overflow, in both.
        learning_rate_init=0.01 if target_type == "poisson" else 0.1,
        warm_start=True,
        random_state=0,
        **FULL_BATCH,
        **STEP_SOLVERS[step_solver],
    )

    starting_weights = take_steps_from_same_weights(theirs, ours, X, y, sample_weight)

    assert not np.allclose(all_weights(theirs), starting_weights, rtol=0, atol=1e-6)
    assert_same_weights(theirs, ours, atol=1e-8)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    if target_type != "multioutput_regression":  # see the test of that case below
        np.testing.assert_allclose(
            ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=1e-10
        )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("alpha", [0.0, 1e-2])
@pytest.mark.parametrize("target_type", TARGET_TYPES)
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_one_full_batch_sgd_step_matches_sklearn(
    activation, target_type, alpha, weighted
):
    check_steps_match_sklearn(target_type, "sgd", activation, alpha, weighted)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("target_type", TARGET_TYPES)
@pytest.mark.parametrize("step_solver", ["adam", "sgd_momentum", "sgd_nesterov"])
def test_adam_and_momentum_steps_match_sklearn(step_solver, target_type, weighted):
    check_steps_match_sklearn(target_type, step_solver, "tanh", 1e-2, weighted)


# --------------------------------------------------------------------------------
# Multi-output squared error: our loss_ sums over the outputs by design


def l2_penalty(estimator, alpha, weight_sum):
    """The L2 term both packages add to the loss, at the estimator's weights."""
    squared_norm = sum(float(np.sum(coef**2)) for coef in estimator.coefs_)
    return 0.5 * alpha * squared_norm / weight_sum


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("alpha", [0.0, 1e-2])
def test_multioutput_squared_error_loss_is_sklearns_times_n_outputs(alpha, weighted):
    X, y = make_problem("multioutput_regression")
    sample_weight = make_sample_weight() if weighted else None
    weight_sum = N_SAMPLES if sample_weight is None else sample_weight.sum()
    theirs, ours = make_estimator_pair(
        "multioutput_regression",
        hidden_layer_sizes=(6,),
        activation="tanh",
        alpha=alpha,
        learning_rate_init=0.1,
        warm_start=True,
        random_state=0,
        **FULL_BATCH,
        **STEP_SOLVERS["sgd"],
    )
    n_outputs = y.shape[1]

    fit_quietly(theirs, X, y, sample_weight)
    fit_quietly(ours, X, y, sample_weight)
    transplant_weights(theirs, ours)
    # The loss_ of a one-step fit is the loss at the weights it starts from.
    penalty = l2_penalty(theirs, alpha, weight_sum)
    fit_quietly(theirs, X, y, sample_weight)
    fit_quietly(ours, X, y, sample_weight)

    assert_same_weights(theirs, ours, atol=1e-8)
    their_data_term = theirs.loss_ - penalty
    np.testing.assert_allclose(
        ours.loss_, n_outputs * their_data_term + penalty, rtol=1e-12
    )
    assert ours.loss_ > theirs.loss_


def summed_objective(estimator, X, y, alpha):
    """Half the squared error summed over the outputs, averaged, plus the L2 term.

    The objective whose gradient both packages follow, computed from the
    predictions alone.
    """
    residuals = estimator.predict(X) - y
    data_term = 0.5 * float(np.mean(np.sum(residuals**2, axis=1)))
    return data_term + l2_penalty(estimator, alpha, len(y))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multioutput_lbfgs_loss_is_no_worse_than_sklearns(seed):
    X, y = make_problem("multioutput_regression")
    alpha = 1e-2
    theirs, ours = make_estimator_pair(
        "multioutput_regression",
        hidden_layer_sizes=(8,),
        activation="tanh",
        solver="lbfgs",
        alpha=alpha,
        max_iter=3000,
        random_state=seed,
    )

    fit_quietly(theirs, X, y)
    fit_quietly(ours, X, y)

    our_objective = summed_objective(ours, X, y, alpha)
    their_objective = summed_objective(theirs, X, y, alpha)
    np.testing.assert_allclose(ours.loss_, our_objective, rtol=1e-10)
    assert our_objective <= their_objective


# --------------------------------------------------------------------------------
# Whole fits with the same random_state


def load_scaled_digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def load_scaled_breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def digits_problem(task):
    """Digits inputs with a multiclass, binary or regression target."""
    X, digit = load_scaled_digits()
    if task == "multiclass":
        return X, digit, ScratchMLPClassifier, MLPClassifier
    if task == "binary":
        return X, (digit >= 5).astype(int), ScratchMLPClassifier, MLPClassifier
    return X, digit / 9.0, ScratchMLPRegressor, MLPRegressor


def glorot_uniform_draws(seed, layer_units, activation):
    """The weights scikit-learn's MLP draws first, layer by layer."""
    rng = np.random.RandomState(seed)
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in itertools.pairwise(layer_units):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        intercepts.append(rng.uniform(-bound, bound, fan_out))
    return coefs, intercepts


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["logistic", "relu"])
@pytest.mark.parametrize("target_type", ["multiclass", "multioutput_regression"])
def test_same_seed_gives_sklearns_initial_weights(target_type, activation, dtype):
    X, y = make_problem(target_type, dtype=dtype)
    # A step this small leaves every weight at its initial value.
    theirs, ours = make_estimator_pair(
        target_type,
        hidden_layer_sizes=(6, 4),
        activation=activation,
        solver="sgd",
        momentum=0.0,
        learning_rate_init=1e-300,
        max_iter=1,
        random_state=42,
    )

    fit_quietly(theirs, X, y)
    fit_quietly(ours, X, y)

    assert_same_weights(theirs, ours, atol=0)
    n_outputs = 3 if target_type == "multiclass" else y.shape[1]
    coefs, intercepts = glorot_uniform_draws(
        42, [N_FEATURES, 6, 4, n_outputs], activation
    )
    for our_coef, drawn_coef in zip(ours.coefs_, coefs, strict=True):
        assert our_coef.dtype == dtype
        np.testing.assert_array_equal(our_coef, drawn_coef.astype(dtype))
    for our_bias, drawn_bias in zip(ours.intercepts_, intercepts, strict=True):
        np.testing.assert_array_equal(our_bias, drawn_bias.astype(dtype))


STOCHASTIC_FITS = {
    "adam": {"solver": "adam", "learning_rate_init": 0.01},
    "sgd_constant": {"solver": "sgd", "learning_rate_init": 0.1},
    "sgd_invscaling": {
        "solver": "sgd",
        "learning_rate": "invscaling",
        "learning_rate_init": 0.5,
        "nesterovs_momentum": False,
    },
    # A tolerance no epoch can meet makes the adaptive schedule divide the rate.
    "sgd_adaptive": {
        "solver": "sgd",
        "learning_rate": "adaptive",
        "learning_rate_init": 0.1,
        "tol": 1e3,
        "n_iter_no_change": 2,
    },
}


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
@pytest.mark.parametrize("fit_name", list(STOCHASTIC_FITS))
def test_same_seed_stochastic_fit_tracks_sklearn(fit_name, task):
    X, y, our_class, their_class = digits_problem(task)
    params = {
        "hidden_layer_sizes": (16,),
        "max_iter": 10,
        "tol": 0.0,
        "n_iter_no_change": 1000,
        "random_state": 0,
        **STOCHASTIC_FITS[fit_name],
    }
    theirs, ours = fit_same_seed_pair(their_class, our_class, params, X, y)

    assert ours.n_iter_ == theirs.n_iter_ == 10
    assert ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=1e-10)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=0, abs=1e-10)
    assert_same_weights(theirs, ours, atol=1e-8)
    assert ours._optimizer.learning_rate == pytest.approx(
        theirs._optimizer.learning_rate, rel=1e-12
    )
    assert_same_predictions(theirs, ours, X[:50], atol=1e-8)


def test_adaptive_schedule_really_lowered_the_rate_in_the_parity_fit():
    X, y, our_class, _ = digits_problem("multiclass")
    params = {**STOCHASTIC_FITS["sgd_adaptive"], "n_iter_no_change": 2}

    ours = fit_quietly(
        our_class(hidden_layer_sizes=(16,), max_iter=10, random_state=0, **params),
        X,
        y,
    )

    # Stalls are declared after epochs 4, 7 and 10.
    assert ours._optimizer.learning_rate == pytest.approx(0.1 / 5**3)


@pytest.mark.parametrize(
    "our_class, their_class",
    [(ScratchMLPClassifier, MLPClassifier), (ScratchMLPRegressor, MLPRegressor)],
    ids=["classifier", "regressor"],
)
def test_same_seed_lbfgs_fit_reaches_sklearns_loss(our_class, their_class):
    X, y = load_scaled_breast_cancer()
    if our_class is ScratchMLPRegressor:
        y = X[:, 0] * X[:, 1] - X[:, 2]  # a smooth nonlinear function of X
        X = X[:, 3:]
    params = {
        "hidden_layer_sizes": (10,),
        "solver": "lbfgs",
        "max_iter": 20,
        "random_state": 0,
    }
    theirs, ours = fit_same_seed_pair(their_class, our_class, params, X, y)

    assert ours.n_iter_ == theirs.n_iter_ == 20
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=0, abs=1e-6)
    assert_same_weights(theirs, ours, atol=1e-4)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_same_seed_early_stopping_gives_sklearns_validation_scores(task, weighted):
    X, y, our_class, their_class = digits_problem(task)
    X, y = X[:600], y[:600]
    sample_weight = (
        np.random.RandomState(0).uniform(0.5, 2.0, len(y)) if weighted else None
    )
    params = {
        "hidden_layer_sizes": (16,),
        "learning_rate_init": 0.01,
        "early_stopping": True,
        "validation_fraction": 0.2,
        "n_iter_no_change": 3,
        "max_iter": 30,
        "random_state": 0,
    }
    theirs, ours = fit_same_seed_pair(
        their_class, our_class, params, X, y, sample_weight
    )

    assert len(ours.validation_scores_) == ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(
        ours.validation_scores_, theirs.validation_scores_, rtol=0, atol=1e-10
    )
    assert ours.best_validation_score_ == pytest.approx(
        theirs.best_validation_score_, abs=1e-10
    )
    assert_same_weights(theirs, ours, atol=1e-8)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("target_type", TARGET_TYPES)
def test_default_stochastic_fits_are_bit_identical_to_sklearns(target_type, solver):
    # Same draws, same arithmetic, operation for operation: with scikit-learn's
    # defaults nothing may differ, not even in the last bit.
    X, y = make_problem(target_type)
    params = dict(hidden_layer_sizes=(7,), solver=solver, max_iter=6, random_state=0)
    theirs, ours = make_estimator_pair(target_type, **params)

    fit_quietly(theirs, X, y)
    fit_quietly(ours, X, y)

    assert_same_weights(theirs, ours, atol=0)
    if target_type != "multioutput_regression":  # its loss_ is a sum, on purpose
        assert ours.loss_curve_ == pytest.approx(theirs.loss_curve_, rel=1e-12)
