"""The layer kinds a network stacks: hidden dense layers and one output layer.

A layer does not own its parameters: ``coef`` (shape ``(n_inputs, n_units)``) and
``intercept`` (shape ``(n_units,)``) are views into the network's single parameter
buffer, and ``coef_grad`` and ``intercept_grad`` views into its gradient buffer,
so an optimizer updates every layer with one vectorised operation.

Backpropagation vocabulary, used the same way throughout the core:

- ``inputs`` is what the layer receives, ``X`` for the first layer;
- ``z = inputs @ coef + intercept`` is its pre-activation;
- ``a = f(z)`` is its output, the next layer's ``inputs``;
- ``delta`` is the gradient of the loss with respect to ``z``;
- ``input_delta = delta @ coef.T`` is the gradient with respect to ``inputs``,
  which the layer below turns into its own ``delta``.

An activation whose derivative needs ``z`` itself (see
:attr:`~sknn_scratch.core.activations.Activation.needs_pre_activation`) is given a
buffer in which the forward pass keeps ``z`` beside ``a``.

``inputs`` may be a SciPy sparse matrix for the first layer: the layer only uses
``@`` and ``.T`` on it, so the core needs nothing but NumPy. The products of a
sparse matrix return new arrays, which are then copied into the buffers, so a
sparse first layer allocates per batch where a dense one does not.

:class:`Dropout` holds the rates and the random stream of inverted dropout on
the hidden layers' outputs, which only the training step applies.
"""

import numpy as np


def _affine(inputs, coef, intercept, out):
    """Write ``inputs @ coef + intercept`` into ``out`` (allocated when None)."""
    if isinstance(inputs, np.ndarray):
        out = np.matmul(inputs, coef, out=out)
    elif out is None:
        out = np.asarray(inputs @ coef)
    else:
        out[...] = inputs @ coef
    out += intercept
    return out


class Dense:
    """A fully connected hidden layer, ``a = f(inputs @ coef + intercept)``.

    Parameters
    ----------
    coef, intercept : ndarray
        Views of the layer's weights, shapes ``(n_inputs, n_units)`` and
        ``(n_units,)``.
    coef_grad, intercept_grad : ndarray
        Views of the same shapes into the gradient buffer.
    activation : Activation
        The element-wise function ``f``, from
        :data:`sknn_scratch.core.activations.HIDDEN_ACTIVATIONS`.
    """

    def __init__(self, coef, intercept, coef_grad, intercept_grad, activation):
        self.coef = coef
        self.intercept = intercept
        self.coef_grad = coef_grad
        self.intercept_grad = intercept_grad
        self.activation = activation

    def pre_activation(self, inputs, out=None):
        """Return ``z = inputs @ coef + intercept``, written into ``out`` when given.

        Parameters
        ----------
        inputs : ndarray or sparse matrix of shape (n_samples, n_inputs)
        out : ndarray of shape (n_samples, n_units), default=None
            Buffer for the result; allocated when None.

        Returns
        -------
        z : ndarray of shape (n_samples, n_units)
        """
        return _affine(inputs, self.coef, self.intercept, out)

    def forward(self, inputs, out=None, scratch=None, pre_activations=None):
        """Return the layer's output ``a``, written into ``out`` when given.

        Parameters
        ----------
        inputs : ndarray or sparse matrix of shape (n_samples, n_inputs)
        out : ndarray of shape (n_samples, n_units), default=None
            Buffer for the result; a new array is allocated when None, which
            keeps prediction free of shared state.
        scratch : ndarray of shape (n_samples, n_units), default=None
            Work array for the activation; allocated when None and needed.
        pre_activations : ndarray of shape (n_samples, n_units), default=None
            Buffer that keeps ``z`` for the backward pass, for an activation
            that needs it; ``out`` must then be given too.

        Returns
        -------
        a : ndarray of shape (n_samples, n_units)
        """
        if pre_activations is None:
            return self.activation.forward(self.pre_activation(inputs, out), scratch)
        z = self.pre_activation(inputs, pre_activations)
        np.copyto(out, z)
        return self.activation.forward(out, scratch)

    def backward(
        self,
        inputs,
        outputs,
        delta,
        input_delta=None,
        scratch=None,
        pre_activations=None,
    ):
        """Store the gradients of the layer's parameters and pass ``delta`` down.

        Parameters
        ----------
        inputs : ndarray or sparse matrix of shape (n_samples, n_inputs)
            What the forward pass received.
        outputs : ndarray of shape (n_samples, n_units)
            What the forward pass returned.
        delta : ndarray of shape (n_samples, n_units)
            On entry the gradient of the loss with respect to ``outputs``; turned
            in place into the gradient with respect to ``z``.
        input_delta : ndarray of shape (n_samples, n_inputs), default=None
            Buffer that receives the gradient with respect to ``inputs``; None
            skips that product (for the first layer).
        scratch : ndarray of shape (n_samples, n_units), default=None
            Work array for the activation's derivative; allocated when None.
        pre_activations : ndarray of shape (n_samples, n_units), default=None
            The ``z`` that :meth:`forward` kept, required when the activation
            needs it (and then possibly overwritten); ignored otherwise.
        """
        if self.activation.needs_pre_activation:
            if pre_activations is None:
                raise ValueError(
                    f"The derivative of the {self.activation.name!r} activation "
                    f"is written from the pre-activations z: pass the buffer in "
                    f"which forward(..., pre_activations=...) kept them."
                )
            self.activation.scale_delta(pre_activations, delta, scratch)
        else:
            self.activation.scale_delta(outputs, delta, scratch)
        self._parameter_gradients(inputs, delta, input_delta)

    def _parameter_gradients(self, inputs, delta, input_delta):
        if isinstance(inputs, np.ndarray):
            np.matmul(inputs.T, delta, out=self.coef_grad)
        else:
            self.coef_grad[...] = inputs.T @ delta
        # NumPy's reduction, as scikit-learn sums: a matrix product with a
        # vector of ones would be faster but would round differently.
        np.sum(delta, axis=0, out=self.intercept_grad)
        if input_delta is None:
            return
        if delta.shape[1] == 1:
            # A layer of one unit (a binary or single-output network's output)
            # passes back an outer product: NumPy's matmul gives the same
            # values, one product each, more than twice as slowly (only a zero
            # product may come out as -0.0 here where matmul gives 0.0). The
            # broadcast costs NumPy's iteration buffers, 128 KiB, not a layer.
            np.multiply(delta, self.coef.T, out=input_delta)
        else:
            np.matmul(delta, self.coef.T, out=input_delta)


class Output(Dense):
    """The output layer, whose activation is the inverse link of the loss.

    Its forward pass keeps both the raw output ``z`` (the logits of a classifier),
    from which the loss is computed stably, and the prediction ``f(z)``. Its
    backward pass receives ``delta`` with respect to ``z`` directly from the
    loss, so no activation derivative is applied.

    Parameters
    ----------
    coef, intercept, coef_grad, intercept_grad : ndarray
        As for :class:`Dense`.
    activation : Activation
        The loss's output activation, from
        :data:`sknn_scratch.core.activations.OUTPUT_ACTIVATIONS`.
    """

    def forward_raw(self, inputs, raw=None, prediction=None):
        """Return the raw output ``z`` and the prediction ``f(z)``.

        Parameters
        ----------
        inputs : ndarray or sparse matrix of shape (n_samples, n_inputs)
        raw, prediction : ndarray of shape (n_samples, n_outputs), default=None
            Buffers for the two results; allocated when None.

        Returns
        -------
        raw, prediction : ndarray of shape (n_samples, n_outputs)
        """
        raw = self.pre_activation(inputs, raw)
        if prediction is None:
            prediction = raw.copy()
        else:
            np.copyto(prediction, raw)
        return raw, self.activation.forward(prediction)

    def backward(
        self,
        inputs,
        outputs,
        delta,
        input_delta=None,
        scratch=None,
        pre_activations=None,
    ):
        self._parameter_gradients(inputs, delta, input_delta)


class Dropout:
    """Inverted dropout on the outputs of the hidden layers, while training.

    During a training step each unit of hidden layer ``i`` is kept with
    probability ``1 - rates[i]`` and its output then multiplied by
    ``1 / (1 - rates[i])``, or dropped (set to 0); the backward pass multiplies
    the gradient by the same mask. The expected value of every output is thus
    the one without dropout, so prediction runs the whole network unchanged.

    Parameters
    ----------
    rates : sequence of float
        The dropout probability of each hidden layer, in [0, 1); 0 leaves a
        layer alone.
    random_generator : numpy.random.Generator
        Source of the masks: one uniform draw per unit and sample, layer by
        layer, for every layer whose rate is positive.

    Examples
    --------
    >>> import numpy as np
    >>> dropout = Dropout([0.5], np.random.default_rng(0))
    >>> mask = np.empty((2, 4))
    >>> dropout.draw_mask(0, mask)
    >>> sorted(set(mask.ravel().tolist()))
    [0.0, 2.0]
    """

    def __init__(self, rates, random_generator):
        rates = [float(rate) for rate in rates]
        for position, rate in enumerate(rates):
            if not 0.0 <= rate < 1.0:
                raise ValueError(
                    f"A dropout rate must be in [0, 1); got {rate} for hidden "
                    f"layer {position}."
                )
        self.rates = rates
        self.random_generator = random_generator

    def draw_mask(self, layer_index, mask):
        """Fill ``mask`` with ``1 / (1 - rate)`` for kept units and 0 for dropped.

        Parameters
        ----------
        layer_index : int
            Which hidden layer the mask is for.
        mask : ndarray of shape (n_samples, n_units)
            C-contiguous float32 or float64 buffer, overwritten.
        """
        rate = self.rates[layer_index]
        self.random_generator.random(out=mask, dtype=mask.dtype)
        np.greater_equal(mask, rate, out=mask)
        mask *= 1.0 / (1.0 - rate)
