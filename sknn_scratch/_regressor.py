"""ScratchMLPRegressor: a multi-layer perceptron for real or count targets."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if

from sknn_scratch import _docs
from sknn_scratch._base import BaseScratchMLP


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
    loss : {{'squared_error', 'poisson'}}, default='squared_error'
        The loss to minimise: half the squared error, or half the Poisson
        deviance, whose output ``exp(z)`` is always positive. 'poisson' needs
        non-negative targets.

{_docs.TRAINING_PARAMETERS}
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
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        loss="squared_error",
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
        )
        self.loss = loss

    # ----------------------------------------------------------------------------
    # Targets

    def _encode_targets(self, y, first_pass, incremental):
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
        return self.loss

    _validation_metric = staticmethod(r2_score)

    # ----------------------------------------------------------------------------
    # Public methods

    @available_if(lambda estimator: estimator._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
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
