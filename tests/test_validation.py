"""Input validation, error messages and atomic training of both estimators.

Every call that trains is documented as atomic: when it raises, on bad input or
on a run that diverges, the estimator is left exactly as it was before the call.
These tests feed each kind of bad input to every public method it applies to,
pin the error message, and compare the whole fitted state, bit for bit, before
and after a failed ``fit`` (cold and warm-started) or ``partial_fit``.
"""

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch.core.network import Network

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # Divergence overflows on purpose.
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]

ESTIMATORS = [ScratchMLPClassifier, ScratchMLPRegressor]
SKLEARN_TWINS = {ScratchMLPClassifier: MLPClassifier, ScratchMLPRegressor: MLPRegressor}
KINDS = {"clf": ScratchMLPClassifier, "reg": ScratchMLPRegressor}
MODES = ("cold", "warm", "partial")
NAME = r"ScratchMLP(Classifier|Regressor)"

N_SAMPLES, N_FEATURES = 40, 4
_rng = np.random.RandomState(0)
X = _rng.randn(N_SAMPLES, N_FEATURES)
X_DF = pd.DataFrame(X, columns=list("abcd"))
Y_CLF = np.arange(N_SAMPLES) % 3
Y_REG = _rng.randn(N_SAMPLES)
CLASSES = [0, 1, 2]
# Scaled so that one epoch of SGD with batches of 10 overflows for both
# estimators (found by trying; smaller scales survive the first epoch).
X_HUGE = X * 1e200

# Small and quick, with several mini-batches per epoch.
BASE_PARAMS = dict(
    hidden_layer_sizes=(5,),
    max_iter=3,
    random_state=0,
    batch_size=10,
    learning_rate_init=0.01,
)


def _is_clf(est_or_cls):
    cls = est_or_cls if isinstance(est_or_cls, type) else type(est_or_cls)
    return issubclass(cls, ScratchMLPClassifier)


def _y(est_or_cls):
    return Y_CLF if _is_clf(est_or_cls) else Y_REG


def _with_nan(a, value=np.nan):
    a = np.array(a, dtype=float)
    a[3, 1] = value
    return a


def _with_pd_na(a):
    """A DataFrame of nullable floats with pandas' missing value in one cell."""
    frame = pd.DataFrame(a, columns=list("abcd")).astype("Float64")
    frame.iloc[3, 1] = pd.NA
    return frame


def _object_with(a, value):
    """An object array of ``a``'s numbers with ``value`` in one cell."""
    a = np.array(a, dtype=object)
    a[3, 1] = value
    return a


def _partial_fit(est, X, y, **kwargs):
    # is_classifier, so that scikit-learn's own MLPClassifier is told too.
    if is_classifier(est) and not hasattr(est, "classes_"):
        kwargs.setdefault("classes", CLASSES)
    return est.partial_fit(X, y, **kwargs)


def _call(est, method, X, y=None, **kwargs):
    """Call one public method; ``y`` only goes to those that take it."""
    if method == "fit":
        return est.fit(X, y, **kwargs)
    if method == "partial_fit":
        return _partial_fit(est, X, y, **kwargs)
    if method == "score":
        return est.score(X, y, **kwargs)
    return getattr(est, method)(X, **kwargs)


def _predict_methods(cls):
    if _is_clf(cls):
        return ["predict", "predict_proba", "predict_log_proba", "score"]
    return ["predict", "score"]


PREDICT_CASES = [
    pytest.param(cls, method, id=f"{cls.__name__}-{method}")
    for cls in ESTIMATORS
    for method in _predict_methods(cls)
]
TRAIN_CASES = [
    pytest.param(cls, method, id=f"{cls.__name__}-{method}")
    for cls in ESTIMATORS
    for method in ("fit", "partial_fit")
]


def _assert_unfitted(est):
    """Only the constructor parameters are set, and nothing predicts."""
    assert sorted(est.__dict__) == sorted(est.get_params(deep=False))
    for method in _predict_methods(est):
        with pytest.raises(NotFittedError, match="is not fitted yet"):
            _call(est, method, X, _y(est))


# --------------------------------------------------------------------------------
# Constructor parameters

INVALID_PARAMS = [
    ("activation", "bogus"),
    ("solver", "x"),
    ("alpha", -1),
    ("batch_size", 0),
    ("batch_size", "big"),
    ("learning_rate", "x"),
    ("learning_rate_init", 0),
    ("learning_rate_init", -0.1),
    ("power_t", -1),
    ("max_iter", 0),
    ("max_iter", 2.5),
    ("shuffle", "yes"),
    ("random_state", "x"),
    ("tol", -1),
    ("verbose", "x"),
    ("warm_start", "x"),
    ("momentum", 1.5),
    ("momentum", -0.1),
    ("nesterovs_momentum", "x"),
    ("early_stopping", "x"),
    ("validation_fraction", 1.0),
    ("validation_fraction", -0.1),
    ("beta_1", 1.0),
    ("beta_2", -0.1),
    ("epsilon", 0),
    ("n_iter_no_change", 0),
    ("n_iter_no_change", 2.5),
    ("max_fun", 0),
    ("hidden_layer_sizes", 0),
    ("hidden_layer_sizes", "abc"),
    # NaN fails every interval, and infinity every interval open at the top.
    *((name, np.nan) for name in ("alpha", "learning_rate_init", "power_t", "tol")),
    *((name, np.nan) for name in ("momentum", "validation_fraction", "beta_1")),
    *((name, np.nan) for name in ("beta_2", "epsilon", "n_iter_no_change")),
    *((name, np.inf) for name in ("alpha", "learning_rate_init", "epsilon", "tol")),
    ("max_iter", np.inf),
    ("alpha", None),
    ("alpha", 1 + 1j),
    ("batch_size", 2.5),
    ("max_fun", 1.5),
    ("random_state", -1),
    ("random_state", 2**32),
    ("hidden_layer_sizes", None),
    # Parameters of ours that scikit-learn's MLP does not have.
    ("dtype", "float16"),
    ("dropout", -0.1),
    ("dropout", 1.0),
    ("weight_decay", -1.0),
    ("max_grad_norm", 0.0),
    ("lr_schedule", "bogus"),
    ("warmup_iter", -1),
    ("validation_monitor", "bogus"),
    ("restore_best_weights", "x"),
]
# The parameters only one of the estimators has.
OWN_INVALID_PARAMS = {
    ScratchMLPClassifier: [("class_weight", "bogus")],
    ScratchMLPRegressor: [
        ("loss", "bogus"),
        ("quantile", 0.0),
        ("quantile", 1.0),
        ("huber_delta", 0.0),
    ],
}


def _invalid_param_cases():
    for cls in ESTIMATORS:
        cases = INVALID_PARAMS + OWN_INVALID_PARAMS[cls]
        for method in ("fit", "partial_fit"):
            for name, value in cases:
                # partial_fit does not exist for a non-stochastic solver.
                if method == "partial_fit" and name == "solver":
                    continue
                yield pytest.param(
                    cls,
                    method,
                    name,
                    value,
                    id=f"{cls.__name__}-{method}-{name}={value!r}",
                )


def test_invalid_params_cover_every_constraint():
    """The tables above name every constrained parameter of both estimators."""
    for cls in ESTIMATORS:
        covered = {name for name, _ in INVALID_PARAMS + OWN_INVALID_PARAMS[cls]}
        assert covered == set(cls._parameter_constraints), cls.__name__


@pytest.mark.parametrize("cls, method, name, value", list(_invalid_param_cases()))
def test_invalid_param_raises_naming_param_and_value(cls, method, name, value):
    est = cls(**{**BASE_PARAMS, "solver": "sgd", name: value})
    pattern = (
        rf"The '{name}' parameter of {cls.__name__} must be .+\. "
        rf"Got {re.escape(repr(value))} instead\."
    )
    with pytest.raises(ValueError, match=pattern):
        _call(est, method, X, _y(cls))
    _assert_unfitted(est)


@pytest.mark.parametrize(
    "sizes, shown", [((0,), r"\[0\]"), ((-3, 2), r"\[-3, 2\]"), ([4, 0], r"\[4, 0\]")]
)
@pytest.mark.parametrize("cls, method", TRAIN_CASES)
def test_non_positive_hidden_layer_sizes(cls, method, sizes, shown):
    est = cls(**{**BASE_PARAMS, "hidden_layer_sizes": sizes})
    with pytest.raises(
        ValueError, match=rf"^hidden_layer_sizes must be > 0, got {shown}\.$"
    ):
        _call(est, method, X, _y(cls))
    _assert_unfitted(est)


@pytest.mark.parametrize("sizes", [(2.5,), ("a",)], ids=["float", "str"])
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_non_integer_hidden_layer_sizes_raise_value_error(cls, sizes):
    """Layer sizes that are not integers are rejected with a ValueError naming
    hidden_layer_sizes and the offending size, before anything is fitted."""
    est = cls(**{**BASE_PARAMS, "hidden_layer_sizes": sizes})
    with pytest.raises(
        ValueError, match=r"hidden_layer_sizes.*" + re.escape(str(sizes[0]))
    ):
        est.fit(X, _y(cls))
    _assert_unfitted(est)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_boolean_hidden_layer_size_is_refused(cls):
    """True is no layer size: scikit-learn's MLP fails on it, and ours refuses it
    before fitting anything."""
    est = cls(**{**BASE_PARAMS, "hidden_layer_sizes": (5, True)})
    with pytest.raises(
        ValueError, match=r"^hidden_layer_sizes must hold integers, got \[5, True\]"
    ):
        est.fit(X, _y(cls))
    _assert_unfitted(est)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_unavailable_for_lbfgs(cls):
    """partial_fit exists only for the stochastic solvers; with lbfgs, calling it
    raises AttributeError, caused by an error that says why, and fits nothing."""
    est = cls(**{**BASE_PARAMS, "solver": "lbfgs"})
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        _partial_fit(est, X, _y(cls))
    assert "partial_fit is only available for stochastic optimizers" in str(
        info.value.__cause__
    )
    _assert_unfitted(est)
    assert hasattr(est.set_params(solver="sgd"), "partial_fit")


# --------------------------------------------------------------------------------
# Bad X and y when training

BAD_TRAIN_DATA = {
    # id: (X, y for the classifier, y for the regressor, message pattern)
    "nan_X": (_with_nan(X), Y_CLF, Y_REG, r"Input X contains NaN\."),
    "inf_X": (
        _with_nan(X, np.inf),
        Y_CLF,
        Y_REG,
        r"Input X contains infinity or a value too large for dtype\('float64'\)\.",
    ),
    "neg_inf_X": (
        _with_nan(X, -np.inf),
        Y_CLF,
        Y_REG,
        r"Input X contains infinity or a value too large",
    ),
    "nan_X_frame": (
        pd.DataFrame(_with_nan(X), columns=list("abcd")),
        Y_CLF,
        Y_REG,
        r"Input X contains NaN\.",
    ),
    "pd_na_X": (_with_pd_na(X), Y_CLF, Y_REG, r"Input X contains NaN\."),
    "none_in_object_X": (
        _object_with(X, None),
        Y_CLF,
        Y_REG,
        r"Input X contains NaN\.",
    ),
    "nan_X_csr": (sp.csr_matrix(_with_nan(X)), Y_CLF, Y_REG, r"Input X contains NaN\."),
    "nan_X_csc": (sp.csc_matrix(_with_nan(X)), Y_CLF, Y_REG, r"Input X contains NaN\."),
    "inf_X_csr": (
        sp.csr_matrix(_with_nan(X, np.inf)),
        Y_CLF,
        Y_REG,
        r"Input X contains infinity",
    ),
    "1d_X": (X[:, 0], Y_CLF, Y_REG, r"Expected 2D array, got 1D array instead"),
    "3d_X": (
        X.reshape(N_SAMPLES, 2, 2),
        Y_CLF,
        Y_REG,
        rf"Found array with dim 3, while dim <= 2 is required by {NAME}\.",
    ),
    "empty_X": (
        X[:0],
        Y_CLF[:0],
        Y_REG[:0],
        rf"Found array with 0 sample\(s\) \(shape=\(0, 4\)\) while a minimum of 1 is "
        rf"required by {NAME}\.",
    ),
    "no_features": (
        X[:, :0],
        Y_CLF,
        Y_REG,
        rf"Found array with 0 feature\(s\) \(shape=\(40, 0\)\) while a minimum of 1 "
        rf"is required by {NAME}\.",
    ),
    "short_y": (
        X,
        Y_CLF[:-1],
        Y_REG[:-1],
        r"Found input variables with inconsistent numbers of samples: \[40, 39\]",
    ),
    "short_X": (
        X[:-1],
        Y_CLF,
        Y_REG,
        r"Found input variables with inconsistent numbers of samples: \[39, 40\]",
    ),
    "complex_X": (X + 1j, Y_CLF, Y_REG, r"^Complex data not supported"),
    "string_X": (
        np.full((N_SAMPLES, N_FEATURES), "a"),
        Y_CLF,
        Y_REG,
        r"could not convert string to float: .*'a'",
    ),
    "3d_y": (
        X,
        Y_CLF.reshape(-1, 1, 1),
        Y_REG.reshape(-1, 1, 1),
        rf"Found array with dim 3, while dim <= 2 is required by {NAME}\.",
    ),
    "none_y": (
        X,
        None,
        None,
        rf"^This {NAME} estimator requires y to be passed, but the target y is "
        r"None\.$",
    ),
}


def _bad_train_cases():
    for cls in ESTIMATORS:
        for method in ("fit", "partial_fit"):
            for case_id in BAD_TRAIN_DATA:
                yield pytest.param(
                    cls, method, case_id, id=f"{cls.__name__}-{method}-{case_id}"
                )


@pytest.mark.parametrize("cls, method, case_id", list(_bad_train_cases()))
def test_bad_training_data_raises(cls, method, case_id):
    X_bad, y_clf, y_reg, pattern = BAD_TRAIN_DATA[case_id]
    est = cls(**BASE_PARAMS)
    y = y_clf if _is_clf(cls) else y_reg
    with pytest.raises(ValueError, match=pattern):
        _call(est, method, X_bad, y)
    _assert_unfitted(est)


@pytest.mark.parametrize("cls, method", TRAIN_CASES)
def test_zero_column_frame_names_the_problem(cls, method):
    """A DataFrame without columns is rejected with the message of an array
    without columns, and nothing is fitted."""
    est = cls(**BASE_PARAMS)
    pattern = BAD_TRAIN_DATA["no_features"][3]
    with pytest.raises(ValueError, match=pattern):
        _call(est, method, X_DF.iloc[:, :0], _y(cls))
    _assert_unfitted(est)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_classifier_rejects_continuous_y(method):
    est = ScratchMLPClassifier(**BASE_PARAMS)
    with pytest.raises(
        ValueError, match=r"^Unknown label type: continuous\. Maybe you"
    ):
        _call(est, method, X, Y_REG)
    _assert_unfitted(est)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize(
    "y, pattern",
    [
        (
            np.where(np.arange(N_SAMPLES) == 3, np.nan, Y_REG),
            r"^Input y contains NaN\.$",
        ),
        (
            np.where(np.arange(N_SAMPLES) == 3, np.inf, Y_REG),
            r"^Input y contains infinity or a value too large",
        ),
        (
            np.array(["a", "b"] * 20),
            r"^ScratchMLPRegressor needs numeric targets, but y holds 'a' \(dtype "
            r"<U1\): could not convert string to float\.$",
        ),
        (Y_REG + 1j, r"^Complex data not supported"),
    ],
    ids=["nan", "inf", "string", "complex"],
)
def test_regressor_rejects_non_numeric_or_non_finite_y(method, y, pattern):
    est = ScratchMLPRegressor(**BASE_PARAMS)
    with pytest.raises(ValueError, match=pattern):
        _call(est, method, X, y)
    _assert_unfitted(est)


def test_classifier_rejects_nan_y():
    est = ScratchMLPClassifier(**BASE_PARAMS)
    with pytest.raises(ValueError, match=r"^Input y contains NaN\.$"):
        est.fit(X, np.where(np.arange(N_SAMPLES) == 3, np.nan, Y_CLF))
    _assert_unfitted(est)


def _pd_na_y(cls):
    """Targets in a pandas nullable array, with pandas' missing value in one."""
    if _is_clf(cls):
        y = pd.array(Y_CLF, dtype="Int64")
    else:
        y = pd.array(Y_REG, dtype="Float64")
    y[3] = pd.NA
    return y


@pytest.mark.parametrize("first_call", [True, False], ids=["first_call", "later"])
@pytest.mark.parametrize(
    "bad_value, pattern",
    [
        (np.nan, r"^Input y contains NaN\.$"),
        (np.inf, r"^Input y contains infinity or a value too large"),
        (pd.NA, r"^Input y contains NaN\.$"),
    ],
    ids=["nan", "inf", "pd_na"],
)
@pytest.mark.parametrize("cls, method", TRAIN_CASES)
def test_non_finite_or_missing_y_names_y(cls, method, bad_value, pattern, first_call):
    """NaN, infinity or pandas' NA in y is refused, naming y, by fit and by the
    first or a later partial_fit call, and leaves the model as it was."""
    est = cls(**BASE_PARAMS)
    if not first_call:
        _call(est, method, X, _y(cls))
    before = None if first_call else _snapshot(est)
    if bad_value is pd.NA:
        y_bad = _pd_na_y(cls)
    else:
        y_bad = np.where(np.arange(N_SAMPLES) == 3, bad_value, _y(cls))
    with pytest.raises(ValueError, match=pattern):
        _call(est, method, X, y_bad)
    if first_call:
        _assert_unfitted(est)
    else:
        _assert_same_state(before, _snapshot(est))


@pytest.mark.parametrize("label", [None, {"a": 1}], ids=["none", "dict"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_classifier_rejects_labels_that_cannot_be_classes(method, label):
    """None or a dict among the labels is refused with scikit-learn's message for
    targets of an unknown type (scikit-learn's MLP fails on a TypeError while
    sorting them)."""
    y = Y_CLF.astype(object)
    y[3] = label
    est = ScratchMLPClassifier(**BASE_PARAMS)
    with pytest.raises(ValueError, match=r"^Unknown label type: unknown\. Maybe"):
        _call(est, method, X, y)
    _assert_unfitted(est)


# --------------------------------------------------------------------------------
# Values NumPy cannot turn into numbers

BAD_TYPED_X = {
    "dict_in_X": (_object_with(X, {"a": 1}), "dict"),
    "records": ([{"a": 1.0, "b": 2.0}] * N_SAMPLES, "dict"),
    "dict_of_columns": ({"a": X[:, 0], "b": X[:, 1]}, "dict"),
    "pd_na_in_object_X": (_object_with(X, pd.NA), "NAType"),
}


@pytest.mark.parametrize("case_id", list(BAD_TYPED_X))
@pytest.mark.parametrize("cls, method", TRAIN_CASES)
def test_values_of_the_wrong_type_when_training(cls, method, case_id):
    """A dict, or pandas' NA in an object array, is refused with NumPy's
    TypeError naming the type of the value, as scikit-learn's MLP does."""
    X_bad, type_name = BAD_TYPED_X[case_id]
    est = cls(**BASE_PARAMS)
    with pytest.raises(
        TypeError,
        match=rf"^float\(\) argument must be a string or a real number, not "
        rf"'{type_name}'$",
    ):
        _call(est, method, X_bad, _y(cls))
    _assert_unfitted(est)


@pytest.mark.parametrize("case_id", list(BAD_TYPED_X))
@pytest.mark.parametrize("cls, method", PREDICT_CASES)
def test_values_of_the_wrong_type_at_prediction(fitted_on_array, cls, method, case_id):
    X_bad, type_name = BAD_TYPED_X[case_id]
    with pytest.raises(TypeError, match=rf"not '{type_name}'$"):
        _call(fitted_on_array[cls], method, X_bad, _y(cls))


# --------------------------------------------------------------------------------
# The smallest data


@pytest.mark.parametrize("cls, method", TRAIN_CASES)
def test_one_sample_trains_as_sklearn_does(cls, method):
    """One sample is enough to train, as for scikit-learn's MLP, and gives the
    same model as scikit-learn's from the same seed."""
    params = {**BASE_PARAMS, "batch_size": "auto"}
    ours, theirs = cls(**params), SKLEARN_TWINS[cls](**params)
    kwargs = {"classes": CLASSES} if _is_clf(cls) and method == "partial_fit" else {}
    for est in (ours, theirs):
        getattr(est, method)(X[:1], _y(cls)[:1], **kwargs)

    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(X).shape, theirs.predict(X).shape)
    if _is_clf(cls):
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        np.testing.assert_allclose(
            ours.predict_proba(X), theirs.predict_proba(X), atol=1e-12
        )
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-12)


# --------------------------------------------------------------------------------
# Bad X at prediction


@pytest.fixture(scope="module")
def fitted_on_array():
    return {cls: cls(**BASE_PARAMS).fit(X, _y(cls)) for cls in ESTIMATORS}


@pytest.fixture(scope="module")
def fitted_on_frame():
    return {cls: cls(**BASE_PARAMS).fit(X_DF, _y(cls)) for cls in ESTIMATORS}


BAD_PREDICT_X = {
    "nan_X": (_with_nan(X), r"Input X contains NaN\."),
    "inf_X": (_with_nan(X, np.inf), r"Input X contains infinity or a value too large"),
    "nan_X_csr": (sp.csr_matrix(_with_nan(X)), r"Input X contains NaN\."),
    "1d_X": (X[0], r"Expected 2D array, got 1D array instead"),
    "3d_X": (
        X.reshape(N_SAMPLES, 2, 2),
        rf"Found array with dim 3, while dim <= 2 is required by {NAME}\.",
    ),
    "empty_X": (X[:0], r"Found array with 0 sample\(s\) \(shape=\(0, 4\)\)"),
    "no_features": (X[:, :0], r"Found array with 0 feature\(s\) \(shape=\(40, 0\)\)"),
    "complex_X": (X + 1j, r"^Complex data not supported"),
    "string_X": (np.full((N_SAMPLES, 4), "a"), r"could not convert string to float"),
    "3_features": (
        X[:, :3],
        rf"^X has 3 features, but {NAME} is expecting 4 features as input\.$",
    ),
    "5_features": (
        np.hstack([X, X[:, :1]]),
        rf"^X has 5 features, but {NAME} is expecting 4 features as input\.$",
    ),
    "3_features_csr": (
        sp.csr_matrix(X[:, :3]),
        rf"^X has 3 features, but {NAME} is expecting 4 features as input\.$",
    ),
    "pd_na_X": (_with_pd_na(X), r"Input X contains NaN\."),
    "none_in_object_X": (_object_with(X, None), r"Input X contains NaN\."),
    "nan_X_csc": (sp.csc_matrix(_with_nan(X)), r"Input X contains NaN\."),
    "inf_X_csr": (sp.csr_matrix(_with_nan(X, np.inf)), r"Input X contains infinity"),
}


@pytest.mark.parametrize("case_id", list(BAD_PREDICT_X))
@pytest.mark.parametrize("cls, method", PREDICT_CASES)
def test_bad_X_at_prediction(fitted_on_array, fitted_on_frame, cls, method, case_id):
    X_bad, pattern = BAD_PREDICT_X[case_id]
    # A frame goes to a model fitted on a frame, so that only its values are wrong.
    fitted = fitted_on_frame if isinstance(X_bad, pd.DataFrame) else fitted_on_array
    est = fitted[cls]
    y = _y(cls)[: X_bad.shape[0]] if X_bad.ndim > 1 else _y(cls)[:1]
    with pytest.raises(ValueError, match=pattern):
        _call(est, method, X_bad, y)


@pytest.mark.parametrize("cls, method", PREDICT_CASES)
def test_predicting_before_fit_raises_not_fitted(cls, method):
    with pytest.raises(
        NotFittedError,
        match=rf"^This {cls.__name__} instance is not fitted yet\. Call 'fit'",
    ):
        _call(cls(), method, X, _y(cls))


@pytest.mark.parametrize("cls, method", PREDICT_CASES + TRAIN_CASES)
@pytest.mark.parametrize(
    "frame, pattern",
    [
        (
            X_DF.rename(columns={"a": "z"}),
            r"The feature names should match those that were passed during fit\.\n"
            r"Feature names unseen at fit time:\n- z\n"
            r"Feature names seen at fit time, yet now missing:\n- a",
        ),
        (
            X_DF[list("bacd")],
            r"The feature names should match those that were passed during fit\.\n"
            r"Feature names must be in the same order as they were in fit\.",
        ),
    ],
    ids=["renamed", "reordered"],
)
def test_frame_with_other_columns_after_fit_on_frame(cls, method, frame, pattern):
    est = cls(**{**BASE_PARAMS, "warm_start": True}).fit(X_DF, _y(cls))
    with pytest.raises(ValueError, match=pattern):
        _call(est, method, frame, _y(cls))
    np.testing.assert_array_equal(est.feature_names_in_, list("abcd"))


@pytest.mark.parametrize("cls, method", PREDICT_CASES)
def test_feature_name_warnings(fitted_on_array, fitted_on_frame, cls, method):
    with pytest.warns(
        UserWarning,
        match=rf"X does not have valid feature names, but {cls.__name__} was fitted "
        r"with feature names",
    ):
        _call(fitted_on_frame[cls], method, X, _y(cls))
    with pytest.warns(
        UserWarning,
        match=rf"X has feature names, but {cls.__name__} was fitted without feature "
        r"names",
    ):
        _call(fitted_on_array[cls], method, X_DF, _y(cls))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_wrong_number_of_features_at_partial_fit_and_warm_fit(cls):
    pattern = (
        rf"^X has 3 features, but {cls.__name__} is expecting 4 features as input\.$"
    )
    est = cls(**BASE_PARAMS).fit(X, _y(cls))
    with pytest.raises(ValueError, match=pattern):
        est.partial_fit(X[:, :3], _y(cls))
    est.set_params(warm_start=True)
    with pytest.raises(ValueError, match=pattern):
        est.fit(X[:, :3], _y(cls))


@pytest.mark.parametrize(
    "sample_weight, pattern",
    [
        (np.ones(39), r"^sample_weight\.shape == \(39,\), expected \(40,\)!$"),
        (np.r_[np.nan, np.ones(39)], r"^Input sample_weight contains NaN\.$"),
        (np.zeros(40), r"^Sample weights must contain at least one non-zero number\.$"),
        (np.ones((40, 1)), r"^Sample weights must be 1D array or scalar, got 2D"),
        (-np.ones(40), r"^sample_weight must be non-negative; got 40 negative"),
    ],
    ids=["wrong_length", "nan", "all_zero", "2d", "negative"],
)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bad_sample_weight_at_score(fitted_on_array, cls, sample_weight, pattern):
    with pytest.raises(ValueError, match=pattern):
        fitted_on_array[cls].score(X, _y(cls), sample_weight=sample_weight)


# --------------------------------------------------------------------------------
# Classes in partial_fit and warm starts


def test_partial_fit_needs_classes_on_first_call():
    est = ScratchMLPClassifier(**BASE_PARAMS)
    with pytest.raises(
        ValueError, match=r"^classes must be passed on the first call to partial_fit\.$"
    ):
        est.partial_fit(X, Y_CLF)
    _assert_unfitted(est)


def test_partial_fit_classes_must_cover_y():
    est = ScratchMLPClassifier(**BASE_PARAMS)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`y` has classes not in `self.classes_`. `self.classes_` has [0 1]. "
            "'y' has [0 1 2]."
        ),
    ):
        est.partial_fit(X, Y_CLF, classes=[0, 1])
    _assert_unfitted(est)


@pytest.mark.parametrize("first", ["fit", "partial_fit"])
def test_partial_fit_rejects_unseen_classes(first):
    est = ScratchMLPClassifier(**BASE_PARAMS)
    _call(est, first, X, Y_CLF)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`y` has classes not in `self.classes_`. `self.classes_` has [0 1 2]. "
            "'y' has [1 2 3]."
        ),
    ):
        est.partial_fit(X, Y_CLF + 1)


@pytest.mark.parametrize("first", ["fit", "partial_fit"])
def test_partial_fit_rejects_other_classes(first):
    est = ScratchMLPClassifier(**BASE_PARAMS)
    _call(est, first, X, Y_CLF)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "`classes=[0, 1, 2, 3]` is not the same as on last call to partial_fit, "
            "was: array([0, 1, 2])"
        ),
    ):
        est.partial_fit(X, Y_CLF, classes=[0, 1, 2, 3])
    # The same classes in another order are accepted.
    est.partial_fit(X, Y_CLF, classes=[2, 0, 1])


def test_warm_start_rejects_other_classes():
    """A warm-started fit on targets with other classes is refused, naming both
    sets of classes, and the model keeps its classes and predictions."""
    est = ScratchMLPClassifier(**BASE_PARAMS, warm_start=True).fit(X, Y_CLF)
    proba_before = est.predict_proba(X)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "warm_start can only be used where `y` has the same classes as in the "
            "previous call to fit. Previously got [0 1 2], `y` has [0 1]"
        ),
    ):
        est.fit(X, Y_CLF % 2)
    np.testing.assert_array_equal(est.classes_, CLASSES)
    np.testing.assert_array_equal(est.predict_proba(X), proba_before)
    _assert_views(est)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_warm_start_rejects_other_layer_sizes(cls):
    est = cls(**BASE_PARAMS, warm_start=True).fit(X, _y(cls))
    n_out = 3 if _is_clf(cls) else 1
    est.set_params(hidden_layer_sizes=(7,))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"The fitted network has layer sizes [4, 5, {n_out}], but this call "
            f"asks for [4, 7, {n_out}]. Set warm_start=False"
        ),
    ):
        est.fit(X, _y(cls))


# --------------------------------------------------------------------------------
# sample_weight, poisson, early stopping

BAD_SAMPLE_WEIGHTS = {
    "wrong_length": (
        np.ones(39),
        r"^sample_weight\.shape == \(39,\), expected \(40,\)!$",
    ),
    "2d": (
        np.ones((40, 1)),
        r"^Sample weights must be 1D array or scalar, got 2D array\. Expected "
        r"either a scalar value or a 1D array of length 40\.$",
    ),
    "negative": (
        np.r_[-1.5, np.ones(39)],
        r"^sample_weight must be non-negative; got 1 negative value\(s\), the "
        r"smallest being -1\.5\.$",
    ),
    "negative_scalar": (
        -2.0,
        r"^sample_weight must be non-negative; got 40 negative value\(s\), the "
        r"smallest being -2\.0\.$",
    ),
    "nan": (np.r_[np.nan, np.ones(39)], r"^Input sample_weight contains NaN\.$"),
    "inf": (np.r_[np.inf, np.ones(39)], r"^Input sample_weight contains infinity"),
    "all_zero": (np.zeros(40), r"^Sample weights must contain at least one non-zero"),
    "zero_scalar": (0.0, r"^Sample weights must contain at least one non-zero"),
    "string": (np.full(40, "a"), r"could not convert string to float"),
}


# partial_fit only exists for the stochastic solvers.
SOLVER_CASES = [
    pytest.param(cls, method, solver, id=f"{cls.__name__}-{method}-{solver}")
    for cls in ESTIMATORS
    for method, solvers in (
        ("fit", ("adam", "lbfgs")),
        ("partial_fit", ("adam", "sgd")),
    )
    for solver in solvers
]


@pytest.mark.parametrize("case_id", list(BAD_SAMPLE_WEIGHTS))
@pytest.mark.parametrize("cls, method, solver", SOLVER_CASES)
def test_bad_sample_weight_when_training(cls, method, solver, case_id):
    sample_weight, pattern = BAD_SAMPLE_WEIGHTS[case_id]
    est = cls(**{**BASE_PARAMS, "solver": solver})
    with pytest.raises(ValueError, match=pattern):
        _call(est, method, X, _y(cls), sample_weight=sample_weight)
    _assert_unfitted(est)


@pytest.mark.parametrize(
    "method, solver",
    [("fit", "adam"), ("fit", "sgd"), ("fit", "lbfgs"), ("partial_fit", "adam")],
)
def test_poisson_rejects_negative_targets(method, solver):
    y = np.abs(Y_REG)
    y[[4, 9]] = [-2.5, -0.5]
    est = ScratchMLPRegressor(**{**BASE_PARAMS, "solver": solver, "loss": "poisson"})
    with pytest.raises(
        ValueError,
        match=r"^loss='poisson' requires non-negative targets, but y has 2 negative "
        r"value\(s\), the smallest being -2\.5\.$",
    ):
        _call(est, method, X, y)
    _assert_unfitted(est)
    # Zero is a valid Poisson target.
    _call(est, method, X, np.where(y < 0, 0.0, y))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_rejects_early_stopping(cls):
    est = cls(**BASE_PARAMS, early_stopping=True)
    with pytest.raises(
        ValueError, match=r"^partial_fit does not support early_stopping=True$"
    ):
        _partial_fit(est, X, _y(cls))
    _assert_unfitted(est)


@pytest.mark.parametrize("n_samples, fraction", [(40, 0.02), (40, 0.01), (6, 0.1)])
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_validation_set_too_small(cls, n_samples, fraction):
    est = cls(**BASE_PARAMS, early_stopping=True, validation_fraction=fraction)
    with pytest.raises(
        ValueError,
        match=r"^The validation set is too small\. Increase 'validation_fraction' or "
        r"the size of your dataset\.$",
    ):
        est.fit(X[:n_samples], _y(cls)[:n_samples])
    _assert_unfitted(est)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_validation_fraction_zero_with_early_stopping(cls):
    """validation_fraction=0 passes parameter validation but leaves no validation
    set: the fit fails with a message naming validation_fraction, and the
    estimator is left untouched."""
    est = cls(**BASE_PARAMS, early_stopping=True, validation_fraction=0.0)
    with pytest.raises(
        ValueError,
        match=r"^early_stopping=True needs a validation set: set "
        r"validation_fraction in \(0, 1\); got validation_fraction=0\.$",
    ):
        est.fit(X, _y(cls))
    _assert_unfitted(est)


# --------------------------------------------------------------------------------
# The same words as scikit-learn's MLP

# Where our message deliberately differs from that of scikit-learn's MLP on the
# same input. Each of these cases has its own test above.
WORDING_DEVIATIONS = {
    # scikit-learn's classifier reads the classes of y before checking it, and
    # fails on "Expected array-like (array or non-string sequence), got None";
    # ours says, as both fits do, that y is required.
    ("ScratchMLPClassifier", "partial_fit", "none_y"),
    # scikit-learn's MLP accepts negative sample weights.
    *(
        (cls.__name__, method, f"sample_weight_{case_id}")
        for cls in ESTIMATORS
        for method in ("fit", "partial_fit")
        for case_id in ("negative", "negative_scalar")
    ),
    # scikit-learn's predict validates X with dtype="numeric", which refuses
    # strings in other words than the float conversion of fit (both packages)
    # and of our predict, and sees a list of dicts, or a dict, as one sample.
    *(
        (cls.__name__, method, case_id)
        for cls in ESTIMATORS
        for method in _predict_methods(cls)
        for case_id in ("string_X", "records", "dict_of_columns")
    ),
}


def _wording_cases():
    for cls in ESTIMATORS:
        training = [
            *(("train_data", case_id) for case_id in BAD_TRAIN_DATA),
            *(("sample_weight", case_id) for case_id in BAD_SAMPLE_WEIGHTS),
            *(("typed_X", case_id) for case_id in BAD_TYPED_X),
        ]
        for method in ("fit", "partial_fit"):
            for table, case_id in training:
                yield cls, method, table, case_id
        for method in _predict_methods(cls):
            for table in ("predict_X", "typed_X"):
                source = BAD_PREDICT_X if table == "predict_X" else BAD_TYPED_X
                for case_id in source:
                    yield cls, method, table, case_id
        # Only where both packages constrain the parameter alike: not for our
        # own parameters, nor where ours allows more (more activations).
        for index, (name, _) in enumerate(INVALID_PARAMS):
            if _constrained_alike(cls, name):
                yield cls, "fit", "param", index


def _constrained_alike(cls, name):
    """Whether our estimator and scikit-learn's constrain ``name`` the same way."""
    theirs = SKLEARN_TWINS[cls]._parameter_constraints.get(name)
    if theirs is None:
        return False
    ours = cls._parameter_constraints[name]
    return sorted(map(_sorted_sets, map(str, ours))) == sorted(
        map(_sorted_sets, map(str, theirs))
    )


def _sorted_sets(text):
    """``text`` with the members of each ``{...}`` set in sorted order."""
    return re.sub(
        r"\{([^{}]*)\}",
        lambda match: "{" + ", ".join(sorted(match.group(1).split(", "))) + "}",
        text,
    )


def _wording_id(cls, method, table, case_id):
    if table == "param":
        name, value = INVALID_PARAMS[case_id]
        return f"{name}={value!r}"
    return f"sample_weight_{case_id}" if table == "sample_weight" else case_id


# scikit-learn words these sample-weight checks, and makes the zero-weight one
# at all, from version 1.9 on; our wording is that of 1.9.
SKLEARN_VERSION = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
NEEDS_SKLEARN_1_9 = pytest.mark.skipif(
    SKLEARN_VERSION < (1, 9),
    reason="scikit-learn before 1.9 words this sample_weight check otherwise",
)


def _wording_marks(cls, method, table, case_id):
    late = table == "sample_weight" and case_id in ("2d", "all_zero", "zero_scalar")
    return [NEEDS_SKLEARN_1_9] if late else []


WORDING_CASES = [
    pytest.param(
        *case,
        id=f"{case[0].__name__}-{case[1]}-{_wording_id(*case)}",
        marks=_wording_marks(*case),
    )
    for case in _wording_cases()
    if (case[0].__name__, case[1], _wording_id(*case)) not in WORDING_DEVIATIONS
]


def test_wording_deviations_name_real_cases():
    """Every deliberate difference listed names a case of the tables, so that
    none of them hides a typo."""
    names = {
        (case[0].__name__, case[1], _wording_id(*case)) for case in _wording_cases()
    }
    assert WORDING_DEVIATIONS <= names


def _error_of(function, *args, **kwargs):
    """The exception ``function(*args, **kwargs)`` raises, or None."""
    try:
        function(*args, **kwargs)
    except Exception as error:
        return error
    return None


def _wording(error):
    """An error's type and message, with scikit-learn's class names made ours
    and the members of a set sorted (a set of strings prints in hash order)."""
    if error is None:
        return None
    message = re.sub(r"\bMLP(Classifier|Regressor)\b", r"ScratchMLP\1", str(error))
    return type(error), _sorted_sets(message)


@pytest.fixture(scope="module")
def fitted_twins():
    """Both packages' estimators fitted on the same array and the same frame."""
    fitted = {}
    for cls in ESTIMATORS:
        for data in (X, X_DF):
            kind = "frame" if data is X_DF else "array"
            for package, est_class in (("ours", cls), ("theirs", SKLEARN_TWINS[cls])):
                est = est_class(**BASE_PARAMS).fit(data, _y(cls))
                fitted[cls, kind, package] = est
    return fitted


@pytest.mark.parametrize("cls, method, table, case_id", WORDING_CASES)
def test_errors_are_worded_as_sklearns(fitted_twins, cls, method, table, case_id):
    """On the same bad input, our estimator raises the exception type and message
    that scikit-learn's MLP raises, class names aside."""
    errors = {}
    for package in ("ours", "theirs"):
        est_class = cls if package == "ours" else SKLEARN_TWINS[cls]
        if table == "param":
            name, value = INVALID_PARAMS[case_id]
            est = est_class(**{**BASE_PARAMS, "solver": "sgd", name: value})
            errors[package] = _error_of(est.fit, X, _y(cls))
            continue
        X_bad, y_bad, kwargs = X, _y(cls), {}
        if table == "train_data":
            X_bad, y_clf, y_reg, _ = BAD_TRAIN_DATA[case_id]
            y_bad = y_clf if _is_clf(cls) else y_reg
        elif table == "sample_weight":
            kwargs = {"sample_weight": BAD_SAMPLE_WEIGHTS[case_id][0]}
        elif table == "typed_X":
            X_bad = BAD_TYPED_X[case_id][0]
        else:
            X_bad = BAD_PREDICT_X[case_id][0]
        if method in ("fit", "partial_fit"):
            est = est_class(**BASE_PARAMS)
        else:
            # score predicts before it looks at y, so y can stay as it is.
            kind = "frame" if isinstance(X_bad, pd.DataFrame) else "array"
            est = fitted_twins[cls, kind, package]
        errors[package] = _error_of(_call, est, method, X_bad, y_bad, **kwargs)

    assert errors["theirs"] is not None, "scikit-learn's MLP accepted this input"
    assert _wording(errors["ours"]) == _wording(errors["theirs"])


# --------------------------------------------------------------------------------
# Atomicity: a failed call leaves a fitted model exactly as it was


def _bitwise_equal(a, b):
    """Whether two values are equal bit for bit (NaN equals NaN, -0.0 != 0.0)."""
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_bitwise_equal(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(_bitwise_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, np.ndarray | np.generic | float):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype == object or b.dtype == object:
            return (
                a.dtype == b.dtype and a.shape == b.shape and a.tolist() == b.tolist()
            )
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return type(a) is type(b) and a == b


FITTED_SCALARS = (
    "n_iter_",
    "t_",
    "n_features_in_",
    "n_layers_",
    "n_outputs_",
    "out_activation_",
    "loss_",
    "best_loss_",
    "best_validation_score_",
    "_no_improvement_count",
)


def _snapshot(est):
    """Copies of everything fitting sets, and the model's predictions."""
    state = {"keys": sorted(est.__dict__)}
    state["coefs_"] = [a.copy() for a in est.coefs_]
    state["intercepts_"] = [a.copy() for a in est.intercepts_]
    state["loss_curve_"] = list(est.loss_curve_)
    state["validation_scores_"] = (
        None if est.validation_scores_ is None else list(est.validation_scores_)
    )
    for name in FITTED_SCALARS:
        state[name] = getattr(est, name)
    state["params"] = est._network.params.copy()
    best = getattr(est, "_best_params", None)
    state["_best_params"] = None if best is None else best.copy()
    if hasattr(est, "feature_names_in_"):
        state["feature_names_in_"] = est.feature_names_in_.copy()
    optimizer = getattr(est, "_optimizer", None)
    state["optimizer"] = None
    if optimizer is not None:
        state["optimizer"] = {
            k: (v.copy() if isinstance(v, np.ndarray) else v)
            for k, v in optimizer.__dict__.items()
            if k != "_scratch"  # buffers that hold nothing between steps
        }
    X_pred = X_DF if hasattr(est, "feature_names_in_") else X
    state["predict"] = est.predict(X_pred)
    if _is_clf(est):
        state["classes_"] = est.classes_.copy()
        state["_label_binarizer.classes_"] = est._label_binarizer.classes_.copy()
        state["predict_proba"] = est.predict_proba(X_pred)
        state["predict_log_proba"] = est.predict_log_proba(X_pred)
    return state


def _assert_same_state(before, after):
    assert before.keys() == after.keys()
    changed = [k for k in before if not _bitwise_equal(before[k], after[k])]
    assert not changed, f"changed by the failed call: {changed}"
    # In particular, never a NaN prediction.
    for name in ("predict", "predict_proba", "predict_log_proba"):
        if name in after and after[name].dtype.kind == "f":
            assert not np.isnan(after[name]).any()


def _assert_views(est):
    """coefs_ and intercepts_ are the network's views into its one buffer."""
    params = est._network.params
    assert est.coefs_ is est._network.coefs
    assert est.intercepts_ is est._network.intercepts
    for array in [*est.coefs_, *est.intercepts_]:
        assert array.base is params or array.base is params.base
        assert np.shares_memory(array, params)
    for layer, coef in zip(est._network.layers, est.coefs_, strict=True):
        assert layer.coef is coef


@dataclass
class Failure:
    """One way for a training call to fail."""

    id: str
    match: str
    X: object = None  # default X_DF
    y: object = None  # default the estimator's targets; callable(cls) -> y
    kwargs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # set just before the call
    model_params: dict = field(default_factory=dict)  # set when first fitting
    model_y: object = None  # targets the model is first fitted on
    modes: tuple = MODES
    kinds: tuple = ("clf", "reg")
    # Validation does not depend on the solver; the failures that also run
    # with lbfgs say so (partial_fit, which lbfgs lacks, never does).
    solvers: tuple = ("adam", "sgd")
    error: type = ValueError


def _nan_y_reg(cls):
    return np.where(np.arange(N_SAMPLES) == 3, np.nan, Y_REG)


def _with_negative(cls):
    y = np.abs(Y_REG)
    y[7] = -2.5
    return y


FAILURES = [
    Failure(
        "invalid_alpha",
        rf"The 'alpha' parameter of {NAME} must be a float in the range \[0\.0, inf\)"
        r"\. Got -1 instead\.",
        params={"alpha": -1},
        # scikit-learn's _fit_context skips parameter validation in partial_fit
        # once the estimator is fitted, as scikit-learn's own MLP does.
        modes=("cold", "warm"),
    ),
    Failure(
        "invalid_learning_rate",
        rf"The 'learning_rate' parameter of {NAME} must be a str among",
        params={"learning_rate": "x"},
        modes=("cold", "warm"),
    ),
    Failure(
        "zero_hidden_layer",
        r"^hidden_layer_sizes must be > 0, got \[0\]\.$",
        params={"hidden_layer_sizes": (0,)},
    ),
    Failure(
        "nan_X",
        r"Input X contains NaN\.",
        X=pd.DataFrame(_with_nan(X), columns=list("abcd")),
        solvers=("adam", "sgd", "lbfgs"),
    ),
    Failure(
        "inf_X",
        r"Input X contains infinity",
        X=pd.DataFrame(_with_nan(X, np.inf), columns=list("abcd")),
    ),
    Failure("nan_X_csr", r"Input X contains NaN\.", X=sp.csr_matrix(_with_nan(X))),
    Failure("1d_X", r"Expected 2D array, got 1D array instead", X=X[:, 0]),
    Failure("3d_X", r"Found array with dim 3", X=X.reshape(N_SAMPLES, 2, 2)),
    Failure(
        "empty_X",
        r"Found array with 0 sample\(s\)",
        X=X_DF.iloc[:0],
        y=lambda cls: _y(cls)[:0],
    ),
    Failure("no_features", r"Found array with 0 feature\(s\)", X=X[:, :0]),
    Failure(
        "short_y",
        r"inconsistent numbers of samples: \[40, 39\]",
        y=lambda cls: _y(cls)[:-1],
        solvers=("adam", "sgd", "lbfgs"),
    ),
    Failure("complex_X", r"^Complex data not supported", X=X + 1j),
    Failure(
        "string_X",
        r"could not convert string to float",
        X=pd.DataFrame(np.full((N_SAMPLES, 4), "a"), columns=list("abcd")),
    ),
    Failure(
        "3_features",
        rf"^X has 3 features, but {NAME} is expecting 4 features as input\.$",
        X=X[:, :3],
        modes=("warm", "partial"),
    ),
    Failure(
        "renamed_columns",
        r"The feature names should match those that were passed during fit\.",
        X=X_DF.rename(columns={"a": "z"}),
        modes=("warm", "partial"),
    ),
    Failure(
        "other_layer_sizes",
        r"The fitted network has layer sizes \[4, 5, \d\], but this call asks "
        r"for \[4, 7, \d\]",
        params={"hidden_layer_sizes": (7,)},
        modes=("warm", "partial"),
        solvers=("adam", "sgd", "lbfgs"),
    ),
    Failure(
        "other_activation",
        r"The fitted network has activation 'relu', but this call asks for 'tanh'",
        params={"activation": "tanh"},
        modes=("warm", "partial"),
    ),
    Failure(
        "other_loss",
        r"The fitted network has loss 'squared_error', but this call asks for "
        r"'poisson'",
        y=lambda cls: np.abs(Y_REG),
        params={"loss": "poisson"},
        modes=("warm", "partial"),
        kinds=("reg",),
    ),
    Failure(
        "continuous_y",
        r"^Unknown label type: continuous",
        y=lambda cls: Y_REG,
        kinds=("clf",),
    ),
    Failure(
        "unseen_class",
        re.escape("`y` has classes not in `self.classes_`."),
        y=lambda cls: Y_CLF + 1,
        kinds=("clf",),
        modes=("partial",),
    ),
    Failure(
        "other_classes",
        re.escape("`classes=[0, 1, 2, 3]` is not the same as on last call"),
        kwargs={"classes": [0, 1, 2, 3]},
        kinds=("clf",),
        modes=("partial",),
    ),
    Failure(
        "warm_other_classes",
        r"^warm_start can only be used where `y` has the same classes",
        y=lambda cls: Y_CLF % 2,
        kinds=("clf",),
        modes=("warm",),
        solvers=("adam", "sgd", "lbfgs"),
    ),
    Failure("nan_y", r"^Input y contains NaN\.$", y=_nan_y_reg, kinds=("reg",)),
    Failure(
        "string_y",
        r"could not convert string to float",
        y=lambda cls: np.array(["a", "b"] * 20),
        kinds=("reg",),
    ),
    Failure(
        "poisson_negative_y",
        r"^loss='poisson' requires non-negative targets, but y has 1 negative "
        r"value\(s\), the smallest being -2\.5\.$",
        y=_with_negative,
        model_params={"loss": "poisson"},
        model_y=lambda cls: np.abs(Y_REG),
        kinds=("reg",),
    ),
    *(
        Failure(
            f"sample_weight_{case_id}",
            pattern,
            kwargs={"sample_weight": sample_weight},
        )
        for case_id, (sample_weight, pattern) in BAD_SAMPLE_WEIGHTS.items()
        if case_id != "negative_scalar"
    ),
    Failure(
        "early_stopping_partial_fit",
        r"^partial_fit does not support early_stopping=True$",
        params={"early_stopping": True},
        modes=("partial",),
    ),
    Failure(
        "validation_set_too_small",
        r"^The validation set is too small\.",
        params={"early_stopping": True, "validation_fraction": 0.01},
        modes=("cold", "warm"),
    ),
    Failure(
        "diverges",
        r"^Training diverged at epoch \d+: the loss is (nan|inf)",
        X=pd.DataFrame(X_HUGE, columns=list("abcd")),
        solvers=("sgd",),
    ),
    # Adam's steps are bounded by its learning rate, so huge inputs overflow
    # only the squared error; the log-loss needs a huge rate.
    Failure(
        "diverges_adam",
        r"^Training diverged at epoch \d+: the loss is (nan|inf)",
        X=pd.DataFrame(X_HUGE, columns=list("abcd")),
        kinds=("reg",),
        solvers=("adam",),
    ),
    Failure(
        "diverges_adam_huge_learning_rate",
        r"^Training diverged at epoch \d+: the loss is (nan|inf)",
        params={"learning_rate_init": 1e200},
        kinds=("clf",),
        # partial_fit keeps the learning rate of the optimizer it continues.
        modes=("cold", "warm"),
        solvers=("adam",),
    ),
    Failure(
        "diverges_lbfgs",
        r"^Training diverged after \d+ L-BFGS iteration\(s\): the loss is (nan|inf)",
        X=pd.DataFrame(X_HUGE, columns=list("abcd")),
        solvers=("lbfgs",),
    ),
    Failure("pd_na_X", r"Input X contains NaN\.", X=_with_pd_na(X)),
    Failure(
        "dict_X",
        r"^float\(\) argument must be a string or a real number, not 'dict'$",
        X=_object_with(X, {"a": 1}),
        error=TypeError,
        solvers=("adam", "sgd", "lbfgs"),
    ),
    Failure("pd_na_y", r"^Input y contains NaN\.$", y=_pd_na_y),
    Failure(
        "nan_y_clf",
        r"^Input y contains NaN\.$",
        y=lambda cls: np.where(np.arange(N_SAMPLES) == 3, np.nan, Y_CLF),
        kinds=("clf",),
    ),
    Failure(
        "inf_y_clf",
        r"^Input y contains infinity",
        y=lambda cls: np.where(np.arange(N_SAMPLES) == 3, np.inf, Y_CLF),
        kinds=("clf",),
    ),
    Failure(
        "none_label",
        r"^Unknown label type: unknown\.",
        y=lambda cls: np.where(np.arange(N_SAMPLES) == 3, None, Y_CLF),
        kinds=("clf",),
    ),
]


def _atomicity_cases():
    for failure in FAILURES:
        for kind in failure.kinds:
            for mode in failure.modes:
                for solver in failure.solvers:
                    if mode == "partial" and solver == "lbfgs":
                        continue
                    yield pytest.param(
                        KINDS[kind],
                        mode,
                        solver,
                        failure,
                        id=f"{kind}-{mode}-{solver}-{failure.id}",
                    )


def _fitted_model(cls, mode, solver, failure=None):
    model_params = failure.model_params if failure else {}
    model_y = failure.model_y(cls) if failure and failure.model_y else _y(cls)
    est = cls(
        **{
            **BASE_PARAMS,
            **model_params,
            "solver": solver,
            "warm_start": mode == "warm",
        }
    )
    return est.fit(X_DF, model_y)


def _train(est, mode, X_train, y, **kwargs):
    if mode == "partial":
        return est.partial_fit(X_train, y, **kwargs)
    return est.fit(X_train, y, **kwargs)


@pytest.mark.parametrize("cls, mode, solver, failure", list(_atomicity_cases()))
def test_failed_call_leaves_fitted_model_unchanged(cls, mode, solver, failure):
    est = _fitted_model(cls, mode, solver, failure)
    before = _snapshot(est)
    params_before = est.get_params()

    est.set_params(**failure.params)
    X_bad = X_DF if failure.X is None else failure.X
    y_bad = _y(cls) if failure.y is None else failure.y(cls)
    with warnings.catch_warnings():
        # An array after a fit on a DataFrame warns before it fails.
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        with pytest.raises(failure.error, match=failure.match):
            _train(est, mode, X_bad, y_bad, **failure.kwargs)
    est.set_params(**params_before)

    _assert_same_state(before, _snapshot(est))
    _assert_views(est)


BATCHES_PER_EPOCH = N_SAMPLES // BASE_PARAMS["batch_size"]
# Which call of Network.loss_gradient fails: the second mini-batch of a fit's
# second epoch, the third of a partial_fit's only epoch, and L-BFGS's fourth
# evaluation, after it has completed an iteration.
FAILING_CALL = {"fit": BATCHES_PER_EPOCH + 2, "partial_fit": 3, "lbfgs": 4}

MID_TRAINING_CASES = [
    pytest.param(cls, mode, solver, id=f"{kind}-{mode}-{solver}")
    for kind, cls in KINDS.items()
    for solver in ("sgd", "adam", "lbfgs")
    for mode in MODES
    # partial_fit only exists for the stochastic solvers.
    if not (solver == "lbfgs" and mode == "partial")
]


def _raise_on_call(monkeypatch, n, error, est):
    """Make the ``n``-th call of ``Network.loss_gradient`` raise ``error``.

    Returns a dict that counts the calls and holds, from the failing call, the
    network's parameters and the length of ``est.loss_curve_`` at that moment.
    """
    loss_gradient = Network.loss_gradient
    calls = {"count": 0}

    def failing_loss_gradient(network, *args, **kwargs):
        calls["count"] += 1
        if calls["count"] == n:
            calls["params"] = network.params.copy()
            calls["curve_length"] = len(est.loss_curve_)
            raise error
        return loss_gradient(network, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_gradient", failing_loss_gradient)
    return calls


def _failing_call(mode, solver):
    if solver == "lbfgs":
        return FAILING_CALL["lbfgs"]
    return FAILING_CALL["partial_fit" if mode == "partial" else "fit"]


@pytest.mark.parametrize("error_class", [RuntimeError, MemoryError])
@pytest.mark.parametrize("cls, mode, solver", MID_TRAINING_CASES)
def test_error_mid_training_leaves_fitted_model_unchanged(
    monkeypatch, cls, mode, solver, error_class
):
    """An exception of any kind raised while training propagates unchanged, and
    the fitted model is left as it was, bit for bit: weights, loss curve,
    counters, optimizer state and predictions."""
    est = _fitted_model(cls, mode, solver)
    before = _snapshot(est)
    error = error_class("raised mid-training")
    calls = _raise_on_call(monkeypatch, _failing_call(mode, solver), error, est)

    with pytest.raises(error_class) as info:
        _train(est, mode, X_DF, _y(cls))
    assert info.value is error

    # The call failed mid-run: a fit had completed an epoch or an L-BFGS
    # iteration, and a warm fit or partial_fit, which train the model's own
    # weights in place, had moved them.
    if mode != "partial":
        curve_before = 0 if mode == "cold" else len(before["loss_curve_"])
        assert calls["curve_length"] > curve_before
    if mode != "cold":
        assert not _bitwise_equal(calls["params"], before["params"])
    _assert_same_state(before, _snapshot(est))
    _assert_views(est)
    np.testing.assert_array_equal(est.predict(X_DF), before["predict"])


@pytest.mark.parametrize("interrupted_epoch", [2, 3])
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_keyboard_interrupt_stops_stochastic_training_and_keeps_the_model(
    monkeypatch, cls, interrupted_epoch
):
    """Ctrl-C during stochastic training ends the fit with a warning instead of an
    error: the model keeps the epochs it completed, and predicts finite values."""
    est = cls(**{**BASE_PARAMS, "solver": "sgd"})
    # The second mini-batch of the interrupted epoch.
    n = (interrupted_epoch - 1) * BATCHES_PER_EPOCH + 2
    calls = _raise_on_call(monkeypatch, n, KeyboardInterrupt(), est)

    with pytest.warns(UserWarning, match=r"^Training interrupted by user\.$"):
        try:
            est.fit(X, _y(cls))
        except KeyboardInterrupt:  # would otherwise stop the whole test session
            pytest.fail("fit let the KeyboardInterrupt through")

    completed = interrupted_epoch - 1
    assert calls["count"] == n  # no batch after the interrupted one
    assert est.n_iter_ == completed
    assert len(est.loss_curve_) == completed
    assert est.t_ == completed * N_SAMPLES
    assert np.isfinite(est._network.params).all()
    out = est.predict_proba(X) if _is_clf(cls) else est.predict(X)
    assert np.isfinite(out).all()


CONTINUE_FAILURES = [f for f in FAILURES if f.id in ("nan_X", "short_y", "diverges")]


@pytest.mark.parametrize("failure", CONTINUE_FAILURES, ids=lambda f: f.id)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_training_continues_after_failed_call(cls, mode, failure):
    """After a failed call the model trains on from where it was, as if the call
    never happened, and coefs_ stay views into the network's buffer."""
    est = _fitted_model(cls, mode, "sgd", failure)
    twin = _fitted_model(cls, mode, "sgd", failure)
    curve_before, t_before = list(est.loss_curve_), est.t_
    X_bad = X_DF if failure.X is None else failure.X
    y_bad = _y(cls) if failure.y is None else failure.y(cls)
    with pytest.raises(ValueError, match=failure.match):
        _train(est, mode, X_bad, y_bad)

    for model in (est, twin):
        for _ in range(2):
            _train(model, mode, X_DF, _y(cls))
    assert _bitwise_equal(est._network.params, twin._network.params)
    assert _bitwise_equal(est._optimizer.velocity, twin._optimizer.velocity)
    assert est.loss_curve_ == twin.loss_curve_
    # Two more calls of max_iter epochs each (one epoch for partial_fit) on
    # top of the fitted model, or one fresh fit for a cold start.
    epochs = {"cold": 3, "warm": 3 + 2 * 3, "partial": 3 + 2}[mode]
    assert len(est.loss_curve_) == epochs
    assert est.t_ == (N_SAMPLES * epochs if mode != "cold" else 3 * N_SAMPLES)
    if mode != "cold":
        assert est.loss_curve_[: len(curve_before)] == curve_before
        assert est.t_ > t_before
    _assert_views(est)
    np.testing.assert_array_equal(est.predict(X_DF), twin.predict(X_DF))


@pytest.mark.parametrize("mode", ["warm", "partial"])
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_successful_training_keeps_coefs(cls, mode):
    """A successful warm-started fit or partial_fit keeps coefs_ and intercepts_
    as views into the network's buffer, and the next call trains on from there."""
    est = _fitted_model(cls, mode, "adam")
    t_before = est.t_
    _train(est, mode, X_DF, _y(cls))
    assert hasattr(est, "coefs_") and hasattr(est, "intercepts_")
    _assert_views(est)
    t_after = est.t_
    _train(est, mode, X_DF, _y(cls))
    assert t_before < t_after < est.t_


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_failed_call_keeps_the_parameter_objects(cls, mode):
    """get_params() after a failed call returns the very objects the user set:
    the user's RandomState, not a copy of it, and the same list of layer sizes."""
    rng = np.random.RandomState(0)
    sizes = [5]
    est = cls(
        **{
            **BASE_PARAMS,
            "random_state": rng,
            "hidden_layer_sizes": sizes,
            "warm_start": mode == "warm",
        }
    ).fit(X, _y(cls))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        _train(est, mode, _with_nan(X), _y(cls))
    assert est.get_params()["random_state"] is rng
    assert est.get_params()["hidden_layer_sizes"] is sizes


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_failed_call_leaves_arrays_read_before_it_untouched(cls, mode):
    """Arrays read from coefs_ before a call that diverges keep their values and
    stay the model's own: the failed call restores the weights in place."""
    est = _fitted_model(cls, mode, "sgd")
    coef = est.coefs_[0]
    coef_before = coef.copy()
    with pytest.raises(ValueError, match="Training diverged"):
        _train(est, mode, pd.DataFrame(X_HUGE, columns=list("abcd")), _y(cls))
    assert _bitwise_equal(coef, coef_before)
    assert est.coefs_[0] is coef


# --------------------------------------------------------------------------------
# Divergence

DIVERGED = (
    r"^Training diverged at epoch (\d+): the loss is (nan|inf) and the weights are "
    r"(finite|not all finite)\. To fix it, lower learning_rate_init=\S+, or scale "
    r"the input data \(for example with StandardScaler\)\. The estimator was left "
    r"as it was before this call\.$"
)


@pytest.mark.parametrize(
    "cls, params, X_train",
    [
        (ScratchMLPClassifier, {}, X_HUGE),
        (ScratchMLPClassifier, {"batch_size": "auto"}, X_HUGE),
        (ScratchMLPRegressor, {}, X_HUGE),
        (ScratchMLPRegressor, {"learning_rate_init": 1e6, "batch_size": "auto"}, X),
    ],
    ids=["clf-huge_X", "clf-huge_X-one_batch", "reg-huge_X", "reg-huge_learning_rate"],
)
def test_divergence_in_fit_names_the_epoch(cls, params, X_train):
    params = {**BASE_PARAMS, "solver": "sgd", "momentum": 0.9, "max_iter": 50, **params}
    est = cls(**params)
    with pytest.raises(ValueError, match=DIVERGED) as info:
        est.fit(X_train, _y(cls))
    _assert_unfitted(est)

    # The epoch named is the first whose loss or weights are not finite: the
    # same run stopped one epoch earlier completes with finite weights, unless
    # its last step already overflows the network's output, which fit then
    # reports as divergence too (see test_numerics, where that check is an
    # expected failure until _base.py makes it).
    epoch = int(re.match(DIVERGED, str(info.value)).group(1))
    if epoch > 1:
        short = cls(**{**params, "max_iter": epoch - 1})
        try:
            short.fit(X_train, _y(cls))
        except ValueError as error:
            assert str(error).startswith("Training diverged in its last step")
            _assert_unfitted(short)
            return
        assert short.n_iter_ == epoch - 1
        assert np.isfinite(short.loss_curve_).all()
        assert np.isfinite(short._network.params).all()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_divergence_in_first_partial_fit(cls):
    est = cls(**{**BASE_PARAMS, "solver": "sgd"})
    with pytest.raises(ValueError, match=DIVERGED.replace(r"(\d+)", "1")):
        _partial_fit(est, X_HUGE, _y(cls))
    _assert_unfitted(est)
    if _is_clf(cls):
        # The classes of the failed first call are forgotten with it.
        with pytest.raises(ValueError, match="classes must be passed on the first"):
            est.partial_fit(X, Y_CLF)


LBFGS_DIVERGED = (
    r"^Training diverged after \d+ L-BFGS iteration\(s\): the loss is (nan|inf)"
)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_lbfgs_non_finite_loss(cls):
    est = cls(**{**BASE_PARAMS, "solver": "lbfgs"})
    with pytest.raises(ValueError, match=LBFGS_DIVERGED):
        est.fit(X_HUGE, _y(cls))
    _assert_unfitted(est)

    for warm_start in (False, True):
        est = cls(**{**BASE_PARAMS, "solver": "lbfgs", "warm_start": warm_start})
        est.fit(X_DF, _y(cls))
        before = _snapshot(est)
        with pytest.raises(ValueError, match=LBFGS_DIVERGED):
            est.fit(pd.DataFrame(X_HUGE, columns=list("abcd")), _y(cls))
        _assert_same_state(before, _snapshot(est))
        _assert_views(est)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_diverged_model_never_predicts_nan(cls):
    """Whatever the run, a model either fails or predicts finite values."""
    y = _y(cls)
    for X_train in (X, X * 1e100, X_HUGE):
        for lr in (1e-2, 1e6):
            est = cls(**{**BASE_PARAMS, "solver": "sgd", "learning_rate_init": lr})
            try:
                est.fit(X_train, y)
            except ValueError as error:
                assert re.match(DIVERGED, str(error))
                _assert_unfitted(est)
                continue
            assert np.isfinite(est._network.params).all()
            out = est.predict_proba(X_train) if _is_clf(cls) else est.predict(X_train)
            assert np.isfinite(out).all()
