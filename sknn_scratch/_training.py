"""What the training loops need around the network: batches, records, a way back.

:class:`MiniBatches` cuts a training set into the mini-batches of each epoch,
reusing buffers allocated once. :class:`ValidationSet` holds the data scored
after each epoch, :class:`BestEpoch` follows the best epoch of a call (and, when
asked, keeps its weights), and :class:`EpochTable` prints the epochs as a table
for ``verbose >= 2``. :class:`Rollback` keeps what a training call needs to undo
itself when it fails.
"""

import math
from typing import NamedTuple

import numpy as np
import scipy.sparse


class MiniBatches:
    """The mini-batches of one training set, cut into reused buffers.

    With ``shuffle``, each epoch draws a permutation of the samples and gathers
    every batch's rows into buffers allocated once; without it, the batches are
    consecutive slices of the data. Batches whose sample weights are all zero
    carry no information and are skipped.

    The targets may be kept in another dtype than ``X``'s, as a classifier keeps
    its 0/1 indicators as booleans; each batch of them is then written into a
    buffer of ``X``'s dtype, which is what the loss takes.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
    batch_size : int
    shuffle : bool
    """

    def __init__(self, X, Y, sample_weight, batch_size, shuffle):
        self.X, self.Y, self.sample_weight = X, Y, sample_weight
        self.n_samples = X.shape[0]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._order = np.arange(X.shape[0])
        self._dense = not scipy.sparse.issparse(X)
        self._convert_targets = Y.dtype != X.dtype
        if shuffle and self._dense:
            self._X_buffer = np.empty((batch_size, X.shape[1]), X.dtype)
        if shuffle or self._convert_targets:
            self._Y_buffer = np.empty((batch_size, Y.shape[1]), X.dtype)
        if shuffle and self._convert_targets:
            self._Y_gathered = np.empty((batch_size, Y.shape[1]), Y.dtype)
        if shuffle and sample_weight is not None:
            self._weight_buffer = np.empty(batch_size, sample_weight.dtype)

    def epoch(self, random_state):
        """Yield ``(X_batch, Y_batch, weight_batch)`` for one pass over the data.

        Parameters
        ----------
        random_state : numpy.random.RandomState
            Source of the shuffling.
        """
        if self.shuffle:
            # Permuting the indices in place draws the same permutation as
            # scikit-learn's ``shuffle`` of the index array does.
            random_state.shuffle(self._order)
        for start in range(0, self.n_samples, self.batch_size):
            stop = min(start + self.batch_size, self.n_samples)
            batch = (
                self._gather(start, stop) if self.shuffle else self._slice(start, stop)
            )
            weight_batch = batch[2]
            if weight_batch is None or weight_batch.any():
                yield batch

    def _slice(self, start, stop):
        weights = self.sample_weight
        Y_batch = self.Y[start:stop]
        if self._convert_targets:
            np.copyto(self._Y_buffer[: stop - start], Y_batch)
            Y_batch = self._Y_buffer[: stop - start]
        return (
            self.X[start:stop],
            Y_batch,
            None if weights is None else weights[start:stop],
        )

    def _gather(self, start, stop):
        # The rows are a permutation of the samples, always in range: "clip"
        # mode writes straight into the buffers, where the default "raise" would
        # gather into a temporary array first and then copy.
        size = stop - start
        rows = self._order[start:stop]
        if self._dense:
            X_batch = np.take(
                self.X, rows, axis=0, out=self._X_buffer[:size], mode="clip"
            )
        else:
            X_batch = self.X[rows]
        if self._convert_targets:
            gathered = np.take(
                self.Y, rows, axis=0, out=self._Y_gathered[:size], mode="clip"
            )
            Y_batch = self._Y_buffer[:size]
            np.copyto(Y_batch, gathered)
        else:
            Y_batch = np.take(
                self.Y, rows, axis=0, out=self._Y_buffer[:size], mode="clip"
            )
        weight_batch = None
        if self.sample_weight is not None:
            weight_batch = np.take(
                self.sample_weight, rows, out=self._weight_buffer[:size], mode="clip"
            )
        return X_batch, Y_batch, weight_batch


class ValidationSet(NamedTuple):
    """Data held out of training and scored after every epoch.

    Either the ``validation_fraction`` split of early stopping or the ``X_val``
    and ``y_val`` given to ``fit``, validated like the training data.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Inputs, of the network's dtype.
    Y : ndarray of shape (n_samples, n_outputs)
        Targets encoded as the network's outputs, for the loss.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        The same targets as the score expects them (class labels for the
        classifier).
    sample_weight : ndarray of shape (n_samples,) or None
        Weights of the loss and of the score.
    """

    X: object
    Y: np.ndarray
    y: np.ndarray
    sample_weight: object


class BestEpoch:
    """The best epoch of a training call by one watched quantity.

    A training loop offers each epoch's value of the watched quantity; the best
    one is remembered with its epoch and, when the loop keeps weights, a copy of
    the weights it ended with. NaN never counts as an improvement.

    Parameters
    ----------
    watched : {'loss', 'val_loss', 'val_score'}
        The training loss, the validation loss (both lower is better) or the
        validation score (higher is better).
    epoch : int
        The epoch whose weights the model holds when the call starts (0 for a
        new model), which stays the best until an epoch improves on ``value``.
    value : float or None, default=None
        The value to improve on; None means the worst possible one.
    weights : ndarray or None, default=None
        Where to copy the weights of each new best epoch, None to keep none.
        It should hold the weights of ``epoch``.

    Examples
    --------
    >>> import numpy as np
    >>> best = BestEpoch("val_loss", epoch=0)
    >>> [best.offer(value, epoch, None) for epoch, value in [(1, 0.5), (2, 0.7)]]
    [True, False]
    >>> best.epoch, best.value
    (1, 0.5)
    """

    def __init__(self, watched, epoch, value=None, weights=None):
        self.watched = watched
        self.lower_is_better = watched != "val_score"
        if value is None:
            value = math.inf if self.lower_is_better else -math.inf
        self.value = value
        self.epoch = epoch
        self.weights = weights

    def is_stalled(self, value, tol):
        """Whether ``value`` fails to improve on the best by at least ``tol``.

        scikit-learn's no-improvement test, written so that the validation loss
        is judged as scikit-learn judges the training loss.
        """
        if self.lower_is_better:
            return value > self.value - tol
        return value < self.value + tol

    def offer(self, value, epoch, params):
        """Take ``value`` as the best if it improves on it; return whether it did.

        Parameters
        ----------
        value : float
            The epoch's value of the watched quantity.
        epoch : int
            Its 1-based number.
        params : ndarray or None
            The weights the epoch ended with, copied when weights are kept.
        """
        if self.lower_is_better:
            improved = value < self.value
        else:
            improved = value > self.value
        if improved:
            self.value, self.epoch = value, epoch
            if self.weights is not None:
                np.copyto(self.weights, params)
        return improved


class EpochTable:
    """The per-epoch table printed with ``verbose >= 2``: a header and rows.

    Each row shows one ``history_`` record; the columns are aligned under the
    header. A star ends the row of an epoch that improved on the best so far,
    so that the last starred row is the best epoch.

    Parameters
    ----------
    validation : bool
        Whether the records have a validation loss and score; their columns
        are left out otherwise.
    learning_rate : bool
        Whether the records have a learning rate (not for L-BFGS).

    Examples
    --------
    >>> table = EpochTable(validation=False, learning_rate=True)
    >>> print(table.header())
    epoch  train loss  learning rate  seconds
    >>> record = {"epoch": 1, "loss": 0.693147, "learning_rate": 0.001,
    ...           "seconds": 0.0123}
    >>> print(table.row(record, improved=True))
        1    0.693147      1.000e-03    0.012 *
    """

    # (title, key of the record, format of a value): each value is as wide as
    # its title.
    _COLUMNS = (
        ("epoch", "epoch", "{:>5d}"),
        ("train loss", "loss", "{:>10.6f}"),
        ("val loss", "val_loss", "{:>10.6f}"),
        ("val score", "val_score", "{:>10.6f}"),
        ("learning rate", "learning_rate", "{:>13.3e}"),
        ("seconds", "seconds", "{:>7.3f}"),
    )

    def __init__(self, validation, learning_rate):
        left_out = set()
        if not validation:
            left_out |= {"val_loss", "val_score"}
        if not learning_rate:
            left_out.add("learning_rate")
        self.columns = [column for column in self._COLUMNS if column[1] not in left_out]

    def header(self):
        """Return the line of column titles."""
        return "  ".join(
            title.rjust(len(value_format.format(0)))
            for title, _, value_format in self.columns
        )

    def row(self, record, improved):
        """Return the line of one record, starred if ``improved``."""
        cells = "  ".join(
            value_format.format(record[key]) for _, key, value_format in self.columns
        )
        return cells + " *" if improved else cells


class Rollback:
    """The state of an estimator before a training call, to restore on failure.

    A call that starts a new model only rebinds attributes, so the shallow copy
    of the attributes taken on creation restores the old model. A call that
    continues a model (``warm_start``, ``partial_fit``) also changes arrays and
    lists in place: :meth:`protect_model`, called once the input is validated
    and just before training, copies their contents, which :meth:`restore`
    copies back into the same objects, so that arrays taken from the model
    before the call stay its own. The state of a ``RandomState`` passed as
    ``random_state`` is restored as well.

    Parameters
    ----------
    estimator : BaseScratchMLP
    """

    def __init__(self, estimator):
        self.estimator = estimator
        self.attributes = dict(estimator.__dict__)
        random_state = estimator.random_state
        self.random_state = None
        if isinstance(random_state, np.random.RandomState):
            self.random_state = (random_state, random_state.get_state())
        self.arrays, self.lists, self.optimizer_attributes = [], [], None

    def protect_model(self, keeps_optimizer):
        """Copy what training the estimator's current model changes in place.

        Parameters
        ----------
        keeps_optimizer : bool
            Whether training goes on with the current optimizer (``partial_fit``)
            rather than a new one.
        """
        estimator = self.estimator
        arrays = [estimator._network.params]
        if estimator._best_params is not None:
            arrays.append(estimator._best_params)
        optimizer = estimator._optimizer
        if keeps_optimizer and optimizer is not None:
            arrays.extend(optimizer.state_arrays())
            self.optimizer_attributes = (optimizer, dict(optimizer.__dict__))
        self.arrays = [(array, array.copy()) for array in arrays]
        # The history's records are never changed once appended: copying the
        # lists is enough.
        curves = (
            estimator.loss_curve_,
            estimator.validation_scores_,
            estimator.validation_loss_curve_,
            estimator.history_,
        )
        self.lists = [(curve, list(curve)) for curve in curves if curve is not None]

    def restore(self):
        """Put the estimator back as it was, then let go of the copies."""
        self.estimator.__dict__.clear()
        self.estimator.__dict__.update(self.attributes)
        for array, saved in self.arrays:
            np.copyto(array, saved)
        for curve, saved in self.lists:
            curve[:] = saved
        if self.optimizer_attributes is not None:
            optimizer, attributes = self.optimizer_attributes
            optimizer.__dict__.clear()
            optimizer.__dict__.update(attributes)
        if self.random_state is not None:
            random_state, saved = self.random_state
            random_state.set_state(saved)
        # The traceback of the error keeps this object alive; the copies need not.
        self.attributes, self.arrays, self.lists = {}, [], []
        self.optimizer_attributes = self.random_state = None
