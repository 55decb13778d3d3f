"""The feedforward network: layers stacked over one contiguous parameter buffer.

All weights and biases of a network live in the single 1-D array ``params``:
first every layer's ``coef`` (row-major), then every layer's ``intercept``. The
per-layer arrays in ``coefs`` and ``intercepts`` are views into it, and the
gradient buffer ``grads`` has the same layout. An optimizer therefore updates the
whole network with one vectorised operation, and L-BFGS works on ``params``
directly, without packing and unpacking.

:meth:`Network.loss_gradient` is the training step's core: a forward pass that
keeps every layer's output in a :class:`Workspace`, the loss, and the
backpropagation of its gradient through the layers into ``grads``. A workspace
made with a :class:`~sknn_scratch.core.layers.Dropout` also applies inverted
dropout to the hidden layers' outputs. Prediction (:meth:`Network.predict_raw`)
allocates its own arrays, writes nothing and never drops a unit, so one fitted
network can serve many threads at once.

Each hidden layer has its own activation: one name for all of them, or one name
per hidden layer.
"""

from itertools import pairwise

import numpy as np

from sknn_scratch.core.activations import (
    HIDDEN_ACTIVATIONS,
    Activation,
    hidden_activation_names,
)
from sknn_scratch.core.layers import Dense, Output
from sknn_scratch.core.losses import LOSSES

# Elements of the L2 term computed at a time (256 KiB in float64).
L2_CHUNK = 32768

# Values of the widest hidden layer's outputs per chunk of rows in prediction
# (8 MiB in float64): 2,048 rows of 512 units. Chunks of 512 to 8,192 such rows
# predicted 100,000 rows 1.2 to 1.3 times faster than one pass over all of them.
PREDICT_CHUNK_ELEMENTS = 2**20

# Chunks of rows start at multiples of this many rows, a multiple of the row
# blocks of BLAS kernels. OpenBLAS computes the rows of a partial block with
# another kernel, which rounds differently: a chunk that ended inside a block
# would give those rows other last bits than one pass over all rows gives.
PREDICT_CHUNK_ALIGNMENT = 1024


def _prediction_chunks(n_samples, widest):
    """Return the ``(start, stop)`` rows of each chunk of a prediction.

    Every chunk but the last has the same number of rows, a multiple of
    :data:`PREDICT_CHUNK_ALIGNMENT`. The last one takes the rest, joined to the
    chunk before it when it would be shorter than the alignment, so that no
    chunk is small (a one-row product would run another BLAS routine).

    Examples
    --------
    >>> _prediction_chunks(10, 512)
    [(0, 10)]
    >>> _prediction_chunks(6000, 512)
    [(0, 2048), (2048, 4096), (4096, 6000)]
    >>> _prediction_chunks(4100, 512)
    [(0, 2048), (2048, 4100)]
    """
    rows = PREDICT_CHUNK_ELEMENTS // widest
    rows = max(rows // PREDICT_CHUNK_ALIGNMENT, 1) * PREDICT_CHUNK_ALIGNMENT
    starts = list(range(0, n_samples, rows)) or [0]
    if len(starts) > 1 and n_samples - starts[-1] < PREDICT_CHUNK_ALIGNMENT:
        del starts[-1]
    return list(zip(starts, [*starts[1:], n_samples], strict=True))


class ParameterViews(list):
    """The per-layer views into a parameter buffer, as a list of fixed length.

    Assigning an item copies the new values into the buffer, where rebinding the
    list's element would leave the network unchanged: ``coefs[0] = W`` and
    ``coefs[:] = [W0, W1]`` set the network's weights. Every new value is checked
    and copied before any is written, so a failing assignment changes nothing
    and values taken from the views themselves are safe to reorder. Operations
    that would add, remove or reorder layers raise a TypeError.

    Parameters
    ----------
    views : list of ndarray
        The views, in layer order.
    name : str
        What the views hold, for error messages: ``"coefs"`` or ``"intercepts"``.
    """

    def __init__(self, views, name):
        super().__init__(views)
        self.name = name

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            positions = range(len(self))[index]
            values = list(value)
            if len(values) != len(positions):
                raise ValueError(
                    f"Got {len(values)} arrays for {len(positions)} {self.name}; "
                    f"the number of layers of a network cannot change."
                )
        else:
            positions, values = [range(len(self))[index]], [value]

        checked = []
        for position, new_value in zip(positions, values, strict=True):
            target = list.__getitem__(self, position)
            new_value = np.array(new_value, copy=True)
            if new_value.shape != target.shape:
                raise ValueError(
                    f"Cannot set {self.name}[{position}] of shape {target.shape} "
                    f"to an array of shape {new_value.shape}."
                )
            if not np.can_cast(new_value.dtype, target.dtype, casting="same_kind"):
                raise TypeError(
                    f"Cannot set {self.name}[{position}] of dtype {target.dtype} "
                    f"to an array of dtype {new_value.dtype}."
                )
            checked.append((target, new_value))
        for target, new_value in checked:
            np.copyto(target, new_value, casting="same_kind")

    def __reduce__(self):
        # Pickled on its own, it becomes a plain list of copies.
        return list, (list(self),)

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            f"The {self.name} of a network are one array per layer; they cannot "
            f"be added, removed or reordered. Assign arrays of the same shapes "
            f"instead."
        )

    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __delitem__ = __iadd__ = __imul__ = _refuse


class Workspace:
    """Arrays that a training step fills, allocated once for the largest batch.

    Parameters
    ----------
    layer_units : list of int
        Width of every layer, inputs first.
    max_batch_size : int
        Largest number of rows a batch will have.
    dtype : numpy dtype
        Floating-point type of the network.
    dropout : Dropout, default=None
        The dropout of the training run, with one rate per hidden layer; None
        trains without dropout (as L-BFGS always does).
    work_size : int, default=0
        Number of values of :attr:`work`, for the optimizer's step.

    Attributes
    ----------
    outputs : list of ndarray
        ``outputs[i]`` receives hidden layer ``i``'s activations (after
        dropout, during the forward pass).
    raw, prediction : ndarray of shape (max_batch_size, n_outputs)
        The output layer's pre-activations and activations.
    deltas : list of ndarray
        ``deltas[i]`` receives the gradient with respect to layer ``i``'s
        pre-activations; the last one is the output layer's.
    masks : list of ndarray or None
        ``masks[i]`` receives hidden layer ``i``'s dropout mask; None for a
        layer that drops nothing.
    l2_term : ndarray of shape (min(n_coef, L2_CHUNK),)
        Scratch for ``alpha * coef``, computed a chunk at a time once the
        backward pass is done.
    work : ndarray of shape (work_size,)
        Memory for the optimizer's step, which runs between two calls of
        :meth:`Network.loss_gradient` (see
        :func:`~sknn_scratch.core.optimizers.step_work_size`).

    ``l2_term``, ``work`` and the arrays of :meth:`scratch` share one block of
    memory, which each of them uses in turn.
    """

    def __init__(self, layer_units, max_batch_size, dtype, dropout=None, work_size=0):
        shapes = [(max_batch_size, units) for units in layer_units[1:]]
        hidden_shapes = shapes[:-1]
        self.outputs = [np.empty(shape, dtype=dtype) for shape in hidden_shapes]
        self.raw = np.empty(shapes[-1], dtype=dtype)
        self.prediction = np.empty(shapes[-1], dtype=dtype)
        self.deltas = [np.empty(shape, dtype=dtype) for shape in shapes]
        n_coef = sum(a * b for a, b in pairwise(layer_units))
        l2_size = min(n_coef, L2_CHUNK)
        self._scratch = np.empty(
            max(max_batch_size * max(layer_units[1:]), l2_size, work_size),
            dtype=dtype,
        )
        self.l2_term = self._scratch[:l2_size]
        self.work = self._scratch[:work_size]

        if dropout is not None and len(dropout.rates) != len(hidden_shapes):
            raise ValueError(
                f"The dropout has {len(dropout.rates)} rates but the network has "
                f"{len(hidden_shapes)} hidden layers; give one rate per hidden "
                f"layer."
            )
        self.dropout = dropout
        rates = [0.0] * len(hidden_shapes) if dropout is None else dropout.rates
        self.masks = [
            np.empty(shape, dtype=dtype) if rate > 0 else None
            for shape, rate in zip(hidden_shapes, rates, strict=True)
        ]
        # Buffers that keep z, for the layers whose activation needs it: made
        # on the first step that asks, as the workspace does not know the
        # activations.
        self._pre_activations = [None] * len(hidden_shapes)
        self._rows = {}
        self._pre_activation_rows = {}

    def rows(self, n_samples):
        """Return the first ``n_samples`` rows of every per-batch buffer.

        The views are made once per batch size and then reused, so that a
        training step does not rebuild them.

        Returns
        -------
        outputs, deltas, masks : list
            As the attributes; ``masks`` holds None for a layer without dropout.
        raw, prediction : ndarray
        scratches : list of ndarray
            One view of the scratch memory per hidden layer, of that layer's
            shape; they all share the same memory.
        """
        if n_samples not in self._rows:
            self._rows[n_samples] = (
                [buffer[:n_samples] for buffer in self.outputs],
                [buffer[:n_samples] for buffer in self.deltas],
                [None if mask is None else mask[:n_samples] for mask in self.masks],
                self.raw[:n_samples],
                self.prediction[:n_samples],
                [self.scratch(*buffer[:n_samples].shape) for buffer in self.outputs],
            )
        return self._rows[n_samples]

    def pre_activations(self, layer_index, n_samples):
        """Return the buffer in which a hidden layer keeps its ``z``, cut to a batch.

        Only the layers whose activation needs ``z`` for its derivative ask for
        one. A layer's buffer is allocated on its first call, for the largest
        batch, and reused by every later call.

        Parameters
        ----------
        layer_index : int
            Which hidden layer, the first being 0.
        n_samples : int
            Number of rows of the batch.

        Returns
        -------
        z : ndarray of shape (n_samples, n_units)
        """
        buffer = self._pre_activations[layer_index]
        if buffer is None:
            buffer = np.empty_like(self.outputs[layer_index])
            self._pre_activations[layer_index] = buffer
        key = (layer_index, n_samples)
        if key not in self._pre_activation_rows:
            self._pre_activation_rows[key] = buffer[:n_samples]
        return self._pre_activation_rows[key]

    def scratch(self, n_samples, n_units):
        """Return a work array of shape ``(n_samples, n_units)``, overwritten freely.

        Every call returns a view of the same memory.
        """
        return self._scratch[: n_samples * n_units].reshape(n_samples, n_units)


class Network:
    """A multi-layer perceptron with a NumPy forward and backward pass.

    Parameters
    ----------
    layer_units : list of int
        Width of every layer: ``n_features``, the hidden sizes, ``n_outputs``.
    activation : str or sequence of str
        Name of the hidden layers' activation, a key of
        :data:`sknn_scratch.core.activations.HIDDEN_ACTIVATIONS`, or one such
        name per hidden layer, first layer first.
    loss : str
        Name of the loss, a key of :data:`sknn_scratch.core.losses.LOSSES`; it
        also fixes the output activation.
    dtype : numpy dtype, default=np.float64
        Floating-point type of the parameters and of every work array.

    Attributes
    ----------
    activation : str or list of str
        The ``activation`` given, a sequence made a list.
    activations : list of str
        The name of each hidden layer's activation.
    params, grads : ndarray of shape (n_params,)
        All parameters, and the gradient of the last :meth:`loss_gradient`.
    coefs, intercepts : ParameterViews
        Per-layer views into ``params``; assigning an item copies into it.
    n_coef : int
        Number of weights; ``params[:n_coef]`` holds every ``coef``.
    layers : list of Dense
        The hidden layers followed by the :class:`~sknn_scratch.core.layers.Output`
        layer.

    Examples
    --------
    >>> import numpy as np
    >>> net = Network([3, 4, 2], activation="tanh", loss="log_loss")
    >>> net.initialize(np.random.RandomState(0))
    >>> [coef.shape for coef in net.coefs], net.params.shape
    ([(3, 4), (4, 2)], (26,))
    >>> X = np.ones((5, 3))
    >>> y = np.tile([1.0, 0.0], (5, 1))
    >>> loss = net.loss_gradient(X, y, None, alpha=0.0, workspace=Workspace(
    ...     net.layer_units, 5, net.params.dtype))
    >>> bool(loss > 0), bool(np.any(net.grads != 0))
    (True, True)
    """

    def __init__(self, layer_units, activation, loss, dtype=np.float64):
        self.layer_units = list(layer_units)
        if not isinstance(activation, str):
            activation = list(activation)
        self.activation = activation
        # Checks the names, and their number against the hidden layers.
        hidden_activation_names(self.activation, len(self.layer_units) - 2)
        self.loss = LOSSES[loss]

        self.n_coef = sum(a * b for a, b in pairwise(self.layer_units))
        n_params = self.n_coef + sum(self.layer_units[1:])
        self.params = np.zeros(n_params, dtype=dtype)
        self.grads = np.zeros(n_params, dtype=dtype)
        self._build_views()

    def _build_views(self):
        """Cut ``params`` and ``grads`` into per-layer views and make the layers."""
        coefs, coef_grads, intercepts, intercept_grads = [], [], [], []
        coef_start, intercept_start = 0, self.n_coef
        for fan_in, fan_out in pairwise(self.layer_units):
            coef_stop = coef_start + fan_in * fan_out
            intercept_stop = intercept_start + fan_out
            for buffer, coef_views, intercept_views in (
                (self.params, coefs, intercepts),
                (self.grads, coef_grads, intercept_grads),
            ):
                coef_views.append(buffer[coef_start:coef_stop].reshape(fan_in, fan_out))
                intercept_views.append(buffer[intercept_start:intercept_stop])
            coef_start, intercept_start = coef_stop, intercept_stop
        self.coefs = ParameterViews(coefs, "coefs")
        self.intercepts = ParameterViews(intercepts, "intercepts")

        views = list(
            zip(self.coefs, self.intercepts, coef_grads, intercept_grads, strict=True)
        )
        self.layers = [
            Dense(*layer_views, HIDDEN_ACTIVATIONS[name])
            for layer_views, name in zip(views[:-1], self.activations, strict=True)
        ]
        self.layers.append(Output(*views[-1], self.loss.link_inverse))

    def __getstate__(self):
        # The views and layers are rebuilt on unpickling, so that a pickle holds
        # each weight once.
        # The gradient holds nothing between steps and is not kept either.
        state = self.__dict__.copy()
        for derived in ("coefs", "intercepts", "layers", "grads"):
            del state[derived]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.grads = np.zeros_like(self.params)
        self._build_views()

    @property
    def activations(self):
        """The name of each hidden layer's activation, first layer first."""
        return hidden_activation_names(self.activation, len(self.layer_units) - 2)

    @property
    def out_activation(self):
        """Name of the output activation."""
        return self.loss.output_activation

    def glorot_factors(self):
        """Return the ``k`` of each layer's Glorot bound, output layer last.

        A hidden layer's weights take the factor of the activation they feed,
        the output layer's that of the last hidden layer. With one activation
        name, every layer takes its factor, even without hidden layers, as in
        scikit-learn; an empty list of names gives the default factor 6.

        Returns
        -------
        factors : list of float
            One per layer.
        """
        hidden = [HIDDEN_ACTIVATIONS[name].glorot_factor for name in self.activations]
        if hidden:
            output = hidden[-1]
        elif isinstance(self.activation, str):
            output = HIDDEN_ACTIVATIONS[self.activation].glorot_factor
        else:
            output = Activation.glorot_factor
        return [*hidden, output]

    def initialize(self, random_state):
        """Draw every weight and bias from Glorot et al.'s uniform distribution.

        Each layer's ``coef`` and then its ``intercept`` are drawn from
        ``U(-b, b)`` with ``b = sqrt(k / (fan_in + fan_out))`` in float64, layer
        by layer; ``k`` is 2 for a logistic hidden activation and 6 for any
        other (see :meth:`glorot_factors` for per-layer activations). This is
        the sequence of draws scikit-learn's MLP makes, so the same random
        state gives the same initial network.

        Parameters
        ----------
        random_state : numpy.random.RandomState
            Source of the draws.
        """
        for coef, intercept, factor in zip(
            self.coefs, self.intercepts, self.glorot_factors(), strict=True
        ):
            fan_in, fan_out = coef.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef[...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept[...] = random_state.uniform(-bound, bound, fan_out)

    def predict_raw(self, X):
        """Return the raw output ``z`` and the prediction, in new arrays.

        The rows go through the network in chunks whose widest hidden outputs
        hold about :data:`PREDICT_CHUNK_ELEMENTS` values, in two arrays that the
        layers use in turn and every chunk reuses: they stay in the cache,
        where arrays for all rows at once would be written to fresh memory page
        by page, and a large ``X`` needs no hidden arrays of its own length.
        The chunks start at multiples of :data:`PREDICT_CHUNK_ALIGNMENT` rows,
        so that the results are those of one pass over all rows, to the last
        bit (tested with OpenBLAS on one and two threads).

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        raw, prediction : ndarray of shape (n_samples, n_outputs)
        """
        n_samples = X.shape[0]
        dtype = np.result_type(X.dtype, self.params.dtype)
        raw = np.empty((n_samples, self.layer_units[-1]), dtype=dtype)
        prediction = np.empty_like(raw)
        hidden_units = self.layer_units[1:-1]
        widest = max(hidden_units, default=1)
        bounds = _prediction_chunks(n_samples, widest)
        if len(bounds) > 1 and getattr(X, "format", None) == "csc":
            X = X.tocsr()  # a CSC matrix would be scanned whole for each chunk

        # Two arrays for the hidden outputs, each layer writing into the one the
        # layer below did not, and one for the activations' scratch.
        largest = max(stop - start for start, stop in bounds)
        n_arrays = 3 if hidden_units else 0
        memory = [np.empty(largest * widest, dtype=dtype) for _ in range(n_arrays)]

        for start, stop in bounds:
            n_rows = stop - start
            activations = X[start:stop]
            for index, (layer, units) in enumerate(
                zip(self.layers[:-1], hidden_units, strict=True)
            ):
                size = n_rows * units
                outputs = memory[index % 2][:size].reshape(n_rows, units)
                scratch = memory[2][:size].reshape(n_rows, units)
                activations = layer.forward(activations, outputs, scratch)
            self.layers[-1].forward_raw(
                activations, raw[start:stop], prediction[start:stop]
            )
        return raw, prediction

    def loss_gradient(self, X, y, sample_weight, alpha, workspace):
        """Return the regularised loss of a batch and store its gradient.

        The loss is the (weighted) mean of the per-sample losses plus
        ``alpha / 2 * ||coefs||**2`` divided by the batch's weight sum (its size
        when unweighted); ``grads`` receives its gradient with respect to
        ``params``. When the workspace has a dropout, each hidden layer with a
        positive rate draws a new mask, and loss and gradient are those of the
        network thinned by it.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
        y : ndarray of shape (n_samples, n_outputs)
            Targets, of the network's dtype.
        sample_weight : ndarray of shape (n_samples,) or None
        alpha : float
            Strength of the L2 penalty.
        workspace : Workspace
            Buffers for at least ``n_samples`` rows.

        Returns
        -------
        loss : float
        """
        n_samples = X.shape[0]
        outputs, deltas, masks, raw, prediction, scratches = workspace.rows(n_samples)
        inputs = [X, *outputs]
        n_hidden = len(self.layers) - 1
        kept = [
            workspace.pre_activations(i, n_samples)
            if layer.activation.needs_pre_activation
            else None
            for i, layer in enumerate(self.layers[:-1])
        ]

        # Forward pass, keeping every layer's output (and z where the
        # derivative needs it); dropout thins the outputs the next layer sees.
        for i in range(n_hidden):
            self.layers[i].forward(inputs[i], outputs[i], scratches[i], kept[i])
            if masks[i] is not None:
                workspace.dropout.draw_mask(i, masks[i])
                outputs[i] *= masks[i]
        self.layers[-1].pre_activation(inputs[-1], raw)

        # The prediction, the loss, and its gradient with respect to ``raw``.
        loss = self.loss.link_value_and_delta(
            y,
            raw,
            prediction,
            sample_weight,
            deltas[-1],
            workspace.scratch(*raw.shape),
        )

        # Backward pass: each layer stores its gradients and hands the delta down.
        top_delta = deltas[-2] if n_hidden else None
        self.layers[-1].backward(inputs[-1], prediction, deltas[-1], top_delta)
        for i in range(n_hidden - 1, -1, -1):
            if masks[i] is not None:
                self._undo_dropout(i, outputs[i], deltas[i], masks[i], workspace)
            input_delta = deltas[i - 1] if i > 0 else None
            self.layers[i].backward(
                inputs[i],
                outputs[i],
                deltas[i],
                input_delta,
                scratches[i],
                kept[i],
            )

        # L2 penalty on the weights, then the division by the weight sum.
        weight_sum = n_samples if sample_weight is None else float(sample_weight.sum())
        coef_params = self.params[: self.n_coef]
        if alpha:
            loss += 0.5 * alpha * float(coef_params @ coef_params) / weight_sum
            self._add_l2_gradient(alpha, workspace.l2_term)
        self.grads /= weight_sum
        return loss

    def _add_l2_gradient(self, alpha, scratch):
        """Add ``alpha * coef`` to the weights' gradient, a chunk at a time.

        The chunks keep the scratch small next to the weights, and in the cache.
        """
        chunk_size = scratch.shape[0]
        for start in range(0, self.n_coef, chunk_size):
            stop = min(start + chunk_size, self.n_coef)
            term = np.multiply(
                self.params[start:stop], alpha, out=scratch[: stop - start]
            )
            self.grads[start:stop] += term

    def _undo_dropout(self, layer_index, outputs, delta, mask, workspace):
        """Pass ``delta`` back through a dropout mask and unscale the outputs.

        The gradient with respect to the layer's own output is the one with
        respect to its thinned output times the same mask. The activation's
        derivative is written from the output before dropout, which the kept
        units get back by undoing the ``1 / (1 - rate)`` scaling; the dropped
        units stay 0, which is harmless as their delta is 0 now.
        """
        delta *= mask
        if not self.layers[layer_index].activation.needs_pre_activation:
            outputs *= 1.0 - workspace.dropout.rates[layer_index]
