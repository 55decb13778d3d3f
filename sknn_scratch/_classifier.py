"""ScratchMLPClassifier: a multi-layer perceptron trained on the log-loss."""

import numpy as np
import scipy.sparse
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    check_classification_targets,
    type_of_target,
    unique_labels,
)

from sknn_scratch import _callbacks, _docs
from sknn_scratch._base import BaseScratchMLP
from sknn_scratch._validation import check_finite_output, reject_missing_labels
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
{_docs.EXTENSION_PARAMETERS}
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, ``{{class_label: weight}}``, multiplying the
        sample weights in the loss of every solver and in the validation loss
        and score (the weighted accuracy of the early-stopping split, or of the
        ``X_val`` given to ``fit``). Classes a dict leaves out weigh 1.
        'balanced' weighs each class by ``n_samples / (n_classes *
        np.bincount(y))`` over the targets of the call, counting samples by
        their ``sample_weight`` as :class:`~sklearn.linear_model.LogisticRegression`
        does; ``partial_fit`` refuses it, as
        :class:`~sklearn.linear_model.SGDClassifier` does, since one batch's
        class frequencies are not the data's: pass a dict computed with
        :func:`~sklearn.utils.class_weight.compute_class_weight` instead. Not
        available for multilabel targets.

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

    _parameter_constraints: dict = {
        **BaseScratchMLP._parameter_constraints,
        "class_weight": [None, StrOptions({"balanced"}), dict],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
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
        class_weight=None,
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
        self.class_weight = class_weight

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

    def _encode_validation_targets(self, y_val):
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        if multilabel:
            target_type = type_of_target(y_val, input_name="y_val")
            n_labels = len(self.classes_)
            if target_type != "multilabel-indicator" or y_val.shape[1] != n_labels:
                raise ValueError(
                    f"y_val must be a label indicator matrix with {n_labels} "
                    f"columns, as y is; got {target_type!r} targets of shape "
                    f"{y_val.shape}."
                )
        else:
            check_classification_targets(y_val)
            known = set(self.classes_.tolist())
            unseen = [
                label for label in np.unique(y_val).tolist() if label not in known
            ]
            if unseen:
                raise ValueError(
                    f"y_val has classes that y does not have: {unseen}. The "
                    f"classes seen in training are {self.classes_.tolist()}."
                )
        return self._label_binarizer.transform(y_val)

    def _class_weights(self, Y, sample_weight, incremental):
        if self.class_weight is None:
            return None
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError(
                "class_weight is not supported for multilabel targets, whose "
                "samples can have several classes at once; weigh the samples "
                "with sample_weight instead."
            )
        if self.class_weight == "balanced":
            if incremental:
                # scikit-learn's SGDClassifier refuses it in the same words.
                raise ValueError(
                    "class_weight 'balanced' is not supported for partial_fit. "
                    "In order to use 'balanced' weights, use "
                    "compute_class_weight('balanced', classes=classes, y=y). In "
                    "place of y you can use a large enough sample of the full "
                    "training set target to properly estimate the class "
                    "frequency distributions. Pass the resulting weights as the "
                    "class_weight parameter."
                )
            # As LogisticRegression does, the classes are counted by weight. A
            # class whose samples all weigh zero would get an infinite weight:
            # it has nothing to balance, and gets none.
            with np.errstate(divide="ignore"):
                weights = compute_class_weight(
                    "balanced",
                    classes=self.classes_,
                    y=self.classes_[self._class_indices(Y)],
                    sample_weight=sample_weight,
                )
            weights[~np.isfinite(weights)] = 0.0
            return weights
        return self._class_weights_of_dict()

    def _class_weights_of_dict(self):
        """Return the weight of each class of ``classes_`` from a dict.

        A class that the dict leaves out weighs 1, as elsewhere in scikit-learn;
        keys that are no class are refused rather than ignored.
        """
        classes = self.classes_.tolist()
        unknown = [key for key in self.class_weight if key not in classes]
        if unknown:
            raise ValueError(
                f"The given class_weight dict must have the class labels as "
                f"keys; classes={classes} but key(s) {unknown} are not among them."
            )
        weights = np.array(
            [self.class_weight.get(label, 1.0) for label in classes], dtype=float
        )
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError(
                f"class_weight must give every class a finite, non-negative "
                f"weight; got {self.class_weight}."
            )
        return weights

    def _weigh_by_class(self, Y, sample_weight, class_weights, dtype):
        """Return ``sample_weight`` times the weight of each sample's class.

        ``Y`` holds the encoded targets; ``class_weights`` the weight of each
        class of ``classes_``, as :meth:`_class_weights` returns it. The
        weights are of ``dtype``, the network's.
        """
        weights = class_weights[self._class_indices(Y)].astype(dtype)
        if sample_weight is not None:
            weights *= sample_weight
        if not weights.any():
            raise ValueError(
                f"class_weight={self.class_weight} leaves every sample with a "
                f"weight of zero; give some class present in y a positive "
                f"weight."
            )
        return weights

    @staticmethod
    def _class_indices(Y):
        """Return the index in ``classes_`` of each row of single-label targets.

        A multiclass target is one-hot; a binary one is one column that is 1
        for the second class.
        """
        if Y.shape[1] == 1:
            return Y[:, 0].astype(np.intp)
        return Y.argmax(axis=1)

    def _training_targets(self, Y, dtype):
        # 0/1 indicators, kept as booleans as scikit-learn keeps them: an
        # eighth of float64's memory, which matters with many classes. Each
        # batch of them is written into a buffer of the network's dtype.
        return np.ascontiguousarray(Y, dtype=bool)

    def _loss_name(self, label_state):
        multiclass = label_state["_label_binarizer"].y_type_ == "multiclass"
        return "log_loss" if multiclass else "binary_log_loss"

    _validation_metric = staticmethod(accuracy_score)

    def _decode_targets(self, Y):
        # The label binarizer's own decoding for one- and multi-class targets,
        # written out: its general code costs more than a small prediction.
        binarizer = self._label_binarizer
        classes = binarizer.classes_
        if binarizer.y_type_ == "multiclass" and not scipy.sparse.issparse(Y):
            return classes.take(Y.argmax(axis=1))
        if self.n_outputs_ == 1:
            Y = Y.ravel()
            if binarizer.y_type_ == "binary" and len(classes) == 2:
                return classes[(Y > 0.5).astype(np.intp)]
        return binarizer.inverse_transform(Y)

    # ----------------------------------------------------------------------------
    # Public methods

    @available_if(lambda estimator: estimator._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @_callbacks.fit_task
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

        Notes
        -----
        A ``class_weight`` dict weighs every call's samples alike;
        ``class_weight='balanced'`` is refused here, as in
        :class:`~sklearn.linear_model.SGDClassifier`.
        """
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, "
                "but the target y is None."
            )
        reject_missing_labels(y)
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
            # Named, so that a NaN in y is reported as in y, as fit reports it.
            multilabel = type_of_target(y, input_name="y").startswith("multilabel")
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
        _, prediction = self._checked_forward(X)
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
        _, prediction = self._checked_forward(X)
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
        raw, _ = self._checked_forward(X)
        if self.out_activation_ == "softmax":
            return log_softmax(raw)
        if self.n_outputs_ == 1:
            logit = raw.ravel()
            return np.column_stack([log_logistic(-logit), log_logistic(logit)])
        return log_logistic(raw)

    def _checked_forward(self, X):
        """Return ``_forward(X)``, refusing a raw output that overflowed."""
        raw, prediction = self._forward(X)
        check_finite_output(raw, self)
        return raw, prediction

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
