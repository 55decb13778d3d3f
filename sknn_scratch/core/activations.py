"""Element-wise activation functions, each beside its derivative.

Every activation works in place on a 2-D array of pre-activations ``z`` of shape
``(n_samples, n_units)`` and turns it into the layer's output ``a = f(z)``. Its
derivative is expressed through that output ``a``, not through ``z``, so that the
backward pass needs nothing but the arrays the forward pass already kept:
``scale_delta(a, delta, scratch)`` multiplies ``delta = dL/da`` in place by
``f'(z)``, which turns it into ``dL/dz``; ``scratch``, an array of the same shape,
spares it any allocation.

The output activations (``softmax``, ``logistic``, ``identity`` and ``exp``) are
only ever paired with their canonical loss, whose gradient with respect to ``z``
is simply ``a - y``; see :mod:`sknn_scratch.core.losses`. That is why ``Softmax``
and ``Exp`` define no ``scale_delta``.

``HIDDEN_ACTIVATIONS`` maps the names accepted by the estimators' ``activation``
parameter to their implementation; the parameter constraint is built from its
keys, so the documentation, the validation and the code cannot drift apart.
"""

import numpy as np


class Activation:
    """Base class of an element-wise activation.

    Subclasses implement :meth:`forward` and, when they can be used on a hidden
    layer, :meth:`scale_delta`.
    """

    name = ""

    def forward(self, z):
        """Replace the pre-activations ``z`` by ``f(z)``, in place.

        Parameters
        ----------
        z : ndarray of shape (n_samples, n_units)
            Pre-activations; overwritten with the activations.

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
            The output ``f(z)`` of the forward pass.
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

    def forward(self, z):
        return z

    def scale_delta(self, a, delta, scratch=None):
        pass


class Logistic(Activation):
    """The logistic sigmoid ``f(z) = 1 / (1 + exp(-z))``, with ``f' = a (1 - a)``.

    For very negative ``z``, ``exp(-z)`` overflows to infinity and the result
    is the correct limit 0; that overflow is expected and not reported. The
    result keeps full relative precision down to the smallest positive float.
    """

    name = "logistic"

    def forward(self, z):
        with np.errstate(over="ignore"):
            np.negative(z, out=z)
            np.exp(z, out=z)
        z += 1.0
        return np.reciprocal(z, out=z)

    def scale_delta(self, a, delta, scratch=None):
        one_minus_a = np.subtract(1.0, a, out=scratch)
        delta *= a
        delta *= one_minus_a


class Tanh(Activation):
    """The hyperbolic tangent ``f(z) = tanh(z)``, with ``f' = 1 - a**2``."""

    name = "tanh"

    def forward(self, z):
        return np.tanh(z, out=z)

    def scale_delta(self, a, delta, scratch=None):
        derivative = np.multiply(a, a, out=scratch)
        np.subtract(1.0, derivative, out=derivative)
        delta *= derivative


class ReLU(Activation):
    """The rectified linear unit ``f(z) = max(z, 0)``, with ``f' = [a > 0]``."""

    name = "relu"

    def forward(self, z):
        return np.maximum(z, 0.0, out=z)

    def scale_delta(self, a, delta, scratch=None):
        # a >= 0, so sign(a) is the 0/1 derivative, computed without a cast.
        delta *= np.sign(a, out=scratch)


class Softmax(Activation):
    """Row-wise ``f(z)_k = exp(z_k) / sum_j exp(z_j)``, for a multiclass output.

    The row maximum is subtracted first, so no exponential can overflow.
    """

    name = "softmax"

    def forward(self, z):
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z


class Exp(Activation):
    """``f(z) = exp(z)``, the inverse of the log link of a Poisson output."""

    name = "exp"

    def forward(self, z):
        return np.exp(z, out=z)


HIDDEN_ACTIVATIONS = {
    activation.name: activation
    for activation in (Identity(), Logistic(), Tanh(), ReLU())
}

OUTPUT_ACTIVATIONS = {
    activation.name: activation
    for activation in (Identity(), Logistic(), Softmax(), Exp())
}


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
