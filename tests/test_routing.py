"""Metadata routing of ``sample_weight`` to the scratch estimators.

The ``fit``, ``partial_fit`` and ``score`` signatures give both estimators
scikit-learn's request methods (``set_fit_request``, ``set_partial_fit_request``,
``set_score_request``). With routing enabled, these tests show that:

- weights requested by the estimator reach it through a Pipeline,
  GridSearchCV, cross_validate, and through the ``partial_fit`` of
  MultiOutputRegressor and OneVsRestClassifier: the routed fit lands on the
  very weights of a direct fit with those weights, which differ from an
  unweighted fit, and the routed scores are the weighted scores;
- weights passed while the request is left unset raise scikit-learn's
  UnsetMetadataPassedError naming our method, and weights the estimator
  declined (``sample_weight=False``) are ignored;
- the request methods exist only while routing is enabled, as in scikit-learn.
"""

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.usefixtures("metadata_routing"),
]

ESTIMATORS = [ScratchMLPClassifier, ScratchMLPRegressor]
ESTIMATOR_IDS = ["classifier", "regressor"]
SKLEARN_TWINS = {ScratchMLPClassifier: MLPClassifier, ScratchMLPRegressor: MLPRegressor}
SOLVERS = ["sgd", "adam", "lbfgs"]

N_SAMPLES = 60

parametrize_estimators = pytest.mark.parametrize(
    "estimator_class", ESTIMATORS, ids=ESTIMATOR_IDS
)


@pytest.fixture
def metadata_routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


# --------------------------------------------------------------------------------
# Helpers


def make_data():
    """Features on different scales, three classes, a real target and weights.

    A third of the samples weigh 0.1 and the rest between 1 and 3, so that a
    weighted fit is far from an unweighted one.
    """
    rng = np.random.RandomState(0)
    X = rng.standard_normal((N_SAMPLES, 4)) * [1.0, 5.0, 0.2, 2.0]
    signal = X @ np.array([1.0, -0.2, 3.0, 0.4])
    codes = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))
    weights = np.where(np.arange(N_SAMPLES) % 3 == 0, 0.1, rng.uniform(1, 3, N_SAMPLES))
    return X, codes, (signal - signal.mean()) / signal.std(), weights


def targets_for(estimator_class, codes, signal):
    return codes if estimator_class is ScratchMLPClassifier else signal


def small(estimator_class, **params):
    params = {"hidden_layer_sizes": (5,), "max_iter": 5, "random_state": 0, **params}
    return estimator_class(**params)


def all_weights(estimator):
    return [*estimator.coefs_, *estimator.intercepts_]


def same_weights(first, second):
    return all(
        np.array_equal(first_array, second_array)
        for first_array, second_array in zip(
            all_weights(first), all_weights(second), strict=True
        )
    )


def unset_request_message(estimator_class, method, caller):
    """The start of scikit-learn's error for metadata nobody asked for."""
    return (
        rf"\[sample_weight\] are passed but are not explicitly set as requested or "
        rf"not requested for {estimator_class.__name__}\.{method}, which is used "
        rf"within {caller}"
    )


# --------------------------------------------------------------------------------
# The request methods


@parametrize_estimators
def test_the_request_methods_come_from_the_fit_signatures(estimator_class):
    estimator = estimator_class(solver="sgd")
    twin = SKLEARN_TWINS[estimator_class](solver="sgd")

    # Nothing is requested by default. Every request scikit-learn's MLP has,
    # ours has too; fit may accept more (validation data), requested by none.
    routing = estimator.get_metadata_routing()._serialize()
    twin_routing = twin.get_metadata_routing()._serialize()
    assert routing.keys() == twin_routing.keys() == {"fit", "partial_fit", "score"}
    for method, twin_requests in twin_routing.items():
        assert twin_requests.items() <= routing[method].items()
        assert all(request is None for request in routing[method].values())
    assert routing["fit"]["sample_weight"] is None
    assert routing["partial_fit"]["sample_weight"] is None
    assert routing["score"] == {"sample_weight": None}

    returned = (
        estimator.set_fit_request(sample_weight=True)
        .set_partial_fit_request(sample_weight="partial_weights")
        .set_score_request(sample_weight=False)
    )

    assert returned is estimator
    routing = estimator.get_metadata_routing()._serialize()
    assert routing["fit"]["sample_weight"] is True
    assert routing["partial_fit"]["sample_weight"] == "partial_weights"
    assert routing["score"] == {"sample_weight": False}
    # clone keeps the requests, which is how meta-estimators see them.
    assert clone(estimator).get_metadata_routing()._serialize() == routing


@parametrize_estimators
def test_the_request_methods_need_routing_enabled(estimator_class):
    estimator = estimator_class()

    with sklearn.config_context(enable_metadata_routing=False):
        for request in (estimator.set_fit_request, estimator.set_score_request):
            with pytest.raises(
                RuntimeError, match="only available when metadata routing is enabled"
            ):
                request(sample_weight=True)


@parametrize_estimators
def test_a_misspelt_request_is_refused(estimator_class):
    with pytest.raises(TypeError, match=r"Unexpected args: \{'sample_weights'\}"):
        estimator_class().set_fit_request(sample_weights=True)


# --------------------------------------------------------------------------------
# fit through Pipeline, GridSearchCV and cross_validate


@pytest.mark.parametrize("solver", SOLVERS)
@parametrize_estimators
def test_pipeline_routes_requested_weights_to_fit(estimator_class, solver):
    X, codes, signal, weights = make_data()
    y = targets_for(estimator_class, codes, signal)
    pipeline = Pipeline(
        [
            ("scale", StandardScaler().set_fit_request(sample_weight=False)),
            (
                "mlp",
                small(estimator_class, solver=solver).set_fit_request(
                    sample_weight=True
                ),
            ),
        ]
    )

    pipeline.fit(X, y, sample_weight=weights)

    X_scaled = StandardScaler().fit_transform(X)
    weighted = small(estimator_class, solver=solver).fit(
        X_scaled, y, sample_weight=weights
    )
    unweighted = small(estimator_class, solver=solver).fit(X_scaled, y)
    assert same_weights(pipeline["mlp"], weighted)
    assert not same_weights(pipeline["mlp"], unweighted)


@parametrize_estimators
def test_pipeline_ignores_weights_the_estimator_declined(estimator_class):
    X, codes, signal, weights = make_data()
    y = targets_for(estimator_class, codes, signal)
    pipeline = Pipeline(
        [
            ("scale", StandardScaler().set_fit_request(sample_weight=True)),
            ("mlp", small(estimator_class).set_fit_request(sample_weight=False)),
        ]
    )

    pipeline.fit(X, y, sample_weight=weights)

    # The scaler took the weights; the network trained as if there were none.
    X_scaled = StandardScaler().fit(X, sample_weight=weights).transform(X)
    assert same_weights(pipeline["mlp"], small(estimator_class).fit(X_scaled, y))


@parametrize_estimators
def test_grid_search_routes_weights_to_fit_and_score(estimator_class):
    X, codes, signal, weights = make_data()
    y = targets_for(estimator_class, codes, signal)
    estimator = (
        small(estimator_class, solver="adam")
        .set_fit_request(sample_weight=True)
        .set_score_request(sample_weight=True)
    )
    grid = {"alpha": [1e-4, 1.0]}
    folds = KFold(n_splits=3, shuffle=True, random_state=0)

    search = GridSearchCV(estimator, grid, cv=folds).fit(X, y, sample_weight=weights)

    # Each candidate's score on each fold is the weighted score of a model
    # trained on the weighted training part.
    for candidate, alpha in enumerate(grid["alpha"]):
        for split, (train, test) in enumerate(folds.split(X)):
            model = clone(estimator).set_params(alpha=alpha)
            model.fit(X[train], y[train], sample_weight=weights[train])
            expected = model.score(X[test], y[test], sample_weight=weights[test])
            unweighted = model.score(X[test], y[test])
            score = search.cv_results_[f"split{split}_test_score"][candidate]
            assert score == expected
            assert score != unweighted
    best = clone(estimator).set_params(**search.best_params_)
    assert same_weights(search.best_estimator_, best.fit(X, y, sample_weight=weights))
    assert not same_weights(search.best_estimator_, clone(best).fit(X, y))


@pytest.mark.parametrize("score_weights", [True, False])
@parametrize_estimators
def test_cross_validate_routes_weights_as_requested(estimator_class, score_weights):
    X, codes, signal, weights = make_data()
    y = targets_for(estimator_class, codes, signal)
    estimator = (
        small(estimator_class, solver="adam")
        .set_fit_request(sample_weight=True)
        .set_score_request(sample_weight=score_weights)
    )
    folds = KFold(n_splits=3, shuffle=True, random_state=0)

    result = cross_validate(
        estimator,
        X,
        y,
        cv=folds,
        params={"sample_weight": weights},
        return_estimator=True,
    )

    for fitted, score, (train, test) in zip(
        result["estimator"], result["test_score"], folds.split(X), strict=True
    ):
        direct = clone(estimator).fit(X[train], y[train], sample_weight=weights[train])
        assert same_weights(fitted, direct)
        assert not same_weights(fitted, clone(estimator).fit(X[train], y[train]))
        test_weights = weights[test] if score_weights else None
        assert score == direct.score(X[test], y[test], sample_weight=test_weights)


# --------------------------------------------------------------------------------
# Weights nobody asked for


@parametrize_estimators
def test_unrequested_weights_raise_in_pipeline(estimator_class):
    X, codes, signal, weights = make_data()
    y = targets_for(estimator_class, codes, signal)
    pipeline = Pipeline(
        [
            ("scale", StandardScaler().set_fit_request(sample_weight=False)),
            ("mlp", small(estimator_class)),
        ]
    )

    with pytest.raises(
        UnsetMetadataPassedError,
        match=unset_request_message(estimator_class, "fit", "Pipeline.fit"),
    ):
        pipeline.fit(X, y, sample_weight=weights)


@parametrize_estimators
def test_unrequested_weights_raise_in_grid_search(estimator_class):
    X, codes, signal, weights = make_data()
    y = targets_for(estimator_class, codes, signal)
    search = GridSearchCV(small(estimator_class), {"alpha": [1e-4, 1.0]}, cv=2)

    with pytest.raises(
        UnsetMetadataPassedError,
        match=unset_request_message(estimator_class, "fit", "GridSearchCV.fit"),
    ):
        search.fit(X, y, sample_weight=weights)

    # Requesting them for fit is not enough: the default scorer calls score.
    search.estimator.set_fit_request(sample_weight=True)
    with pytest.raises(
        UnsetMetadataPassedError,
        match=unset_request_message(estimator_class, "score", "GridSearchCV.fit"),
    ):
        search.fit(X, y, sample_weight=weights)


@parametrize_estimators
def test_unrequested_weights_raise_in_cross_validate(estimator_class):
    X, codes, signal, weights = make_data()
    y = targets_for(estimator_class, codes, signal)

    with pytest.raises(
        UnsetMetadataPassedError,
        match=unset_request_message(estimator_class, "fit", "cross_validate"),
    ):
        cross_validate(
            small(estimator_class).set_score_request(sample_weight=False),
            X,
            y,
            cv=2,
            params={"sample_weight": weights},
        )


# --------------------------------------------------------------------------------
# partial_fit


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_multioutput_partial_fit_routes_requested_weights(solver):
    X, _, signal, weights = make_data()
    Y = np.column_stack([signal, np.sin(signal)])
    regressor = small(ScratchMLPRegressor, solver=solver)
    multi = MultiOutputRegressor(
        clone(regressor).set_partial_fit_request(sample_weight=True)
    )

    multi.partial_fit(X, Y, sample_weight=weights)
    multi.partial_fit(X, Y, sample_weight=weights)

    for output, fitted in enumerate(multi.estimators_):
        direct = clone(regressor)
        unweighted = clone(regressor)
        for _ in range(2):
            direct.partial_fit(X, Y[:, output], sample_weight=weights)
            unweighted.partial_fit(X, Y[:, output])
        assert same_weights(fitted, direct)
        assert not same_weights(fitted, unweighted)


def test_one_vs_rest_partial_fit_routes_requested_weights():
    X, codes, _, weights = make_data()
    classifier = small(ScratchMLPClassifier, solver="adam")
    one_vs_rest = OneVsRestClassifier(
        clone(classifier).set_partial_fit_request(sample_weight=True)
    )

    one_vs_rest.partial_fit(X, codes, classes=[0, 1, 2], sample_weight=weights)

    for label, fitted in enumerate(one_vs_rest.estimators_):
        is_label = (codes == label).astype(int)
        direct = clone(classifier).partial_fit(
            X, is_label, classes=[0, 1], sample_weight=weights
        )
        unweighted = clone(classifier).partial_fit(X, is_label, classes=[0, 1])
        assert same_weights(fitted, direct)
        assert not same_weights(fitted, unweighted)


def test_weights_every_step_declined_are_refused_as_in_sklearn():
    X, _, signal, weights = make_data()
    Y = np.column_stack([signal, np.sin(signal)])

    # Metadata that no object consumes is an error of the caller's, for
    # scikit-learn's MLP as for ours.
    for mlp_class in (ScratchMLPRegressor, MLPRegressor):
        declining = small(mlp_class, solver="adam").set_partial_fit_request(
            sample_weight=False
        )
        with pytest.raises(
            TypeError,
            match=r"MultiOutputRegressor.partial_fit got unexpected argument\(s\) "
            r"\{'sample_weight'\}, which are not routed to any object",
        ):
            MultiOutputRegressor(declining).partial_fit(X, Y, sample_weight=weights)


def test_unrequested_partial_fit_weights_raise():
    X, codes, signal, weights = make_data()
    Y = np.column_stack([signal, np.sin(signal)])

    with pytest.raises(
        UnsetMetadataPassedError,
        match=unset_request_message(
            ScratchMLPRegressor, "partial_fit", "MultiOutputRegressor.partial_fit"
        ),
    ):
        MultiOutputRegressor(small(ScratchMLPRegressor)).partial_fit(
            X, Y, sample_weight=weights
        )
    with pytest.raises(
        UnsetMetadataPassedError,
        match=unset_request_message(
            ScratchMLPClassifier, "partial_fit", "OneVsRestClassifier.partial_fit"
        ),
    ):
        OneVsRestClassifier(small(ScratchMLPClassifier)).partial_fit(
            X, codes, classes=[0, 1, 2], sample_weight=weights
        )
