"""The training loop's features beyond scikit-learn's MLP.

A validation set given to ``fit`` (``X_val``, ``y_val``, ``sample_weight_val``)
and its metadata routing, the per-epoch ``history_``, ``validation_monitor``,
``restore_best_weights`` and ``best_iter_``, keyboard interrupts, and the table
printed with ``verbose >= 2``. The expected values are computed here from the
fitted models and scikit-learn's metrics, not taken from the loop.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.datasets import (
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss, r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

ESTIMATORS = [ScratchMLPClassifier, ScratchMLPRegressor]
parametrize_estimators = pytest.mark.parametrize(
    "estimator_class", ESTIMATORS, ids=["classifier", "regressor"]
)

N_TRAIN = 40

# --------------------------------------------------------------------------------
# Helpers


def classification_data():
    """A small noisy 3-class training set and a larger validation set."""
    X, y = make_classification(
        n_samples=120,
        n_features=6,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        flip_y=0.15,
        random_state=0,
    )
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


def regression_data():
    """A small noisy linear training set and a larger validation set."""
    X, y = make_regression(
        n_samples=120, n_features=6, n_informative=3, noise=30.0, random_state=0
    )
    y = y / y.std()
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


def data_for(estimator_class):
    if estimator_class is ScratchMLPClassifier:
        return classification_data()
    return regression_data()


def overfitting(estimator_class, **params):
    """A wide network that overfits the small training set within 40 epochs."""
    defaults = {
        "hidden_layer_sizes": (32,),
        "learning_rate_init": 0.03,
        "max_iter": 40,
        "random_state": 0,
    }
    return estimator_class(**{**defaults, **params})


def small(estimator_class, **params):
    params = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0, **params}
    return estimator_class(**params)


def fit_quietly(estimator, X, y, **fit_params):
    """Fit, ignoring the ConvergenceWarning of deliberately short runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit_params)


def column(history, key):
    """The values of one key, in the records that have it."""
    return [record[key] for record in history if key in record]


def assert_curves_match_history(estimator):
    """loss_curve_ and the validation curves are the columns of history_."""
    history = estimator.history_
    assert [record["epoch"] for record in history] == list(range(1, len(history) + 1))
    assert estimator.loss_curve_ == column(history, "loss")
    validated = column(history, "val_score")
    if estimator.validation_scores_ is None:
        assert validated == []
        assert estimator.validation_loss_curve_ is None
    else:
        assert estimator.validation_scores_ == validated
        assert estimator.validation_loss_curve_ == column(history, "val_loss")


def assert_same_weights(first, second):
    for first_array, second_array in zip(
        [*first.coefs_, *first.intercepts_],
        [*second.coefs_, *second.intercepts_],
        strict=True,
    ):
        np.testing.assert_array_equal(first_array, second_array)


def first_best(values, lower_is_better):
    """The 1-based position of the first best value."""
    values = np.asarray(values)
    return int(np.argmin(values) if lower_is_better else np.argmax(values)) + 1


def direct_validation_loss(estimator, X_val, y_val, sample_weight_val=None):
    """The validation loss of the model as it is, from scikit-learn's metrics."""
    if isinstance(estimator, ScratchMLPClassifier):
        return log_loss(
            y_val,
            estimator.predict_proba(X_val),
            sample_weight=sample_weight_val,
            labels=estimator.classes_,
        )
    squared_errors = (estimator.predict(X_val) - y_val) ** 2
    return 0.5 * np.average(squared_errors, weights=sample_weight_val)


def direct_validation_score(estimator, X_val, y_val, sample_weight_val=None):
    prediction = estimator.predict(X_val)
    if isinstance(estimator, ScratchMLPClassifier):
        return accuracy_score(y_val, prediction, sample_weight=sample_weight_val)
    return r2_score(y_val, prediction, sample_weight=sample_weight_val)


# --------------------------------------------------------------------------------
# history_


@pytest.mark.parametrize("with_validation", [False, True], ids=["alone", "X_val"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@parametrize_estimators
def test_history_has_one_record_per_epoch(estimator_class, solver, with_validation):
    X, y, X_val, y_val = data_for(estimator_class)
    fit_params = {"X_val": X_val, "y_val": y_val} if with_validation else {}

    estimator = fit_quietly(small(estimator_class, solver=solver), X, y, **fit_params)

    keys = ["epoch", "loss", "learning_rate", "seconds"]
    if with_validation:
        keys[2:2] = ["val_loss", "val_score"]
    assert len(estimator.history_) == estimator.n_iter_ == 5
    assert all(list(record) == keys for record in estimator.history_)
    assert all(record["seconds"] > 0 for record in estimator.history_)
    learning_rates = column(estimator.history_, "learning_rate")
    if solver == "lbfgs":
        assert learning_rates == [None] * 5
    else:
        assert learning_rates == [0.001] * 5
    assert_curves_match_history(estimator)
    assert (estimator.validation_loss_curve_ is None) is not with_validation


@parametrize_estimators
def test_history_continues_across_warm_starts_and_partial_fit(estimator_class):
    X, y, X_val, y_val = data_for(estimator_class)
    estimator = small(estimator_class, max_iter=3, warm_start=True)
    partial_fit_params = {}
    if estimator_class is ScratchMLPClassifier:
        partial_fit_params["classes"] = np.unique(y)

    fit_quietly(estimator, X, y, X_val=X_val, y_val=y_val)
    fit_quietly(estimator, X, y)
    estimator.partial_fit(X, y, **partial_fit_params)
    fit_quietly(estimator, X, y, X_val=X_val, y_val=y_val)

    history = estimator.history_
    validated = [True] * 3 + [False] * (3 + 1) + [True] * 3
    assert ["val_score" in record for record in history] == validated
    assert_curves_match_history(estimator)

    # A fit that starts anew starts a new history.
    fit_quietly(estimator.set_params(warm_start=False), X, y)
    assert len(estimator.history_) == 3
    assert_curves_match_history(estimator)


@parametrize_estimators
def test_early_stopping_fills_the_history_and_keeps_the_best_epoch(estimator_class):
    X, y, _, _ = data_for(estimator_class)

    estimator = fit_quietly(
        overfitting(estimator_class, early_stopping=True, n_iter_no_change=3),
        X,
        y,
    )

    assert_curves_match_history(estimator)
    assert estimator.best_validation_score_ == max(estimator.validation_scores_)
    assert estimator.best_iter_ == first_best(estimator.validation_scores_, False)
    assert estimator.best_iter_ < estimator.n_iter_


def test_learning_rate_column_is_the_rate_each_epoch_trained_with():
    X, y, _, _ = classification_data()
    learning_rate_init, power_t = 0.05, 0.25

    invscaling = fit_quietly(
        small(
            ScratchMLPClassifier,
            solver="sgd",
            learning_rate="invscaling",
            learning_rate_init=learning_rate_init,
            power_t=power_t,
        ),
        X,
        y,
    )
    adam = fit_quietly(small(ScratchMLPClassifier, learning_rate_init=0.02), X, y)

    # The schedule moves after each epoch, by the samples seen until then.
    samples_seen_before = N_TRAIN * np.arange(5)
    expected = np.where(
        samples_seen_before == 0,
        learning_rate_init,
        learning_rate_init / (samples_seen_before + 1.0) ** power_t,
    )
    np.testing.assert_allclose(
        column(invscaling.history_, "learning_rate"), expected, rtol=1e-12
    )
    assert column(adam.history_, "learning_rate") == [0.02] * 5


# --------------------------------------------------------------------------------
# The validation set given to fit


@parametrize_estimators
def test_validation_loss_and_score_measure_each_epochs_model(estimator_class):
    X, y, X_val, y_val = data_for(estimator_class)
    sample_weight_val = np.linspace(0.2, 2.0, len(y_val))
    fit_params = {
        "X_val": X_val,
        "y_val": y_val,
        "sample_weight_val": sample_weight_val,
    }
    long_run = fit_quietly(small(estimator_class, max_iter=4), X, y, **fit_params)

    # A run cut after an epoch holds that epoch's model; score it directly.
    for epoch in (1, 4):
        cut = fit_quietly(small(estimator_class, max_iter=epoch), X, y, **fit_params)
        record = long_run.history_[epoch - 1]
        assert record["val_loss"] == pytest.approx(
            direct_validation_loss(cut, X_val, y_val, sample_weight_val), rel=1e-10
        )
        assert record["val_score"] == pytest.approx(
            direct_validation_score(cut, X_val, y_val, sample_weight_val), abs=1e-12
        )


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@parametrize_estimators
def test_a_validation_set_alone_does_not_change_training(estimator_class, solver):
    X, y, X_val, y_val = data_for(estimator_class)

    alone = fit_quietly(small(estimator_class, solver=solver), X, y)
    validated = fit_quietly(
        small(estimator_class, solver=solver), X, y, X_val=X_val, y_val=y_val
    )

    assert_same_weights(alone, validated)
    assert alone.loss_curve_ == validated.loss_curve_
    assert alone.validation_scores_ is None
    assert len(validated.validation_scores_) == validated.n_iter_


@parametrize_estimators
def test_a_validation_set_replaces_the_early_stopping_split(estimator_class):
    X, y, X_val, y_val = data_for(estimator_class)

    estimator = fit_quietly(
        overfitting(
            estimator_class,
            early_stopping=True,
            validation_fraction=0.0,
            n_iter_no_change=3,
        ),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
    )

    assert estimator.n_iter_ < estimator.max_iter
    # Every training sample trained; the best epoch's model is restored.
    assert estimator.t_ == estimator.n_iter_ * N_TRAIN
    assert estimator.best_validation_score_ == pytest.approx(
        direct_validation_score(estimator, X_val, y_val), abs=1e-12
    )
    assert_curves_match_history(estimator)


@parametrize_estimators
def test_lbfgs_scores_the_validation_set_at_each_iteration(estimator_class):
    X, y, X_val, y_val = data_for(estimator_class)
    lbfgs = small(estimator_class, solver="lbfgs", max_iter=6)

    estimator = fit_quietly(lbfgs, X, y, X_val=X_val, y_val=y_val)
    with_early_stopping = fit_quietly(
        clone(lbfgs).set_params(early_stopping=True), X, y, X_val=X_val, y_val=y_val
    )

    assert len(estimator.validation_scores_) == estimator.n_iter_ == 6
    assert estimator.validation_scores_[-1] == pytest.approx(
        direct_validation_score(estimator, X_val, y_val), abs=1e-12
    )
    assert_curves_match_history(estimator)
    # Early stopping does not apply to L-BFGS, as in scikit-learn.
    assert_same_weights(estimator, with_early_stopping)


def _bad_validation_cases():
    """(estimator class, fit parameters, expected message) of each bad input."""
    _, _, X_val, y_val = classification_data()
    _, _, _, y_val_reg = regression_data()
    nan_X_val = X_val.copy()
    nan_X_val[3, 2] = np.nan
    clf, reg = ScratchMLPClassifier, ScratchMLPRegressor
    return [
        pytest.param(
            clf,
            {"X_val": X_val[:, :5], "y_val": y_val},
            r"^X_val has 5 features, but ScratchMLPClassifier was fitted on X "
            r"with 6 features\.$",
            id="X_val_features",
        ),
        pytest.param(
            clf,
            {"X_val": nan_X_val, "y_val": y_val},
            r"Input X_val contains NaN",
            id="X_val_nan",
        ),
        pytest.param(
            clf,
            {"X_val": X_val, "y_val": np.where(y_val == 2, 7, y_val)},
            r"^y_val has classes that y does not have: \[7\]\. The classes seen "
            r"in training are \[0, 1, 2\]\.$",
            id="y_val_unseen_class",
        ),
        pytest.param(
            clf,
            {"X_val": X_val, "y_val": y_val[:-1]},
            r"^X_val and y_val have different numbers of samples: 80 and 79\.$",
            id="lengths",
        ),
        pytest.param(
            clf, {"X_val": X_val}, r"^X_val was given without y_val", id="X_val_alone"
        ),
        pytest.param(
            clf, {"y_val": y_val}, r"^y_val was given without X_val", id="y_val_alone"
        ),
        pytest.param(
            clf,
            {"sample_weight_val": np.ones(80)},
            r"^sample_weight_val was given without X_val and y_val",
            id="sample_weight_val_alone",
        ),
        pytest.param(
            clf,
            {"X_val": X_val, "y_val": y_val, "sample_weight_val": -np.ones(80)},
            r"^sample_weight_val is not valid: sample_weight must be non-negative",
            id="sample_weight_val_negative",
        ),
        pytest.param(
            clf,
            {"X_val": X_val, "y_val": y_val, "sample_weight_val": np.ones(79)},
            r"^sample_weight_val is not valid: sample_weight\.shape == \(79,\)",
            id="sample_weight_val_length",
        ),
        pytest.param(
            reg,
            {"X_val": X_val, "y_val": np.column_stack([y_val_reg, y_val_reg])},
            r"^y_val has 2 output\(s\), but y has 1\.$",
            id="y_val_outputs",
        ),
        pytest.param(
            reg,
            {"X_val": X_val, "y_val": np.where(y_val == 1, np.nan, y_val_reg)},
            r"Input y_val contains NaN",
            id="y_val_nan",
        ),
    ]


def copied(curve):
    return None if curve is None else list(curve)


def snapshot(estimator, X):
    """Copies of what a fit changes, and the model's predictions."""
    return {
        "weights": estimator._network.params.copy(),
        "history_": list(estimator.history_),
        "loss_curve_": list(estimator.loss_curve_),
        "validation_scores_": copied(estimator.validation_scores_),
        "validation_loss_curve_": copied(estimator.validation_loss_curve_),
        "scalars": (estimator.n_iter_, estimator.best_iter_, estimator.t_),
        "prediction": estimator.predict(X),
    }


@pytest.mark.parametrize("warm_start", [False, True], ids=["cold", "warm"])
@pytest.mark.parametrize("estimator_class, fit_params, match", _bad_validation_cases())
def test_a_bad_validation_set_is_refused_and_leaves_the_model_as_it_was(
    estimator_class, fit_params, match, warm_start
):
    X, y, _, _ = data_for(estimator_class)
    estimator = fit_quietly(small(estimator_class, warm_start=warm_start), X, y)
    before = snapshot(estimator, X)

    with pytest.raises(ValueError, match=match):
        estimator.fit(X, y, **fit_params)

    after = snapshot(estimator, X)
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_equal(after[key], before[key])


def test_a_multilabel_validation_set_needs_the_labels_of_y():
    X, Y = make_multilabel_classification(n_samples=60, n_classes=3, random_state=0)
    X_val, Y_val = X[40:], Y[40:]

    classifier = fit_quietly(
        small(ScratchMLPClassifier), X[:40], Y[:40], X_val=X_val, y_val=Y_val
    )
    with pytest.raises(ValueError, match=r"^y_val must be a label indicator matrix"):
        small(ScratchMLPClassifier).fit(X[:40], Y[:40], X_val=X_val, y_val=Y_val[:, :2])

    # The score of multilabel targets is the subset accuracy.
    assert classifier.history_[-1]["val_score"] == accuracy_score(
        Y_val, classifier.predict(X_val)
    )


def test_a_validation_set_must_have_the_feature_names_of_X():
    X, y, X_val, y_val = classification_data()
    names = [f"feature_{i}" for i in range(6)]
    renamed = [*names[:5], "other"]

    with pytest.raises(ValueError, match="^X_val does not have the features of X: "):
        small(ScratchMLPClassifier).fit(
            pd.DataFrame(X, columns=names),
            y,
            X_val=pd.DataFrame(X_val, columns=renamed),
            y_val=y_val,
        )


@pytest.mark.parametrize("warm_start", [False, True], ids=["cold", "warm"])
def test_a_fit_failing_mid_training_leaves_the_model_as_it_was(warm_start, monkeypatch):
    X, y, X_val, y_val = classification_data()
    estimator = fit_quietly(
        small(ScratchMLPClassifier, warm_start=warm_start),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
    )
    before = snapshot(estimator, X)

    # The third evaluation of the next fit fails, after two recorded epochs.
    evaluate, calls = ScratchMLPClassifier._evaluate, []

    def failing_evaluate(self, validation):
        calls.append(None)
        if len(calls) == 3:
            raise RuntimeError("the validation data became unreadable")
        return evaluate(self, validation)

    monkeypatch.setattr(ScratchMLPClassifier, "_evaluate", failing_evaluate)
    with pytest.raises(RuntimeError, match="unreadable"):
        estimator.fit(X, y, X_val=X_val, y_val=y_val)

    after = snapshot(estimator, X)
    for key in before:
        np.testing.assert_equal(after[key], before[key])


# --------------------------------------------------------------------------------
# Metadata routing


def drop_last_column(X):
    return X[:, :-1]


def test_a_pipeline_routes_the_validation_set_without_transforming_it():
    X, y, X_val, y_val = classification_data()
    with sklearn.config_context(enable_metadata_routing=True):
        classifier = small(ScratchMLPClassifier).set_fit_request(X_val=True, y_val=True)
        steps = [("drop", FunctionTransformer(drop_last_column)), ("mlp", classifier)]

        # The last step gets X_val as given, with the column the first step drops.
        with pytest.raises(ValueError, match="^X_val has 6 features, but .* 5 "):
            fit_quietly(Pipeline(steps), X, y, X_val=X_val, y_val=y_val)

        pipeline = Pipeline(steps, transform_input=["X_val"])
        fit_quietly(pipeline, X, y, X_val=X_val, y_val=y_val)

    fitted = pipeline[-1]
    assert fitted.n_features_in_ == 5
    assert fitted.history_[-1]["val_score"] == pytest.approx(
        pipeline.score(X_val, y_val), abs=1e-12
    )


def test_a_pipeline_can_scale_the_validation_set_with_its_fitted_scaler():
    X, y, X_val, y_val = classification_data()
    X, X_val = 100.0 * X + 50.0, 100.0 * X_val + 50.0
    with sklearn.config_context(enable_metadata_routing=True):
        classifier = small(ScratchMLPClassifier).set_fit_request(X_val=True, y_val=True)
        pipeline = Pipeline(
            [("scale", StandardScaler()), ("mlp", classifier)],
            transform_input=["X_val"],
        )
        fit_quietly(pipeline, X, y, X_val=X_val, y_val=y_val)

    scaled_X_val = pipeline[0].transform(X_val)
    assert pipeline[-1].history_[-1]["val_loss"] == pytest.approx(
        direct_validation_loss(pipeline[-1], scaled_X_val, y_val), rel=1e-10
    )


def test_a_grid_search_routes_the_validation_set_to_every_fit():
    X, y, X_val, y_val = classification_data()
    sample_weight_val = np.linspace(0.5, 1.5, len(y_val))

    def last_validation_score(estimator, X, y):
        # Fails if the validation set did not reach this fit.
        return estimator.history_[-1]["val_score"]

    with sklearn.config_context(enable_metadata_routing=True):
        classifier = small(ScratchMLPClassifier).set_fit_request(
            X_val=True, y_val=True, sample_weight_val=True
        )
        search = GridSearchCV(
            classifier,
            {"alpha": [1e-4, 1.0]},
            cv=2,
            scoring=last_validation_score,
        )
        fit_quietly(
            search,
            X,
            y,
            X_val=X_val,
            y_val=y_val,
            sample_weight_val=sample_weight_val,
        )

    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    by_hand = fit_quietly(
        small(ScratchMLPClassifier, alpha=search.best_params_["alpha"]),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
        sample_weight_val=sample_weight_val,
    )
    assert search.best_estimator_.validation_scores_ == by_hand.validation_scores_
    assert (
        search.best_estimator_.validation_loss_curve_ == by_hand.validation_loss_curve_
    )


def test_a_search_cuts_a_validation_set_as_long_as_X_as_the_docstring_warns(
    monkeypatch,
):
    X, y, X_val, y_val = classification_data()
    received = []
    validation_set = ScratchMLPClassifier._validation_set

    def recording_validation_set(self, X_val, *args):
        received.append(len(X_val))
        return validation_set(self, X_val, *args)

    monkeypatch.setattr(
        ScratchMLPClassifier, "_validation_set", recording_validation_set
    )
    with sklearn.config_context(enable_metadata_routing=True):
        classifier = small(ScratchMLPClassifier).set_fit_request(X_val=True, y_val=True)
        search = GridSearchCV(classifier, {"alpha": [1e-4]}, cv=2)
        fit_quietly(search, X, y, X_val=X_val[:N_TRAIN], y_val=y_val[:N_TRAIN])
        cut = list(received)
        received.clear()
        fit_quietly(search, X, y, X_val=X_val, y_val=y_val)

    # Two folds, then the refit on all of X.
    assert cut == [N_TRAIN // 2, N_TRAIN // 2, N_TRAIN]
    assert received == [len(X_val)] * 3


# --------------------------------------------------------------------------------
# validation_monitor, restore_best_weights and best_iter_


def epoch_of_stop(values, tol, n_iter_no_change, lower_is_better):
    """The 1-based epoch at which scikit-learn's no-improvement rule stops."""
    best = np.inf
    stalls = 0
    for epoch, value in enumerate(values, start=1):
        cost = value if lower_is_better else -value
        stalls = stalls + 1 if cost > best - tol else 0
        best = min(best, cost)
        if stalls > n_iter_no_change:
            return epoch
    return None


@parametrize_estimators
def test_early_stopping_can_watch_the_validation_loss(estimator_class, capsys):
    X, y, X_val, y_val = data_for(estimator_class)
    tol, n_iter_no_change = 1e-3, 3

    estimator = fit_quietly(
        overfitting(
            estimator_class,
            early_stopping=True,
            validation_monitor="loss",
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            verbose=True,
        ),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
    )

    losses = estimator.validation_loss_curve_
    assert estimator.n_iter_ == epoch_of_stop(losses, tol, n_iter_no_change, True)
    assert estimator.n_iter_ < estimator.max_iter
    assert estimator.best_iter_ == first_best(losses, lower_is_better=True)
    assert direct_validation_loss(estimator, X_val, y_val) == pytest.approx(
        min(losses), rel=1e-10
    )
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Validation loss did not improve more than tol=0.001000 for 3 "
        "consecutive epochs. Stopping."
    )


@pytest.mark.parametrize("monitor", ["score", "loss"])
@parametrize_estimators
def test_restore_best_weights_ends_on_the_best_validation_epoch(
    estimator_class, monitor
):
    X, y, X_val, y_val = data_for(estimator_class)
    restoring = overfitting(
        estimator_class, restore_best_weights=True, validation_monitor=monitor
    )

    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        restoring.fit(X, y, X_val=X_val, y_val=y_val)

    curve = restoring.validation_scores_
    if monitor == "loss":
        curve = restoring.validation_loss_curve_
    best_iter = first_best(curve, lower_is_better=monitor == "loss")
    assert restoring.n_iter_ == 40
    assert restoring.best_iter_ == best_iter < 40
    # The same run cut at the best epoch ends on the same weights.
    cut = fit_quietly(overfitting(estimator_class, max_iter=best_iter), X, y)
    assert_same_weights(restoring, cut)
    assert_curves_match_history(restoring)


@parametrize_estimators
def test_restore_best_weights_without_validation_watches_the_training_loss(
    estimator_class,
):
    X, y, _, _ = data_for(estimator_class)
    # Large steps on small batches, so that the loss does not fall every epoch.
    params = {"batch_size": 8, "hidden_layer_sizes": (8,), "random_state": 0}
    if estimator_class is ScratchMLPClassifier:
        params.update(learning_rate_init=0.1, max_iter=12)
    else:
        params.update(learning_rate_init=0.2, max_iter=5)

    restoring = fit_quietly(estimator_class(restore_best_weights=True, **params), X, y)

    best_iter = first_best(restoring.loss_curve_, lower_is_better=True)
    assert restoring.best_iter_ == best_iter < restoring.n_iter_
    cut = fit_quietly(estimator_class(**{**params, "max_iter": best_iter}), X, y)
    assert_same_weights(restoring, cut)


@parametrize_estimators
def test_lbfgs_can_restore_its_best_iteration(estimator_class):
    X, y, X_val, y_val = data_for(estimator_class)
    params = {
        "hidden_layer_sizes": (30,),
        "solver": "lbfgs",
        "alpha": 0.0,
        "random_state": 0,
    }

    restoring = fit_quietly(
        estimator_class(restore_best_weights=True, validation_monitor="loss", **params),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
    )

    best_iter = first_best(restoring.validation_loss_curve_, lower_is_better=True)
    assert restoring.best_iter_ == best_iter < len(restoring.history_)
    assert direct_validation_loss(restoring, X_val, y_val) == pytest.approx(
        min(restoring.validation_loss_curve_), rel=1e-10
    )
    cut = fit_quietly(estimator_class(max_iter=best_iter, **params), X, y)
    assert_same_weights(restoring, cut)


@parametrize_estimators
def test_without_restoring_best_iter_is_the_last_epoch(estimator_class):
    X, y, X_val, y_val = data_for(estimator_class)
    estimator = overfitting(estimator_class, max_iter=6, warm_start=True)

    fit_quietly(estimator, X, y, X_val=X_val, y_val=y_val)
    assert estimator.best_iter_ == 6
    fit_quietly(estimator, X, y)
    assert estimator.best_iter_ == 12 == len(estimator.history_)


@parametrize_estimators
def test_partial_fit_keeps_its_epoch_when_restoring(estimator_class):
    X, y, _, _ = data_for(estimator_class)
    params = (
        {"classes": np.unique(y)} if estimator_class is ScratchMLPClassifier else {}
    )
    restoring = small(estimator_class, restore_best_weights=True)
    plain = small(estimator_class)

    for _ in range(3):
        restoring.partial_fit(X, y, **params)
        plain.partial_fit(X, y, **params)

    assert restoring.best_iter_ == 3
    assert_same_weights(restoring, plain)


# --------------------------------------------------------------------------------
# Keyboard interrupts


def interrupt_on_call(monkeypatch, estimator_class, method, call):
    """Make ``estimator_class.method`` raise KeyboardInterrupt on its call-th call.

    This simulates a user pressing Ctrl-C during that epoch.
    """
    original, calls = getattr(estimator_class, method), []

    def interrupted(self, *args, **kwargs):
        calls.append(None)
        if len(calls) == call:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(estimator_class, method, interrupted)


@parametrize_estimators
def test_an_interrupt_keeps_the_best_epoch_and_a_consistent_history(
    estimator_class, monkeypatch
):
    X, y, X_val, y_val = data_for(estimator_class)
    interrupt_on_call(monkeypatch, estimator_class, "_run_epoch", call=15)
    restoring = overfitting(estimator_class, restore_best_weights=True)

    with pytest.warns(UserWarning, match="Training interrupted by user"):
        restoring.fit(X, y, X_val=X_val, y_val=y_val)
    monkeypatch.undo()

    assert restoring.n_iter_ == len(restoring.history_) == 14
    assert_curves_match_history(restoring)
    best_iter = first_best(restoring.validation_scores_, lower_is_better=False)
    assert restoring.best_iter_ == best_iter
    cut = fit_quietly(overfitting(estimator_class, max_iter=best_iter), X, y)
    assert_same_weights(restoring, cut)


@pytest.mark.parametrize("restore_best_weights", [False, True])
def test_an_interrupt_during_validation_does_not_count_the_epoch(
    restore_best_weights, monkeypatch
):
    X, y, X_val, y_val = classification_data()
    # The fifth epoch trains, then Ctrl-C comes while it is being scored.
    interrupt_on_call(monkeypatch, ScratchMLPClassifier, "_evaluate", call=5)
    estimator = overfitting(
        ScratchMLPClassifier, restore_best_weights=restore_best_weights
    )

    with pytest.warns(UserWarning, match="Training interrupted by user"):
        estimator.fit(X, y, X_val=X_val, y_val=y_val)
    monkeypatch.undo()

    assert estimator.n_iter_ == len(estimator.history_) == 4
    assert estimator.loss_ == estimator.loss_curve_[-1]
    assert_curves_match_history(estimator)
    if restore_best_weights:
        best_iter = first_best(estimator.validation_scores_, lower_is_better=False)
        assert estimator.best_iter_ == best_iter
        cut = fit_quietly(overfitting(ScratchMLPClassifier, max_iter=best_iter), X, y)
        assert_same_weights(estimator, cut)
    else:
        # The weights are those the interrupted epoch trained to.
        assert estimator.best_iter_ == 4
        five = fit_quietly(overfitting(ScratchMLPClassifier, max_iter=5), X, y)
        assert_same_weights(estimator, five)


# --------------------------------------------------------------------------------
# Verbose output

ITERATION_LINE = re.compile(r"^Iteration (\d+), loss = (\d+\.\d{8})$")
VALIDATION_LINE = re.compile(r"^Validation score: (-?\d+\.\d{6})$")


@parametrize_estimators
def test_verbose_prints_scikit_learns_lines_with_the_validation_score(
    estimator_class, capsys
):
    X, y, X_val, y_val = data_for(estimator_class)

    estimator = fit_quietly(
        small(estimator_class, verbose=1), X, y, X_val=X_val, y_val=y_val
    )

    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == [
        f"Iteration {record['epoch']}, loss = {record['loss']:.8f}"
        for record in estimator.history_
    ]
    assert lines[1::2] == [
        f"Validation score: {record['val_score']:f}" for record in estimator.history_
    ]
    assert all(ITERATION_LINE.match(line) for line in lines[0::2])
    assert all(VALIDATION_LINE.match(line) for line in lines[1::2])


def improvements(values, lower_is_better):
    """Whether each value beats every value before it."""
    best = np.inf if lower_is_better else -np.inf
    marks = []
    for value in values:
        better = value < best if lower_is_better else value > best
        marks.append(better)
        best = value if better else best
    return marks


def parse_table(lines, titles):
    """Check the table's layout and return its rows as (cells, starred)."""
    header = lines[0]
    assert re.split(r"\s{2,}", header.strip()) == titles
    rows = []
    for line in lines[1:]:
        starred = line.endswith(" *")
        cells_text = line[:-2] if starred else line
        # Every row is as wide as the header, each value right under its title.
        assert len(cells_text) == len(header)
        rows.append((cells_text.split(), starred))
    return rows


@pytest.mark.parametrize("with_validation", [True, False], ids=["X_val", "alone"])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@parametrize_estimators
def test_verbose_2_prints_an_aligned_table_of_the_history(
    estimator_class, solver, with_validation, capsys
):
    X, y, X_val, y_val = data_for(estimator_class)
    fit_params = {"X_val": X_val, "y_val": y_val} if with_validation else {}
    estimator = overfitting(
        estimator_class,
        solver=solver,
        max_iter=12,
        verbose=2,
        restore_best_weights=True,
    )

    fit_quietly(estimator, X, y, **fit_params)

    titles = ["epoch", "train loss"]
    if with_validation:
        titles += ["val loss", "val score"]
    if solver != "lbfgs":
        titles.append("learning rate")
    titles.append("seconds")
    lines = capsys.readouterr().out.splitlines()
    assert not any(ITERATION_LINE.match(line) for line in lines)
    table_lines = [line for line in lines if "did not improve" not in line]
    rows = parse_table(table_lines, titles)

    history = estimator.history_
    assert len(rows) == len(history)
    for (cells, _), record in zip(rows, history, strict=True):
        values = dict(zip(titles, cells, strict=True))
        assert int(values["epoch"]) == record["epoch"]
        assert values["train loss"] == f"{record['loss']:.6f}"
        if with_validation:
            assert values["val loss"] == f"{record['val_loss']:.6f}"
            assert values["val score"] == f"{record['val_score']:.6f}"
        if solver != "lbfgs":
            assert values["learning rate"] == f"{record['learning_rate']:.3e}"
        assert float(values["seconds"]) == pytest.approx(record["seconds"], abs=6e-4)

    # The stars mark each new best; the last one is the epoch restored.
    if with_validation:
        watched = improvements(column(history, "val_score"), lower_is_better=False)
    else:
        watched = improvements(column(history, "loss"), lower_is_better=True)
    assert [starred for _, starred in rows] == watched
    starred_epochs = [i + 1 for i, (_, starred) in enumerate(rows) if starred]
    assert starred_epochs[-1] == estimator.best_iter_


def test_verbose_2_prints_the_header_once_over_partial_fit_calls(capsys):
    X, y, _, _ = classification_data()
    classifier = small(ScratchMLPClassifier, verbose=2)

    for _ in range(3):
        classifier.partial_fit(X, y, classes=[0, 1, 2])

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["epoch", "train", "loss", "learning", "rate", "seconds"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]
