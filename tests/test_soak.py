"""Soak test: a long stream of partial_fit calls with bad batches mixed in.

A model is trained by thousands of partial_fit calls on small batches. Between
the good batches come bad ones of every kind the estimators refuse (NaN or
infinite values, the wrong number of features, unseen classes, negative or NaN
sample weights, strings, a batch that makes training diverge...). Each bad
batch must raise its documented error, and, because a failed call leaves the
model exactly as it was, the model at the end of the stream must equal, bit for
bit, one trained on the good batches alone: weights, optimizer state, loss
curve, counters, and the state of the RandomState it draws its shuffles from.

The stream also must not leak: the memory that tracemalloc traces at the end
is compared with the memory traced after a warm-up. What legitimately grows is
the record of the epochs, one entry per successful call in each list the model
keeps of them (``loss_curve_``, and ``history_`` where there is one); the
allowance is the size of those new entries plus 64 KiB. A leak of one small
NumPy array per call (a batch, a copy of the weights) would exceed it several
times over the hundreds of calls measured.
"""

import gc
import itertools
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

N_FEATURES = 3
BATCH_ROWS = 8
CLASSES = np.array([0, 1, 2])
MEMORY_SLACK = 64 * 1024
OVERFLOWING_X = 1.5e308 * np.array(
    list(itertools.product([-1.0, 1.0], repeat=N_FEATURES))
)

# Small and quick: two steps per good batch.
PARAMS = {"hidden_layer_sizes": (4,), "batch_size": 4, "learning_rate_init": 0.01}


def good_batch(estimator_class, rng):
    """A batch of standard normal features and their targets."""
    X = rng.standard_normal((BATCH_ROWS, N_FEATURES))
    if estimator_class is ScratchMLPClassifier:
        return X, np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])
    return X, np.tanh(X @ [1.0, -0.5, 0.25])


def _with(array, value):
    """A copy of ``array`` with ``value`` in its second row."""
    array = array.astype(float if value is not None else object)
    array[1] = value
    return array


def _with_dict(X):
    X = X.astype(object)
    X[0, 0] = {"a": 1}
    return X


# Each bad batch: how it is made from a good (X, y), the error and its message.
COMMON_BAD_BATCHES = {
    "nan_X": (
        lambda X, y: (_with(X, np.nan), y, {}),
        ValueError,
        "Input X contains NaN",
    ),
    "inf_X": (
        lambda X, y: (_with(X, np.inf), y, {}),
        ValueError,
        "Input X contains infinity",
    ),
    "two_features": (
        lambda X, y: (X[:, :2], y, {}),
        ValueError,
        "X has 2 features, but",
    ),
    "empty_X": (lambda X, y: (X[:0], y[:0], {}), ValueError, "0 sample(s)"),
    "one_d_X": (lambda X, y: (X[:, 0], y, {}), ValueError, "Expected 2D array"),
    "short_y": (
        lambda X, y: (X, y[:-1], {}),
        ValueError,
        "inconsistent numbers of samples",
    ),
    "string_X": (
        lambda X, y: (np.full(X.shape, "a"), y, {}),
        ValueError,
        "could not convert string to float",
    ),
    "dict_in_X": (
        lambda X, y: (_with_dict(X), y, {}),
        TypeError,
        "not 'dict'",
    ),
    "negative_weight": (
        lambda X, y: (X, y, {"sample_weight": np.r_[-1.0, np.ones(len(y) - 1)]}),
        ValueError,
        "sample_weight must be non-negative",
    ),
    "nan_weight": (
        lambda X, y: (X, y, {"sample_weight": np.r_[np.nan, np.ones(len(y) - 1)]}),
        ValueError,
        "Input sample_weight contains NaN",
    ),
    "zero_weights": (
        lambda X, y: (X, y, {"sample_weight": np.zeros(len(y))}),
        ValueError,
        "at least one non-zero",
    ),
    "short_weights": (
        lambda X, y: (X, y, {"sample_weight": np.ones(len(y) - 1)}),
        ValueError,
        "sample_weight.shape ==",
    ),
    # Validation passes, and the run fails in training: every sign pattern of
    # the features at the top of the float range makes some hidden unit
    # overflow, whatever the weights. The step taken has moved the weights and
    # the optimizer's state, which must all be put back.
    "diverges": (
        lambda X, y: (OVERFLOWING_X, np.resize(y, len(OVERFLOWING_X)), {}),
        ValueError,
        "Training diverged",
    ),
}

CLASSIFIER_BAD_BATCHES = {
    "unseen_class": (
        lambda X, y: (X, _with(y, 3).astype(int), {}),
        ValueError,
        "`y` has classes not in `self.classes_`",
    ),
    "other_classes": (
        lambda X, y: (X, y, {"classes": [0, 1, 2, 3]}),
        ValueError,
        "is not the same as on last call",
    ),
    "continuous_y": (
        lambda X, y: (X, y + 0.5, {}),
        ValueError,
        "Unknown label type: continuous",
    ),
    "nan_y": (
        lambda X, y: (X, _with(y, np.nan), {}),
        ValueError,
        "Input y contains NaN",
    ),
}

REGRESSOR_BAD_BATCHES = {
    "nan_y": (
        lambda X, y: (X, _with(y, np.nan), {}),
        ValueError,
        "Input y contains NaN",
    ),
    "inf_y": (
        lambda X, y: (X, _with(y, np.inf), {}),
        ValueError,
        "Input y contains infinity",
    ),
    "string_y": (
        lambda X, y: (X, np.array(["a"] * len(y)), {}),
        ValueError,
        "needs numeric targets",
    ),
    "two_targets": (
        lambda X, y: (X, np.column_stack([y, y]), {}),
        ValueError,
        "The fitted network has layer sizes",
    ),
}


def state_of(estimator):
    """Everything training changes, as comparable values (arrays as bytes)."""
    optimizer = estimator._optimizer
    optimizer_state = {
        name: value.tobytes() if isinstance(value, np.ndarray) else value
        for name, value in vars(optimizer).items()
        if name != "_scratch"  # work buffers, holding nothing between steps
    }
    return {
        "params": estimator._network.params.tobytes(),
        "optimizer": optimizer_state,
        "loss_curve_": list(estimator.loss_curve_),
        "counters": (estimator.n_iter_, estimator.t_, estimator._no_improvement_count),
        "best_loss_": estimator.best_loss_,
        "random_state": str(estimator.random_state.get_state()),
    }


def bad_batches_for(estimator_class):
    bad_batches = dict(COMMON_BAD_BATCHES)
    if estimator_class is ScratchMLPClassifier:
        bad_batches.update(CLASSIFIER_BAD_BATCHES)
    else:
        bad_batches.update(REGRESSOR_BAD_BATCHES)
    return list(bad_batches.values())


def start_model(estimator_class, solver, first_batch):
    # A RandomState, so that every call draws on from where the last left off,
    # and a failed call must also give back the draws it took.
    estimator = estimator_class(
        **PARAMS, solver=solver, random_state=np.random.RandomState(0)
    )
    kwargs = {"classes": CLASSES} if estimator_class is ScratchMLPClassifier else {}
    return estimator.partial_fit(*first_batch, **kwargs)


def stream(estimator, batches, bad_batches, start=0):
    """partial_fit on every good batch and, after every other one, on a bad
    batch, which must fail with its documented error. Returns how many bad
    batches were tried."""
    n_bad = 0
    for index, (X, y) in enumerate(batches):
        estimator.partial_fit(X, y)
        if index % 2:
            continue
        make_bad, error_class, message = bad_batches[(start + n_bad) % len(bad_batches)]
        X_bad, y_bad, kwargs = make_bad(X, y)
        try:
            estimator.partial_fit(X_bad, y_bad, **kwargs)
        except error_class as error:
            assert message in str(error), (message, str(error))
        else:
            raise AssertionError(f"the bad batch expecting {message!r} was accepted")
        n_bad += 1
    return n_bad


def record_lengths(estimator):
    """The length of every list attribute: the model's records of its epochs."""
    return {
        name: len(value)
        for name, value in vars(estimator).items()
        if isinstance(value, list)
    }


def size_of_new_records(estimator, lengths_before):
    """Bytes taken by the entries appended to those lists since ``lengths_before``:
    each entry's slot, the entry, and the values of an entry that is a dict
    (its keys are the same string constants in every entry)."""
    size = 0
    for name, length in lengths_before.items():
        for entry in getattr(estimator, name)[length:]:
            size += 8 + sys.getsizeof(entry)
            if isinstance(entry, dict):
                size += sum(sys.getsizeof(value) for value in entry.values())
    return size


# The number of good batches of the long stream (each followed, every other
# time, by a bad one) and of the stream traced for memory. The classifier's
# calls cost about three times the regressor's (scikit-learn's checks of the
# labels), so its streams are shorter.
SOAKS = [
    pytest.param(ScratchMLPRegressor, "adam", 1000, 300, id="regressor-adam"),
    pytest.param(ScratchMLPClassifier, "sgd", 300, 200, id="classifier-sgd"),
]


@pytest.mark.parametrize("estimator_class, solver, n_batches, n_traced", SOAKS)
def test_long_stream_with_bad_batches_equals_the_good_batches_alone(
    estimator_class, solver, n_batches, n_traced
):
    """After a long stream in which every other call fails, the model is bit for
    bit the one trained on the good batches alone."""
    rng = np.random.RandomState(0)
    batches = [good_batch(estimator_class, rng) for _ in range(n_batches + 1)]
    bad_batches = bad_batches_for(estimator_class)

    reference = start_model(estimator_class, solver, batches[0])
    for X, y in batches[1:]:
        reference.partial_fit(X, y)
    streamed = start_model(estimator_class, solver, batches[0])
    with warnings.catch_warnings():
        # The diverging batch overflows on purpose; the fit reports it.
        warnings.simplefilter("ignore", RuntimeWarning)
        n_bad = stream(streamed, batches[1:], bad_batches)

    # Every kind of bad batch was tried, many times over.
    assert n_bad >= 5 * len(bad_batches)
    assert state_of(streamed) == state_of(reference)
    X_check = batches[0][0]
    np.testing.assert_array_equal(streamed.predict(X_check), reference.predict(X_check))


@pytest.mark.parametrize("estimator_class, solver, n_batches, n_traced", SOAKS)
def test_long_stream_with_bad_batches_does_not_leak(
    estimator_class, solver, n_batches, n_traced
):
    """The memory traced after a warm-up grows by no more than the loss curve's
    new entries, and a margin, over hundreds of good and failing calls."""
    rng = np.random.RandomState(1)
    # Enough good batches for the warm-up to try every kind of bad one.
    warm_up = [good_batch(estimator_class, rng) for _ in range(40)]
    batches = [good_batch(estimator_class, rng) for _ in range(n_traced)]
    bad_batches = bad_batches_for(estimator_class)
    estimator = start_model(estimator_class, solver, warm_up[0])

    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            # The warm-up tries every bad kind, so that whatever they cache
            # once (compiled patterns, imported modules) is in place.
            stream(estimator, warm_up[1:], bad_batches)
            gc.collect()
            memory_before = tracemalloc.get_traced_memory()[0]
            lengths_before = record_lengths(estimator)
            n_bad = stream(estimator, batches, bad_batches, start=len(warm_up))
            gc.collect()
            memory_after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()

    n_calls = len(batches) + n_bad
    record_growth = size_of_new_records(estimator, lengths_before)
    growth = memory_after - memory_before
    assert record_growth > 0
    assert growth <= record_growth + MEMORY_SLACK, (
        f"traced memory grew by {growth} bytes over {n_calls} calls, "
        f"{record_growth} of them for the new epoch records"
    )
