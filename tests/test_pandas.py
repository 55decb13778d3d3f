"""pandas in and out of ScratchMLPClassifier and ScratchMLPRegressor.

- DataFrames and Series work in every method and train the very weights their
  NumPy equivalents train; ``feature_names_in_`` records the columns.
- Columns that differ at ``predict``, ``score``, ``partial_fit`` or a warm
  ``fit`` from those seen at fit (reordered, renamed, added, dropped, unnamed)
  give the error or warning that scikit-learn's own MLP gives on the same
  input: same type, same message but for the estimator's name.
- String and categorical labels come back out of ``predict`` with their values
  and the dtype kind scikit-learn's MLP gives them.
- pandas' nullable dtypes (Int64, Float64, boolean) train like the float64
  array they hold, as inputs and as targets; their missing value, ``pd.NA``,
  is refused with the error a NaN gets.
- ``examples/pandas_pipeline.py --quick`` runs and reaches the scores it is
  meant to show.
"""

import copy
import importlib.util
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from threadpoolctl import threadpool_limits

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [ScratchMLPClassifier, ScratchMLPRegressor]
ESTIMATOR_IDS = ["classifier", "regressor"]
SKLEARN_TWINS = {ScratchMLPClassifier: MLPClassifier, ScratchMLPRegressor: MLPRegressor}
SOLVERS = ["sgd", "adam", "lbfgs"]

N_SAMPLES = 60
COLUMNS = ["age", "height", "weight", "income"]
LABEL_NAMES = np.array(["ant", "bee", "cat"])

EXAMPLE = pathlib.Path(__file__).parents[1] / "examples" / "pandas_pipeline.py"

parametrize_estimators = pytest.mark.parametrize(
    "estimator_class", ESTIMATORS, ids=ESTIMATOR_IDS
)


# --------------------------------------------------------------------------------
# Helpers


def make_data():
    """Four named features, three-class codes and a real target, as arrays."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((N_SAMPLES, len(COLUMNS)))
    signal = X @ np.array([1.0, -0.5, 0.8, 0.3])
    codes = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))
    return X, codes, signal


def targets_for(estimator_class, codes, signal):
    return codes if estimator_class is ScratchMLPClassifier else signal


def small(estimator_class, **params):
    """A small network that trains in a few milliseconds."""
    params = {"hidden_layer_sizes": (5,), "max_iter": 5, "random_state": 0, **params}
    return estimator_class(**params)


def all_weights(estimator):
    return [*estimator.coefs_, *estimator.intercepts_]


def assert_same_weights(first, second):
    """Bit-for-bit equality of every weight and bias."""
    for first_array, second_array in zip(
        all_weights(first), all_weights(second), strict=True
    ):
        np.testing.assert_array_equal(first_array, second_array)


def prediction_methods(estimator):
    if isinstance(estimator, ScratchMLPClassifier):
        return ["predict", "predict_proba", "predict_log_proba"]
    return ["predict"]


def outcome(estimator_name, function, *args):
    """What ``function(*args)`` does: raise, warn, or neither, with its message.

    ConvergenceWarnings of the deliberately short fits are left out, and the
    estimator's class name is replaced by a placeholder, so that ours and
    scikit-learn's can be compared.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            function(*args)
        except Exception as error:
            return ("raises", type(error), str(error).replace(estimator_name, "<MLP>"))
    messages = [
        (warning.category, str(warning.message).replace(estimator_name, "<MLP>"))
        for warning in caught
        if not issubclass(warning.category, ConvergenceWarning)
    ]
    return ("warns", messages) if messages else ("passes",)


def load_example():
    spec = importlib.util.spec_from_file_location("pandas_pipeline", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------
# DataFrames and Series in every method


@pytest.mark.parametrize("solver", SOLVERS)
@parametrize_estimators
def test_frames_train_and_predict_exactly_as_arrays_do(estimator_class, solver):
    X, codes, signal = make_data()
    y = targets_for(estimator_class, codes, signal)
    frame, series = pd.DataFrame(X, columns=COLUMNS), pd.Series(y, name="target")

    from_frame = small(estimator_class, solver=solver).fit(frame, series)
    from_array = small(estimator_class, solver=solver).fit(X, y)

    assert_same_weights(from_frame, from_array)
    assert from_frame.loss_curve_ == from_array.loss_curve_
    np.testing.assert_array_equal(from_frame.feature_names_in_, COLUMNS)
    assert from_frame.n_features_in_ == len(COLUMNS)

    # A frame with the fitted columns predicts silently, as an array does.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in prediction_methods(from_frame):
            np.testing.assert_array_equal(
                getattr(from_frame, method)(frame), getattr(from_array, method)(X)
            )
        assert from_frame.score(frame, series) == from_array.score(X, y)

    if solver != "lbfgs":
        from_frame.partial_fit(frame, series)
        from_array.partial_fit(X, y)
        assert_same_weights(from_frame, from_array)
        np.testing.assert_array_equal(from_frame.feature_names_in_, COLUMNS)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@parametrize_estimators
def test_first_partial_fit_on_a_frame_records_the_columns(estimator_class, solver):
    X, codes, signal = make_data()
    y = targets_for(estimator_class, codes, signal)
    is_classifier = estimator_class is ScratchMLPClassifier
    extra = {"classes": np.unique(codes)} if is_classifier else {}

    from_frame = small(estimator_class, solver=solver)
    from_frame.partial_fit(pd.DataFrame(X, columns=COLUMNS), pd.Series(y), **extra)
    from_array = small(estimator_class, solver=solver).partial_fit(X, y, **extra)

    assert_same_weights(from_frame, from_array)
    np.testing.assert_array_equal(from_frame.feature_names_in_, COLUMNS)


def test_regressor_takes_a_frame_of_targets():
    X, _, signal = make_data()
    Y = np.column_stack([signal, -2.0 * signal + 1.0])
    targets = pd.DataFrame(Y, columns=["first", "second"])

    frame = pd.DataFrame(X, columns=COLUMNS)

    from_frames = small(ScratchMLPRegressor).fit(frame, targets)
    from_arrays = small(ScratchMLPRegressor).fit(X, Y)

    assert_same_weights(from_frames, from_arrays)
    assert from_frames.predict(frame).shape == Y.shape


# --------------------------------------------------------------------------------
# Feature names checked as scikit-learn checks them

MISMATCHED_COLUMNS = {
    "reordered": lambda frame: frame[COLUMNS[::-1]],
    "renamed": lambda frame: frame.rename(columns={"age": "years"}),
    "added": lambda frame: frame.assign(extra=1.0),
    "dropped": lambda frame: frame[COLUMNS[:-1]],
    "unnamed array": lambda frame: frame.to_numpy(),
    "integer names": lambda frame: frame.set_axis(range(len(COLUMNS)), axis=1),
}
# What scikit-learn does with each: names that do not match exactly are an
# error; input without string names is accepted with a warning.
EXPECTED_OUTCOME = {
    "reordered": "raises",
    "renamed": "raises",
    "added": "raises",
    "dropped": "raises",
    "unnamed array": "warns",
    "integer names": "warns",
}
CALLS = {
    "predict": lambda estimator, X, y: estimator.predict(X),
    "score": lambda estimator, X, y: estimator.score(X, y),
    "partial_fit": lambda estimator, X, y: estimator.partial_fit(X, y),
    "warm fit": lambda estimator, X, y: estimator.set_params(warm_start=True).fit(X, y),
}


@pytest.mark.parametrize("call_name", list(CALLS))
@pytest.mark.parametrize("mismatch", list(MISMATCHED_COLUMNS))
@parametrize_estimators
def test_mismatched_columns_are_handled_as_sklearn_handles_them(
    estimator_class, mismatch, call_name
):
    X, codes, signal = make_data()
    y = targets_for(estimator_class, codes, signal)
    frame = pd.DataFrame(X, columns=COLUMNS)
    changed = MISMATCHED_COLUMNS[mismatch](frame)
    call = CALLS[call_name]

    outcomes = []
    for mlp_class in (estimator_class, SKLEARN_TWINS[estimator_class]):
        fitted = small(mlp_class, solver="adam").fit(frame, y)
        outcomes.append(outcome(mlp_class.__name__, call, fitted, changed, y))
    ours, sklearns = outcomes

    assert ours == sklearns
    assert ours[0] == EXPECTED_OUTCOME[mismatch]


@pytest.mark.parametrize("call_name", list(CALLS))
@parametrize_estimators
def test_names_after_fitting_without_names_warn_as_in_sklearn(
    estimator_class, call_name
):
    X, codes, signal = make_data()
    y = targets_for(estimator_class, codes, signal)
    frame = pd.DataFrame(X, columns=COLUMNS)
    call = CALLS[call_name]

    outcomes = []
    for mlp_class in (estimator_class, SKLEARN_TWINS[estimator_class]):
        fitted = small(mlp_class, solver="adam").fit(X, y)
        outcomes.append(outcome(mlp_class.__name__, call, fitted, frame, y))
    ours, sklearns = outcomes

    assert ours == sklearns
    message = "X has feature names, but <MLP> was fitted without feature names"
    assert ours == ("warns", [(UserWarning, message)])


@parametrize_estimators
def test_mixed_type_column_names_are_refused_as_in_sklearn(estimator_class):
    X, codes, signal = make_data()
    y = targets_for(estimator_class, codes, signal)
    frame = pd.DataFrame(X, columns=["age", 1, "weight", "income"])

    ours, sklearns = (
        outcome(mlp_class.__name__, small(mlp_class).fit, frame, y)
        for mlp_class in (estimator_class, SKLEARN_TWINS[estimator_class])
    )

    assert ours == sklearns
    assert ours[:2] == ("raises", TypeError)
    assert (
        "Feature names are only supported if all input features have string"
        in (ours[2])
    )


# --------------------------------------------------------------------------------
# Labels that pandas holds

LABELS = {
    "str": lambda codes: pd.Series(LABEL_NAMES[codes]),
    "object": lambda codes: pd.Series(LABEL_NAMES[codes], dtype=object),
    "string": lambda codes: pd.Series(LABEL_NAMES[codes], dtype="string"),
    "categorical of str": lambda codes: pd.Series(pd.Categorical(LABEL_NAMES[codes])),
    "ordered categorical": lambda codes: pd.Series(
        pd.Categorical(LABEL_NAMES[codes], categories=LABEL_NAMES[::-1], ordered=True)
    ),
    "categorical of int": lambda codes: pd.Series(pd.Categorical(10 * codes + 5)),
}
# The label each code stands for, and the dtype kind predict returns.
DECODED = {
    "categorical of int": (np.array([5, 15, 25]), "i"),
}


@pytest.mark.parametrize("kind", list(LABELS))
def test_pandas_labels_come_back_out_of_predict(kind):
    X, codes, _ = make_data()
    labels = LABELS[kind](codes)
    names, dtype_kind = DECODED.get(kind, (LABEL_NAMES, "U"))

    classifier = small(ScratchMLPClassifier, solver="lbfgs", max_iter=60)
    classifier.fit(X, labels)
    on_codes = small(ScratchMLPClassifier, solver="lbfgs", max_iter=60).fit(X, codes)
    reference = small(MLPClassifier, solver="lbfgs", max_iter=60).fit(X, labels)

    # Labels are sorted as NumPy sorts them, whatever the categories' order,
    # so each code's label is the code-th class and training is unchanged.
    np.testing.assert_array_equal(classifier.classes_, names)
    assert classifier.classes_.dtype == reference.classes_.dtype
    assert_same_weights(classifier, on_codes)

    predicted = classifier.predict(X)
    np.testing.assert_array_equal(predicted, names[on_codes.predict(X)])
    assert predicted.dtype.kind == dtype_kind
    assert predicted.dtype == reference.predict(X).dtype
    assert classifier.score(X, labels) > 0.9


def test_categorical_labels_work_with_partial_fit():
    X, codes, _ = make_data()
    labels = LABELS["categorical of str"](codes)

    classifier = small(ScratchMLPClassifier, solver="adam")
    classifier.partial_fit(X, labels, classes=labels.cat.categories)
    classifier.partial_fit(X[:20], labels[:20])
    on_codes = small(ScratchMLPClassifier, solver="adam")
    on_codes.partial_fit(X, codes, classes=[0, 1, 2])
    on_codes.partial_fit(X[:20], codes[:20])

    np.testing.assert_array_equal(classifier.classes_, LABEL_NAMES)
    assert_same_weights(classifier, on_codes)
    np.testing.assert_array_equal(
        classifier.predict(X), LABEL_NAMES[on_codes.predict(X)]
    )


@pytest.mark.parametrize("kind", ["object", "str", "categorical of str"])
def test_missing_labels_are_refused_as_in_sklearn(kind):
    X, codes, _ = make_data()
    labels = LABELS[kind](codes).where(np.arange(N_SAMPLES) != 3)

    ours, sklearns = (
        outcome(mlp_class.__name__, small(mlp_class).fit, X, labels)
        for mlp_class in (ScratchMLPClassifier, MLPClassifier)
    )

    assert ours == sklearns
    assert ours == ("raises", ValueError, "Input contains NaN")


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_missing_string_dtype_labels_are_refused_as_nan_is(method):
    X, codes, _ = make_data()
    labels = LABELS["string"](codes)
    labels[3] = pd.NA
    extra = {"classes": LABEL_NAMES} if method == "partial_fit" else {}

    with pytest.raises(ValueError, match="^Input contains NaN$"):
        getattr(small(ScratchMLPClassifier), method)(X, labels, **extra)


# --------------------------------------------------------------------------------
# Nullable dtypes


def nullable_frame():
    """Int64, Float64 and boolean columns, and the float64 array they hold."""
    rng = np.random.RandomState(1)
    counts = rng.randint(-3, 4, N_SAMPLES)
    levels = rng.standard_normal(N_SAMPLES)
    flags = rng.uniform(size=N_SAMPLES) > 0.5
    frame = pd.DataFrame(
        {
            "count": pd.array(counts, dtype="Int64"),
            "level": pd.array(levels, dtype="Float64"),
            "flag": pd.array(flags, dtype="boolean"),
        }
    )
    return frame, np.column_stack([counts, levels, flags]).astype(np.float64)


def nullable_targets(estimator_class):
    frame, X = nullable_frame()
    signal = X @ np.array([0.5, 1.0, -1.0])
    if estimator_class is ScratchMLPClassifier:
        return (signal > np.median(signal)).astype(int)
    return signal


@pytest.mark.parametrize("solver", SOLVERS)
@parametrize_estimators
def test_nullable_columns_train_like_the_floats_they_hold(estimator_class, solver):
    frame, X = nullable_frame()
    y = nullable_targets(estimator_class)

    from_frame = small(estimator_class, solver=solver).fit(frame, y)
    from_array = small(estimator_class, solver=solver).fit(X, y)

    assert_same_weights(from_frame, from_array)
    np.testing.assert_array_equal(from_frame.feature_names_in_, frame.columns)
    for method in prediction_methods(from_frame):
        np.testing.assert_array_equal(
            getattr(from_frame, method)(frame), getattr(from_array, method)(X)
        )
    if solver != "lbfgs":
        from_frame.partial_fit(frame, y)
        from_array.partial_fit(X, y)
        assert_same_weights(from_frame, from_array)


NA_CALLS = {
    "fit": lambda estimator, X, y: estimator.fit(X, y),
    "partial_fit": lambda estimator, X, y: estimator.partial_fit(X, y),
    "predict": lambda estimator, X, y: estimator.predict(X),
}


@pytest.mark.parametrize("call_name", list(NA_CALLS))
@pytest.mark.parametrize("column", ["count", "level", "flag"])
@parametrize_estimators
def test_pd_na_in_a_column_is_refused_as_nan_is(estimator_class, column, call_name):
    frame, X = nullable_frame()
    y = nullable_targets(estimator_class)
    with_na = frame.copy()
    with_na.loc[3, column] = pd.NA
    with_nan = pd.DataFrame(X, columns=frame.columns)
    with_nan.loc[3, column] = np.nan
    call = NA_CALLS[call_name]

    messages = {}
    for mlp_class in (estimator_class, SKLEARN_TWINS[estimator_class]):
        fitted = small(mlp_class, solver="adam").fit(frame, y)
        for name, bad_frame in (("NA", with_na), ("NaN", with_nan)):
            with pytest.raises(ValueError) as error:
                call(copy.deepcopy(fitted), bad_frame, y)
            messages[mlp_class, name] = str(error.value).replace(
                mlp_class.__name__, "<MLP>"
            )

    ours = messages[estimator_class, "NA"]
    assert ours == messages[estimator_class, "NaN"]
    assert ours == messages[SKLEARN_TWINS[estimator_class], "NA"]
    assert ours.startswith(
        "Input X contains NaN.\n<MLP> does not accept missing values encoded as NaN"
    )


def test_nullable_labels_train_like_their_integer_codes():
    _, X = nullable_frame()
    codes = nullable_targets(ScratchMLPClassifier)

    for labels in (
        pd.Series(codes, dtype="Int64"),
        pd.Series(codes.astype(bool), dtype="boolean"),
    ):
        classifier = small(ScratchMLPClassifier).fit(X, labels)
        reference = small(MLPClassifier).fit(X, labels)
        on_codes = small(ScratchMLPClassifier).fit(X, codes)

        assert_same_weights(classifier, on_codes)
        # scikit-learn turns nullable targets into float64, classes_ included.
        np.testing.assert_array_equal(classifier.classes_, [0, 1])
        assert classifier.classes_.dtype == reference.classes_.dtype
        np.testing.assert_array_equal(classifier.predict(X), on_codes.predict(X))
        assert classifier.predict(X).dtype == reference.predict(X).dtype


@pytest.mark.parametrize("dtype", ["Int64", "Float64"])
def test_nullable_regression_targets_train_like_floats(dtype):
    _, X = nullable_frame()
    y = np.round(nullable_targets(ScratchMLPRegressor) * 3)

    from_series = small(ScratchMLPRegressor).fit(X, pd.Series(y, dtype=dtype))
    from_array = small(ScratchMLPRegressor).fit(X, y)

    assert_same_weights(from_series, from_array)


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "boolean"])
@parametrize_estimators
def test_pd_na_in_the_target_is_refused_as_nan_is(estimator_class, dtype):
    _, X = nullable_frame()
    y = nullable_targets(estimator_class)
    if dtype == "boolean":
        y = y > np.median(y)
    elif dtype == "Int64":
        y = np.round(y).astype(int)
    with_na = pd.Series(y, dtype=dtype)
    with_na[3] = pd.NA
    with_nan = y.astype(np.float64)
    with_nan[3] = np.nan

    outcomes = [
        outcome(mlp_class.__name__, small(mlp_class).fit, X, target)
        for mlp_class in (estimator_class, SKLEARN_TWINS[estimator_class])
        for target in (with_na, with_nan)
    ]

    assert all(result == outcomes[0] for result in outcomes)
    assert outcomes[0] == ("raises", ValueError, "Input y contains NaN.")


# --------------------------------------------------------------------------------
# The example


def test_pandas_pipeline_example_reaches_its_scores(capsys):
    example = load_example()

    # One process and one BLAS thread: the example's matrices are far too small
    # to gain from threads, and on a busy two-core machine OpenBLAS threads
    # waiting for each other made this test seven times slower.
    with threadpool_limits(limits=1):
        results = example.main(["--quick", "--n-jobs", "1"])

    output = capsys.readouterr().out
    classification, regression = results["classification"], results["regression"]
    # The classes are the two halves of the target, so a constant guess is
    # right half the time and has no ranking skill; a linear model on these
    # columns reaches about 0.74 accuracy and 0.81 ROC AUC. 0.65 and 0.75 are
    # far from chance and leave room for fold-to-fold noise.
    assert classification["baseline_accuracy"] == pytest.approx(0.5, abs=0.01)
    assert classification["accuracy"] > 0.65
    assert classification["roc_auc"] > 0.75
    # Linear regression explains about 0.48 of the variance of this target;
    # predicting the mean explains none and is off by 66 on average.
    assert regression["baseline_r2"] < 0.0
    assert regression["r2"] > 0.35
    assert regression["mae"] < 0.8 * regression["baseline_mae"]

    # The network saw the imputed, scaled and one-hot encoded columns by name.
    names = classification["feature_names"]
    assert {"bmi", "missingindicator_bmi", "sex_1", "sex_2", "age_band_60+"} <= set(
        names
    )
    assert not {"sex", "age_band", "age"} & set(names)
    assert "accuracy" in output and "R^2" in output
