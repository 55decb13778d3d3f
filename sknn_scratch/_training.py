"""What the training loops need around the network: batches, and a way back.

:class:`MiniBatches` cuts a training set into the mini-batches of each epoch,
reusing buffers allocated once; :class:`Rollback` keeps what a training call
needs to undo itself when it fails.
"""

import numpy as np
import scipy.sparse


class MiniBatches:
    """The mini-batches of one training set, cut into reused buffers.

    With ``shuffle``, each epoch draws a permutation of the samples and gathers
    every batch's rows into buffers allocated once; without it, the batches are
    consecutive slices of the data. Batches whose sample weights are all zero
    carry no information and are skipped.

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
        if shuffle:
            self._dense = not scipy.sparse.issparse(X)
            self._X_buffer = (
                np.empty((batch_size, X.shape[1]), X.dtype) if self._dense else None
            )
            self._Y_buffer = np.empty((batch_size, Y.shape[1]), Y.dtype)
            if sample_weight is not None:
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
        return (
            self.X[start:stop],
            self.Y[start:stop],
            None if weights is None else weights[start:stop],
        )

    def _gather(self, start, stop):
        size = stop - start
        rows = self._order[start:stop]
        if self._dense:
            X_batch = np.take(self.X, rows, axis=0, out=self._X_buffer[:size])
        else:
            X_batch = self.X[rows]
        Y_batch = np.take(self.Y, rows, axis=0, out=self._Y_buffer[:size])
        weight_batch = None
        if self.sample_weight is not None:
            weight_batch = np.take(
                self.sample_weight, rows, out=self._weight_buffer[:size]
            )
        return X_batch, Y_batch, weight_batch


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
        curves = (estimator.loss_curve_, estimator.validation_scores_)
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
