"""ScratchMLPRegressor: a multi-layer perceptron for real or count targets."""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if

from sknn_scratch import _callbacks, _docs
from sknn_scratch._base import BaseScratchMLP
from sknn_scratch._validation import check_finite_output
from sknn_scratch.core.losses import Huber, Quantile


class ScratchMLPRegressor(RegressorMixin, BaseScratchMLP):
    __doc__ = f"""Multi-layer perceptron regressor, trained by our own backpropagation.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor`: the same
    parameters, defaults and fitted attributes, and the same results from the
    same weights. It minimises half the squared error of an identity output, or
    half the Poisson deviance of an exponential output, with 'lbfgs', 'sgd' or
    'adam'; forward pass, loss, gradients and solvers are the NumPy code of
    :mod:`sknn_scratch.core`.

    Parameters
    ----------
{_docs.ARCHITECTURE_PARAMETERS}
    loss : {{'squared_error', 'poisson', 'huber', 'absolute_error', 'quantile'}}, \
default='squared_error'
        The loss to minimise, with ``p`` the prediction and ``y`` the target:

        - 'squared_error': half the squared error, ``(p - y)**2 / 2``.
        - 'poisson': half the Poisson deviance, through the output ``exp(z)``,
          which is always positive. It needs non-negative targets.
        - 'huber': half the squared error for residuals ``|p - y|`` up to
          ``huber_delta`` and ``huber_delta * (|p - y| - huber_delta / 2)``
          beyond, so that outlying targets pull on the fit with a bounded
          force.
        - 'absolute_error': ``|p - y|``, whose minimiser is the conditional
          median.
        - 'quantile': the pinball loss of level ``quantile``,
          ``(1 - quantile) * (p - y)`` for an over-prediction and
          ``quantile * (y - p)`` for an under-prediction, whose minimiser is
          the conditional ``quantile``-quantile.

        All but 'poisson' predict through an identity output. With several
        outputs, a sample's loss is the sum of its outputs' losses. ``loss_``
        and ``loss_curve_`` report the chosen loss (plus the L2 term), while
        ``score`` stays R^2 whatever the loss: for 'absolute_error' and
        'quantile' that is not what training minimises. 'absolute_error' and
        'quantile' have a kink where a prediction meets its target; 'lbfgs'
        works with them but may stop early there, with a ConvergenceWarning.

    huber_delta : float, default=1.0
        Threshold of ``loss='huber'`` between its quadratic and its linear
        part, in the units of ``y`` (which the estimator does not rescale:
        standardise ``y`` to make a threshold of 1.0 mean one standard
        deviation). Positive and finite. Ignored by the other losses. Named
        after the Huber loss's delta because scikit-learn's own names for it,
        ``alpha`` and ``epsilon``, are taken by the L2 penalty and Adam.

    quantile : float, default=0.5
        Level of ``loss='quantile'``, strictly between 0 and 1: the share of
        the targets the prediction should lie above; 0.5 fits the median. The
        name is that of
        :class:`~sklearn.ensemble.HistGradientBoostingRegressor`. Ignored by
        the other losses.

        A fit with ``warm_start=True``, or a call of ``partial_fit``, refuses
        with a ValueError to continue training a network fitted with another
        ``huber_delta`` or ``quantile``, as it does for another ``loss``.

{_docs.TRAINING_PARAMETERS}
{_docs.EXTENSION_PARAMETERS}
    Attributes
    ----------
{_docs.FITTED_ATTRIBUTES}
    See Also
    --------
    ScratchMLPClassifier : Multi-layer perceptron classifier.
    sklearn.neural_network.MLPRegressor : scikit-learn's own implementation.

    Notes
    -----
    With ``loss='squared_error'`` and several outputs, the data term of
    ``loss_`` is the sum over the outputs of each output's loss: the quantity
    whose gradient is followed. scikit-learn reports the mean over the outputs,
    so its data term is ``n_outputs_`` times smaller (the L2 term is the same;
    the Poisson loss is summed over the outputs by both).

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sknn_scratch import ScratchMLPRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0,
    ...                        random_state=0)
    >>> reg = ScratchMLPRegressor(solver="lbfgs", tol=1e-2, max_iter=2000,
    ...                           random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.99
    True
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **BaseScratchMLP._parameter_constraints,
        "loss": [
            StrOptions(
                {"squared_error", "poisson", "huber", "absolute_error", "quantile"}
            )
        ],
        "huber_delta": [Interval(Real, 0, None, closed="neither")],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        loss="squared_error",
        huber_delta=1.0,
        quantile=0.5,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        weight_decay=0.0,
        max_grad_norm=None,
        lr_schedule=None,
        warmup_iter=0,
        validation_monitor="score",
        restore_best_weights=False,
        dtype=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            weight_decay=weight_decay,
            max_grad_norm=max_grad_norm,
            lr_schedule=lr_schedule,
            warmup_iter=warmup_iter,
            validation_monitor=validation_monitor,
            restore_best_weights=restore_best_weights,
            dtype=dtype,
        )
        self.loss = loss
        self.huber_delta = huber_delta
        self.quantile = quantile

    # ----------------------------------------------------------------------------
    # Targets

    def _encode_targets(self, y, first_pass, incremental):
        if y.dtype.kind in "USO":
            y = self._numeric_targets(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                f"loss='poisson' requires non-negative targets, but y has "
                f"{int(np.sum(y < 0))} negative value(s), the smallest being "
                f"{y.min()}."
            )
        return y.reshape(y.shape[0], -1), {}

    def _loss_name(self, label_state):
        # The name of a loss with a parameter carries its value, so that a warm
        # start with another huber_delta or quantile is refused.
        if self.loss == "huber":
            return Huber(self.huber_delta).name
        if self.loss == "quantile":
            return Quantile(self.quantile).name
        return self.loss

    def _numeric_targets(self, y):
        """Return string targets as floats, or name the first that is no number.

        ``validate_data`` leaves arrays of strings to the estimator, and NumPy's
        own error would not say that the value came from ``y``.
        """
        try:
            return y.astype(np.float64)
        except (TypeError, ValueError):
            pass
        for value in y.ravel():
            try:
                float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{type(self).__name__} needs numeric targets, but y holds "
                    f"{str(value)!r} (dtype {y.dtype}): could not convert string "
                    f"to float."
                ) from None
        raise AssertionError("unreachable: some value of y failed to convert")

    _validation_metric = staticmethod(r2_score)

    # ----------------------------------------------------------------------------
    # Public methods

    @available_if(lambda estimator: estimator._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @_callbacks.fit_task
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights; ``None`` weighs every sample by one.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predict the target of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        _, prediction = self._forward(X)
        # The prediction, not only z: a Poisson output exp(z) can overflow alone.
        check_finite_output(prediction, self)
        if prediction.shape[1] == 1:
            return prediction.ravel()
        return prediction

    def score(self, X, y, sample_weight=None):
        """Return the coefficient of determination R^2 of ``predict(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights, validated as in ``fit``.

        Returns
        -------
        score : float
            R^2, averaged uniformly over the outputs.
        """
        sample_weight = self._score_weights(X, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
