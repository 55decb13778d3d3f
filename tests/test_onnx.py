"""Tests of sknn_scratch.onnx: the exported graphs, run by onnxruntime.

Every graph is compared with the estimator it came from: onnxruntime's labels
must equal ``predict``, and its probabilities and regression outputs match
``predict_proba`` and ``predict`` to 1e-5 in a float32 graph and 1e-10 in a
float64 graph. Probabilities, which lie in [0, 1], are compared absolutely;
regression outputs relative to the largest prediction in magnitude, since
rounding errors grow with the size of the sums a layer adds up.
"""

import ast
import functools
import importlib
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import StackingRegressor
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import sknn_scratch
from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch.core.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS

skl2onnx = pytest.importorskip("skl2onnx")
onnxruntime = pytest.importorskip("onnxruntime")
# Imported, not import-or-skipped: with skl2onnx there, a failing import of
# our module is a failure.
sknn_onnx = importlib.import_module("sknn_scratch.onnx")
Int64TensorType = skl2onnx.common.data_types.Int64TensorType

HIDDEN = sorted(HIDDEN_ACTIVATIONS)
KINDS = ["binary", "multiclass", "multilabel", "single", "multioutput", "poisson"]
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
N_SAMPLES, N_FEATURES = 30, 4


def make_data(kind, seed=0):
    """Return small data for one kind of target, with a signal to learn."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    signal = X @ rng.normal(size=(N_FEATURES, 3))
    if kind == "binary":
        y = np.where(signal[:, 0] > 0, 7, 3)
    elif kind == "multiclass":
        y = np.array([-1, 2, 5])[signal.argmax(axis=1)]
    elif kind == "multilabel":
        y = (signal > 0).astype(int)
    elif kind == "single":
        y = signal[:, 0]
    elif kind == "multioutput":
        y = signal[:, :2]
    else:  # poisson
        y = rng.poisson(np.exp(0.5 * signal[:, 0]))
    return X, y


def fit_quietly(model, X, y):
    # A few lbfgs iterations give weights away from their initial draw; the
    # ConvergenceWarning that the early stop raises is expected. On arrays
    # this small, BLAS threads cost far more CPU time than they save.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@functools.cache
def fitted(kind, activation="relu"):
    """Return ``(model, X)`` for one kind and hidden activation, fitted once."""
    X, y = make_data(kind)
    settings = {
        "hidden_layer_sizes": (5, 3),
        "activation": activation,
        "solver": "lbfgs",
        "max_iter": 15,
        "random_state": 0,
    }
    if kind in ("binary", "multiclass", "multilabel"):
        model = ScratchMLPClassifier(**settings)
    else:
        loss = "poisson" if kind == "poisson" else "squared_error"
        model = ScratchMLPRegressor(loss=loss, **settings)
    return fit_quietly(model, X, y), X


def make_session(onnx_model):
    # One thread: the graphs are tiny, and the test machines' cores are shared.
    settings = onnxruntime.SessionOptions()
    settings.intra_op_num_threads = settings.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        onnx_model.SerializeToString(), settings, providers=["CPUExecutionProvider"]
    )


def run_onnx(model, X, **options):
    """Convert ``model`` for ``X``'s dtype, run it on ``X``; return outputs by name."""
    onnx_model = skl2onnx.to_onnx(model, X[:1], options=options or None)
    session = make_session(onnx_model)
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": X}), strict=True))


def assert_matches_classifier(model, X, outputs, tolerance):
    assert outputs["probabilities"].dtype == X.dtype
    np.testing.assert_array_equal(outputs["label"], model.predict(X))
    np.testing.assert_allclose(
        outputs["probabilities"], model.predict_proba(X), rtol=0, atol=tolerance
    )


def assert_matches_regressor(model, X, variable, tolerance):
    # The graph's output is (n_samples, n_outputs) even for one output, where
    # predict returns (n_samples,).
    prediction = model.predict(X)
    assert variable.dtype == X.dtype
    assert variable.shape == (X.shape[0], prediction.reshape(X.shape[0], -1).shape[1])
    np.testing.assert_allclose(
        variable.reshape(prediction.shape),
        prediction,
        rtol=0,
        atol=tolerance * np.abs(prediction).max(),
    )


# ---------------------------------------------------------------------------------
# Every hidden activation with every output kind, in both dtypes


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_graph_matches_predict(activation, kind, dtype):
    model, X = fitted(kind, activation)
    X = X.astype(dtype)
    if kind in ("binary", "multiclass", "multilabel"):
        outputs = run_onnx(model, X, zipmap=False)
        assert_matches_classifier(model, X, outputs, TOLERANCE[dtype])
    else:
        outputs = run_onnx(model, X)
        assert_matches_regressor(model, X, outputs["variable"], TOLERANCE[dtype])


def test_every_core_activation_has_an_onnx_operator():
    assert set(HIDDEN_ACTIVATIONS) | set(OUTPUT_ACTIVATIONS) <= set(
        sknn_onnx.ONNX_ACTIVATIONS
    )


def test_multilabel_label_is_the_indicator_matrix():
    model, X = fitted("multilabel")
    label = run_onnx(model, X.astype(np.float32), zipmap=False)["label"]
    assert label.shape == (N_SAMPLES, 3)
    assert set(np.unique(label)) <= {0, 1}
    np.testing.assert_array_equal(label, model.predict(X))


def test_binary_graph_thresholds_like_predict():
    # A zero network outputs exactly 0.5: predict then picks the first class,
    # because it takes the second one only above 0.5.
    model, X = fitted("binary")
    model = fit_quietly(clone(model), *make_data("binary"))
    for coef in model.coefs_:
        coef[...] = 0.0
    for intercept in model.intercepts_:
        intercept[...] = 0.0
    outputs = run_onnx(model, X, zipmap=False)
    np.testing.assert_array_equal(outputs["label"], np.full(N_SAMPLES, 3))
    np.testing.assert_array_equal(outputs["label"], model.predict(X))
    np.testing.assert_array_equal(
        outputs["probabilities"], np.full((N_SAMPLES, 2), 0.5)
    )


# ---------------------------------------------------------------------------------
# Labels


@pytest.mark.parametrize("classes", [["no", "yes"], ["cat", "dog", "emu"]])
def test_string_labels(classes):
    X, y = make_data("multiclass")
    y = np.array(classes)[np.unique(y, return_inverse=True)[1] % len(classes)]
    model = fit_quietly(ScratchMLPClassifier((4,), solver="lbfgs", max_iter=15), X, y)
    for dtype in (np.float32, np.float64):
        outputs = run_onnx(model, X.astype(dtype), zipmap=False)
        assert set(outputs["label"]) <= set(classes)
        assert_matches_classifier(model, X.astype(dtype), outputs, TOLERANCE[dtype])


def test_integral_float_and_boolean_labels_become_int64():
    X, y = make_data("binary")
    for labels in (y.astype(float), y == 7):
        model = fit_quietly(
            ScratchMLPClassifier((3,), solver="lbfgs", max_iter=15), X, labels
        )
        label = run_onnx(model, X, zipmap=False)["label"]
        assert label.dtype == np.int64
        np.testing.assert_array_equal(label, model.predict(X))


def test_nocl_option_gives_class_indices():
    model, X = fitted("multiclass")
    label = run_onnx(model, X, zipmap=False, nocl=True)["label"]
    expected = np.searchsorted(model.classes_, model.predict(X))
    np.testing.assert_array_equal(label, expected)


def test_single_class_model_predicts_its_class():
    X, _ = make_data("binary")
    model = fit_quietly(
        ScratchMLPClassifier((3,), solver="lbfgs", max_iter=5), X, np.full(N_SAMPLES, 4)
    )
    outputs = run_onnx(model, X, zipmap=False)
    assert_matches_classifier(model, X, outputs, TOLERANCE[np.float64])
    with pytest.raises(ValueError, match="single class 4"):
        run_onnx(model, X.astype(np.float32))


# ---------------------------------------------------------------------------------
# The zipmap option, as for skl2onnx's own classifiers


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_zipmap_gives_one_dictionary_per_sample(kind):
    model, X = fitted(kind)
    X = X.astype(np.float32)
    outputs = run_onnx(model, X)  # zipmap=True is skl2onnx's default
    assert list(outputs) == ["output_label", "output_probability"]
    np.testing.assert_array_equal(outputs["output_label"], model.predict(X))
    proba = model.predict_proba(X)
    for row, dictionary in zip(proba, outputs["output_probability"], strict=True):
        assert list(dictionary) == list(model.classes_)
        np.testing.assert_allclose(list(dictionary.values()), row, rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_zipmap_columns_gives_one_output_per_class(dtype):
    model, X = fitted("multiclass")
    X = X.astype(dtype)
    outputs = run_onnx(model, X, zipmap="columns")
    assert list(outputs) == ["output_label", "i-1", "i2", "i5"]
    columns = np.column_stack([outputs[name] for name in ("i-1", "i2", "i5")])
    assert columns.dtype == dtype
    np.testing.assert_allclose(
        columns, model.predict_proba(X), rtol=0, atol=TOLERANCE[dtype]
    )
    np.testing.assert_array_equal(outputs["output_label"], model.predict(X))


def test_zipmap_with_a_float64_graph_raises_a_clear_error():
    # ONNX's ZipMap takes float32 only; skl2onnx would write a graph that
    # onnxruntime refuses to load.
    model, X = fitted("multiclass")
    with pytest.raises(ValueError, match=r"float64.*'zipmap': False"):
        skl2onnx.to_onnx(model, X[:1])


def test_outputs_are_those_of_sklearns_mlp():
    # A drop-in for MLPClassifier and MLPRegressor exports a drop-in graph: the
    # same output names, element types and shapes as skl2onnx gives sklearn's.
    # (Not for several regression outputs, which skl2onnx's converter of
    # MLPRegressor stacks into one column of n_samples * n_outputs rows.)
    for kind, reference in (
        ("binary", MLPClassifier),
        ("multiclass", MLPClassifier),
        ("multilabel", MLPClassifier),
        ("single", MLPRegressor),
    ):
        model, X = fitted(kind)
        X = X.astype(np.float32)
        sklearn_model = reference(hidden_layer_sizes=(3,), max_iter=5)
        sklearn_model = fit_quietly(sklearn_model, X, make_data(kind)[1])
        signatures = []
        for estimator in (model, sklearn_model):
            session = make_session(skl2onnx.to_onnx(estimator, X[:1]))
            outputs = session.run(None, {"X": X})
            signatures.append(
                [
                    (output.name, output.type, np.shape(value))
                    for output, value in zip(
                        session.get_outputs(), outputs, strict=True
                    )
                ]
            )
        assert signatures[0] == signatures[1], kind


# ---------------------------------------------------------------------------------
# Pipelines and dtypes


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", ["multiclass", "single"])
def test_pipeline_with_a_scaler(kind, dtype):
    X, y = make_data(kind)
    X = 100.0 * X + 50.0  # far from standardised, so the scaler matters
    Estimator = ScratchMLPClassifier if kind == "multiclass" else ScratchMLPRegressor
    estimator = Estimator((5,), solver="lbfgs", max_iter=15, random_state=0)
    pipeline = fit_quietly(make_pipeline(StandardScaler(), estimator), X, y)
    X = X.astype(dtype)
    if kind == "multiclass":
        outputs = run_onnx(pipeline, X, zipmap=False)
        assert_matches_classifier(pipeline, X, outputs, TOLERANCE[dtype])
    else:
        outputs = run_onnx(pipeline, X)
        assert_matches_regressor(pipeline, X, outputs["variable"], TOLERANCE[dtype])


def test_regressor_inside_a_stacking_regressor():
    # skl2onnx's StackingRegressor graph concatenates its members' outputs
    # along axis 1, which needs the (n_samples, 1) layout of every regressor.
    X, y = make_data("single")
    members = [
        ("mlp", ScratchMLPRegressor((5,), solver="lbfgs", max_iter=15)),
        ("linear", LinearRegression()),
    ]
    stacking = StackingRegressor(members, LinearRegression(), cv=2)
    stacking = fit_quietly(stacking, X, y)
    # float32: skl2onnx's graphs of the linear models are float32 only.
    X = X.astype(np.float32)
    variable = run_onnx(stacking, X)["variable"]
    assert_matches_regressor(stacking, X, variable, TOLERANCE[np.float32])


@pytest.mark.parametrize("kind", ["multiclass", "single"])
def test_graph_dtype_follows_the_input_not_the_model(kind):
    # A model fitted in float32 has float32 weights; given float64 input, both
    # predict and the graph compute in float64.
    X, y = make_data(kind)
    model, _ = fitted(kind)
    model = fit_quietly(clone(model), X.astype(np.float32), y)
    assert model.coefs_[0].dtype == np.float32
    if kind == "multiclass":
        outputs = run_onnx(model, X, zipmap=False)
        assert_matches_classifier(model, X, outputs, TOLERANCE[np.float64])
    else:
        outputs = run_onnx(model, X)
        assert_matches_regressor(model, X, outputs["variable"], TOLERANCE[np.float64])


def test_integer_input_is_refused():
    model, _ = fitted("single")
    with pytest.raises(TypeError, match="Int64TensorType; cast X to float32"):
        skl2onnx.to_onnx(model, initial_types=[("X", Int64TensorType([None, 4]))])


# ---------------------------------------------------------------------------------
# Activations


def test_unknown_activation_raises_naming_it(monkeypatch):
    model, X = fitted("single", "tanh")
    monkeypatch.delitem(sknn_onnx.ONNX_ACTIVATIONS, "tanh")
    with pytest.raises(NotImplementedError, match="activation 'tanh'"):
        skl2onnx.to_onnx(model, X[:1])


def test_the_fitted_activation_is_exported_after_set_params():
    # predict keeps the activation the model was fitted with; so must the graph.
    model, X = fitted("single", "relu")
    model = fit_quietly(clone(model), *make_data("single"))
    model.set_params(activation="tanh")
    outputs = run_onnx(model, X)
    assert_matches_regressor(model, X, outputs["variable"], TOLERANCE[np.float64])


def test_one_activation_per_hidden_layer_matches_predict():
    X, y = make_data("multiclass")
    model = ScratchMLPClassifier(
        (5, 3), activation=["tanh", "relu"], solver="lbfgs", max_iter=15
    )
    model = fit_quietly(model, X, y)
    outputs = run_onnx(model, X, zipmap=False)
    assert_matches_classifier(model, X, outputs, TOLERANCE[np.float64])


def test_per_layer_activations_are_read_from_the_network():
    # The converter reads the names where predict takes them, on the fitted
    # network, as one name or one per hidden layer. Set there by hand, they
    # must win over the estimator's parameter; predict's layers keep the
    # fitted activation, so a NumPy forward pass is the reference.
    model, X = fitted("single")
    model = fit_quietly(clone(model), *make_data("single"))
    model._network.activation = ["relu", "tanh"]
    hidden = np.maximum(X @ model.coefs_[0] + model.intercepts_[0], 0.0)
    hidden = np.tanh(hidden @ model.coefs_[1] + model.intercepts_[1])
    expected = hidden @ model.coefs_[2] + model.intercepts_[2]
    variable = run_onnx(model, X)["variable"]
    tolerance = TOLERANCE[np.float64] * np.abs(expected).max()
    np.testing.assert_allclose(variable, expected, rtol=0, atol=tolerance)

    model._network.activation = ("relu",)
    with pytest.raises(ValueError, match=r"2 hidden layer\(s\) but 1 activation"):
        skl2onnx.to_onnx(model, X[:1])


# ---------------------------------------------------------------------------------
# Errors and packaging


@pytest.mark.parametrize("Estimator", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_unfitted_estimator_raises_not_fitted_error(Estimator):
    X, _ = make_data("single")
    with pytest.raises(NotFittedError, match="not fitted yet"):
        skl2onnx.to_onnx(Estimator(), X[:1])


def test_importing_the_package_does_not_import_skl2onnx():
    # Follow the package's own imports from its __init__, as Python would on
    # "import sknn_scratch", and collect every other module they import.
    package_dir = Path(sknn_scratch.__file__).parent
    to_visit, seen, external = [package_dir / "__init__.py"], set(), set()
    while to_visit:
        path = to_visit.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] != "sknn_scratch":
                    external.add(name.split(".")[0])
                    continue
                module_path = package_dir.parent.joinpath(*name.split("."))
                for candidate in (
                    module_path.with_suffix(".py"),
                    module_path / "__init__.py",
                ):
                    if candidate.exists():
                        to_visit.append(candidate)

    assert package_dir / "onnx.py" not in seen
    assert "sklearn" in external  # the walk reached the estimators
    assert not external & {"skl2onnx", "onnx", "onnxruntime"}
