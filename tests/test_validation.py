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
from sklearn.exceptions import NotFittedError

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch.core.network import Network

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # Divergence overflows on purpose.
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]

ESTIMATORS = [ScratchMLPClassifier, ScratchMLPRegressor]
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


def _partial_fit(est, X, y, **kwargs):
    if _is_clf(est) and not hasattr(est, "classes_"):
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
]


def _invalid_param_cases():
    for cls in ESTIMATORS:
        cases = list(INVALID_PARAMS)
        if cls is ScratchMLPRegressor:
            cases.append(("loss", "bogus"))
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
    """The table above names every constrained parameter of both estimators."""
    covered = {name for name, _ in INVALID_PARAMS}
    assert covered == set(ScratchMLPClassifier._parameter_constraints)
    assert covered | {"loss"} == set(ScratchMLPRegressor._parameter_constraints)


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
        (np.array(["a", "b"] * 20), r"could not convert string to float: .*'a'"),
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
}


@pytest.mark.parametrize("case_id", list(BAD_PREDICT_X))
@pytest.mark.parametrize("cls, method", PREDICT_CASES)
def test_bad_X_at_prediction(fitted_on_array, cls, method, case_id):
    est = fitted_on_array[cls]
    X_bad, pattern = BAD_PREDICT_X[case_id]
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
        (np.ones((40, 1)), r"^sample_weight must be a 1D array or a scalar, got a 2D"),
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
        r"^sample_weight must be a 1D array or a scalar, got a 2D array of shape "
        r"\(40, 1\)\.$",
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
    solvers: tuple = ("adam", "sgd")


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
]


def _atomicity_cases():
    for failure in FAILURES:
        for kind in failure.kinds:
            for mode in failure.modes:
                for solver in failure.solvers:
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
        with pytest.raises(ValueError, match=failure.match):
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
    # same run stopped one epoch earlier completes with finite weights.
    epoch = int(re.match(DIVERGED, str(info.value)).group(1))
    if epoch > 1:
        short = cls(**{**params, "max_iter": epoch - 1}).fit(X_train, _y(cls))
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
