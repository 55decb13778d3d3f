"""Tests of :class:`sknn_scratch._training.MiniBatches` and the targets it gets.

The classifier keeps its 0/1 targets as booleans; the batches must still reach
the loss as arrays of the network's dtype holding the same rows, with and
without shuffling, for dense and sparse inputs.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor, _base
from sknn_scratch._training import MiniBatches


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_boolean_targets_come_out_as_batches_of_the_inputs_dtype(
    shuffle, sparse, dtype
):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((23, 4)).astype(dtype)
    X[:, 0] = np.arange(23)  # each row names itself
    if sparse:
        X = sp.csr_matrix(X)
    Y = np.eye(3, dtype=bool)[rng.randint(0, 3, 23)]
    batches = MiniBatches(X, Y, None, batch_size=5, shuffle=shuffle)

    rows_seen = []
    for X_batch, Y_batch, _ in batches.epoch(np.random.RandomState(1)):
        X_batch = X_batch.toarray() if sparse else X_batch
        rows = X_batch[:, 0].astype(int)
        assert Y_batch.dtype == dtype
        np.testing.assert_array_equal(Y_batch, Y[rows])
        rows_seen.extend(rows)

    assert sorted(rows_seen) == list(range(23))
    assert (rows_seen != list(range(23))) == shuffle


@pytest.mark.parametrize(
    "estimator, y, kept_dtype",
    [
        (ScratchMLPClassifier(max_iter=2), np.r_[[0, 1, 2] * 10], np.bool_),
        (ScratchMLPRegressor(max_iter=2), np.linspace(0.0, 1.0, 30), np.float64),
    ],
    ids=["classifier", "regressor"],
)
def test_training_keeps_classifier_targets_as_booleans(
    monkeypatch, estimator, y, kept_dtype
):
    kept = []
    original = _base.MiniBatches

    def recording_minibatches(X, Y, *args, **kwargs):
        kept.append(Y.dtype)
        return original(X, Y, *args, **kwargs)

    monkeypatch.setattr(_base, "MiniBatches", recording_minibatches)
    X = np.random.RandomState(0).standard_normal((30, 3))
    with pytest.warns(Warning):  # max_iter=2 does not converge
        estimator.fit(X, y)

    assert kept == [kept_dtype]
