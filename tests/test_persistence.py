"""Saving and loading fitted models with pickle, joblib and skops.

- A loaded model predicts bit for bit as the saved one, for both estimators,
  every solver, and after a warm start or ``partial_fit``; its next training
  call (``partial_fit``, or a warm ``fit`` for lbfgs) lands on the very weights
  the original's does, so the optimizer's state travels with the model.
- The network keeps one flat parameter buffer through a round trip: after
  loading, every layer's ``coefs_`` and ``intercepts_`` are views into it.
- A pickle holds each weight once: its size is the bytes of the arrays the
  model needs (the weights, plus the optimizer's moments or velocity) and a
  few kilobytes of the rest.
- Every save records the sknn_scratch version; loading a model saved by
  another version warns, naming both versions.
- skops: ``get_untrusted_types`` reports exactly the types pinned here, a
  load trusting them restores the model, and a load trusting none refuses.
- joblib memory maps: ``mmap_mode="r"`` predicts, ``mmap_mode="c"`` trains on.
"""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression

import sknn_scratch
import sknn_scratch._base
from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [ScratchMLPClassifier, ScratchMLPRegressor]
ESTIMATOR_IDS = ["classifier", "regressor"]
SOLVERS = ["sgd", "adam", "lbfgs"]
SERIALISERS = ["pickle", "joblib", "skops"]

N_SAMPLES = 60

# What skops.io.get_untrusted_types reports for a fitted model: the estimator,
# the loss object and the network, and the optimizer of a stochastic solver.
# Every other object in the state (arrays, lists, the LabelBinarizer) is a type
# skops trusts already. A new type in the state changes this list, and the
# trusted list users pass to skops.io.load with it.
CLASSIFIER = "sknn_scratch._classifier.ScratchMLPClassifier"
REGRESSOR = "sknn_scratch._regressor.ScratchMLPRegressor"
NETWORK = "sknn_scratch.core.network.Network"
ADAM = "sknn_scratch.core.optimizers.Adam"
SGD = "sknn_scratch.core.optimizers.SGD"
LOG_LOSS = "sknn_scratch.core.losses.LogLoss"
BINARY_LOG_LOSS = "sknn_scratch.core.losses.BinaryLogLoss"
SQUARED_ERROR = "sknn_scratch.core.losses.SquaredError"
POISSON = "sknn_scratch.core.losses.Poisson"
SKOPS_UNTRUSTED_TYPES = {
    ("multiclass", "adam"): [CLASSIFIER, LOG_LOSS, NETWORK, ADAM],
    ("multiclass", "sgd"): [CLASSIFIER, LOG_LOSS, NETWORK, SGD],
    ("multiclass", "lbfgs"): [CLASSIFIER, LOG_LOSS, NETWORK],
    ("binary", "adam"): [CLASSIFIER, BINARY_LOG_LOSS, NETWORK, ADAM],
    ("squared_error", "adam"): [REGRESSOR, SQUARED_ERROR, NETWORK, ADAM],
    ("squared_error", "sgd"): [REGRESSOR, SQUARED_ERROR, NETWORK, SGD],
    ("squared_error", "lbfgs"): [REGRESSOR, SQUARED_ERROR, NETWORK],
    ("poisson", "adam"): [REGRESSOR, POISSON, NETWORK, ADAM],
}

parametrize_estimators = pytest.mark.parametrize(
    "estimator_class", ESTIMATORS, ids=ESTIMATOR_IDS
)


# --------------------------------------------------------------------------------
# Helpers


def make_data(problem, n_samples=N_SAMPLES, n_features=4):
    """Standardised features and targets of one of the keys of the table above."""
    if problem in ("multiclass", "binary"):
        X, y = make_classification(
            n_samples=n_samples,
            n_features=n_features,
            n_informative=min(n_features, 3),
            n_redundant=0,
            n_classes=3 if problem == "multiclass" else 2,
            n_clusters_per_class=1,
            random_state=0,
        )
    else:
        X, y = make_regression(
            n_samples=n_samples, n_features=n_features, noise=1.0, random_state=0
        )
        y = (y - y.mean()) / y.std()
        if problem == "poisson":
            y = np.exp(y)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def problem_of(estimator_class):
    return "multiclass" if estimator_class is ScratchMLPClassifier else "squared_error"


def trained_model(estimator_class, solver, history, problem=None, **params):
    """A small model after ``fit``, then a warm ``fit`` or a ``partial_fit``.

    The history "early stopping" is one ``fit`` with ``early_stopping=True``.
    """
    X, y = make_data(problem or problem_of(estimator_class))
    params = {
        "hidden_layer_sizes": (6, 4),
        "solver": solver,
        "max_iter": 4,
        "random_state": 0,
        "early_stopping": history == "early stopping",
        **params,
    }
    estimator = estimator_class(**params).fit(X, y)
    if history == "warm start":
        estimator.set_params(warm_start=True, max_iter=3).fit(X, y)
    elif history == "partial_fit":
        estimator.partial_fit(X, y)
    return estimator


def train_further(estimator, X, y):
    """The next training call: ``partial_fit``, or a warm ``fit`` for lbfgs.

    Early stopping is continued by a warm ``fit`` too, as ``partial_fit``
    does not support it.
    """
    if estimator.solver == "lbfgs" or estimator.early_stopping:
        return estimator.set_params(warm_start=True, max_iter=3).fit(X, y)
    return estimator.partial_fit(X, y)


def skops_io():
    return pytest.importorskip("skops.io", reason="skops is not installed")


def skops_trusted_types(estimator):
    """The pinned list of the types to trust for this fitted model."""
    if isinstance(estimator, ScratchMLPClassifier):
        problem = "binary" if len(estimator.classes_) == 2 else "multiclass"
    else:
        problem = estimator.loss
    return SKOPS_UNTRUSTED_TYPES[problem, estimator.solver]


def save(estimator, serialiser, tmp_path):
    """Write ``estimator`` to a file, as a user would; return the file's path."""
    path = tmp_path / f"model.{serialiser}"
    if serialiser == "pickle":
        path.write_bytes(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))
    elif serialiser == "joblib":
        joblib.dump(estimator, path)
    else:
        skops_io().dump(estimator, path)
    return path


def load(path, serialiser, trusted=None, **joblib_options):
    """Read a model back; skops trusts the types ``trusted`` names."""
    if serialiser == "pickle":
        return pickle.loads(path.read_bytes())
    if serialiser == "joblib":
        return joblib.load(path, **joblib_options)
    return skops_io().load(path, trusted=trusted)


def save_and_load(estimator, serialiser, tmp_path, **joblib_options):
    """Round-trip ``estimator`` through a file, trusting the pinned skops types."""
    path = save(estimator, serialiser, tmp_path)
    trusted = skops_trusted_types(estimator) if serialiser == "skops" else None
    return load(path, serialiser, trusted, **joblib_options)


def outputs(estimator, X):
    if isinstance(estimator, ScratchMLPClassifier):
        return [
            estimator.predict(X),
            estimator.predict_proba(X),
            estimator.predict_log_proba(X),
        ]
    return [estimator.predict(X)]


def assert_same_outputs(first, second, X):
    for first_output, second_output in zip(
        outputs(first, X), outputs(second, X), strict=True
    ):
        np.testing.assert_array_equal(first_output, second_output)
        assert first_output.dtype == second_output.dtype


def assert_same_state(first, second):
    """Bit-for-bit equality of every attribute, the network's and optimizer's too."""
    first_state, second_state = dict(vars(first)), dict(vars(second))
    assert first_state.keys() == second_state.keys()
    first_network = first_state.pop("_network")
    second_network = second_state.pop("_network")
    np.testing.assert_array_equal(first_network.params, second_network.params)
    assert first_network.params.dtype == second_network.params.dtype
    assert first_network.layer_units == second_network.layer_units
    assert first_network.loss.name == second_network.loss.name

    first_optimizer = first_state.pop("_optimizer", None)
    second_optimizer = second_state.pop("_optimizer", None)
    assert type(first_optimizer) is type(second_optimizer)
    if first_optimizer is not None:
        # The scratch buffers hold nothing between steps and are not saved.
        optimizer_state = [
            {
                name: value
                for name, value in vars(optimizer).items()
                if name != "_scratch"
            }
            for optimizer in (first_optimizer, second_optimizer)
        ]
        np.testing.assert_equal(*optimizer_state)

    first_binarizer = first_state.pop("_label_binarizer", None)
    second_binarizer = second_state.pop("_label_binarizer", None)
    if first_binarizer is not None:
        np.testing.assert_array_equal(
            first_binarizer.classes_, second_binarizer.classes_
        )
        assert first_binarizer.y_type_ == second_binarizer.y_type_
    # Two runs of the same training take different wall times, and nothing else.
    for state in (first_state, second_state):
        if "history_" in state:
            state["history_"] = [
                {key: value for key, value in record.items() if key != "seconds"}
                for record in state["history_"]
            ]
    np.testing.assert_equal(first_state, second_state)


# --------------------------------------------------------------------------------
# Round trips


ROUND_TRIP_CASES = [
    (estimator_class, solver, history)
    for estimator_class in ESTIMATORS
    for solver in SOLVERS
    for history in ("fit", "warm start", "partial_fit", "early stopping")
    if solver != "lbfgs" or history in ("fit", "warm start")
]


@pytest.mark.parametrize("serialiser", SERIALISERS)
@pytest.mark.parametrize(
    ("estimator_class", "solver", "history"),
    ROUND_TRIP_CASES,
    ids=[
        f"{estimator_class.__name__}-{solver}-{history.replace(' ', '_')}"
        for estimator_class, solver, history in ROUND_TRIP_CASES
    ],
)
def test_loaded_model_predicts_and_trains_on_exactly_as_the_saved_one(
    estimator_class, solver, history, serialiser, tmp_path
):
    X, y = make_data(problem_of(estimator_class))
    original = trained_model(estimator_class, solver, history)

    loaded = save_and_load(original, serialiser, tmp_path)

    assert type(loaded) is type(original)
    assert loaded.get_params() == original.get_params()
    assert_same_state(loaded, original)
    assert_same_outputs(loaded, original, X)

    train_further(loaded, X, y)
    train_further(original, X, y)

    assert_same_state(loaded, original)
    assert_same_outputs(loaded, original, X)


@pytest.mark.parametrize("serialiser", SERIALISERS)
@parametrize_estimators
def test_loaded_weights_are_views_into_one_flat_buffer(
    estimator_class, serialiser, tmp_path
):
    X, y = make_data(problem_of(estimator_class))
    loaded = save_and_load(
        trained_model(estimator_class, "adam", "fit"), serialiser, tmp_path
    )
    network = loaded._network
    views = [*loaded.coefs_, *loaded.intercepts_]

    # Every layer's weights lie inside the one buffer, without overlapping, and
    # the layers compute with those very views.
    assert all(np.shares_memory(view, network.params) for view in views)
    assert not any(
        np.shares_memory(first, second)
        for index, first in enumerate(views)
        for second in views[index + 1 :]
    )
    assert sum(view.size for view in views) == network.params.size
    for layer, coef, intercept in zip(
        network.layers, loaded.coefs_, loaded.intercepts_, strict=True
    ):
        assert layer.coef is coef and layer.intercept is intercept
        assert np.shares_memory(layer.coef_grad, network.grads)
        assert np.shares_memory(layer.intercept_grad, network.grads)

    # The views are live: changing one changes the predictions, and training
    # writes through them.
    before = outputs(loaded, X)[-1]
    loaded.coefs_[0] *= 0.5
    assert not np.array_equal(outputs(loaded, X)[-1], before)
    first_coef = loaded.coefs_[0].copy()
    loaded.partial_fit(X, y)
    assert not np.array_equal(loaded.coefs_[0], first_coef)
    assert np.shares_memory(loaded.coefs_[0], loaded._network.params)


# --------------------------------------------------------------------------------
# Size: each weight once

# Arrays of n_params numbers a fitted model needs: the weights, and the state
# of the optimizer that partial_fit continues with.
SAVED_BUFFERS = {"lbfgs": 1, "sgd": 2, "adam": 3}
# Everything else (parameters, classes_, the label binarizer, a short loss
# curve, class paths) pickles to 1.4 to 2.1 kB for a 51-parameter network;
# 4 kB leaves twice that.
FIXED_OVERHEAD = 4096


def big_model(estimator_class, solver, dtype=np.float64, **params):
    """A network of about 45,000 parameters, whose arrays dominate the pickle."""
    X, y = make_data(problem_of(estimator_class), n_samples=100, n_features=20)
    estimator = estimator_class(
        hidden_layer_sizes=(200, 200), solver=solver, max_iter=3, random_state=0
    )
    return estimator.set_params(**params).fit(X.astype(dtype), y)


def assert_pickle_holds_each_array_once(estimator, n_buffers):
    params = estimator._network.params
    size = len(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))
    needed = n_buffers * params.nbytes
    # A second copy of the weights would add params.nbytes: far above a fifth.
    assert needed <= size < needed + 0.2 * params.nbytes + FIXED_OVERHEAD


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", SOLVERS)
@parametrize_estimators
def test_pickle_holds_each_weight_once(estimator_class, solver, dtype):
    estimator = big_model(estimator_class, solver, dtype)
    assert estimator._network.params.dtype == dtype

    assert_pickle_holds_each_array_once(estimator, SAVED_BUFFERS[solver])


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@parametrize_estimators
def test_pickle_after_early_stopping_holds_each_weight_once(estimator_class, solver):
    estimator = big_model(estimator_class, solver, early_stopping=True)

    assert_pickle_holds_each_array_once(estimator, SAVED_BUFFERS[solver])


# --------------------------------------------------------------------------------
# The version stamp


@parametrize_estimators
def test_the_saved_state_records_the_version(estimator_class):
    estimator = trained_model(estimator_class, "adam", "fit")

    state = estimator.__getstate__()

    assert state["_sknn_scratch_version"] == sknn_scratch.__version__
    assert "_sknn_scratch_version" not in vars(estimator)


@pytest.mark.parametrize("serialiser", SERIALISERS)
@parametrize_estimators
def test_loading_the_same_version_is_silent(estimator_class, serialiser, tmp_path):
    estimator = trained_model(estimator_class, "adam", "fit")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = save_and_load(estimator, serialiser, tmp_path)

    assert "_sknn_scratch_version" not in vars(loaded)


@pytest.mark.parametrize("serialiser", SERIALISERS)
@parametrize_estimators
def test_loading_a_model_of_another_version_warns(
    estimator_class, serialiser, tmp_path, monkeypatch
):
    X, _ = make_data(problem_of(estimator_class))
    estimator = trained_model(estimator_class, "adam", "fit")
    current = sknn_scratch.__version__

    # Save as the next release would, then load with this one.
    with monkeypatch.context() as patch:
        patch.setattr(sknn_scratch._base, "__version__", "99.0.0")
        path = save(estimator, serialiser, tmp_path)
    trusted = skops_trusted_types(estimator) if serialiser == "skops" else None
    with pytest.warns(UserWarning) as caught:
        loaded = load(path, serialiser, trusted)

    messages = [str(warning.message) for warning in caught]
    expected = (
        f"This {estimator_class.__name__} was saved by sknn_scratch 99.0.0 and is "
        f"loaded by sknn_scratch {current}"
    )
    assert any(message.startswith(expected) for message in messages), messages
    assert "_sknn_scratch_version" not in vars(loaded)
    assert_same_outputs(loaded, estimator, X)


# --------------------------------------------------------------------------------
# skops


@pytest.mark.parametrize(("problem", "solver"), list(SKOPS_UNTRUSTED_TYPES))
def test_skops_reports_exactly_the_pinned_types(problem, solver):
    sio = skops_io()
    estimator_class = (
        ScratchMLPClassifier
        if problem in ("multiclass", "binary")
        else ScratchMLPRegressor
    )
    params = {"loss": problem} if estimator_class is ScratchMLPRegressor else {}
    estimator = trained_model(estimator_class, solver, "fit", problem, **params)

    reported = sio.get_untrusted_types(data=sio.dumps(estimator))

    assert reported == SKOPS_UNTRUSTED_TYPES[problem, solver]


@parametrize_estimators
def test_skops_types_do_not_change_with_the_training_history(estimator_class):
    sio = skops_io()
    expected = SKOPS_UNTRUSTED_TYPES[problem_of(estimator_class), "adam"]

    for estimator in (
        trained_model(estimator_class, "adam", "warm start"),
        trained_model(estimator_class, "adam", "partial_fit"),
        trained_model(estimator_class, "adam", "fit", early_stopping=True),
        trained_model(
            estimator_class, "adam", "fit", random_state=np.random.RandomState(0)
        ),
    ):
        assert sio.get_untrusted_types(data=sio.dumps(estimator)) == expected


@parametrize_estimators
def test_skops_refuses_a_load_that_trusts_too_little(estimator_class, tmp_path):
    sio = skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    estimator = trained_model(estimator_class, "adam", "fit")
    path = tmp_path / "model.skops"
    sio.dump(estimator, path)
    trusted = skops_trusted_types(estimator)

    with pytest.raises(UntrustedTypesFoundException) as nothing_trusted:
        sio.load(path)
    with pytest.raises(UntrustedTypesFoundException) as network_not_trusted:
        sio.load(path, trusted=[name for name in trusted if name != NETWORK])

    assert (
        str(nothing_trusted.value) == f"Untrusted types found in the file: {trusted}."
    )
    assert str(network_not_trusted.value) == (
        f"Untrusted types found in the file: {[NETWORK]}."
    )


# --------------------------------------------------------------------------------
# joblib memory maps


@parametrize_estimators
def test_memory_mapped_models_predict_and_copy_on_write_ones_train_on(
    estimator_class, tmp_path
):
    X, y = make_data(problem_of(estimator_class))
    original = trained_model(estimator_class, "adam", "fit")

    read_only = save_and_load(original, "joblib", tmp_path, mmap_mode="r")
    copy_on_write = save_and_load(original, "joblib", tmp_path, mmap_mode="c")

    assert isinstance(read_only._network.params, np.memmap)
    assert_same_outputs(read_only, original, X)
    train_further(copy_on_write, X, y)
    train_further(original, X, y)
    assert_same_state(copy_on_write, original)


@parametrize_estimators
def test_training_a_read_only_memory_mapped_model_says_how_to_load_it(
    estimator_class, tmp_path
):
    X, y = make_data(problem_of(estimator_class))
    read_only = save_and_load(
        trained_model(estimator_class, "adam", "fit"), "joblib", tmp_path, mmap_mode="r"
    )
    weights = read_only._network.params.copy()

    with pytest.raises(ValueError, match="read-only.*mmap_mode") as error:
        read_only.partial_fit(X, y)

    # One clear error, not a second one raised while restoring the model.
    assert error.value.__context__ is None
    np.testing.assert_array_equal(read_only._network.params, weights)
