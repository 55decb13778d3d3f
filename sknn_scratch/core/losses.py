"""Cost functions, each paired with the output activation of its canonical link.

A loss compares the targets ``y`` with the network's output. Each loss here is
paired with the output activation whose inverse is its canonical link, so that
the gradient of the loss with respect to the output pre-activations ``z`` (the
"raw" output, the logits for a classifier) is simply ``prediction - y``:

===================  ==================  ===========================================
loss                 output activation   loss of one sample, summed over the outputs
===================  ==================  ===========================================
``squared_error``    ``identity``        ``(p - y)**2 / 2``
``poisson``          ``exp``             ``y log(y / p) - y + p`` (half deviance)
``binary_log_loss``  ``logistic``        ``log(1 + exp(z)) - y z``
``log_loss``         ``softmax``         ``log(sum_k exp(z_k)) - sum_k y_k z_k``
===================  ==================  ===========================================

The value of a loss over a batch is the mean of these per-sample losses, weighted
by the sample weights when there are any. The log-losses are computed from the
logits, which is exact and never takes log(0), where computing them from clipped
probabilities would not be.
"""

import numpy as np

from sknn_scratch.core.activations import OUTPUT_ACTIVATIONS


class Loss:
    """Base class of a loss paired with its canonical output activation.

    Subclasses set ``name`` and ``output_activation`` and implement
    :meth:`elementwise`, which writes each target's loss into a given array, so
    that a training step can evaluate the loss without allocating.
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

        ``delta`` receives ``sample_weight * (prediction - y)``: the gradient with
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

        np.subtract(prediction, y, out=delta)
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
        # Row sums over the few outputs are matrix products with a vector of
        # ones, which is much faster than NumPy's reduction along short rows.
        ones = np.ones(raw.shape[1], dtype=raw.dtype)
        row_max = raw.max(axis=1)
        np.subtract(raw, row_max[:, np.newaxis], out=prediction)
        np.exp(prediction, out=prediction)
        row_sum = prediction @ ones
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


LOSSES = {
    loss.name: loss for loss in (SquaredError(), Poisson(), BinaryLogLoss(), LogLoss())
}
