"""Reproducibility of training, and predictions shared between threads.

The same ``random_state`` must give the same model bit for bit:

- fit after fit in one process, with an integer seed or a fresh RandomState;
- in a new Python process, whatever its string-hash seed (PYTHONHASHSEED);
- with one BLAS thread or two. Mini-batch training of a small network (batches
  of 200 rows, 20 inputs, 32 hidden units) is bit-identical: every product
  stays below the size at which OpenBLAS starts a second thread. Full-batch
  L-BFGS on 800 samples is not: with two threads OpenBLAS splits the first
  layer's weight gradient, a sum over all the samples (``X.T @ delta``), into
  partial sums added in another order, and the same happens to long dot
  products such as the squared norm of a large network's weights; the last
  bits change (a relative 1e-15 after five L-BFGS iterations). Those runs are
  asserted close, and the products themselves are shown to be the cause.

The random draws come in the order of scikit-learn's MLP: the Glorot weights,
layer by layer, then the early-stopping split (``train_test_split``), then one
``sklearn.utils.shuffle`` of the sample indices per epoch, all from
``check_random_state(random_state)``, made afresh by each call to fit or
partial_fit. The tests here replay that order with scikit-learn's public
functions and compare the mini-batches the network is fed, sample for sample.
(test_sklearn_parity.py checks the outcome against scikit-learn's MLP itself:
the same initial weights, loss curves and validation scores.)

Last, many threads predicting with one fitted model, through every prediction
method at once and on batches of every size, get the serial results exactly.
"""

import hashlib
import itertools
import os
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches, shuffle
from threadpoolctl import threadpool_info, threadpool_limits

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch.core.network import Network

ESTIMATORS = [ScratchMLPClassifier, ScratchMLPRegressor]
SOLVERS = ["sgd", "adam", "lbfgs"]
N_SAMPLES, N_FEATURES = 60, 5


# --------------------------------------------------------------------------------
# Helpers


def make_data(estimator_class, n_samples=N_SAMPLES, n_features=N_FEATURES):
    """Standard normal features; three classes or a smooth real target."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n_samples, n_features))
    signal = X @ rng.standard_normal(n_features)
    if estimator_class is ScratchMLPClassifier:
        return X, np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))
    return X, np.sin(signal)


def fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def model_bytes(estimator):
    """Every number a fit produces, as bytes: weights, loss curve, scores."""
    parts = [estimator._network.params.tobytes()]
    parts.append(np.asarray(estimator.loss_curve_, dtype=np.float64).tobytes())
    if estimator.validation_scores_ is not None:
        parts.append(np.asarray(estimator.validation_scores_).tobytes())
    parts.append(repr((estimator.n_iter_, estimator.t_)).encode())
    return b"".join(parts)


def model_hash(estimator):
    return hashlib.sha256(model_bytes(estimator)).hexdigest()


# The fits whose hashes are compared across processes; also run in-process.
HASHED_FITS = [
    ("classifier", "sgd", {"early_stopping": True}),
    ("classifier", "adam", {}),
    ("classifier", "lbfgs", {}),
    ("regressor", "sgd", {}),
    ("regressor", "adam", {"early_stopping": True}),
    ("regressor", "lbfgs", {}),
]
ESTIMATOR_BY_NAME = {
    "classifier": ScratchMLPClassifier,
    "regressor": ScratchMLPRegressor,
}


def hashed_fit(name, solver, extra):
    estimator_class = ESTIMATOR_BY_NAME[name]
    X, y = make_data(estimator_class)
    estimator = estimator_class(
        hidden_layer_sizes=(8, 4),
        solver=solver,
        max_iter=15,
        batch_size=16,
        random_state=3,
        **extra,
    )
    return model_hash(fit_quietly(estimator, X, y))


# --------------------------------------------------------------------------------
# Repeated fits, and other processes


@pytest.mark.parametrize(
    "solver, early_stopping",
    # lbfgs ignores early_stopping.
    [("sgd", False), ("sgd", True), ("adam", False), ("adam", True), ("lbfgs", False)],
)
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_same_seed_gives_bit_identical_models(estimator_class, solver, early_stopping):
    """Fitting twice with the same integer seed, or with two RandomStates made
    from it, gives the same weights, curves and scores to the last bit; another
    seed gives another model."""
    X, y = make_data(estimator_class)
    params = {
        "hidden_layer_sizes": (8, 4),
        "solver": solver,
        "max_iter": 15,
        "batch_size": 16,
        "early_stopping": early_stopping,
    }
    fits = [
        fit_quietly(estimator_class(**params, random_state=seed), X, y)
        for seed in (7, 7, np.random.RandomState(7), 8)
    ]

    reference = model_bytes(fits[0])
    assert model_bytes(fits[1]) == reference
    assert model_bytes(fits[2]) == reference
    assert model_bytes(fits[3]) != reference


def test_repeated_fit_of_one_estimator_is_bit_identical():
    """Fitting the same estimator object again, after fits on other data, gives
    the model of its first fit."""
    X, y = make_data(ScratchMLPClassifier)
    estimator = ScratchMLPClassifier((8,), max_iter=10, random_state=0)
    first = model_bytes(fit_quietly(estimator, X, y))
    fit_quietly(estimator, X[::-1], y[::-1])
    assert model_bytes(fit_quietly(estimator, X, y)) == first


def test_other_processes_fit_the_same_models():
    """A fresh interpreter, with another string-hash seed, produces byte for byte
    the models fitted here."""
    expected = [hashed_fit(*fit) for fit in HASHED_FITS]
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import test_determinism as module
        for fit in module.HASHED_FITS:
            print(module.hashed_fit(*fit))
        """
    )
    hash_seed = "1" if os.environ.get("PYTHONHASHSEED") == "0" else "0"
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        timeout=120,
        check=True,
    )
    assert completed.stdout.split() == expected, completed.stderr


# --------------------------------------------------------------------------------
# BLAS threads


def _blas_can_use_two_threads():
    """Whether a BLAS is loaded and threadpoolctl can give it two threads."""
    with threadpool_limits(limits=2, user_api="blas"):
        blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
        return bool(blas) and all(info["num_threads"] == 2 for info in blas)


needs_two_blas_threads = pytest.mark.skipif(
    not _blas_can_use_two_threads(),
    reason="no BLAS whose thread count threadpoolctl can set to 2",
)


def _fits_with_one_and_two_blas_threads(estimator_class, X, y, **params):
    """The same fit, run with one BLAS thread and then with two."""
    models = []
    for n_threads in (1, 2):
        with threadpool_limits(limits=n_threads, user_api="blas"):
            models.append(fit_quietly(estimator_class(**params), X, y))
    return models


@needs_two_blas_threads
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_mini_batch_training_is_bit_identical_with_one_or_two_blas_threads(
    estimator_class, solver
):
    """Mini-batches of 200 rows through 20 inputs and 32 hidden units keep every
    matrix product below the size at which OpenBLAS starts a second thread, so
    the thread count changes nothing."""
    X, y = make_data(estimator_class, n_samples=600, n_features=20)
    models = _fits_with_one_and_two_blas_threads(
        estimator_class,
        X,
        y,
        hidden_layer_sizes=(32,),
        solver=solver,
        max_iter=5,
        random_state=0,
    )
    assert model_bytes(models[0]) == model_bytes(models[1])


@needs_two_blas_threads
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_full_batch_lbfgs_with_one_or_two_blas_threads_agrees_to_rounding(
    estimator_class,
):
    """L-BFGS on 800 samples multiplies the whole training set at once; the two
    thread counts then round the first layer's gradient differently, and the
    runs agree to about 1e-15 rather than bit for bit."""
    X, y = make_data(estimator_class, n_samples=800, n_features=30)
    models = _fits_with_one_and_two_blas_threads(
        estimator_class,
        X,
        y,
        hidden_layer_sizes=(150,),
        solver="lbfgs",
        max_iter=5,
        random_state=0,
    )
    one, two = (model._network.params for model in models)
    np.testing.assert_allclose(one, two, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        models[0].loss_curve_, models[1].loss_curve_, rtol=1e-12, atol=0
    )


@needs_two_blas_threads
def test_sums_over_many_terms_are_what_the_thread_count_rounds_differently():
    """The cause of the difference above: a weight gradient summed over 800
    samples and a dot product of 60,000 terms, computed with one and with two
    BLAS threads, agree to rounding only; the products of the mini-batch test
    (200 rows, 20 inputs, 32 hidden units) and the squared norm of a small
    network's 5,000 weights stay on one thread and are identical."""
    rng = np.random.RandomState(0)
    X, delta = rng.standard_normal((800, 30)), rng.standard_normal((800, 150))
    X_batch, delta_batch = (
        rng.standard_normal((200, 20)),
        rng.standard_normal((200, 32)),
    )
    weights = rng.standard_normal(60_000)
    results = {}
    for n_threads in (1, 2):
        with threadpool_limits(limits=n_threads, user_api="blas"):
            results[n_threads] = {
                "full_batch_gradient": X.T @ delta,
                "long_dot": weights @ weights,
                "mini_batch_gradient": X_batch.T @ delta_batch,
                "short_dot": weights[:5000] @ weights[:5000],
            }

    one, two = results[1], results[2]
    for name in ("full_batch_gradient", "long_dot"):
        np.testing.assert_allclose(one[name], two[name], rtol=1e-12, atol=1e-10)
    for name in ("mini_batch_gradient", "short_dot"):
        assert np.asarray(one[name]).tobytes() == np.asarray(two[name]).tobytes()


# --------------------------------------------------------------------------------
# The random streams, replayed


class BatchRecorder:
    """Records the sample ids of every mini-batch the network is trained on.

    The data's first feature is the sample's index, which identifies each row of
    a batch.
    """

    def __init__(self, monkeypatch):
        self.batches = []
        loss_gradient = Network.loss_gradient

        def recording_loss_gradient(network, X, *args, **kwargs):
            self.batches.append(np.asarray(X[:, 0]).astype(int).tolist())
            return loss_gradient(network, X, *args, **kwargs)

        monkeypatch.setattr(Network, "loss_gradient", recording_loss_gradient)

    def take(self):
        batches, self.batches = self.batches, []
        return batches


def indexed_data(estimator_class, n_samples=50):
    """Data whose first feature is the sample index."""
    X, y = make_data(estimator_class, n_samples=n_samples, n_features=3)
    return np.column_stack([np.arange(n_samples), X]), y


def replay_initial_draws(rng, layer_units):
    """Consume what the Glorot initialisation draws: each layer's coef, then its
    intercept (their bounds do not change how many numbers are drawn)."""
    for fan_in, fan_out in itertools.pairwise(layer_units):
        rng.uniform(size=(fan_in, fan_out))
        rng.uniform(size=fan_out)


def replay_epochs(rng, sample_ids, n_epochs, batch_size):
    """The batches of scikit-learn's epochs: one shuffle of the indices each."""
    order = np.arange(len(sample_ids))
    batches = []
    for _ in range(n_epochs):
        order = shuffle(order, random_state=rng)
        for batch in gen_batches(len(order), batch_size):
            batches.append(np.asarray(sample_ids)[order[batch]].tolist())
    return batches


PARAMS = {"hidden_layer_sizes": (4,), "batch_size": 8, "tol": 0.0}


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_fit_draws_weights_then_one_shuffle_per_epoch(
    monkeypatch, estimator_class, solver
):
    X, y = indexed_data(estimator_class)
    recorder = BatchRecorder(monkeypatch)
    estimator = estimator_class(**PARAMS, solver=solver, max_iter=4, random_state=5)
    fit_quietly(estimator, X, y)

    rng = np.random.RandomState(5)
    replay_initial_draws(rng, [X.shape[1], 4, estimator.n_outputs_])
    assert recorder.take() == replay_epochs(rng, np.arange(len(X)), 4, 8)


@pytest.mark.parametrize("target", ["binary", "multiclass", "regression"])
def test_early_stopping_splits_after_the_weights_and_before_shuffling(
    monkeypatch, target
):
    """The validation set is drawn by train_test_split right after the weights,
    stratified for a single-output classifier only (as scikit-learn does, so
    not for a multiclass one), and the epochs shuffle the rest."""
    estimator_class = (
        ScratchMLPRegressor if target == "regression" else ScratchMLPClassifier
    )
    X, y = indexed_data(estimator_class)
    if target == "binary":
        y = (y > 0).astype(int)
    recorder = BatchRecorder(monkeypatch)
    estimator = estimator_class(
        **PARAMS,
        solver="sgd",
        max_iter=3,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=100,
        random_state=11,
    )
    fit_quietly(estimator, X, y)

    rng = np.random.RandomState(11)
    replay_initial_draws(rng, [X.shape[1], 4, estimator.n_outputs_])
    train_ids, _ = train_test_split(
        np.arange(len(X)),
        random_state=rng,
        test_size=0.2,
        stratify=y if target == "binary" else None,
    )
    assert recorder.take() == replay_epochs(rng, train_ids, 3, 8)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_each_partial_fit_starts_the_seeds_stream_afresh(monkeypatch, estimator_class):
    """With an integer seed, every call makes a new RandomState: the first draws
    the weights and then shuffles, the later ones shuffle from the stream's
    start, so they all see the same order."""
    X, y = indexed_data(estimator_class)
    recorder = BatchRecorder(monkeypatch)
    estimator = estimator_class(**PARAMS, solver="sgd", random_state=2)
    kwargs = (
        {"classes": np.unique(y)} if estimator_class is ScratchMLPClassifier else {}
    )
    estimator.partial_fit(X, y, **kwargs)
    first_call = recorder.take()
    estimator.partial_fit(X, y)
    estimator.partial_fit(X, y)
    later_calls = recorder.take()

    rng = np.random.RandomState(2)
    replay_initial_draws(rng, [X.shape[1], 4, estimator.n_outputs_])
    assert first_call == replay_epochs(rng, np.arange(len(X)), 1, 8)
    fresh = replay_epochs(np.random.RandomState(2), np.arange(len(X)), 1, 8)
    assert later_calls == fresh + fresh


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_a_random_state_instance_is_one_stream_across_warm_fits(
    monkeypatch, estimator_class
):
    """A RandomState passed as random_state is drawn from on and on: a warm-started
    second fit shuffles with the draws that follow those of the first."""
    X, y = indexed_data(estimator_class)
    recorder = BatchRecorder(monkeypatch)
    estimator = estimator_class(
        **PARAMS,
        solver="adam",
        max_iter=2,
        warm_start=True,
        random_state=np.random.RandomState(9),
    )
    fit_quietly(estimator, X, y)
    fit_quietly(estimator, X, y)

    rng = np.random.RandomState(9)
    replay_initial_draws(rng, [X.shape[1], 4, estimator.n_outputs_])
    expected = replay_epochs(rng, np.arange(len(X)), 2, 8)
    expected += replay_epochs(rng, np.arange(len(X)), 2, 8)
    assert recorder.take() == expected


# --------------------------------------------------------------------------------
# Many threads, one model


def _prediction_calls(estimator, X, y, rng):
    """Calls of every prediction method on batches of many sizes, dense and
    sparse, as (method name, start, stop, sparse) tuples."""
    methods = ["predict", "score"]
    if isinstance(estimator, ScratchMLPClassifier):
        methods += ["predict_proba", "predict_log_proba"]
    calls = []
    for index in range(240):
        method = methods[index % len(methods)]
        # R^2, the regressor's score, needs two samples.
        sizes = [2, 3, 7, 16, 33, 64, len(X)] if method == "score" else [1, 2, 5, 64]
        size = int(rng.choice(sizes))
        start = int(rng.randint(0, len(X) - size + 1))
        calls.append((method, start, start + size, index % 5 == 0))
    return calls


def _run_call(estimator, X, y, call):
    method, start, stop, sparse = call
    X_batch = X[start:stop]
    if sparse:
        X_batch = scipy.sparse.csr_matrix(X_batch)
    if method == "score":
        return estimator.score(X_batch, y[start:stop])
    return getattr(estimator, method)(X_batch)


@pytest.mark.parametrize(
    "estimator_class, target, dtype",
    [
        (ScratchMLPClassifier, "multiclass", np.float64),
        (ScratchMLPClassifier, "multilabel", np.float32),
        (ScratchMLPRegressor, "multioutput", np.float64),
        (ScratchMLPRegressor, "single", np.float32),
    ],
)
def test_many_threads_predicting_with_one_model_get_the_serial_results(
    estimator_class, target, dtype
):
    """Eight threads calling predict, predict_proba, predict_log_proba and score
    at once, on batches of 1 to 200 rows, dense and sparse, get exactly what the
    same calls return one after another, and leave the model unchanged."""
    X, y = make_data(estimator_class, n_samples=200)
    X = X.astype(dtype)
    if target == "multilabel":
        y = np.column_stack([y == 0, y == 1, X[:, 0] > 0]).astype(int)
    elif target == "multioutput":
        y = np.column_stack([y, np.cos(X[:, 1])])
    estimator = fit_quietly(
        estimator_class(hidden_layer_sizes=(16, 8), max_iter=5, random_state=0), X, y
    )
    weights_before = estimator._network.params.copy()
    calls = _prediction_calls(estimator, X, y, np.random.RandomState(0))

    serial = [_run_call(estimator, X, y, call) for call in calls]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda call: _run_call(estimator, X, y, call), calls))

    for call, expected, got in zip(calls, serial, threaded, strict=True):
        assert np.asarray(got).dtype == np.asarray(expected).dtype, call
        assert np.asarray(got).tobytes() == np.asarray(expected).tobytes(), call
    assert estimator._network.params.tobytes() == weights_before.tobytes()
