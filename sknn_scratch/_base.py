"""The scikit-learn side shared by both estimators: parameters, validation, solvers.

:class:`BaseScratchMLP` turns scikit-learn's estimator API into calls on the NumPy
core (:mod:`sknn_scratch.core`). It validates parameters and data once per call,
builds or reuses a :class:`~sknn_scratch.core.network.Network`, and runs one of
two training loops:

- the stochastic loop (``solver="sgd"`` or ``"adam"``): epochs of shuffled
  mini-batches, with scikit-learn's rules for ``tol``, ``n_iter_no_change``,
  ``early_stopping`` and the learning-rate schedules;
- L-BFGS (``solver="lbfgs"``): SciPy's L-BFGS-B minimiser, fed the network's
  loss and backpropagated gradient over the whole training set.

Every call that trains is atomic: when it raises, whether on bad input or on a
run that diverges, the estimator is left exactly as it was before the call.
"""

import math
import time
import warnings
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.base import BaseEstimator, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.validation import (
    _check_feature_names,
    check_array,
    check_is_fitted,
    validate_data,
)

from sknn_scratch import _callbacks
from sknn_scratch._threads import scipy_blas_on_one_thread
from sknn_scratch._training import (
    BestEpoch,
    EpochTable,
    MiniBatches,
    Rollback,
    ValidationSet,
)
from sknn_scratch._validation import (
    reject_missing_labels,
    reject_zero_columns,
    validate_sample_weight,
)
from sknn_scratch._version import __version__
from sknn_scratch.core.activations import HIDDEN_ACTIVATIONS, hidden_activation_names
from sknn_scratch.core.layers import Dropout
from sknn_scratch.core.network import Network, Workspace
from sknn_scratch.core.optimizers import SGD, Adam, step_work_size

STOCHASTIC_SOLVERS = ("sgd", "adam")


class BaseScratchMLP(_callbacks.CallbackSupport, BaseEstimator, ABC):
    """Base class of :class:`ScratchMLPClassifier` and :class:`ScratchMLPRegressor`.

    Not to be used directly. A subclass names its loss and handles its targets
    through :meth:`_encode_targets`, :meth:`_loss_name`, :meth:`_decode_targets`
    and its ``_validation_metric``. The
    constructor holds scikit-learn's defaults; the classifier takes it as it is.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        # A sequence holds one name per hidden layer; see _hidden_activation.
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS)), "array-like"],
        "solver": [StrOptions({"lbfgs", *STOCHASTIC_SOLVERS})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        # An array-like holds one rate per hidden layer; see _dropout_rates.
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "lr_schedule": [
            None,
            StrOptions({"constant", "invscaling", "adaptive", "cosine"}),
        ],
        "warmup_iter": [Interval(Integral, 0, None, closed="left")],
        "validation_monitor": [StrOptions({"score", "loss"})],
        "restore_best_weights": ["boolean"],
        "dtype": [None, StrOptions({"float32", "float64"})],
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
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.lr_schedule = lr_schedule
        self.warmup_iter = warmup_iter
        self.validation_monitor = validation_monitor
        self.restore_best_weights = restore_best_weights
        self.dtype = dtype

    # ----------------------------------------------------------------------------
    # Hooks for the subclasses

    @abstractmethod
    def _encode_targets(self, y, first_pass, incremental):
        """Return the targets as a 2-D float array, and the label state to keep.

        Parameters
        ----------
        y : ndarray
            Targets as returned by ``validate_data``.
        first_pass : bool
            Whether this call starts a new model.
        incremental : bool
            Whether this call is ``partial_fit``.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_outputs)
        label_state : dict
            Attributes to set on the estimator once the call succeeds.
        """

    @abstractmethod
    def _loss_name(self, label_state):
        """Return the core loss the estimator trains, a key of ``LOSSES``."""

    def _decode_targets(self, Y):
        """Return encoded targets or predictions in the form ``score`` expects."""
        return Y

    def _training_targets(self, Y, dtype):
        """Return the encoded targets in the form training keeps them.

        Here contiguous, of the network's ``dtype``; the loss takes its batches
        in that dtype whatever the kept form (see ``MiniBatches``).
        """
        return np.ascontiguousarray(Y, dtype=dtype)

    def _encode_validation_targets(self, y_val):
        """Return ``y_val`` checked and encoded as ``_encode_targets`` does ``y``.

        Parameters
        ----------
        y_val : ndarray
            Targets of the validation set, as returned by ``check_array``.

        Returns
        -------
        Y_val : ndarray of shape (n_samples, n_outputs)
        """
        try:
            Y_val, _ = self._encode_targets(y_val, first_pass=False, incremental=True)
        except ValueError as error:
            raise ValueError(f"y_val is not valid: {error}") from None
        return Y_val

    def _class_weights(self, Y, sample_weight, incremental):
        """Return the weight of each class for this call, or None for none.

        The classifier derives them from ``class_weight``. A subclass that
        returns weights also defines ``_weigh_by_class(Y, sample_weight,
        class_weights, dtype)``, which multiplies them into the sample weights.
        """
        return None

    def _evaluate(self, validation):
        """Return the loss and the score of the model on a :class:`ValidationSet`.

        The loss is the data term only, without the L2 penalty; the score is
        the subclass's ``_validation_metric``. Non-finite predictions give NaN
        for both.
        """
        raw, prediction = self._forward(validation.X, check_input=False)
        if not np.isfinite(prediction).all():
            return math.nan, math.nan
        loss = self._network.loss.value(
            validation.Y, raw, prediction, validation.sample_weight
        )
        y_pred = self._decode_targets(prediction)
        score = self._validation_metric(
            validation.y, y_pred, sample_weight=validation.sample_weight
        )
        return float(loss), float(score)

    # ----------------------------------------------------------------------------
    # Weights: views into the network's buffer

    @property
    def coefs_(self):
        return self._parameter_views("coefs_", "coefs")

    @coefs_.setter
    def coefs_(self, values):
        self._parameter_views("coefs_", "coefs")[:] = values

    @property
    def intercepts_(self):
        return self._parameter_views("intercepts_", "intercepts")

    @intercepts_.setter
    def intercepts_(self, values):
        self._parameter_views("intercepts_", "intercepts")[:] = values

    def _parameter_views(self, attribute, views):
        # Reading coefs_ or intercepts_ before fit raises the AttributeError an
        # unset attribute would, so hasattr and check_is_fitted work as usual.
        network = self.__dict__.get("_network")
        if network is None:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute '{attribute}'"
            )
        return getattr(network, views)

    # ----------------------------------------------------------------------------
    # Training

    @_fit_context(prefer_skip_nested_validation=True)
    @_callbacks.fit_task
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Fit the model to the data matrix X and the targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets: class labels for the classifier, real numbers for the
            regressor.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights; ``None`` weighs every sample by one.
        X_val : {array-like, sparse matrix} of shape (n_val_samples, n_features), \
default=None
            A validation set, scored after every epoch (every iteration for
            'lbfgs'), whatever ``early_stopping`` says: its loss goes to
            ``validation_loss_curve_``, its score to ``validation_scores_``,
            both to ``history_``. It replaces the ``validation_fraction`` split
            of ``early_stopping``, which then trains on all of ``X`` and stops
            on ``X_val``, and it is what ``restore_best_weights`` judges the
            epochs by. 'lbfgs', which has no early stopping, records it and
            lets ``restore_best_weights`` judge its iterations by it. Checked
            as ``X`` is, against the features of ``X``.
        y_val : array-like of shape (n_val_samples,) or (n_val_samples, \
n_outputs), default=None
            The targets of ``X_val``, required with it. The classifier accepts
            only classes that ``y`` has.
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Non-negative weights of the validation samples in the validation
            loss and score. The classifier multiplies them by its
            ``class_weight``, as it does the training weights.

        Returns
        -------
        self : object
            The fitted estimator.

        Notes
        -----
        ``X_val``, ``y_val`` and ``sample_weight_val`` are metadata that
        scikit-learn can route: with
        ``sklearn.set_config(enable_metadata_routing=True)``, call
        ``estimator.set_fit_request(X_val=True, y_val=True)`` (and
        ``sample_weight_val=True`` if used) and pass them to the ``fit`` of a
        :class:`~sklearn.pipeline.Pipeline` or
        :class:`~sklearn.model_selection.GridSearchCV`.

        - A ``Pipeline`` hands ``X_val`` to this estimator as it was given: it
          does not pass it through the pipeline's earlier steps, so a scaler in
          front would see ``X`` but not ``X_val``. Build the pipeline with
          ``Pipeline(steps, transform_input=["X_val"])`` (scikit-learn 1.6 or
          later) to have ``X_val`` transformed by the steps fitted on ``X``.
        - A search or ``cross_validate`` cuts every fit parameter that has as
          many rows as ``X`` into each split's training rows. A validation set
          with exactly as many rows as ``X`` would be cut too: give it a
          different number of rows.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.model_selection import train_test_split
        >>> from sknn_scratch import ScratchMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
        >>> clf = ScratchMLPClassifier(solver="lbfgs", max_iter=50, random_state=0)
        >>> clf = clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
        >>> len(clf.history_) == len(clf.validation_scores_) == clf.n_iter_
        True
        >>> sorted(clf.history_[-1])
        ['epoch', 'learning_rate', 'loss', 'seconds', 'val_loss', 'val_score']
        """
        validation_data = (X_val, y_val, sample_weight_val)
        return self._fit(
            X, y, sample_weight, incremental=False, validation_data=validation_data
        )

    def _check_solver(self):
        """Let ``partial_fit`` exist only for the stochastic solvers."""
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    def _fit(
        self,
        X,
        y,
        sample_weight,
        incremental,
        preset_labels=None,
        validation_data=None,
    ):
        """Validate, then train; on any error, restore the estimator's state.

        ``preset_labels`` holds the label attributes that the classifier's first
        ``partial_fit`` call derives from its ``classes`` argument;
        ``validation_data`` is the ``(X_val, y_val, sample_weight_val)`` of
        ``fit``.
        """
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        rollback = Rollback(self)
        try:
            self._validate_and_fit(
                X,
                y,
                sample_weight,
                incremental,
                first_pass,
                preset_labels,
                rollback,
                validation_data,
            )
        except BaseException:
            rollback.restore()
            raise
        return self

    def _validate_and_fit(
        self,
        X,
        y,
        sample_weight,
        incremental,
        first_pass,
        preset_labels,
        rollback,
        validation_data=None,
    ):
        # Validation comes first. It sets attributes too (validate_data records
        # the features), which is safe: _fit restores them if anything fails.
        hidden_layer_sizes = self._hidden_layer_sizes()
        self._check_stochastic_only_parameters()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        stochastic = self.solver in STOCHASTIC_SOLVERS
        has_validation_set = self._check_validation_arguments(validation_data)
        if (
            stochastic
            and self.early_stopping
            and self.validation_fraction == 0
            and not has_validation_set
        ):
            raise ValueError(
                "early_stopping=True needs a validation set: set "
                "validation_fraction in (0, 1); got validation_fraction=0."
            )
        reject_zero_columns(X, self)
        if is_classifier(self):
            reject_missing_labels(y)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            y_numeric=not is_classifier(self),
            reset=first_pass,
        )
        if self.dtype is not None:
            X = X.astype(self.dtype, copy=False)
        if preset_labels is not None:
            self.__dict__.update(preset_labels)
        Y, label_state = self._encode_targets(y, first_pass, incremental)
        Y = self._training_targets(Y, X.dtype)
        sample_weight = validate_sample_weight(sample_weight, X.shape[0], X.dtype)
        self.__dict__.update(label_state)
        class_weights = self._class_weights(Y, sample_weight, incremental)
        if class_weights is not None:
            sample_weight = self._weigh_by_class(
                Y, sample_weight, class_weights, X.dtype
            )

        random_state = check_random_state(self.random_state)
        layer_units = [X.shape[1], *hidden_layer_sizes, Y.shape[1]]
        if first_pass:
            self._initialize(layer_units, X.dtype, label_state, random_state)
            self._reset_training_record()
        else:
            self._check_network_matches(layer_units, label_state)
            self._check_weights_are_writeable()
            # A kept network keeps its dtype, whatever the dtype of this X.
            dtype = self._network.params.dtype
            X, Y = X.astype(dtype, copy=False), self._training_targets(Y, dtype)
            if sample_weight is not None:
                sample_weight = sample_weight.astype(dtype, copy=False)
            rollback.protect_model(keeps_optimizer=incremental)
        validation = None
        if has_validation_set:
            validation = self._validation_set(*validation_data, class_weights)

        # A run that overflows is reported once, clearly, by _check_finite and
        # _check_output_finite; NumPy's floating-point warnings on the way would
        # only repeat it, and hide it where warnings are turned into errors.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if stochastic:
                if scipy.sparse.issparse(X) and X.format != "csr":
                    X = X.tocsr()  # row slicing of mini-batches needs CSR
                self._fit_stochastic(
                    X, Y, sample_weight, incremental, random_state, validation
                )
            else:
                self._fit_lbfgs(X, Y, sample_weight, validation)
            self._check_output_finite(X, kept_optimizer=incremental and not first_pass)

    def _reset_training_record(self):
        """Start the record of a new model's epochs and of its best one."""
        self.history_ = []
        self.validation_loss_curve_ = None
        self.best_iter_ = 0
        # The best epoch that _best_params holds the weights of, and what it
        # was judged by; kept for early stopping to go on from in a warm start.
        self._best_watched = None
        self._best_value = None
        self._best_epoch = 0

    def _check_validation_arguments(self, validation_data):
        """Return whether ``fit`` was given a validation set; refuse half of one."""
        if validation_data is None:
            return False
        X_val, y_val, sample_weight_val = validation_data
        if X_val is None and y_val is None:
            if sample_weight_val is not None:
                raise ValueError(
                    "sample_weight_val was given without X_val and y_val; pass "
                    "the validation set it weighs, or leave it out."
                )
            return False
        if X_val is None or y_val is None:
            given, missing = ("X_val", "y_val") if y_val is None else ("y_val", "X_val")
            raise ValueError(
                f"{given} was given without {missing}: a validation set needs "
                f"both X_val and y_val."
            )
        return True

    def _validation_set(self, X_val, y_val, sample_weight_val, class_weights):
        """Return ``fit``'s validation set checked against the training data.

        ``X_val`` must have the features of ``X``; ``y_val`` is checked and
        encoded as ``y`` is; both take the network's dtype. Every error names
        the argument at fault.
        """
        dtype = self._network.params.dtype
        reject_zero_columns(X_val, self)
        try:
            _check_feature_names(self, X_val, reset=False)
        except ValueError as error:
            raise ValueError(
                f"X_val does not have the features of X: {error}"
            ) from None
        X_val = check_array(
            X_val,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            input_name="X_val",
            estimator=self,
        ).astype(dtype, copy=False)
        if X_val.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X_val has {X_val.shape[1]} features, but {type(self).__name__} "
                f"was fitted on X with {self.n_features_in_} features."
            )

        y_val = check_array(
            y_val, ensure_2d=False, dtype=None, input_name="y_val", estimator=self
        )
        if y_val.shape[0] != X_val.shape[0]:
            raise ValueError(
                f"X_val and y_val have different numbers of samples: "
                f"{X_val.shape[0]} and {y_val.shape[0]}."
            )
        Y_val = np.ascontiguousarray(self._encode_validation_targets(y_val), dtype)
        if Y_val.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y_val has {Y_val.shape[1]} output(s), but y has {self.n_outputs_}."
            )

        try:
            weights = validate_sample_weight(sample_weight_val, X_val.shape[0], dtype)
        except ValueError as error:
            raise ValueError(f"sample_weight_val is not valid: {error}") from None
        if class_weights is not None:
            weights = self._weigh_by_class(Y_val, weights, class_weights, dtype)
        return ValidationSet(X_val, Y_val, self._decode_targets(Y_val), weights)

    def _check_network_matches(self, layer_units, label_state):
        """Refuse to continue training a network the parameters no longer fit."""
        network = self._network
        n_hidden = len(layer_units) - 2
        self._dropout_rates(n_hidden)
        # Activations compare layer by layer: 'relu' and ['relu', 'relu'] give
        # the same network.
        wanted_activation = self._hidden_activation(n_hidden)
        wanted_names = hidden_activation_names(wanted_activation, n_hidden)
        if wanted_names == network.activations:
            wanted_activation = network.activation
        fitted_dtype = network.params.dtype.name
        fitted = (network.layer_units, network.activation, network.loss.name)
        fitted += (fitted_dtype,)
        wanted = (layer_units, wanted_activation, self._loss_name(label_state))
        wanted += (self.dtype or fitted_dtype,)
        for name, fitted_value, wanted_value in zip(
            ("layer sizes", "activation", "loss", "dtype"), fitted, wanted, strict=True
        ):
            if fitted_value != wanted_value:
                raise ValueError(
                    f"The fitted network has {name} {fitted_value!r}, but this "
                    f"call asks for {wanted_value!r}. Set warm_start=False, or "
                    f"call partial_fit on a clone of the estimator, to train a "
                    f"new network."
                )

    def _check_weights_are_writeable(self):
        """Refuse to train weights that are read-only, as a memory map can be."""
        if not self._network.params.flags.writeable:
            raise ValueError(
                "The weights of this model are read-only, as they are when "
                "joblib.load(..., mmap_mode='r') maps them from the file. To train "
                "it further, load it with mmap_mode=None or mmap_mode='c' (copy on "
                "write), or train a copy.deepcopy of it."
            )

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        # A bool is an Integral, but True is no layer size.
        if not all(
            isinstance(size, Integral) and not isinstance(size, bool) for size in sizes
        ):
            raise InvalidParameterError(
                f"hidden_layer_sizes must hold integers, got {sizes}."
            )
        if any(size <= 0 for size in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(size) for size in sizes]

    def _initialize(self, layer_units, dtype, label_state, random_state):
        """Create a fresh network and reset every fitted attribute."""
        n_hidden = len(layer_units) - 2
        self._dropout_rates(n_hidden)
        self._network = Network(
            layer_units,
            self._hidden_activation(n_hidden),
            self._loss_name(label_state),
            dtype,
        )
        self._network.initialize(random_state)
        self.n_layers_ = len(layer_units)
        self.n_outputs_ = layer_units[-1]
        self.out_activation_ = self._network.out_activation
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._best_params = None
        self._no_improvement_count = 0
        if self.early_stopping and self.solver in STOCHASTIC_SOLVERS:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf
        self._optimizer = None

    def _hidden_activation(self, n_hidden):
        """Return ``activation`` checked against the ``n_hidden`` hidden layers.

        A single name is returned as it is (its constraint has checked it); a
        sequence as the list of its names, one per hidden layer.
        """
        activation = self.activation
        if isinstance(activation, str):
            return activation
        names = list(activation)
        if len(names) != n_hidden:
            raise ValueError(
                f"activation holds {len(names)} name(s) but hidden_layer_sizes="
                f"{self.hidden_layer_sizes!r} gives {n_hidden} hidden layer(s); "
                f"give one name per hidden layer, or a single name for all."
            )
        options = ", ".join(repr(name) for name in sorted(HIDDEN_ACTIVATIONS))
        for position, name in enumerate(names):
            if not isinstance(name, str) or name not in HIDDEN_ACTIVATIONS:
                raise InvalidParameterError(
                    f"Each name in the 'activation' parameter of "
                    f"{type(self).__name__} must be a str among {{{options}}}. "
                    f"Got {name!r} for hidden layer {position} instead."
                )
        return [str(name) for name in names]

    def _dropout_rates(self, n_hidden):
        """Return ``dropout`` as one rate per hidden layer, checked.

        A positive rate is refused with 'lbfgs', which minimises the loss of
        the whole network and so has no units to drop.
        """
        dropout = self.dropout
        if isinstance(dropout, np.ndarray) and dropout.ndim == 0:
            dropout = dropout.item()
        if isinstance(dropout, Real):
            rates = [dropout] * n_hidden
        else:
            rates = list(dropout)
            if len(rates) != n_hidden:
                raise ValueError(
                    f"dropout holds {len(rates)} rate(s) but hidden_layer_sizes="
                    f"{self.hidden_layer_sizes!r} gives {n_hidden} hidden "
                    f"layer(s); give one rate per hidden layer, or a single rate "
                    f"for all."
                )
        for position, rate in enumerate(rates):
            is_number = isinstance(rate, Real) and not isinstance(rate, bool)
            if not (is_number and 0 <= rate < 1):
                raise InvalidParameterError(
                    f"Each rate in the 'dropout' parameter of "
                    f"{type(self).__name__} must be a float in the range [0, 1). "
                    f"Got {rate!r} for hidden layer {position} instead."
                )
        rates = [float(rate) for rate in rates]
        if any(rates) and self.solver not in STOCHASTIC_SOLVERS:
            raise ValueError(
                f"dropout={dropout!r} only applies to the stochastic solvers "
                f"'sgd' and 'adam', not to solver={self.solver!r}. Leave it at 0 "
                f"or choose solver='sgd' or 'adam'."
            )
        return rates

    def _dropout(self, random_state):
        """Return the :class:`Dropout` of a stochastic run, or None without one.

        Its masks come from ``np.random.default_rng(seed)``, ``seed`` being one
        draw of ``random_state`` made here: after the initial weights and the
        early-stopping split, before the first epoch's shuffle. Without dropout
        nothing is drawn, so every draw stays the one scikit-learn makes.
        """
        rates = self._dropout_rates(len(self._network.layer_units) - 2)
        if not any(rates):
            return None
        seed = random_state.randint(np.iinfo(np.int32).max)
        return Dropout(rates, np.random.default_rng(seed))

    def _make_optimizer(self, params):
        """Return the optimizer of a new run of a stochastic solver.

        ``lr_schedule=None`` is scikit-learn's choice: ``learning_rate`` for
        'sgd' and a constant rate for 'adam'. The optimizer counts the epochs
        of the schedule, so every ``fit`` starts the schedule afresh while
        ``partial_fit``, which keeps the optimizer, continues it. Weight decay
        skips the intercepts, which follow the ``n_coef`` weights in ``params``.
        """
        lr_schedule = self.lr_schedule
        if lr_schedule is None:
            lr_schedule = self.learning_rate if self.solver == "sgd" else "constant"
        options = {
            "lr_schedule": lr_schedule,
            "power_t": self.power_t,
            "warmup_iter": self.warmup_iter,
            "max_iter": self.max_iter,
            "weight_decay": self.weight_decay,
            "max_grad_norm": self.max_grad_norm,
            "n_coef": self._network.n_coef,
        }
        if self.solver == "sgd":
            return SGD(
                params,
                self.learning_rate_init,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum,
                **options,
            )
        return Adam(
            params,
            self.learning_rate_init,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            **options,
        )

    def _check_stochastic_only_parameters(self):
        """Refuse the optimiser options of the stochastic solvers with 'lbfgs'.

        Called before the data are validated and anything is trained; a refused
        call leaves the model as it was.
        """
        if self.solver in STOCHASTIC_SOLVERS:
            return
        defaults = {
            "weight_decay": 0.0,
            "max_grad_norm": None,
            "lr_schedule": None,
            "warmup_iter": 0,
        }
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name, default in defaults.items()
            if getattr(self, name) != default
        ]
        if changed:
            one = len(changed) == 1
            verb, pronoun = ("applies", "it") if one else ("apply", "them")
            raise ValueError(
                f"{', '.join(changed)} only {verb} to the stochastic solvers "
                f"'sgd' and 'adam', not to solver={self.solver!r}. Leave "
                f"{pronoun} at the default or choose solver='sgd' or 'adam'."
            )

    def _split_validation(self, X, Y, sample_weight, random_state):
        """Hold out ``validation_fraction`` of the data for early stopping."""
        # Stratify on the class only for a single-output classifier, as
        # scikit-learn does, so that both split the same samples off.
        stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        split = train_test_split(
            *arrays,
            random_state=random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        X_train, X_val, Y_train, Y_val = split[:4]
        if sample_weight is None:
            sample_weight_train = sample_weight_val = None
        else:
            sample_weight_train, sample_weight_val = split[4:]
            if not sample_weight_train.any():
                raise ValueError(
                    "Every sample left for training after the early-stopping "
                    "split has zero weight; give more samples a positive weight "
                    "or lower 'validation_fraction'."
                )
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        validation = ValidationSet(
            X_val,
            Y_val.astype(self._network.params.dtype, copy=False),
            self._decode_targets(Y_val),
            sample_weight_val,
        )
        return (X_train, Y_train, sample_weight_train), validation

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is "
                "going to be clipped",
                stacklevel=2,
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _fit_stochastic(
        self, X, Y, sample_weight, incremental, random_state, validation=None
    ):
        """Train with mini-batch epochs until a stopping rule or ``max_iter``.

        ``validation`` is the validation set given to ``fit``; without one,
        early stopping splits its own off the training data.
        """
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer(self._network.params)

        if self.early_stopping and validation is None:
            train, validation = self._split_validation(
                X, Y, sample_weight, random_state
            )
            X, Y, sample_weight = train
        if not self.early_stopping and self.best_loss_ is None:
            self.best_loss_ = np.inf  # a warm start switched early stopping off
        self._start_validation_record(validation)
        # partial_fit trains a single epoch, the best of its call by definition.
        keep_best = self.early_stopping or (
            self.restore_best_weights and not incremental
        )
        best = self._start_best_epoch(validation, keep_best)

        # The run's buffers are allocated here, the optimizer's work memory in
        # the workspace, so that a dense batch allocates no array of a layer's
        # size (NumPy's fixed-size iteration buffers aside).
        batch_size = self._batch_size(X.shape[0])
        batches = MiniBatches(X, Y, sample_weight, batch_size, self.shuffle)
        workspace = Workspace(
            self._network.layer_units,
            batch_size,
            X.dtype,
            self._dropout(random_state),
            work_size=step_work_size(self._network.params.size),
        )

        self.n_iter_ = 0
        epochs_before = len(self.loss_curve_)
        try:
            for _ in range(self.max_iter):
                _callbacks.begin_epoch(self)
                started = time.perf_counter()
                self._run_epoch(batches, workspace, random_state, incremental)
                stop = self._end_epoch(validation, incremental, best, started)
                if _callbacks.end_epoch(self) or stop:
                    break
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=2)
            # An epoch interrupted after its batches but before its record is
            # not counted, so that n_iter_ and loss_ agree with loss_curve_.
            self.n_iter_ = len(self.loss_curve_) - epochs_before
            if self.loss_curve_:
                self.loss_ = self.loss_curve_[-1]

        self._end_best_epoch(best)

    def _start_validation_record(self, validation):
        """Make room for the validation curves when there is validation data."""
        if validation is None:
            return
        if self.validation_scores_ is None:  # the model's first validated epochs
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
        if self.validation_loss_curve_ is None:
            self.validation_loss_curve_ = []

    def _start_best_epoch(self, validation, keep_weights):
        """Return the :class:`BestEpoch` of this call, weights kept or not.

        The best epoch is judged on the validation data by
        ``validation_monitor`` when there is any, else on the training loss.
        A call starts with the weights it is given as its best, except that
        early stopping goes on from the best epoch of the earlier calls when
        it judged them the same way, as scikit-learn's does in a warm start.
        """
        watched = "loss" if validation is None else f"val_{self.validation_monitor}"
        carried_over = (
            self.early_stopping
            and self.solver in STOCHASTIC_SOLVERS
            and self._best_watched == watched
            and self._best_params is not None
        )
        if keep_weights and carried_over:
            return BestEpoch(
                watched, self._best_epoch, self._best_value, self._best_params
            )
        weights = self._network.params.copy() if keep_weights else None
        return BestEpoch(watched, len(self.loss_curve_), weights=weights)

    def _end_best_epoch(self, best):
        """Restore the best epoch's weights if they were kept; set ``best_iter_``."""
        if best.weights is None:
            self.best_iter_ = len(self.loss_curve_)
            return
        np.copyto(self._network.params, best.weights)
        self.best_iter_ = best.epoch
        self._best_params, self._best_watched = best.weights, best.watched
        self._best_value, self._best_epoch = best.value, best.epoch

    def _run_epoch(self, batches, workspace, random_state, incremental):
        """Make one pass over the data: forward, backward and a step per batch."""
        network, optimizer = self._network, self._optimizer
        loss_sum, n_trained = 0.0, 0
        for X_batch, Y_batch, weight_batch in batches.epoch(random_state):
            batch_loss = network.loss_gradient(
                X_batch, Y_batch, weight_batch, self.alpha, workspace
            )
            optimizer.step(network.params, network.grads, workspace.work)
            loss_sum += batch_loss * X_batch.shape[0]
            n_trained += X_batch.shape[0]

        self.n_iter_ += 1
        self.t_ += batches.n_samples
        self.loss_ = loss_sum / n_trained
        # Epochs are counted over the model's life, across partial_fit calls.
        kept_optimizer = incremental and len(self.loss_curve_) > 0
        self._check_finite(f"at epoch {len(self.loss_curve_) + 1}", kept_optimizer)

    def _end_epoch(self, validation, incremental, best, started):
        """Record the epoch and apply the stopping rules; return whether to stop.

        ``best`` is the call's :class:`BestEpoch`; ``started`` the
        ``time.perf_counter()`` at the start of the epoch.
        """
        evaluation = None if validation is None else self._evaluate(validation)
        record = self._record_epoch(
            self.loss_,
            evaluation,
            self._epoch_learning_rate(),
            time.perf_counter() - started,
        )
        improved = self._update_no_improvement_count(record, best)
        # A partial_fit call makes one row; the table's header starts the model.
        header = self.n_iter_ == 1 and not (incremental and record["epoch"] > 1)
        self._print_epoch(record, improved, self.n_iter_, header)

        self._optimizer.iteration_ends(self.t_)
        if self._no_improvement_count > self.n_iter_no_change:
            if self._optimizer.trigger_stopping(self._stall_message(), self.verbose):
                return True
            self._no_improvement_count = 0

        if incremental:
            return True
        if self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return False

    def _stall_message(self):
        watched = "Training loss"
        if self.early_stopping:
            watched = f"Validation {self.validation_monitor}"
        return (
            f"{watched} did not improve more than tol={self.tol:f} for "
            f"{self.n_iter_no_change} consecutive epochs."
        )

    def _record_epoch(self, loss, evaluation, learning_rate, seconds):
        """Append an epoch to ``history_`` and to the curves; return its record.

        ``evaluation`` is the ``(loss, score)`` of the validation data, or None.
        """
        record = {"epoch": len(self.loss_curve_) + 1, "loss": loss}
        if evaluation is not None:
            record["val_loss"], record["val_score"] = evaluation
        record["learning_rate"] = learning_rate
        record["seconds"] = seconds

        self.loss_curve_.append(loss)
        if evaluation is not None:
            validation_loss, validation_score = evaluation
            self.validation_loss_curve_.append(validation_loss)
            self.validation_scores_.append(validation_score)
            if validation_score > self.best_validation_score_:
                self.best_validation_score_ = validation_score
        self.history_.append(record)
        return record

    def _epoch_learning_rate(self):
        """Return the rate the schedule set for the epoch just trained.

        For 'adam' this is the rate before its bias correction: Adam's
        ``learning_rate`` is the corrected step of its last batch.
        """
        return float(self._optimizer.scheduled_rate)

    def _print_epoch(self, record, improved, iteration, header):
        """Print an epoch: scikit-learn's lines, or a table row if verbose >= 2.

        ``iteration`` is the number scikit-learn prints, counted in the call;
        ``header`` says whether the table's header comes first.
        """
        if not self.verbose:
            return
        if self.verbose >= 2:
            table = EpochTable(
                validation="val_score" in record,
                learning_rate=record["learning_rate"] is not None,
            )
            if header:
                print(table.header())
            print(table.row(record, improved))
            return
        print(_epoch_line(iteration, record["loss"]))
        if "val_score" in record:
            print(f"Validation score: {record['val_score']:f}")

    def _update_no_improvement_count(self, record, best):
        """Count the epochs without progress; return whether the epoch is best.

        With early stopping, progress is judged on the validation score or loss
        that ``validation_monitor`` names, else on the training loss, by
        scikit-learn's rule: an improvement by less than ``tol`` is none.
        """
        if self.early_stopping:
            stalled = best.is_stalled(record[best.watched], self.tol)
        else:
            loss = record["loss"]
            stalled = loss > self.best_loss_ - self.tol
            if loss < self.best_loss_:
                self.best_loss_ = loss
        self._no_improvement_count = self._no_improvement_count + 1 if stalled else 0
        return best.offer(record[best.watched], record["epoch"], self._network.params)

    def _fit_lbfgs(self, X, Y, sample_weight, validation=None):
        """Train with SciPy's L-BFGS-B on the whole training set.

        Each iteration is recorded as an epoch of ``history_``; ``validation``,
        the validation set given to ``fit``, is scored after each one. Early
        stopping does not apply, as in scikit-learn; ``restore_best_weights``
        does, over the iterations.
        """
        network = self._network
        params = network.params
        # The full batch is the training set: its targets in the network's dtype.
        Y = Y.astype(params.dtype, copy=False)
        workspace = Workspace(network.layer_units, X.shape[0], params.dtype)
        self._start_validation_record(validation)
        best = self._start_best_epoch(validation, self.restore_best_weights)
        _callbacks.begin_lbfgs(self)

        # L-BFGS-B works in float64 on a copy of the parameters; each evaluation
        # writes its point into the network's buffer and backpropagates there.
        last_loss, n_iterations = math.nan, 0
        started = time.perf_counter()

        def loss_and_gradient(point):
            nonlocal last_loss
            np.copyto(params, point, casting="same_kind")
            last_loss = network.loss_gradient(
                X, Y, sample_weight, self.alpha, workspace
            )
            return last_loss, network.grads.astype(np.float64)

        def end_of_iteration(point):
            nonlocal n_iterations, started
            n_iterations += 1
            if validation is not None or best.weights is not None:
                # The buffer holds the last point evaluated; the iterate is
                # ``point``, which the validation score and the copy must see.
                np.copyto(params, point, casting="same_kind")
            evaluation = None if validation is None else self._evaluate(validation)
            record = self._record_epoch(
                last_loss, evaluation, None, time.perf_counter() - started
            )
            improved = best.offer(record[best.watched], record["epoch"], params)
            self._print_epoch(record, improved, n_iterations, n_iterations == 1)
            _callbacks.end_lbfgs_iteration(self, point)
            started = time.perf_counter()

        # SciPy's BLAS pool would contend with NumPy's (see _threads).
        with scipy_blas_on_one_thread():
            result = scipy.optimize.minimize(
                loss_and_gradient,
                params.astype(np.float64),
                method="L-BFGS-B",
                jac=True,
                callback=end_of_iteration,
                options={
                    "maxfun": self.max_fun,
                    "maxiter": self.max_iter,
                    "gtol": self.tol,
                },
            )
        _callbacks.end_lbfgs(self, result)
        np.copyto(params, result.x, casting="same_kind")
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        self._check_finite(f"after {self.n_iter_} L-BFGS iteration(s)")
        self.best_loss_ = min([*self.loss_curve_, self.loss_])
        self._end_best_epoch(best)
        if result.status != 0:
            message = (
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={result.status}):\n{result.message}\n"
            )
            if self.n_iter_ == self.max_iter:
                message += (
                    "\nIncrease the number of iterations to improve the "
                    f"convergence (max_iter={self.max_iter})."
                )
            message += (
                "\nYou might also want to scale the data, for example with "
                "sklearn.preprocessing.StandardScaler."
            )
            warnings.warn(message, ConvergenceWarning, stacklevel=2)

    def _check_finite(self, where, kept_optimizer=False):
        """Raise when training has produced a non-finite loss or weights.

        ``kept_optimizer`` tells that the call trained with the optimizer of
        earlier ``partial_fit`` calls, whose step size a new
        ``learning_rate_init`` does not change.
        """
        finite_weights = bool(np.isfinite(self._network.params).all())
        if math.isfinite(self.loss_) and finite_weights:
            return
        weights = "finite" if finite_weights else "not all finite"
        raise ValueError(
            f"Training diverged {where}: the loss is {self.loss_} and the "
            f"weights are {weights}. To fix it, {self._remedy(kept_optimizer)}. "
            f"The estimator was left as it was before this call."
        )

    def _check_output_finite(self, X, kept_optimizer):
        """Raise when the trained weights overflow the network on its training data.

        ``_check_finite`` sees each epoch's loss, computed before the epoch's
        last step, and the weights after it: a last step can leave finite
        weights whose output on the training data is not finite. A bound on the
        output, from the largest input and each layer's largest column sum of
        absolute weights, settles the usual case in a pass over the weights;
        only when the bound is too large does the network run on ``X``.
        """
        if scipy.sparse.issparse(X):
            largest_input = float(np.abs(X.data).max(initial=0.0))
        else:
            largest_input = max(float(X.max()), -float(X.min()))
        # Every activation satisfies |f(z)| <= |z| + 1.
        bound = largest_input
        for coef, intercept in zip(self.coefs_, self.intercepts_, strict=True):
            column_sums = np.abs(coef).sum(axis=0).max(initial=0.0)
            bound = bound * float(column_sums) + float(np.abs(intercept).max()) + 1
        # The bound must stay clear of the dtype's overflow, of exp(z) for a
        # Poisson output and of z itself otherwise.
        largest = float(np.finfo(self._network.params.dtype).max)
        exp_output = self.out_activation_ == "exp"
        safe_bound = math.log(largest) - 1 if exp_output else largest / 16
        if bound < safe_bound:
            return

        raw, prediction = self._network.predict_raw(X)
        if np.isfinite(raw).all() and np.isfinite(prediction).all():
            return
        raise ValueError(
            "Training diverged in its last step: the weights are finite, but the "
            "network's output on the training data is not. To fix it, "
            f"{self._remedy(kept_optimizer)}. The estimator was left as it was "
            "before this call."
        )

    def _remedy(self, kept_optimizer):
        """What to change so that training does not diverge."""
        remedy = "scale the input data (for example with StandardScaler)"
        if self.solver in STOCHASTIC_SOLVERS:
            lower_rate = f"lower learning_rate_init={self.learning_rate_init}"
            if kept_optimizer:
                lower_rate += " and train a new model (clone the estimator)"
            remedy = f"{lower_rate}, or {remedy}"
        return remedy

    # ----------------------------------------------------------------------------
    # Prediction

    def _score_weights(self, X, sample_weight):
        """Validate the ``sample_weight`` of ``score`` as ``fit`` validates it."""
        if sample_weight is None or not hasattr(X, "__len__"):
            return sample_weight  # a bad X is reported by predict
        n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
        return validate_sample_weight(sample_weight, n_samples, np.float64)

    def _is_ready_dense_input(self, X):
        """Whether ``X`` passes ``validate_data`` unchanged, checked in a few steps.

        For the common input of a fitted model, a finite 2-D float array with the
        fitted number of columns and no column names, ``validate_data`` returns
        ``X`` itself after checks that cost more than predicting a few rows. This
        decides the same from the type, the shape and one sum: when the sum is
        finite, every entry is. Anything else goes through ``validate_data``.
        """
        return (
            type(X) is np.ndarray
            and X.dtype in (np.float64, np.float32)
            and X.ndim == 2
            and X.shape[0] > 0
            and X.shape[1] == getattr(self, "n_features_in_", None)
            and not hasattr(self, "feature_names_in_")
            and hasattr(self, "_network")
            and math.isfinite(X.sum())
        )

    def _forward(self, X, check_input=True):
        """Return the network's raw output and prediction for ``X``.

        Allocates its own arrays and writes nothing on the estimator, so that
        many threads can predict with one fitted model at once.
        """
        if check_input and not self._is_ready_dense_input(X):
            check_is_fitted(self)
            reject_zero_columns(X, self)
            X = validate_data(
                self,
                X,
                accept_sparse=["csr", "csc"],
                dtype=(np.float64, np.float32),
                reset=False,
            )
        if self.dtype is not None:
            X = X.astype(self._network.params.dtype, copy=False)
        return self._network.predict_raw(X)

    # ----------------------------------------------------------------------------
    # Persistence and tags

    def __getstate__(self):
        # A copy: on Python 3.11 and later this may be the live __dict__.
        state = dict(super().__getstate__())
        state["_sknn_scratch_version"] = __version__
        # A call that ends on its best epoch leaves in _best_params the very
        # weights of the network: save them once, copy them back on loading.
        best_params = state.get("_best_params")
        if best_params is not None and np.array_equal(
            best_params, self._network.params
        ):
            state["_best_params"] = None
            state["_best_params_are_the_weights"] = True
        return state

    def __setstate__(self, state):
        best_params_are_the_weights = state.pop("_best_params_are_the_weights", False)
        saved_version = state.pop("_sknn_scratch_version", None)
        if saved_version is not None and saved_version != __version__:
            warnings.warn(
                f"This {type(self).__name__} was saved by sknn_scratch "
                f"{saved_version} and is loaded by sknn_scratch {__version__}; "
                f"this might lead to breaking code or invalid results.",
                UserWarning,
                stacklevel=2,
            )
        super().__setstate__(state)
        if best_params_are_the_weights:
            self._best_params = self._network.params.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _epoch_line(iteration, loss):
    """The verbose line printed after each epoch, as scikit-learn prints it."""
    return f"Iteration {iteration}, loss = {loss:.8f}"
