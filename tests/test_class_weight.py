"""ScratchMLPClassifier's ``class_weight``: what it weighs, and what it refuses.

A class weight multiplies the sample weight of every sample of its class, so
each test compares a fit with ``class_weight`` to the fit with the sample
weights that it should amount to: equal weights for every solver, and for
'lbfgs', whose loss is over the whole data, the same model as repeated rows.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

from sknn_scratch import ScratchMLPClassifier

SOLVERS = ["sgd", "adam", "lbfgs"]


def three_classes():
    X, y = make_classification(
        n_samples=60,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    return X, y


def small_classifier(solver, **params):
    return ScratchMLPClassifier(
        hidden_layer_sizes=(5,),
        solver=solver,
        max_iter=8,
        random_state=0,
        **params,
    )


def fit_quietly(estimator, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit_params)


def assert_same_weights(first, second, **tolerance):
    for first_array, second_array in zip(
        [*first.coefs_, *first.intercepts_],
        [*second.coefs_, *second.intercepts_],
        strict=True,
    ):
        if tolerance:
            np.testing.assert_allclose(first_array, second_array, **tolerance)
        else:
            np.testing.assert_array_equal(first_array, second_array)


# --------------------------------------------------------------------------------
# What it weighs


def test_balanced_weights_raise_the_balanced_accuracy_of_an_imbalanced_problem():
    X, y = make_classification(
        n_samples=300,
        n_features=4,
        n_informative=2,
        n_redundant=0,
        n_clusters_per_class=1,
        weights=[0.92, 0.08],
        class_sep=0.8,
        random_state=1,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=0
    )

    def balanced_accuracy(class_weight):
        classifier = ScratchMLPClassifier(
            hidden_layer_sizes=(8,),
            learning_rate_init=0.01,
            class_weight=class_weight,
            random_state=0,
        )
        fit_quietly(classifier, X_train, y_train)
        return balanced_accuracy_score(y_test, classifier.predict(X_test))

    unweighted, balanced = balanced_accuracy(None), balanced_accuracy("balanced")

    # Unweighted, the network mostly answers the majority class.
    assert unweighted < 0.6
    assert balanced > unweighted + 0.15


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_class_weight_equals_that_sample_weight_for_its_class(solver):
    X, y = three_classes()

    by_class = fit_quietly(small_classifier(solver, class_weight={2: 2.0}), X, y)
    by_sample = fit_quietly(
        small_classifier(solver), X, y, sample_weight=np.where(y == 2, 2.0, 1.0)
    )

    assert_same_weights(by_class, by_sample)
    assert by_class.loss_curve_ == by_sample.loss_curve_


def test_a_class_weight_of_two_equals_repeating_that_class_for_lbfgs():
    X, y = three_classes()
    repeated = y == 1

    weighted = fit_quietly(small_classifier("lbfgs", class_weight={1: 2}), X, y)
    duplicated = fit_quietly(
        small_classifier("lbfgs"),
        np.vstack([X, X[repeated]]),
        np.concatenate([y, y[repeated]]),
    )

    # The same loss over the same data; only the order of the sums differs.
    assert_same_weights(weighted, duplicated, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(weighted.loss_curve_, duplicated.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("class_weight", [{0: 0.5, 1: 3.0}, "balanced"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_class_weight_multiplies_the_sample_weight(solver, class_weight):
    X, y = three_classes()
    sample_weight = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    classes = np.unique(y)
    if class_weight == "balanced":
        # Classes counted by weight, as LogisticRegression counts them.
        weights_of_classes = compute_class_weight(
            "balanced", classes=classes, y=y, sample_weight=sample_weight
        )
    else:
        weights_of_classes = np.array([class_weight.get(c, 1.0) for c in classes])

    both = fit_quietly(
        small_classifier(solver, class_weight=class_weight),
        X,
        y,
        sample_weight=sample_weight,
    )
    product = fit_quietly(
        small_classifier(solver),
        X,
        y,
        sample_weight=sample_weight * weights_of_classes[y],
    )

    assert_same_weights(both, product)


def test_balanced_weights_are_n_samples_over_n_classes_times_each_count():
    X, y = three_classes()
    y = np.where(np.arange(len(y)) < 40, 0, y)  # make class 0 the majority
    counts = np.bincount(y)
    expected = len(y) / (len(counts) * counts)

    balanced = fit_quietly(small_classifier("adam", class_weight="balanced"), X, y)
    by_hand = fit_quietly(small_classifier("adam"), X, y, sample_weight=expected[y])

    assert_same_weights(balanced, by_hand)


def test_string_labels_are_weighted_by_their_names():
    X, y = three_classes()
    labels = np.array(["ant", "bee", "cat"])[y]

    by_name = fit_quietly(small_classifier("adam", class_weight={"cat": 3}), X, labels)
    by_sample = fit_quietly(
        small_classifier("adam"), X, labels, sample_weight=np.where(y == 2, 3.0, 1.0)
    )

    assert_same_weights(by_name, by_sample)


def test_the_early_stopping_split_is_scored_with_the_class_weights():
    X, y = three_classes()
    params = {"early_stopping": True, "validation_fraction": 0.3}

    by_class = fit_quietly(
        small_classifier("adam", class_weight={0: 5.0}, **params), X, y
    )
    by_sample = fit_quietly(
        small_classifier("adam", **params), X, y, sample_weight=np.where(y == 0, 5, 1)
    )
    unweighted = fit_quietly(small_classifier("adam", **params), X, y)

    # The split carries each sample's weight into the weighted accuracy.
    assert by_class.validation_scores_ == by_sample.validation_scores_
    assert by_class.validation_scores_ != unweighted.validation_scores_


def test_a_fit_time_validation_set_is_scored_with_the_class_weights():
    X, y = three_classes()
    X_val, y_val = X[::2], y[::2]
    class_weight = {0: 5.0, 2: 0.5}
    weights_of_val = np.array([5.0, 1.0, 0.5])[y_val]
    sample_weight_val = np.linspace(0.5, 1.5, len(y_val))

    classifier = fit_quietly(
        small_classifier("adam", class_weight=class_weight),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
        sample_weight_val=sample_weight_val,
    )

    # The model ends on its last epoch, whose record scored it as it is now.
    expected = accuracy_score(
        y_val,
        classifier.predict(X_val),
        sample_weight=weights_of_val * sample_weight_val,
    )
    assert classifier.history_[-1]["val_score"] == pytest.approx(expected, abs=1e-12)
    assert expected != pytest.approx(
        accuracy_score(y_val, classifier.predict(X_val)), abs=1e-3
    )


def test_partial_fit_weighs_every_call_by_a_class_weight_dict():
    X, y = three_classes()
    class_weight = {1: 4.0}
    weighted = small_classifier("sgd", class_weight=class_weight)
    by_sample = small_classifier("sgd")

    for chunk in (slice(0, 30), slice(30, 60)):
        weighted.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
        by_sample.partial_fit(
            X[chunk],
            y[chunk],
            classes=[0, 1, 2],
            sample_weight=np.where(y[chunk] == 1, 4.0, 1.0),
        )

    assert_same_weights(weighted, by_sample)


# --------------------------------------------------------------------------------
# What it refuses


def test_partial_fit_refuses_balanced_weights_as_sgdclassifier_does():
    X, y = three_classes()
    classifier = small_classifier("adam", class_weight="balanced")

    with pytest.raises(
        ValueError, match=r"^class_weight 'balanced' is not supported for partial_fit"
    ):
        classifier.partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(classifier, "coefs_")


def test_multilabel_targets_refuse_class_weight():
    X, Y = make_multilabel_classification(n_samples=30, n_classes=3, random_state=0)

    with pytest.raises(
        ValueError, match="class_weight is not supported for multilabel"
    ):
        small_classifier("adam", class_weight={0: 2.0}).fit(X, Y)


@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({7: 2.0}, r"class labels as keys; classes=\[0, 1, 2\] but key\(s\) \[7\]"),
        ({0: -1.0}, "finite, non-negative weight"),
        ({0: np.nan}, "finite, non-negative weight"),
        ({0: 0, 1: 0, 2: 0}, "leaves every sample with a weight of zero"),
    ],
    ids=["unknown_class", "negative", "nan", "all_zero"],
)
def test_bad_class_weight_is_refused_and_leaves_the_model_as_it_was(
    class_weight, match
):
    X, y = three_classes()
    classifier = fit_quietly(small_classifier("adam"), X, y)
    coefs_before = [coef.copy() for coef in classifier.coefs_]
    history_before = list(classifier.history_)

    classifier.set_params(class_weight=class_weight)
    with pytest.raises(ValueError, match=match):
        classifier.fit(X, y)

    for coef, before in zip(classifier.coefs_, coefs_before, strict=True):
        np.testing.assert_array_equal(coef, before)
    assert classifier.history_ == history_before
