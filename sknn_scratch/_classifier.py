"""ScratchMLPClassifier: a multi-layer perceptron trained on the log-loss."""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    check_classification_targets,
    type_of_target,
    unique_labels,
)

from sknn_scratch import _docs
from sknn_scratch._base import BaseScratchMLP
from sknn_scratch.core.activations import log_logistic, log_softmax


class ScratchMLPClassifier(ClassifierMixin, BaseScratchMLP):
    __doc__ = f"""Multi-layer perceptron classifier, trained by our own backpropagation.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier`: the same
    parameters, defaults and fitted attributes, and the same results from the
    same weights. It minimises the log-loss of a softmax output (multiclass) or
    of independent logistic outputs (binary and multilabel) with 'lbfgs', 'sgd'
    or 'adam'; forward pass, loss, gradients and solvers are the NumPy code of
    :mod:`sknn_scratch.core`.

    Parameters
    ----------
{_docs.ARCHITECTURE_PARAMETERS}
{_docs.TRAINING_PARAMETERS}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; for multilabel targets, the indices of the labels.

{_docs.FITTED_ATTRIBUTES}
    See Also
    --------
    ScratchMLPRegressor : Multi-layer perceptron regressor.
    sklearn.neural_network.MLPClassifier : scikit-learn's own implementation.

    Notes
    -----
    The log-loss is computed from the logits, so it is exact and finite even for
    saturated predictions, and ``predict_log_proba`` never takes ``log(0)``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn_scratch import ScratchMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ScratchMLPClassifier(solver="lbfgs", random_state=0, max_iter=500)
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    # ----------------------------------------------------------------------------
    # Targets

    def _encode_targets(self, y, first_pass, incremental):
        check_classification_targets(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)

        if first_pass and not incremental:
            binarizer = LabelBinarizer().fit(y)
        else:
            binarizer = self._label_binarizer
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously got "
                        f"{self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )

        label_state = {"_label_binarizer": binarizer, "classes_": binarizer.classes_}
        return binarizer.transform(y), label_state

    def _loss_name(self, label_state):
        multiclass = label_state["_label_binarizer"].y_type_ == "multiclass"
        return "log_loss" if multiclass else "binary_log_loss"

    _validation_metric = staticmethod(accuracy_score)

    def _decode_targets(self, Y):
        if self.n_outputs_ == 1:
            Y = Y.ravel()
        return self._label_binarizer.inverse_transform(Y)

    # ----------------------------------------------------------------------------
    # Public methods

    @available_if(lambda estimator: estimator._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            The class labels, or a label indicator matrix for multilabel data.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights; ``None`` weighs every sample by one.
        classes : array-like of shape (n_classes,), default=None
            All the classes that calls to ``partial_fit`` can see, for example
            ``np.unique(y_all)``. Required on the first call, ignored when it
            equals the classes already known; ``y`` need not contain them all.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, "
                "but the target y is None."
            )
        first_call = getattr(self, "classes_", None) is None
        if first_call and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None and not first_call:
            if not np.array_equal(self.classes_, unique_labels(classes)):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to "
                    f"partial_fit, was: {self.classes_!r}"
                )

        preset_labels = None
        if first_call:
            multilabel = type_of_target(y).startswith("multilabel")
            binarizer = LabelBinarizer().fit(y if multilabel else classes)
            preset_labels = {
                "_label_binarizer": binarizer,
                "classes_": binarizer.classes_,
            }
        return self._fit(
            X, y, sample_weight, incremental=True, preset_labels=preset_labels
        )

    def predict(self, X):
        """Predict the class of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes, or a label indicator matrix for multilabel
            targets.
        """
        _, prediction = self._forward(X)
        return self._decode_targets(prediction)

    def score(self, X, y, sample_weight=None):
        """Return the mean accuracy of ``predict(X)`` against ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            True labels; for multilabel targets, the subset accuracy is returned.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights, validated as in ``fit``.

        Returns
        -------
        score : float
        """
        sample_weight = self._score_weights(X, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)

    def predict_proba(self, X):
        """Return the probability of each class for each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities in the order of ``classes_``.
        """
        _, prediction = self._forward(X)
        if self.n_outputs_ == 1:
            positive = prediction.ravel()
            return np.column_stack([1.0 - positive, positive])
        return prediction

    def predict_log_proba(self, X):
        """Return the logarithm of the probability of each class.

        Computed from the network's logits, so it is exact where
        ``log(predict_proba(X))`` would round to ``log(0) = -inf``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        raw, _ = self._forward(X)
        if self.out_activation_ == "softmax":
            return log_softmax(raw)
        if self.n_outputs_ == 1:
            logit = raw.ravel()
            return np.column_stack([log_logistic(-logit), log_logistic(logit)])
        return log_logistic(raw)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
