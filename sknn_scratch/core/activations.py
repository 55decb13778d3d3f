"""Element-wise activation functions, each beside its derivative.

Every activation works in place on a 2-D array of pre-activations ``z`` of shape
``(n_samples, n_units)`` and turns it into the layer's output ``a = f(z)``;
``forward(z, scratch)`` may use ``scratch``, a work array of the same shape, and
allocates one when it is None.

The derivative is applied by ``scale_delta(x, delta, scratch)``, which multiplies
``delta = dL/da`` in place by ``f'(z)`` and so turns it into ``dL/dz``. For most
activations ``x`` is the output ``a``: their derivative can be written from it,
so the backward pass needs nothing but the arrays the forward pass kept anyway.
SiLU and GELU are not monotonic, so their output does not determine ``z``; they
set ``needs_pre_activation = True`` and receive ``x = z`` instead, which the
network then keeps in a buffer of its own for those layers only.

Each activation also names the factor ``k`` of its Glorot initialisation bound
``sqrt(k / (fan_in + fan_out))``: scikit-learn's 2 for the logistic and 6 for
every other activation, the new ones included.

The output activations (``softmax``, ``logistic``, ``identity`` and ``exp``) are
only ever paired with their canonical loss, whose gradient with respect to ``z``
is simply ``a - y``; see :mod:`sknn_scratch.core.losses`. That is why ``Softmax``
and ``Exp`` define no ``scale_delta``.

``HIDDEN_ACTIVATIONS`` maps the names accepted by the estimators' ``activation``
parameter to their implementation; the parameter constraint is built from its
keys, so the documentation, the validation and the code cannot drift apart.

Every function here stays finite and raises no floating-point warning for
pre-activations as large as ``1e3`` in magnitude (and far beyond): the softplus
goes through ``logaddexp``, the ELU through ``expm1`` of the negative part only,
and the logistic factors of SiLU and GELU through the logistic below, whose
exponential may overflow to infinity on the side where the result is exactly 0.
"""

import numpy as np


def _work_array(scratch, like):
    """Return ``scratch``, or a new array shaped like ``like`` when it is None."""
    return np.empty_like(like) if scratch is None else scratch


def _logistic(z, out):
    """Write ``1 / (1 + exp(-z))`` into ``out`` (which may be ``z``) and return it.

    For very negative ``z``, ``exp(-z)`` overflows to infinity and the result is
    the correct limit 0; that overflow is expected and not reported.
    """
    with np.errstate(over="ignore"):
        np.negative(z, out=out)
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


class Activation:
    """Base class of an element-wise activation.

    Subclasses implement :meth:`forward` and, when they can be used on a hidden
    layer, :meth:`scale_delta`.

    Attributes
    ----------
    name : str
        The key of the activation in its registry.
    needs_pre_activation : bool
        Whether :meth:`scale_delta` is given the pre-activations ``z`` rather
        than the outputs ``a``.
    glorot_factor : float
        The ``k`` of the Glorot bound ``sqrt(k / (fan_in + fan_out))`` of the
        weights that feed this activation.
    """

    name = ""
    needs_pre_activation = False
    glorot_factor = 6.0

    def forward(self, z, scratch=None):
        """Replace the pre-activations ``z`` by ``f(z)``, in place.

        Parameters
        ----------
        z : ndarray of shape (n_samples, n_units)
            Pre-activations; overwritten with the activations.
        scratch : ndarray of shape (n_samples, n_units), default=None
            Work array, overwritten; allocated when None and needed.

        Returns
        -------
        a : ndarray of shape (n_samples, n_units)
            The same array as ``z``.
        """
        raise NotImplementedError

    def scale_delta(self, a, delta, scratch=None):
        """Multiply ``delta`` in place by the derivative ``f'(z)``.

        Parameters
        ----------
        a : ndarray of shape (n_samples, n_units)
            The output ``f(z)`` of the forward pass; the pre-activations ``z``
            themselves when :attr:`needs_pre_activation` is True, in which case
            the array may be overwritten.
        delta : ndarray of shape (n_samples, n_units)
            The gradient of the loss with respect to ``a``; overwritten with the
            gradient with respect to ``z``.
        scratch : ndarray of shape (n_samples, n_units), default=None
            Work array, overwritten; allocated when None.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class Identity(Activation):
    """``f(z) = z``, with ``f'(z) = 1``."""

    name = "identity"

    def forward(self, z, scratch=None):
        return z

    def scale_delta(self, a, delta, scratch=None):
        pass


class Logistic(Activation):
    """The logistic sigmoid ``f(z) = 1 / (1 + exp(-z))``, with ``f' = a (1 - a)``.

    For very negative ``z``, ``exp(-z)`` overflows to infinity and the result
    is the correct limit 0; that overflow is expected and not reported. The
    result keeps full relative precision down to the smallest positive float.
    Its Glorot factor is 2, scikit-learn's.
    """

    name = "logistic"
    glorot_factor = 2.0

    def forward(self, z, scratch=None):
        return _logistic(z, out=z)

    def scale_delta(self, a, delta, scratch=None):
        one_minus_a = np.subtract(1.0, a, out=scratch)
        delta *= a
        delta *= one_minus_a


class Tanh(Activation):
    """The hyperbolic tangent ``f(z) = tanh(z)``, with ``f' = 1 - a**2``."""

    name = "tanh"

    def forward(self, z, scratch=None):
        return np.tanh(z, out=z)

    def scale_delta(self, a, delta, scratch=None):
        derivative = np.multiply(a, a, out=scratch)
        np.subtract(1.0, derivative, out=derivative)
        delta *= derivative


class ReLU(Activation):
    """The rectified linear unit ``f(z) = max(z, 0)``, with ``f' = [a > 0]``."""

    name = "relu"

    def forward(self, z, scratch=None):
        return np.maximum(z, 0.0, out=z)

    def scale_delta(self, a, delta, scratch=None):
        # a >= 0, so sign(a) is the 0/1 derivative, computed without a cast.
        delta *= np.sign(a, out=scratch)


class LeakyReLU(Activation):
    """The leaky ReLU ``f(z) = max(z, 0.01 z)``, of negative slope 0.01.

    ``f'`` is 1 where ``a > 0`` and 0.01 elsewhere (``a`` has the sign of
    ``z``), which takes 0.01 at the kink ``z = 0``, as the ReLU takes 0 there.
    """

    name = "leaky_relu"
    negative_slope = 0.01

    def forward(self, z, scratch=None):
        scaled = np.multiply(z, self.negative_slope, out=scratch)
        return np.maximum(z, scaled, out=z)

    def scale_delta(self, a, delta, scratch=None):
        derivative = np.greater(a, 0.0, out=_work_array(scratch, a))
        derivative *= 1.0 - self.negative_slope
        derivative += self.negative_slope
        delta *= derivative


class ELU(Activation):
    """The exponential linear unit with ``alpha = 1``: ``z`` for ``z > 0``,
    ``exp(z) - 1`` otherwise.

    ``f'`` is 1 for ``z > 0`` and ``exp(z) = a + 1`` otherwise, that is
    ``min(a, 0) + 1``; both sides give 1 at ``z = 0``. The exponential is
    taken of the negative part only (through ``expm1``, exact for small
    ``|z|``), so it cannot overflow.
    """

    name = "elu"

    def forward(self, z, scratch=None):
        negative_part = np.minimum(z, 0.0, out=scratch)
        np.expm1(negative_part, out=negative_part)
        np.maximum(z, 0.0, out=z)
        z += negative_part
        return z

    def scale_delta(self, a, delta, scratch=None):
        derivative = np.minimum(a, 0.0, out=scratch)
        derivative += 1.0
        delta *= derivative


class Softplus(Activation):
    """``f(z) = log(1 + exp(z))``, with ``f' = 1 / (1 + exp(-z)) = 1 - exp(-a)``.

    The forward pass is ``logaddexp(0, z)``, which never overflows; the
    derivative is ``-expm1(-a)``, accurate also where ``a`` is tiny.
    """

    name = "softplus"

    def forward(self, z, scratch=None):
        return np.logaddexp(0.0, z, out=z)

    def scale_delta(self, a, delta, scratch=None):
        derivative = np.negative(a, out=scratch)
        np.expm1(derivative, out=derivative)
        delta *= derivative
        np.negative(delta, out=delta)


class SiLU(Activation):
    """The sigmoid linear unit (swish) ``f(z) = z / (1 + exp(-z)) = z s(z)``.

    ``f' = s (1 + z (1 - s))`` with ``s`` the logistic of ``z``, so the
    derivative is written from ``z`` (``needs_pre_activation``), which this
    activation reads without changing it.
    """

    name = "silu"
    needs_pre_activation = True

    def forward(self, z, scratch=None):
        z *= _logistic(z, out=_work_array(scratch, z))
        return z

    def scale_delta(self, z, delta, scratch=None):
        logistic = _logistic(z, out=_work_array(scratch, z))
        delta *= logistic
        factor = np.subtract(1.0, logistic, out=logistic)
        factor *= z
        factor += 1.0
        delta *= factor


class GELUTanh(Activation):
    """GELU in its tanh approximation (Hendrycks and Gimpel), ``'gelu_tanh'``.

    ``f(z) = z/2 (1 + tanh(u))`` with ``u = sqrt(2 / pi) (z + 0.044715 z**3)``,
    computed as ``z s(2u)``, ``s`` the logistic, which is the same function and
    keeps full precision on the negative side where ``1 + tanh(u)`` cancels.
    Exact GELU, ``z Phi(z)``, needs the error function, which NumPy lacks; the
    approximation stays within about ``5e-4`` of it.

    ``f' = s (1 + 2 sqrt(2 / pi) (z + 3 * 0.044715 z**3) (1 - s))``, written from
    ``z`` (``needs_pre_activation``), which this activation overwrites.
    """

    name = "gelu_tanh"
    needs_pre_activation = True
    cubic_coefficient = 0.044715
    sqrt_2_over_pi = np.sqrt(2.0 / np.pi)
    # Beyond this |z| the logistic factor is exactly 0 or 1 in float32 and
    # float64 alike, so clipping z there changes no derivative and keeps z**3
    # finite (an infinite z**3 times 1 - s = 0 would give NaN).
    derivative_clip = 1e4

    def forward(self, z, scratch=None):
        # z**2 may overflow for |z| > 1e154; the logistic then still gets the
        # right infinite argument and gives the exact 0 or 1.
        with np.errstate(over="ignore"):
            argument = np.multiply(z, z, out=scratch)
            argument *= self.cubic_coefficient
            argument += 1.0
            argument *= z
            argument *= 2.0 * self.sqrt_2_over_pi
        z *= _logistic(argument, out=argument)
        return z

    def scale_delta(self, z, delta, scratch=None):
        np.clip(z, -self.derivative_clip, self.derivative_clip, out=z)
        # The logistic factor s, from 2u = 2 sqrt(2/pi) (z + k z**3).
        logistic = np.multiply(z, z, out=_work_array(scratch, z))
        logistic *= self.cubic_coefficient
        logistic += 1.0
        logistic *= z
        # z becomes z + 3 k z**3 = 3 (z + k z**3) - 2 z, without a third array.
        z *= -2.0 / 3.0
        z += logistic
        z *= 3.0
        logistic *= 2.0 * self.sqrt_2_over_pi
        _logistic(logistic, out=logistic)
        delta *= logistic

        # Then the factor 1 + 2 sqrt(2/pi) (z + 3 k z**3) (1 - s).
        np.subtract(1.0, logistic, out=logistic)
        z *= logistic
        z *= 2.0 * self.sqrt_2_over_pi
        z += 1.0
        delta *= z


class Softmax(Activation):
    """Row-wise ``f(z)_k = exp(z_k) / sum_j exp(z_j)``, for a multiclass output.

    The row maximum is subtracted first, so no exponential can overflow.
    """

    name = "softmax"

    def forward(self, z, scratch=None):
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z


class Exp(Activation):
    """``f(z) = exp(z)``, the inverse of the log link of a Poisson output."""

    name = "exp"

    def forward(self, z, scratch=None):
        return np.exp(z, out=z)


HIDDEN_ACTIVATIONS = {
    activation.name: activation
    for activation in (
        Identity(),
        Logistic(),
        Tanh(),
        ReLU(),
        LeakyReLU(),
        ELU(),
        Softplus(),
        SiLU(),
        GELUTanh(),
    )
}

OUTPUT_ACTIVATIONS = {
    activation.name: activation
    for activation in (Identity(), Logistic(), Softmax(), Exp())
}


def hidden_activation_names(activation, n_hidden):
    """Return the name of each hidden layer's activation, first layer first.

    Parameters
    ----------
    activation : str or sequence of str
        One key of :data:`HIDDEN_ACTIVATIONS` for every hidden layer, or one
        key per hidden layer.
    n_hidden : int
        Number of hidden layers.

    Returns
    -------
    names : list of str
        ``n_hidden`` keys of :data:`HIDDEN_ACTIVATIONS`.

    Raises
    ------
    ValueError
        When a name is unknown, or a sequence does not hold ``n_hidden`` names.

    Examples
    --------
    >>> hidden_activation_names("relu", 2)
    ['relu', 'relu']
    >>> hidden_activation_names(["gelu_tanh", "tanh"], 2)
    ['gelu_tanh', 'tanh']
    """
    if isinstance(activation, str):
        names, given = [activation] * n_hidden, [activation]
    else:
        names = given = list(activation)
        if len(names) != n_hidden:
            raise ValueError(
                f"activation holds {len(names)} names, one per hidden layer, but "
                f"the network has {n_hidden} hidden layers; give {n_hidden} names "
                f"or a single name for every layer. Got {names!r}."
            )
    for position, name in enumerate(given):
        if not isinstance(name, str) or name not in HIDDEN_ACTIVATIONS:
            where = f" for hidden layer {position}"
            if isinstance(activation, str):
                where = ""
            raise ValueError(
                f"Unknown hidden activation {name!r}{where}; choose from "
                f"{sorted(HIDDEN_ACTIVATIONS)}."
            )
    return [str(name) for name in names]


def log_logistic(z):
    """Return ``log(1 / (1 + exp(-z)))`` computed without overflow or log(0).

    Parameters
    ----------
    z : ndarray
        Logits.

    Returns
    -------
    log_p : ndarray of the same shape as ``z``
        Natural logarithm of the logistic sigmoid of ``z``.

    Examples
    --------
    >>> import numpy as np
    >>> log_logistic(np.array([-1000.0, 0.0, 1000.0]))
    array([-1000., -0.693..., 0.])
    """
    return -np.logaddexp(0.0, -z)


def log_softmax(z):
    """Return the row-wise logarithm of the softmax of ``z``, never log(0).

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_classes)
        Logits.

    Returns
    -------
    log_p : ndarray of shape (n_samples, n_classes)
        ``z`` minus the row-wise log-sum-exp of ``z``.

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax(np.array([[0.0, 1000.0]]))
    array([[-1000., 0.]])
    """
    shifted = z - z.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted
