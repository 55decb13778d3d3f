"""Behaviour of ScratchMLPClassifier and ScratchMLPRegressor as estimators.

Training control (partial_fit, warm_start, early stopping, n_iter_no_change,
learning-rate schedules, convergence warnings), what is printed when verbose,
the input and target types accepted (float32, sparse, pandas, string and
categorical labels, multilabel indicators, sample weights), persistence, and
the accuracy reached on scikit-learn's bundled datasets.
"""

import copy
import itertools
import pickle
import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import scipy.special
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

ESTIMATORS = [ScratchMLPClassifier, ScratchMLPRegressor]
ESTIMATOR_IDS = ["classifier", "regressor"]
SOLVERS = ["sgd", "adam", "lbfgs"]

N_SAMPLES = 90

ITERATION_LINE = re.compile(r"^Iteration \d+, loss = \d+\.\d{8}$")
VALIDATION_LINE = re.compile(r"^Validation score: -?\d+\.\d{6}$")

parametrize_estimators = pytest.mark.parametrize(
    "estimator_class", ESTIMATORS, ids=ESTIMATOR_IDS
)


# --------------------------------------------------------------------------------
# Helpers


def classification_data():
    """Three well-separated classes in six standardised features."""
    X, y = make_classification(
        n_samples=N_SAMPLES,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=0,
    )
    return StandardScaler().fit_transform(X), y


def regression_data():
    """A noisy linear target in six features, standardised."""
    X, y = make_regression(
        n_samples=N_SAMPLES, n_features=6, n_informative=4, noise=5.0, random_state=0
    )
    return X, (y - y.mean()) / y.std()


def data_for(estimator_class):
    if estimator_class is ScratchMLPClassifier:
        return classification_data()
    return regression_data()


def fit_quietly(estimator, X, y, **fit_params):
    """Fit, ignoring the ConvergenceWarning of deliberately short runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit_params)


def partial_fit_once(estimator, X, y, **fit_params):
    """One partial_fit call; a classifier is told every class of ``y``."""
    if isinstance(estimator, ScratchMLPClassifier):
        fit_params.setdefault("classes", np.unique(y))
    return estimator.partial_fit(X, y, **fit_params)


def assert_same_weights(first, second, atol):
    for first_coef, second_coef in zip(first.coefs_, second.coefs_, strict=True):
        np.testing.assert_allclose(first_coef, second_coef, rtol=0, atol=atol)
    for first_bias, second_bias in zip(
        first.intercepts_, second.intercepts_, strict=True
    ):
        np.testing.assert_allclose(first_bias, second_bias, rtol=0, atol=atol)


HIDDEN_FUNCTIONS = {
    "identity": lambda z: z,
    "logistic": scipy.special.expit,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def output_from_public_weights(estimator, X):
    """predict (regressor) or predict_proba (classifier) from coefs_/intercepts_.

    Computed here, independently of the package, so that it tells whether the
    public attributes hold the weights the estimator predicts with.
    """
    hidden = HIDDEN_FUNCTIONS[estimator.activation]
    activations = X
    for coef, bias in zip(
        estimator.coefs_[:-1], estimator.intercepts_[:-1], strict=True
    ):
        activations = hidden(activations @ coef + bias)
    raw = activations @ estimator.coefs_[-1] + estimator.intercepts_[-1]
    if estimator.out_activation_ == "softmax":
        return scipy.special.softmax(raw, axis=1)
    if estimator.out_activation_ == "logistic":
        positive = scipy.special.expit(raw)
        if positive.shape[1] == 1:
            return np.hstack([1.0 - positive, positive])
        return positive
    return raw.ravel() if raw.shape[1] == 1 else raw


def model_output(estimator, X):
    if isinstance(estimator, ScratchMLPClassifier):
        return estimator.predict_proba(X)
    return estimator.predict(X)


def epoch_of_stop(values, tol, n_iter_no_change, higher_is_better):
    """The 1-based epoch at which scikit-learn's no-improvement rule stops.

    ``values`` are validation scores (higher is better) or training losses;
    None is returned when the rule never fires.
    """
    best = -np.inf
    epochs_without_improvement = 0
    for epoch, value in enumerate(values, start=1):
        progress = value if higher_is_better else -value
        if progress < best + tol:
            epochs_without_improvement += 1
        else:
            epochs_without_improvement = 0
        best = max(best, progress)
        if epochs_without_improvement > n_iter_no_change:
            return epoch
    return None


def early_stopping_split(estimator, X, y):
    """The validation set a fit with an integer random_state holds out.

    scikit-learn draws the initial weights, layer by layer, then splits with
    the same random state; replaying the draws reproduces the split. Like
    scikit-learn, the split is stratified for single-output classifiers only
    (``n_outputs_`` counts the output units, so not for multiclass).
    """
    rng = np.random.RandomState(estimator.random_state)
    layer_units = [X.shape[1], *estimator.hidden_layer_sizes, estimator.n_outputs_]
    for fan_in, fan_out in itertools.pairwise(layer_units):
        rng.uniform(size=(fan_in, fan_out))
        rng.uniform(size=fan_out)
    single_output_classifier = (
        isinstance(estimator, ScratchMLPClassifier) and estimator.n_outputs_ == 1
    )
    stratify = y if single_output_classifier else None
    _, X_val, _, y_val = train_test_split(
        X,
        y,
        random_state=rng,
        test_size=estimator.validation_fraction,
        stratify=stratify,
    )
    return X_val, y_val


# --------------------------------------------------------------------------------
# partial_fit and warm_start


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@parametrize_estimators
def test_repeated_partial_fit_equals_fit_with_as_many_epochs(estimator_class, solver):
    X, y = data_for(estimator_class)
    n_epochs = 5
    params = {
        "hidden_layer_sizes": (8,),
        "solver": solver,
        "learning_rate_init": 0.01,
        "batch_size": 30,
        "shuffle": False,
        "tol": 0.0,
        "random_state": 0,
    }
    fitted = fit_quietly(estimator_class(max_iter=n_epochs, **params), X, y)

    incremental = estimator_class(**params)
    for _ in range(n_epochs):
        partial_fit_once(incremental, X, y)

    assert incremental.t_ == fitted.t_ == n_epochs * N_SAMPLES
    np.testing.assert_allclose(
        incremental.loss_curve_, fitted.loss_curve_, rtol=0, atol=1e-12
    )
    assert_same_weights(incremental, fitted, atol=1e-12)


def five_sgd_epochs_split_and_whole(estimator_class, X, y, **params):
    """Five epochs of plain SGD, as warm-started fits of 2, 2 and 1 epochs and as
    one fit; returns ``(warm, one_fit)``."""
    params = {
        "hidden_layer_sizes": (8,),
        "solver": "sgd",
        "momentum": 0.0,
        "learning_rate_init": 0.05,
        "tol": 0.0,
        "random_state": 0,
        **params,
    }
    one_fit = fit_quietly(estimator_class(max_iter=5, **params), X, y)

    warm = estimator_class(warm_start=True, max_iter=2, **params)
    fit_quietly(warm, X, y)
    fit_quietly(warm, X, y)
    fit_quietly(warm.set_params(max_iter=1), X, y)
    return warm, one_fit


@parametrize_estimators
def test_warm_start_continues_from_the_previous_weights(estimator_class):
    X, y = data_for(estimator_class)

    warm, one_fit = five_sgd_epochs_split_and_whole(estimator_class, X, y)

    assert warm.n_iter_ == 1
    assert len(warm.loss_curve_) == 5
    assert warm.t_ == 5 * N_SAMPLES
    # Restarting from the same seed would repeat the first fit's first loss.
    assert warm.loss_curve_[2] < warm.loss_curve_[0]
    assert warm.loss_curve_[4] < warm.loss_curve_[0]
    assert warm.loss_curve_[-1] < one_fit.loss_curve_[0]
    np.testing.assert_allclose(
        output_from_public_weights(warm, X), model_output(warm, X), atol=1e-12
    )


@parametrize_estimators
def test_warm_start_without_shuffling_equals_one_long_fit(estimator_class):
    X, y = data_for(estimator_class)

    # Plain SGD keeps no optimizer state, so a fit split into several warm-started
    # fits takes exactly the steps of one long fit.
    warm, one_fit = five_sgd_epochs_split_and_whole(
        estimator_class, X, y, shuffle=False
    )

    assert warm.t_ == one_fit.t_
    np.testing.assert_allclose(warm.loss_curve_, one_fit.loss_curve_, atol=1e-12)
    assert_same_weights(warm, one_fit, atol=1e-12)


@parametrize_estimators
def test_refit_without_warm_start_starts_again(estimator_class):
    X, y = data_for(estimator_class)
    estimator = estimator_class(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    fresh = fit_quietly(clone(estimator), X, y)

    fit_quietly(estimator, X, y)
    fit_quietly(estimator, X, y)

    assert estimator.n_iter_ == 3
    assert len(estimator.loss_curve_) == 3
    assert estimator.t_ == 3 * N_SAMPLES
    assert_same_weights(estimator, fresh, atol=0)


@pytest.mark.parametrize("make_copy", [pickle.dumps, copy.deepcopy])
@parametrize_estimators
def test_copying_a_fitted_estimator_leaves_it_unchanged(estimator_class, make_copy):
    X, y = data_for(estimator_class)
    estimator = fit_quietly(estimator_class(hidden_layer_sizes=(8,), max_iter=3), X, y)
    attributes_before = set(vars(estimator))

    make_copy(estimator)

    assert set(vars(estimator)) == attributes_before
    assert len(estimator.coefs_) == len(estimator.intercepts_) == 2


@pytest.mark.parametrize("train_again", ["partial_fit", "warm_start_fit"])
@parametrize_estimators
def test_training_again_keeps_the_public_weights_in_sync(estimator_class, train_again):
    X, y = data_for(estimator_class)
    estimator = estimator_class(
        hidden_layer_sizes=(8,), max_iter=2, warm_start=True, random_state=0
    )
    fit_quietly(estimator, X, y)

    if train_again == "partial_fit":
        partial_fit_once(estimator, X, y)
    else:
        fit_quietly(estimator, X, y)

    np.testing.assert_allclose(
        output_from_public_weights(estimator, X),
        model_output(estimator, X),
        atol=1e-12,
    )


def test_classifier_partial_fit_keeps_the_classes_of_the_first_call():
    """The classes given to the first partial_fit call hold for the later calls,
    which need not repeat them, even where the first call's targets lack some."""
    X, y = classification_data()
    classifier = ScratchMLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    first_half = y < 2

    classifier.partial_fit(X[first_half], y[first_half], classes=[0, 1, 2])
    np.testing.assert_array_equal(classifier.classes_, [0, 1, 2])
    assert classifier.predict_proba(X).shape == (N_SAMPLES, 3)
    classifier.partial_fit(X, y)

    np.testing.assert_array_equal(classifier.classes_, [0, 1, 2])
    assert classifier.predict_proba(X).shape == (N_SAMPLES, 3)
    assert classifier.t_ == first_half.sum() + N_SAMPLES


# --------------------------------------------------------------------------------
# Early stopping and n_iter_no_change


def early_stopping_estimator(estimator_class, **params):
    return estimator_class(
        hidden_layer_sizes=(16,),
        learning_rate_init=0.01,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=3,
        max_iter=200,
        random_state=0,
        **params,
    )


@pytest.mark.parametrize("problem", ["multiclass", "binary", "regression"])
def test_early_stopping_records_the_validation_scores(problem):
    if problem == "regression":
        estimator_class, (X, y) = ScratchMLPRegressor, regression_data()
    else:
        estimator_class, (X, y) = ScratchMLPClassifier, classification_data()
        if problem == "binary":
            y = (y == 0).astype(int)

    estimator = fit_quietly(early_stopping_estimator(estimator_class), X, y)

    assert estimator.n_iter_ < estimator.max_iter
    assert len(estimator.validation_scores_) == estimator.n_iter_
    assert len(estimator.loss_curve_) == estimator.n_iter_
    assert estimator.best_loss_ is None
    assert estimator.best_validation_score_ == max(estimator.validation_scores_)
    X_val, y_val = early_stopping_split(estimator, X, y)
    assert estimator.score(X_val, y_val) == pytest.approx(
        estimator.best_validation_score_, abs=1e-12
    )


@parametrize_estimators
def test_early_stopping_restores_the_weights_of_the_best_epoch(estimator_class):
    X, y = data_for(estimator_class)
    estimator = fit_quietly(early_stopping_estimator(estimator_class), X, y)
    best_epoch = int(np.argmax(estimator.validation_scores_)) + 1
    assert best_epoch < estimator.n_iter_

    # The same run cut at the best epoch ends on the weights of that epoch.
    cut_at_best = early_stopping_estimator(estimator_class, tol=0.0)
    cut_at_best.set_params(max_iter=best_epoch, n_iter_no_change=1000)
    fit_quietly(cut_at_best, X, y)

    np.testing.assert_array_equal(
        cut_at_best.validation_scores_, estimator.validation_scores_[:best_epoch]
    )
    assert_same_weights(estimator, cut_at_best, atol=0)
    np.testing.assert_array_equal(estimator.predict(X), cut_at_best.predict(X))


def warm_sgd_or_adam(estimator_class, solver):
    return estimator_class(
        hidden_layer_sizes=(8,),
        solver=solver,
        max_iter=3,
        warm_start=True,
        random_state=0,
    )


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@parametrize_estimators
def test_warm_fit_switching_early_stopping_on_records_validation_scores(
    estimator_class, solver
):
    """A warm-started fit that switches early_stopping on records one validation
    score per epoch of its own, takes the best of them as best_validation_score_
    and leaves best_loss_ at its value from the fit before."""
    X, y = data_for(estimator_class)
    estimator = fit_quietly(warm_sgd_or_adam(estimator_class, solver), X, y)
    curve_before, best_loss_before = list(estimator.loss_curve_), estimator.best_loss_
    assert estimator.validation_scores_ is None
    assert best_loss_before == min(curve_before)

    fit_quietly(estimator.set_params(early_stopping=True), X, y)

    assert estimator.n_iter_ == 3
    assert isinstance(estimator.validation_scores_, list)
    assert len(estimator.validation_scores_) == 3
    assert estimator.best_validation_score_ == max(estimator.validation_scores_)
    assert estimator.best_loss_ == best_loss_before
    assert len(estimator.loss_curve_) == 6
    assert estimator.loss_curve_[:3] == curve_before


@pytest.mark.parametrize("history", [[True], [False, True]], ids=["on", "off_on"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@parametrize_estimators
def test_warm_fit_switching_early_stopping_off_tracks_best_loss_again(
    estimator_class, solver, history
):
    """A warm-started fit that switches early_stopping off appends its losses to
    loss_curve_, sets best_loss_ to the lowest loss of the epochs trained without
    early stopping, and leaves the validation scores as they were."""
    X, y = data_for(estimator_class)
    estimator = warm_sgd_or_adam(estimator_class, solver)
    for early_stopping in history:
        fit_quietly(estimator.set_params(early_stopping=early_stopping), X, y)
    curve_before = list(estimator.loss_curve_)
    scores_before = list(estimator.validation_scores_)
    best_score_before = estimator.best_validation_score_

    fit_quietly(estimator.set_params(early_stopping=False), X, y)

    assert len(estimator.loss_curve_) == len(curve_before) + 3
    assert estimator.loss_curve_[: len(curve_before)] == curve_before
    with_early_stopping = [flag for flag in [*history, False] for _ in range(3)]
    losses_without = [
        loss
        for loss, flag in zip(estimator.loss_curve_, with_early_stopping, strict=True)
        if not flag
    ]
    assert isinstance(estimator.best_loss_, float)
    assert np.isfinite(estimator.best_loss_)
    assert estimator.best_loss_ == min(losses_without)
    assert estimator.validation_scores_ == scores_before
    assert estimator.best_validation_score_ == best_score_before


@pytest.mark.parametrize("early_stopping", [True, False], ids=["validation", "loss"])
@parametrize_estimators
def test_training_stops_by_the_no_improvement_rule(estimator_class, early_stopping):
    X, y = data_for(estimator_class)
    tol, n_iter_no_change = 1e-2, 3
    estimator = estimator_class(
        hidden_layer_sizes=(16,),
        learning_rate_init=0.01,
        early_stopping=early_stopping,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        max_iter=300,
        random_state=0,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        estimator.fit(X, y)

    if early_stopping:
        values, higher_is_better = estimator.validation_scores_, True
    else:
        values, higher_is_better = estimator.loss_curve_, False
        assert estimator.validation_scores_ is None
        assert estimator.best_loss_ == min(estimator.loss_curve_)
    assert estimator.n_iter_ < estimator.max_iter
    assert (
        epoch_of_stop(values, tol, n_iter_no_change, higher_is_better)
        == estimator.n_iter_
    )


@pytest.mark.parametrize("early_stopping", [True, False], ids=["validation", "loss"])
@parametrize_estimators
def test_unreachable_tol_stops_after_n_iter_no_change_more_epochs(
    estimator_class, early_stopping
):
    X, y = data_for(estimator_class)
    estimator = estimator_class(
        hidden_layer_sizes=(8,),
        early_stopping=early_stopping,
        tol=1e6,
        n_iter_no_change=4,
        max_iter=100,
        random_state=0,
    )

    estimator.fit(X, y)

    # The first epoch always improves on the initial best; each later one fails.
    assert estimator.n_iter_ == 4 + 2


# --------------------------------------------------------------------------------
# Learning-rate schedules


def stalling_sgd(estimator_class, **params):
    """An SGD estimator whose every epoch after the first counts as a stall."""
    return estimator_class(
        hidden_layer_sizes=(8,),
        solver="sgd",
        tol=1e6,
        n_iter_no_change=2,
        random_state=0,
        **params,
    )


@parametrize_estimators
def test_constant_learning_rate_stays_at_its_initial_value(estimator_class):
    X, y = data_for(estimator_class)

    estimator = fit_quietly(
        estimator_class(
            hidden_layer_sizes=(8,),
            solver="sgd",
            learning_rate="constant",
            learning_rate_init=0.02,
            max_iter=4,
            tol=0.0,
        ),
        X,
        y,
    )

    assert estimator._optimizer.learning_rate == 0.02


@parametrize_estimators
def test_invscaling_learning_rate_follows_the_samples_seen(estimator_class):
    X, y = data_for(estimator_class)
    learning_rate_init, power_t = 0.05, 0.25

    estimator = fit_quietly(
        estimator_class(
            hidden_layer_sizes=(8,),
            solver="sgd",
            learning_rate="invscaling",
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=4,
            tol=0.0,
        ),
        X,
        y,
    )

    assert estimator.t_ == 4 * N_SAMPLES
    assert estimator._optimizer.learning_rate == pytest.approx(
        learning_rate_init / (estimator.t_ + 1) ** power_t, rel=1e-12
    )


@parametrize_estimators
def test_adaptive_learning_rate_is_divided_by_five_on_each_stall(
    estimator_class, capsys
):
    X, y = data_for(estimator_class)
    estimator = stalling_sgd(
        estimator_class,
        learning_rate="adaptive",
        learning_rate_init=0.1,
        max_iter=7,
        verbose=True,
    )

    fit_quietly(estimator, X, y)

    # Stalls are declared after epochs 4 and 7; training goes on after each.
    assert estimator.n_iter_ == 7
    assert estimator._optimizer.learning_rate == pytest.approx(0.1 / 25)
    stall_lines = [
        line for line in capsys.readouterr().out.splitlines() if "did not" in line
    ]
    assert stall_lines == [
        "Training loss did not improve more than tol=1000000.000000 for 2 "
        "consecutive epochs. Setting learning rate to 0.020000",
        "Training loss did not improve more than tol=1000000.000000 for 2 "
        "consecutive epochs. Setting learning rate to 0.004000",
    ]


@parametrize_estimators
def test_adaptive_learning_rate_stops_once_too_small(estimator_class, capsys):
    X, y = data_for(estimator_class)
    estimator = stalling_sgd(
        estimator_class,
        learning_rate="adaptive",
        learning_rate_init=1e-6,
        max_iter=50,
        verbose=True,
    )

    estimator.fit(X, y)

    assert estimator.n_iter_ == 4
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .endswith("Learning rate too small. Stopping.")
    )


@parametrize_estimators
def test_constant_learning_rate_stops_on_the_first_stall(estimator_class, capsys):
    X, y = data_for(estimator_class)
    estimator = stalling_sgd(
        estimator_class, learning_rate_init=0.01, max_iter=50, verbose=True
    )

    estimator.fit(X, y)

    assert estimator.n_iter_ == 4
    assert estimator._optimizer.learning_rate == 0.01
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Training loss did not improve more than tol=1000000.000000 for 2 "
        "consecutive epochs. Stopping."
    )


# --------------------------------------------------------------------------------
# Verbose output


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@parametrize_estimators
def test_verbose_prints_one_line_per_epoch(estimator_class, solver, capsys):
    X, y = data_for(estimator_class)
    estimator = estimator_class(
        hidden_layer_sizes=(8,), solver=solver, max_iter=4, verbose=1, random_state=0
    )

    fit_quietly(estimator, X, y)

    lines = capsys.readouterr().out.splitlines()
    assert all(ITERATION_LINE.match(line) for line in lines)
    assert lines == [
        f"Iteration {epoch}, loss = {loss:.8f}"
        for epoch, loss in enumerate(estimator.loss_curve_, start=1)
    ]


@parametrize_estimators
def test_verbose_with_early_stopping_prints_the_validation_scores(
    estimator_class, capsys
):
    X, y = data_for(estimator_class)
    estimator = early_stopping_estimator(estimator_class, verbose=True)
    estimator.set_params(max_iter=5, n_iter_no_change=100)

    fit_quietly(estimator, X, y)

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 5
    assert all(ITERATION_LINE.match(line) for line in lines[0::2])
    assert all(VALIDATION_LINE.match(line) for line in lines[1::2])
    assert lines[1::2] == [
        f"Validation score: {score:f}" for score in estimator.validation_scores_
    ]


@pytest.mark.parametrize("solver", SOLVERS)
@parametrize_estimators
def test_not_verbose_prints_nothing(estimator_class, solver, capsys):
    X, y = data_for(estimator_class)

    fit_quietly(
        estimator_class(
            hidden_layer_sizes=(8,), solver=solver, max_iter=4, verbose=0, tol=1e6
        ),
        X,
        y,
    )

    assert capsys.readouterr() == ("", "")


@parametrize_estimators
def test_verbose_lbfgs_prints_its_iterations(estimator_class, capsys):
    X, y = data_for(estimator_class)
    estimator = estimator_class(
        hidden_layer_sizes=(8,), solver="lbfgs", max_iter=6, verbose=True
    )

    fit_quietly(estimator, X, y)

    lines = capsys.readouterr().out.splitlines()
    iteration_lines = [line for line in lines if ITERATION_LINE.match(line)]
    assert len(iteration_lines) == estimator.n_iter_ == 6
    assert iteration_lines[-1] == f"Iteration 6, loss = {estimator.loss_:.8f}"


# --------------------------------------------------------------------------------
# Input types


@pytest.mark.parametrize("solver", SOLVERS)
@parametrize_estimators
def test_float32_input_gives_float32_weights_and_outputs(estimator_class, solver):
    X, y = data_for(estimator_class)
    X32 = X.astype(np.float32)

    estimator = fit_quietly(
        estimator_class(hidden_layer_sizes=(8,), solver=solver, max_iter=5), X32, y
    )

    assert all(coef.dtype == np.float32 for coef in estimator.coefs_)
    assert all(bias.dtype == np.float32 for bias in estimator.intercepts_)
    if estimator_class is ScratchMLPClassifier:
        assert estimator.predict_proba(X32).dtype == np.float32
        assert estimator.predict_log_proba(X32).dtype == np.float32
    else:
        assert estimator.predict(X32).dtype == np.float32
    assert np.isfinite(estimator.loss_)


@pytest.mark.parametrize("solver", SOLVERS)
@parametrize_estimators
def test_dtype_float32_trains_in_single_precision_on_float64_input(
    estimator_class, solver
):
    X, y = data_for(estimator_class)
    params = dict(hidden_layer_sizes=(16,), solver=solver, max_iter=60, random_state=0)

    single = fit_quietly(estimator_class(dtype="float32", **params), X, y)
    double = fit_quietly(estimator_class(**params), X, y)

    assert X.dtype == np.float64
    assert all(coef.dtype == np.float32 for coef in single.coefs_)
    assert all(coef.dtype == np.float64 for coef in double.coefs_)
    output = "predict_proba" if estimator_class is ScratchMLPClassifier else "predict"
    assert getattr(single, output)(X).dtype == np.float32
    # Same draws, same data: single precision follows the float64 run closely.
    # lbfgs can take another path once the line searches see different
    # rounding, so its comparison is on the fit's quality only.
    assert single.score(X, y) == pytest.approx(double.score(X, y), abs=0.02)
    if solver != "lbfgs":
        np.testing.assert_allclose(
            single.loss_curve_, double.loss_curve_, rtol=1e-3, atol=1e-5
        )


@parametrize_estimators
def test_dtype_float64_trains_in_double_precision_on_float32_input(estimator_class):
    X, y = data_for(estimator_class)

    estimator = fit_quietly(
        estimator_class(hidden_layer_sizes=(8,), max_iter=5, dtype="float64"),
        X.astype(np.float32),
        y,
    )

    assert all(coef.dtype == np.float64 for coef in estimator.coefs_)


def test_warm_start_refuses_to_change_the_dtype_of_a_fitted_network():
    X, y = classification_data()
    estimator = fit_quietly(
        ScratchMLPClassifier(hidden_layer_sizes=(8,), max_iter=5, dtype="float32"),
        X,
        y,
    )
    weights = [coef.copy() for coef in estimator.coefs_]

    estimator.set_params(dtype="float64", warm_start=True)
    with pytest.raises(ValueError, match="has dtype 'float32', but this call asks"):
        estimator.fit(X, y)

    for coef, before in zip(estimator.coefs_, weights, strict=True):
        np.testing.assert_array_equal(coef, before)


def sparse_friendly(X):
    """X with about half its entries set to zero."""
    return np.where(np.abs(X) < 0.7, 0.0, X)


@pytest.mark.parametrize("sparse_format", ["csr", "csc"])
@pytest.mark.parametrize("solver", SOLVERS)
@parametrize_estimators
def test_sparse_input_fits_the_same_weights_as_dense(
    estimator_class, solver, sparse_format
):
    X, y = data_for(estimator_class)
    X = sparse_friendly(X)
    X_sparse = scipy.sparse.csr_matrix(X).asformat(sparse_format)
    params = {
        "hidden_layer_sizes": (8,),
        "solver": solver,
        "batch_size": 32,
        "max_iter": 5,
        "random_state": 0,
    }

    dense_fit = fit_quietly(estimator_class(**params), X, y)
    sparse_fit = fit_quietly(estimator_class(**params), X_sparse, y)

    assert_same_weights(sparse_fit, dense_fit, atol=1e-10)
    np.testing.assert_allclose(
        model_output(sparse_fit, X_sparse), model_output(dense_fit, X), atol=1e-10
    )


@parametrize_estimators
def test_pickle_round_trip_predicts_identically(estimator_class):
    X, y = data_for(estimator_class)
    estimator = fit_quietly(
        estimator_class(hidden_layer_sizes=(8,), max_iter=5, random_state=0), X, y
    )

    coefs = [coef.copy() for coef in estimator.coefs_]
    intercepts = [bias.copy() for bias in estimator.intercepts_]
    prediction, output = estimator.predict(X), model_output(estimator, X)

    restored = pickle.loads(pickle.dumps(estimator))

    np.testing.assert_array_equal(restored.predict(X), prediction)
    np.testing.assert_array_equal(model_output(restored, X), output)
    for restored_array, array in zip(
        restored.coefs_ + restored.intercepts_, coefs + intercepts, strict=True
    ):
        np.testing.assert_array_equal(restored_array, array)
    assert restored.loss_curve_ == estimator.loss_curve_
    assert restored.get_params() == estimator.get_params()


@parametrize_estimators
def test_unpickled_weights_are_views_of_one_live_buffer(estimator_class):
    X, y = data_for(estimator_class)
    estimator = fit_quietly(
        estimator_class(hidden_layer_sizes=(8,), max_iter=5, random_state=0), X, y
    )
    restored = pickle.loads(pickle.dumps(estimator))
    output_before = model_output(restored, X)

    restored.coefs_[0][...] *= 0.5

    buffer = restored.coefs_[0].base
    assert buffer is not None
    assert all(array.base is buffer for array in restored.coefs_ + restored.intercepts_)
    output_after = model_output(restored, X)
    assert not np.allclose(output_after, output_before)
    np.testing.assert_allclose(
        output_after, output_from_public_weights(restored, X), atol=1e-12
    )
    np.testing.assert_array_equal(model_output(estimator, X), output_before)


@parametrize_estimators
def test_dataframe_input_keeps_the_feature_names(estimator_class):
    X, y = data_for(estimator_class)
    columns = [f"feature_{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)

    estimator = fit_quietly(
        estimator_class(hidden_layer_sizes=(8,), max_iter=3), frame, y
    )

    np.testing.assert_array_equal(estimator.feature_names_in_, columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_frame = estimator.predict(frame)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = estimator.predict(frame.to_numpy())
    np.testing.assert_array_equal(from_frame, from_array)
    with pytest.raises(ValueError, match="feature names"):
        estimator.predict(frame[columns[::-1]])


@parametrize_estimators
def test_array_input_has_no_feature_names(estimator_class):
    X, y = data_for(estimator_class)

    estimator = fit_quietly(estimator_class(hidden_layer_sizes=(8,), max_iter=3), X, y)

    assert not hasattr(estimator, "feature_names_in_")
    assert estimator.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_string_labels_are_predicted_as_strings(n_classes):
    X, y = classification_data()
    keep = y < n_classes
    names = np.array(["setosa", "versicolor", "virginica"])
    labels = names[y[keep]]

    classifier = ScratchMLPClassifier(
        hidden_layer_sizes=(8,), solver="lbfgs", max_iter=200, random_state=0
    ).fit(X[keep], labels)

    np.testing.assert_array_equal(classifier.classes_, names[:n_classes])
    predicted = classifier.predict(X[keep])
    assert set(predicted) <= set(names[:n_classes])
    assert classifier.predict_proba(X[keep]).shape == (keep.sum(), n_classes)
    assert accuracy_score(labels, predicted) > 0.9


def test_pandas_categorical_labels_are_supported():
    X, y = classification_data()
    categories = ["low", "mid", "high"]
    labels = pd.Series(pd.Categorical.from_codes(y, categories=categories))

    classifier = ScratchMLPClassifier(
        hidden_layer_sizes=(8,), solver="lbfgs", max_iter=200, random_state=0
    ).fit(X, labels)

    assert set(classifier.classes_) == set(categories)
    assert classifier.score(X, labels) > 0.9
    proba = classifier.predict_proba(X)
    predicted = classifier.predict(X)
    np.testing.assert_array_equal(
        predicted, classifier.classes_[np.argmax(proba, axis=1)]
    )


def test_multilabel_indicator_targets():
    X, Y = make_multilabel_classification(
        n_samples=N_SAMPLES, n_features=6, n_classes=3, random_state=0
    )
    X = StandardScaler().fit_transform(X)

    classifier = ScratchMLPClassifier(
        hidden_layer_sizes=(16,), solver="lbfgs", max_iter=300, random_state=0
    ).fit(X, Y)

    assert classifier.out_activation_ == "logistic"
    np.testing.assert_array_equal(classifier.classes_, [0, 1, 2])
    predicted = classifier.predict(X)
    assert predicted.shape == Y.shape
    assert set(np.unique(predicted)) <= {0, 1}
    proba = classifier.predict_proba(X)
    assert proba.shape == Y.shape
    # Independent labels: the rows need not sum to one.
    assert not np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(int))
    assert classifier.score(X, Y) == accuracy_score(Y, predicted)
    assert classifier.score(X, Y) > 0.7


def test_multilabel_partial_fit():
    X, Y = make_multilabel_classification(
        n_samples=N_SAMPLES, n_features=6, n_classes=3, random_state=0
    )
    classifier = ScratchMLPClassifier(hidden_layer_sizes=(8,), random_state=0)

    classifier.partial_fit(X, Y, classes=[0, 1, 2])
    classifier.partial_fit(X, Y)

    assert classifier.predict(X).shape == Y.shape
    assert classifier.t_ == 2 * N_SAMPLES


# --------------------------------------------------------------------------------
# Sample weights


@parametrize_estimators
def test_integer_sample_weights_equal_repeated_rows_for_lbfgs(estimator_class):
    X, y = data_for(estimator_class)
    counts = np.random.RandomState(0).randint(1, 4, N_SAMPLES)
    params = {
        "hidden_layer_sizes": (8,),
        "solver": "lbfgs",
        "max_iter": 30,
        "random_state": 0,
    }

    weighted = fit_quietly(estimator_class(**params), X, y, sample_weight=counts)
    repeated = fit_quietly(
        estimator_class(**params), np.repeat(X, counts, axis=0), np.repeat(y, counts)
    )

    assert weighted.loss_ == pytest.approx(repeated.loss_, abs=1e-8)
    assert_same_weights(weighted, repeated, atol=1e-6)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
@parametrize_estimators
def test_zero_sample_weights_equal_dropped_rows(estimator_class, solver):
    X, y = data_for(estimator_class)
    sample_weight = np.random.RandomState(0).uniform(0.5, 2.0, N_SAMPLES)
    sample_weight[::4] = 0.0
    kept = sample_weight > 0
    # One unshuffled batch per epoch ("auto" is min(200, n_samples)), so that
    # dropping rows changes no batch.
    params = {
        "hidden_layer_sizes": (8,),
        "solver": solver,
        "batch_size": "auto",
        "shuffle": False,
        "max_iter": 10,
        "random_state": 0,
    }

    with_zeros = fit_quietly(
        estimator_class(**params), X, y, sample_weight=sample_weight
    )
    dropped = fit_quietly(
        estimator_class(**params), X[kept], y[kept], sample_weight=sample_weight[kept]
    )

    assert with_zeros.loss_ == pytest.approx(dropped.loss_, abs=1e-10)
    assert_same_weights(with_zeros, dropped, atol=1e-10)


@parametrize_estimators
def test_batch_with_zero_weights_is_skipped(estimator_class):
    """A mini-batch whose sample weights are all zero is skipped: the fit takes
    the steps, and reports the loss, of a fit without those rows, while t_ still
    counts every sample of each epoch."""
    X, y = data_for(estimator_class)
    params = {
        "hidden_layer_sizes": (5,),
        "solver": "sgd",
        "batch_size": 10,
        "shuffle": False,
        "max_iter": 3,
        "tol": 0.0,
        "random_state": 0,
    }
    sample_weight = np.ones(N_SAMPLES)
    sample_weight[30:40] = 0.0  # the fourth of nine mini-batches
    kept = sample_weight > 0

    weighted = fit_quietly(estimator_class(**params), X, y, sample_weight=sample_weight)
    dropped = fit_quietly(estimator_class(**params), X[kept], y[kept])

    assert_same_weights(weighted, dropped, atol=1e-12)
    assert weighted.n_iter_ == dropped.n_iter_ == 3
    assert weighted.t_ == 3 * N_SAMPLES
    np.testing.assert_allclose(weighted.loss_, dropped.loss_, rtol=1e-12)


# --------------------------------------------------------------------------------
# Scores on bundled datasets


def train_test_score(estimator, X, y):
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = make_pipeline(StandardScaler(), estimator)
    return fit_quietly(model, X_train, y_train).score(X_test, y_test)


@pytest.mark.parametrize(
    "load, estimator, threshold",
    [
        (
            load_iris,
            ScratchMLPClassifier(solver="lbfgs", max_iter=300, random_state=0),
            0.9,
        ),
        (
            load_breast_cancer,
            ScratchMLPClassifier((16,), max_iter=100, random_state=0),
            0.95,
        ),
        (
            load_digits,
            ScratchMLPClassifier((64,), max_iter=30, random_state=0),
            0.95,
        ),
        (
            load_diabetes,
            TransformedTargetRegressor(
                ScratchMLPRegressor(
                    (8,), solver="lbfgs", alpha=10.0, max_iter=200, random_state=0
                ),
                transformer=StandardScaler(),
            ),
            0.3,
        ),
    ],
    ids=["iris", "breast_cancer", "digits", "diabetes"],
)
def test_score_on_bundled_dataset(load, estimator, threshold):
    X, y = load(return_X_y=True)

    assert train_test_score(estimator, X, y) > threshold


def test_regressor_fits_a_regression_problem_closely():
    X, y = make_regression(n_samples=300, n_features=5, noise=1.0, random_state=0)
    regressor = ScratchMLPRegressor((32,), solver="lbfgs", max_iter=500, random_state=0)

    assert train_test_score(regressor, X, y / y.std()) > 0.97


# --------------------------------------------------------------------------------
# Log-probabilities and warnings


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_log_proba_is_finite_where_predict_proba_saturates(n_classes):
    X, y = classification_data()
    keep = y < n_classes
    X, y = X[keep], y[keep]
    classifier = ScratchMLPClassifier(
        hidden_layer_sizes=(8,), solver="lbfgs", max_iter=100, random_state=0
    ).fit(X, y)
    saturating = X * 1e4

    log_proba = classifier.predict_log_proba(saturating)

    with np.errstate(divide="ignore"):
        naive_log_proba = np.log(classifier.predict_proba(saturating))
    assert np.isneginf(naive_log_proba).any()
    assert np.isfinite(log_proba).all()
    assert (log_proba <= 0).all()
    np.testing.assert_allclose(
        scipy.special.logsumexp(log_proba, axis=1), 0.0, atol=1e-12
    )
    np.testing.assert_allclose(
        np.exp(log_proba), classifier.predict_proba(saturating), rtol=0, atol=1e-12
    )
    # Where a probability is not tiny, rounding leaves its naive log accurate.
    proba = classifier.predict_proba(X)
    accurate = proba > 1e-6
    np.testing.assert_allclose(
        classifier.predict_log_proba(X)[accurate], np.log(proba[accurate]), atol=1e-9
    )


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@parametrize_estimators
def test_stochastic_solver_warns_when_max_iter_is_reached(estimator_class, solver):
    X, y = data_for(estimator_class)
    estimator = estimator_class(
        hidden_layer_sizes=(8,), solver=solver, max_iter=3, tol=0.0
    )

    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        estimator.fit(X, y)
    assert estimator.n_iter_ == 3


@parametrize_estimators
def test_lbfgs_warns_when_max_iter_is_reached(estimator_class):
    X, y = data_for(estimator_class)
    estimator = estimator_class(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=3)

    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        estimator.fit(X, y)
    assert estimator.n_iter_ == 3


@parametrize_estimators
def test_concurrent_predictions_equal_serial_ones(estimator_class):
    """Prediction writes nothing on the estimator, so threads can share one model."""
    X, y = data_for(estimator_class)
    estimator = estimator_class(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    fit_quietly(estimator, X, y)
    method = getattr(estimator, "predict_proba", estimator.predict)
    chunks = [X[start : start + 7] for start in range(0, len(X), 7)] * 20

    serial = [method(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(method, chunks))

    for expected, got in zip(serial, concurrent, strict=True):
        np.testing.assert_array_equal(got, expected)


@parametrize_estimators
def test_assigned_weights_change_predictions(estimator_class):
    """``coefs_[i] = W`` and ``coefs_ = [...]`` set the model's weights, as with
    scikit-learn's MLP; a wrong shape is refused."""
    X, y = data_for(estimator_class)
    estimator = fit_quietly(
        estimator_class(hidden_layer_sizes=(4,), max_iter=3, random_state=0), X, y
    )
    before = estimator.predict(X)

    estimator.coefs_[1] = np.zeros_like(estimator.coefs_[1])
    estimator.intercepts_ = [np.zeros(4), np.zeros(estimator.n_outputs_)]

    zeroed = estimator.predict(X)
    assert not np.array_equal(zeroed, before)
    assert np.unique(zeroed, axis=0).shape[0] == 1  # a constant model
    assert np.shares_memory(estimator.coefs_[1], estimator._network.params)
    with pytest.raises(ValueError, match=r"Cannot set coefs\[0\] of shape \(6, 4\)"):
        estimator.coefs_ = [np.zeros((2, 2)), np.zeros((4, 1))]
    with pytest.raises(TypeError, match="cannot be added, removed or reordered"):
        estimator.coefs_ += [np.zeros((2, 2))]
    assert len(estimator.coefs_) == estimator.n_layers_ - 1
    assert not hasattr(estimator_class(), "coefs_")


@pytest.mark.parametrize(
    "as_input",
    [np.asarray, np.asfortranarray, lambda X: X.tolist(), scipy.sparse.csr_matrix],
    ids=["array", "fortran", "list", "csr"],
)
@parametrize_estimators
def test_every_input_type_predicts_as_a_plain_float_array_does(
    estimator_class, as_input
):
    # Plain float arrays skip validate_data after a few cheap checks; the other
    # types go through it. Both paths must give the same predictions.
    X, y = data_for(estimator_class)
    estimator = fit_quietly(estimator_class(hidden_layer_sizes=(8,), max_iter=20), X, y)

    expected = estimator.predict(X)

    # A sparse product sums in another order, hence the tolerance.
    np.testing.assert_allclose(
        estimator.predict(as_input(X)), expected, rtol=1e-12, atol=1e-12
    )
    with pytest.raises(ValueError, match="Input X contains NaN"):
        estimator.predict(np.where(X > 1, np.nan, X))
    with pytest.raises(ValueError, match="X has 5 features"):
        estimator.predict(X[:, :5])
