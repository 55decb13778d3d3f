"""Cost functions, each paired with the output activation it is trained through.

A loss compares the targets ``y`` with the network's output. The first four
losses below are paired with the output activation whose inverse is their
canonical link, so that the gradient of the loss with respect to the output
pre-activations ``z`` (the "raw" output, the logits for a classifier) is simply
the residual ``r = p - y`` of the prediction ``p``. The robust and quantile
regression losses use the identity output, ``p = z``, and their gradient is
their own derivative in ``p``, which bounds each target's pull on the network:

=========================  ========  ==========================  ======================
loss                       output    loss of one target          delta, ``dloss/dz``
=========================  ========  ==========================  ======================
``squared_error``          identity  ``r**2 / 2``                ``r``
``poisson``                exp       ``y log(y / p) - y + p``    ``r``
``binary_log_loss``        logistic  ``log(1 + exp(z)) - y z``   ``r``
``log_loss``               softmax   ``log(sum_k exp(z_k))``     ``r``
                                     ``- y z`` (whole sample)
``huber(huber_delta=d)``   identity  ``r**2 / 2`` if             ``clip(r, -d, d)``
                                     ``|r| <= d``, else
                                     ``d (|r| - d / 2)``
``absolute_error``         identity  ``|r|``                     ``sign(r)``
``quantile(quantile=q)``   identity  ``(1 - q) r`` if ``r > 0``  ``1 - q`` if ``r > 0``
                                     (over-prediction), else     ``-q`` if ``r < 0``
                                     ``-q r``                    ``0`` if ``r == 0``
=========================  ========  ==========================  ======================

A sample's loss is the sum of its targets' losses (the log-loss is written for the
whole sample). The value of a loss over a batch is the mean of the per-sample
losses, weighted by the sample weights when there are any. The log-losses are
computed from the logits, which is exact and never takes log(0), where computing
them from clipped probabilities would not be.

The absolute error and the pinball (quantile) loss have a kink at ``r = 0``, where
they have no derivative; their delta is then 0, a subgradient, the one that
leaves a target predicted exactly where it is. The Huber loss is half the squared
error for residuals up to ``d`` and grows linearly beyond, with a continuous
derivative. The pinball loss at ``q = 0.5`` is half the absolute error.

:data:`LOSSES` holds the losses by name. The name of a loss that has a parameter
carries its value, as in ``"quantile(quantile=0.9)"``: two networks trained
with different quantile levels or Huber thresholds thus have different loss
names, and a warm start that would change the level is refused like one that
would change the loss.
"""

import math
import re
from collections.abc import Mapping
from numbers import Real

import numpy as np

from sknn_scratch.core.activations import OUTPUT_ACTIVATIONS


class Loss:
    """Base class of a loss paired with the output activation it trains through.

    Subclasses set ``name`` and ``output_activation`` and implement
    :meth:`elementwise`, which writes each target's loss into a given array, so
    that a training step can evaluate the loss without allocating. A loss whose
    output activation is not its canonical link also overrides
    :meth:`elementwise_gradient`, whose default is the residual
    ``prediction - y``.
    """

    name = ""
    output_activation = ""

    @property
    def link_inverse(self):
        """The output activation object that maps ``z`` to the prediction."""
        return OUTPUT_ACTIVATIONS[self.output_activation]

    def elementwise(self, y, raw, prediction, out, work):
        """Write the loss of each target into ``out``.

        The losses of a sample's outputs sum to that sample's loss.

        Parameters
        ----------
        y : ndarray of shape (n_samples, n_outputs)
            Targets; for a classifier, the 0/1 indicator matrix of the classes.
        raw : ndarray of shape (n_samples, n_outputs)
            Output pre-activations ``z``.
        prediction : ndarray of shape (n_samples, n_outputs)
            The output activation applied to ``raw``.
        out, work : ndarray of shape (n_samples, n_outputs)
            Receives the losses; a work array, overwritten.
        """
        raise NotImplementedError

    def elementwise_gradient(self, y, raw, prediction, out, work):
        """Write the derivative of each target's loss with respect to ``raw``.

        For a loss paired with its canonical link this is the residual
        ``prediction - y``, which is the default.

        Parameters
        ----------
        y, raw, prediction : ndarray of shape (n_samples, n_outputs)
            As in :meth:`elementwise`.
        out, work : ndarray of shape (n_samples, n_outputs)
            Receives the derivatives; a work array, overwritten.
        """
        np.subtract(prediction, y, out=out)

    def sample_losses(self, y, raw, prediction):
        """Return the loss of each sample, summed over the outputs.

        Parameters
        ----------
        y, raw, prediction : ndarray of shape (n_samples, n_outputs)
            As in :meth:`elementwise`.

        Returns
        -------
        losses : ndarray of shape (n_samples,)
        """
        out = np.empty_like(raw)
        self.elementwise(y, raw, prediction, out, np.empty_like(raw))
        return out.sum(axis=1)

    def value(self, y, raw, prediction, sample_weight=None):
        """Return the (weighted) mean loss of a batch.

        Parameters
        ----------
        y, raw, prediction : ndarray of shape (n_samples, n_outputs)
            As in :meth:`elementwise`.
        sample_weight : ndarray of shape (n_samples,), default=None
            Weight of each sample; ``None`` weighs them all by one.

        Returns
        -------
        loss : float
        """
        return self.value_and_delta(
            y, raw, prediction, sample_weight, np.empty_like(raw)
        )

    def value_and_delta(self, y, raw, prediction, sample_weight, delta, scratch=None):
        """Return the mean loss and write its sample-weighted gradient in ``delta``.

        ``delta`` receives ``sample_weight * dloss/draw``: each target's
        derivative from :meth:`elementwise_gradient` (``prediction - y`` for a
        canonical link) times its sample's weight, which is the gradient with
        respect to ``raw`` of the weighted *sum* of the per-sample losses. The
        caller divides the parameter gradients by the weight sum once, together
        with the L2 term.

        Parameters
        ----------
        y, raw, prediction : ndarray of shape (n_samples, n_outputs)
            As in :meth:`elementwise`.
        sample_weight : ndarray of shape (n_samples,) or None
            Weight of each sample; ``None`` weighs them all by one.
        delta : ndarray of shape (n_samples, n_outputs)
            Output buffer, overwritten.
        scratch : ndarray of shape (n_samples, n_outputs), default=None
            Work array, overwritten; allocated when None.

        Returns
        -------
        loss : float
            The same number as :meth:`value` returns.
        """
        losses = np.empty_like(raw) if scratch is None else scratch
        self.elementwise(y, raw, prediction, out=losses, work=delta)
        if sample_weight is None:
            loss = float(losses.sum()) / losses.shape[0]
        else:
            weighted_sum = np.einsum("ij,i->", losses, sample_weight)
            loss = float(weighted_sum) / float(sample_weight.sum())

        # The losses are summed up, so their array is free to be a work array.
        self.elementwise_gradient(y, raw, prediction, out=delta, work=losses)
        if sample_weight is not None:
            delta *= sample_weight[:, np.newaxis]
        return loss

    def link_value_and_delta(
        self, y, raw, prediction, sample_weight, delta, scratch=None
    ):
        """Write the prediction for ``raw``, then do :meth:`value_and_delta`.

        This is a training step's call: it applies the output activation to
        ``raw`` and evaluates the loss in one go, which lets a loss share work
        between the two.

        Parameters
        ----------
        y, raw : ndarray of shape (n_samples, n_outputs)
            As in :meth:`elementwise`.
        prediction : ndarray of shape (n_samples, n_outputs)
            Output buffer, overwritten with the output activation of ``raw``.
        sample_weight, delta, scratch
            As in :meth:`value_and_delta`.

        Returns
        -------
        loss : float
        """
        np.copyto(prediction, raw)
        self.link_inverse.forward(prediction)
        return self.value_and_delta(y, raw, prediction, sample_weight, delta, scratch)


class SquaredError(Loss):
    """Half the squared error, for regression with an identity output."""

    name = "squared_error"
    output_activation = "identity"

    def elementwise(self, y, raw, prediction, out, work):
        np.subtract(prediction, y, out=out)
        np.multiply(out, out, out=out)
        out *= 0.5


class Poisson(Loss):
    """Half the Poisson deviance, for counts predicted through a log link."""

    name = "poisson"
    output_activation = "exp"

    def elementwise(self, y, raw, prediction, out, work):
        # y log(y / p) - y + p, written with log(p) = raw so that it stays finite;
        # the term y log(y) is zero where y is, and log(tiny) is finite.
        np.maximum(y, np.finfo(out.dtype).tiny, out=out)
        np.log(out, out=out)
        out *= y
        out -= y
        out += prediction
        np.multiply(y, raw, out=work)
        out -= work


class BinaryLogLoss(Loss):
    """Cross-entropy of independent logistic outputs (binary and multilabel)."""

    name = "binary_log_loss"
    output_activation = "logistic"

    def elementwise(self, y, raw, prediction, out, work):
        # log(1 + exp(z)) - y z, the cross-entropy written with the logit z.
        np.logaddexp(0.0, raw, out=out)
        np.multiply(y, raw, out=work)
        out -= work


class LogLoss(Loss):
    """Cross-entropy of a softmax output (multiclass)."""

    name = "log_loss"
    output_activation = "softmax"

    def elementwise(self, y, raw, prediction, out, work):
        # y_k (log sum_j exp(z_j) - z_k): the one-hot y picks the true class.
        row_max = raw.max(axis=1, keepdims=True)
        np.subtract(raw, row_max, out=out)
        np.exp(out, out=out)
        log_sum_exp = np.log(out.sum(axis=1, keepdims=True))
        log_sum_exp += row_max
        np.subtract(log_sum_exp, raw, out=out)
        out *= y

    def link_value_and_delta(
        self, y, raw, prediction, sample_weight, delta, scratch=None
    ):
        # The softmax and the loss share the exponentials and the row sums:
        # with m the row maximum and s = sum_k exp(z_k - m), the prediction is
        # exp(z - m) / s and a sample's loss is (m + log s) sum_k y_k - y . z.
        # The prediction is computed as scikit-learn computes its softmax, so
        # that the deltas, and the weights, are the same to the last bit.
        ones = np.ones(raw.shape[1], dtype=raw.dtype)
        row_max = raw.max(axis=1)
        np.subtract(raw, row_max[:, np.newaxis], out=prediction)
        np.exp(prediction, out=prediction)
        row_sum = prediction.sum(axis=1)
        prediction /= row_sum[:, np.newaxis]

        log_normalizer = np.log(row_sum)
        log_normalizer += row_max
        sample_losses = log_normalizer * (y @ ones)
        sample_losses -= np.einsum("ij,ij->i", y, raw)
        if sample_weight is None:
            loss = float(sample_losses.sum()) / raw.shape[0]
        else:
            loss = float(sample_losses @ sample_weight) / float(sample_weight.sum())

        np.subtract(prediction, y, out=delta)
        if sample_weight is not None:
            delta *= sample_weight[:, np.newaxis]
        return loss


def _checked_parameter(name, value, low, high):
    """Return ``value`` as a float; raise unless it is a number in ``(low, high)``."""
    is_number = isinstance(value, Real) and not isinstance(value, bool)
    if not (is_number and low < value < high):
        raise ValueError(f"{name} must be a number in ({low}, {high}), got {value!r}.")
    return float(value)


class ParametrisedLoss(Loss):
    """Base class of a loss with one numeric parameter, which its name carries.

    Subclasses set ``base_name``, ``parameter`` (the parameter's name, spelt as
    the estimator spells it) and ``bounds`` (the open interval it must lie in),
    and give their constructor the parameter's default. The loss's ``name``
    reads like a call, ``"huber(huber_delta=1.0)"``, with the shortest spelling
    of the number that reads back as the same float; :data:`LOSSES` turns such
    a name back into the loss.

    Parameters
    ----------
    value : float
        The parameter, kept as ``parameter_value``.
    """

    base_name = ""
    parameter = ""
    bounds = (0.0, math.inf)

    def __init__(self, value):
        self.parameter_value = _checked_parameter(self.parameter, value, *self.bounds)
        self.name = f"{self.base_name}({self.parameter}={self.parameter_value!r})"


class Huber(ParametrisedLoss):
    """The Huber loss: half the squared error up to a threshold, linear beyond it.

    Each target's pull on the network, ``clip(p - y, -d, d)``, is bounded by
    the threshold ``d``, so that a few outlying targets cannot dominate the fit
    as they do under the squared error.

    Parameters
    ----------
    huber_delta : float, default=1.0
        The threshold ``d``: the size of the residual ``|p - y|``, in the units
        of the targets, at which the loss turns from quadratic to linear.
        Positive and finite.

    Examples
    --------
    >>> import numpy as np
    >>> loss = Huber(huber_delta=1.0)
    >>> loss.name
    'huber(huber_delta=1.0)'
    >>> y = np.zeros((3, 1))
    >>> prediction = np.array([[0.5], [3.0], [-3.0]])
    >>> loss.sample_losses(y, prediction, prediction)  # 0.5**2 / 2, 3 - 1 / 2
    array([0.125, 2.5  , 2.5  ])
    """

    base_name = "huber"
    parameter = "huber_delta"
    output_activation = "identity"

    def __init__(self, huber_delta=1.0):
        super().__init__(huber_delta)

    @property
    def huber_delta(self):
        """The threshold between the quadratic and the linear part."""
        return self.parameter_value

    def elementwise(self, y, raw, prediction, out, work):
        # With a = |r| and c = min(a, d), c (a - c / 2) is a**2 / 2 up to d and
        # d (a - d / 2) beyond: one expression for both parts. Halving and
        # doubling are exact, so below d this is the squared error to the bit.
        np.subtract(prediction, y, out=work)
        np.abs(work, out=work)
        np.minimum(work, self.parameter_value, out=out)
        out *= 0.5
        work -= out
        out *= work
        out *= 2.0

    def elementwise_gradient(self, y, raw, prediction, out, work):
        np.subtract(prediction, y, out=out)
        np.clip(out, -self.parameter_value, self.parameter_value, out=out)


class AbsoluteError(Loss):
    """The absolute error ``|p - y|``, whose minimiser is the conditional median.

    Each target pulls on the network with ``sign(p - y)``, whatever the size of
    its residual; an exactly predicted target does not pull at all.

    Examples
    --------
    >>> import numpy as np
    >>> loss = AbsoluteError()
    >>> y = np.array([[1.0], [1.0], [1.0]])
    >>> prediction = np.array([[3.0], [0.5], [1.0]])
    >>> loss.sample_losses(y, prediction, prediction)
    array([2. , 0.5, 0. ])
    """

    name = "absolute_error"
    output_activation = "identity"

    def elementwise(self, y, raw, prediction, out, work):
        np.subtract(prediction, y, out=out)
        np.abs(out, out=out)

    def elementwise_gradient(self, y, raw, prediction, out, work):
        np.subtract(prediction, y, out=out)
        np.sign(out, out=out)


class Quantile(ParametrisedLoss):
    """The pinball loss, whose minimiser is the conditional ``q``-quantile.

    An over-prediction (``p > y``) costs ``(1 - q) (p - y)`` and an
    under-prediction ``q (y - p)``: at ``q = 0.9`` missing a target from below
    costs nine times as much as from above, so the fit settles where about 90%
    of the targets lie below the prediction. At ``q = 0.5`` it is half the
    absolute error.

    Parameters
    ----------
    quantile : float, default=0.5
        The level ``q`` of the quantile, strictly between 0 and 1.

    Examples
    --------
    >>> import numpy as np
    >>> loss = Quantile(quantile=0.9)
    >>> loss.name
    'quantile(quantile=0.9)'
    >>> y = np.array([[1.0], [1.0]])
    >>> prediction = np.array([[3.0], [0.0]])
    >>> loss.sample_losses(y, prediction, prediction)  # 0.1 * 2 and 0.9 * 1
    array([0.2, 0.9])
    """

    base_name = "quantile"
    parameter = "quantile"
    bounds = (0.0, 1.0)
    output_activation = "identity"

    def __init__(self, quantile=0.5):
        super().__init__(quantile)

    @property
    def quantile(self):
        """The level of the quantile."""
        return self.parameter_value

    def elementwise(self, y, raw, prediction, out, work):
        # (1 - q) r and -q r have opposite signs; the positive one is the loss.
        np.subtract(prediction, y, out=work)
        np.multiply(work, 1.0 - self.parameter_value, out=out)
        work *= -self.parameter_value
        np.maximum(out, work, out=out)

    def elementwise_gradient(self, y, raw, prediction, out, work):
        # [r > 0] - q [r != 0]: 1 - q above the target, -q below it, 0 on it.
        np.subtract(prediction, y, out=work)
        np.greater(work, 0.0, out=out)
        np.not_equal(work, 0.0, out=work)
        work *= self.parameter_value
        out -= work


class LossRegistry(Mapping):
    """The losses by name, a parametrised loss's name carrying its parameter.

    A plain name such as ``"squared_error"`` gives the one shared instance of
    that loss. A name of the form ``"quantile(quantile=0.9)"``, the ``name`` of a
    :class:`ParametrisedLoss`, gives a new instance with that parameter; the
    number may be spelt any way ``float`` reads it. Iterating lists each plain
    loss, then each parametrised loss at its default parameter.

    Parameters
    ----------
    losses : list of Loss
        The losses without parameters.
    parametrised : list of type
        Subclasses of :class:`ParametrisedLoss`.

    Examples
    --------
    >>> LOSSES["quantile(quantile=0.9)"].quantile
    0.9
    >>> LOSSES["squared_error"] is LOSSES["squared_error"]
    True
    >>> "huber(huber_delta=2.5)" in LOSSES, "huber" in LOSSES
    (True, False)
    """

    _PARAMETRISED_NAME = re.compile(
        r"(?P<base>\w+)\((?P<parameter>\w+)=(?P<value>.*)\)"
    )

    def __init__(self, losses, parametrised):
        self._losses = {loss.name: loss for loss in losses}
        self._parametrised = {cls.base_name: cls for cls in parametrised}

    def __getitem__(self, name):
        if name in self._losses:
            return self._losses[name]

        match = (
            self._PARAMETRISED_NAME.fullmatch(name) if isinstance(name, str) else None
        )
        loss_class = self._parametrised.get(match["base"]) if match else None
        if loss_class is None or match["parameter"] != loss_class.parameter:
            raise KeyError(self._unknown_name_message(name))
        try:
            return loss_class(float(match["value"]))
        except ValueError as error:
            raise KeyError(f"{name!r} names no loss: {error}") from None

    def _unknown_name_message(self, name):
        forms = list(self._losses)
        forms += [
            f"{cls.base_name}({cls.parameter}=...)"
            for cls in self._parametrised.values()
        ]
        return f"Unknown loss {name!r}; the losses are {', '.join(forms)}."

    def __iter__(self):
        yield from self._losses
        for loss_class in self._parametrised.values():
            yield loss_class().name

    def __len__(self):
        return len(self._losses) + len(self._parametrised)

    def __repr__(self):
        return f"{type(self).__name__}({list(self)})"


LOSSES = LossRegistry(
    [SquaredError(), Poisson(), BinaryLogLoss(), LogLoss(), AbsoluteError()],
    [Huber, Quantile],
)
