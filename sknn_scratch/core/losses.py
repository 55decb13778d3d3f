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
    :meth:`sample_losses`.
    """

    name = ""
    output_activation = ""

    @property
    def link_inverse(self):
        """The output activation object that maps ``z`` to the prediction."""
        return OUTPUT_ACTIVATIONS[self.output_activation]

    def sample_losses(self, y, raw, prediction):
        """Return the loss of each sample, summed over the outputs.

        Parameters
        ----------
        y : ndarray of shape (n_samples, n_outputs)
            Targets; for a classifier, the 0/1 indicator matrix of the classes.
        raw : ndarray of shape (n_samples, n_outputs)
            Output pre-activations ``z``.
        prediction : ndarray of shape (n_samples, n_outputs)
            The output activation applied to ``raw``.

        Returns
        -------
        losses : ndarray of shape (n_samples,)
        """
        raise NotImplementedError

    def value(self, y, raw, prediction, sample_weight=None):
        """Return the (weighted) mean loss of a batch.

        Parameters
        ----------
        y, raw, prediction : ndarray of shape (n_samples, n_outputs)
            As in :meth:`sample_losses`.
        sample_weight : ndarray of shape (n_samples,), default=None
            Weight of each sample; ``None`` weighs them all by one.

        Returns
        -------
        loss : float
        """
        losses = self.sample_losses(y, raw, prediction)
        if sample_weight is None:
            return float(losses.mean())
        return float(losses @ sample_weight / sample_weight.sum())

    def value_and_delta(self, y, raw, prediction, sample_weight, delta):
        """Return the mean loss and write its sample-weighted gradient in ``delta``.

        ``delta`` receives ``sample_weight * (prediction - y)``: the gradient with
        respect to ``raw`` of the weighted *sum* of the per-sample losses. The
        caller divides the parameter gradients by the weight sum once, together
        with the L2 term.

        Parameters
        ----------
        y, raw, prediction : ndarray of shape (n_samples, n_outputs)
            As in :meth:`sample_losses`.
        sample_weight : ndarray of shape (n_samples,) or None
            Weight of each sample; ``None`` weighs them all by one.
        delta : ndarray of shape (n_samples, n_outputs)
            Output buffer, overwritten.

        Returns
        -------
        loss : float
            The same number as :meth:`value` returns.
        """
        loss = self.value(y, raw, prediction, sample_weight)
        np.subtract(prediction, y, out=delta)
        if sample_weight is not None:
            delta *= sample_weight[:, np.newaxis]
        return loss


class SquaredError(Loss):
    """Half the squared error, for regression with an identity output."""

    name = "squared_error"
    output_activation = "identity"

    def sample_losses(self, y, raw, prediction):
        residual = prediction - y
        return 0.5 * np.einsum("ij,ij->i", residual, residual)


class Poisson(Loss):
    """Half the Poisson deviance, for counts predicted through a log link."""

    name = "poisson"
    output_activation = "exp"

    def sample_losses(self, y, raw, prediction):
        # y log(y / p) - y + p, written with log(p) = raw so that it stays finite;
        # the term y log(y) is zero wherever y is.
        positive = y > 0
        y_log_y = np.zeros_like(y)
        np.multiply(y, np.log(y, where=positive, out=np.ones_like(y)), out=y_log_y)
        return (y_log_y - y * raw - y + prediction).sum(axis=1)


class BinaryLogLoss(Loss):
    """Cross-entropy of independent logistic outputs (binary and multilabel)."""

    name = "binary_log_loss"
    output_activation = "logistic"

    def sample_losses(self, y, raw, prediction):
        return (np.logaddexp(0.0, raw) - y * raw).sum(axis=1)


class LogLoss(Loss):
    """Cross-entropy of a softmax output (multiclass)."""

    name = "log_loss"
    output_activation = "softmax"

    def sample_losses(self, y, raw, prediction):
        row_max = raw.max(axis=1)
        log_sum_exp = row_max + np.log(np.exp(raw - row_max[:, np.newaxis]).sum(axis=1))
        return log_sum_exp - np.einsum("ij,ij->i", y, raw)


LOSSES = {
    loss.name: loss for loss in (SquaredError(), Poisson(), BinaryLogLoss(), LogLoss())
}
