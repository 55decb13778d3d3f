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
from sklearn.utils.validation import check_is_fitted, validate_data

from sknn_scratch._training import MiniBatches, Rollback
from sknn_scratch._validation import reject_zero_columns, validate_sample_weight
from sknn_scratch._version import __version__
from sknn_scratch.core.activations import HIDDEN_ACTIVATIONS
from sknn_scratch.core.network import Network, Workspace
from sknn_scratch.core.optimizers import SGD, Adam

STOCHASTIC_SOLVERS = ("sgd", "adam")


class BaseScratchMLP(BaseEstimator, ABC):
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
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
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

    def _score(self, X, y, sample_weight):
        """Return the validation score of validated ``X`` and decoded ``y``.

        Uses the subclass's ``_validation_metric``; non-finite predictions
        score NaN.
        """
        _, prediction = self._forward(X, check_input=False)
        if not np.isfinite(prediction).all():
            return np.nan
        y_pred = self._decode_targets(prediction)
        return self._validation_metric(y, y_pred, sample_weight=sample_weight)

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
    def fit(self, X, y, sample_weight=None):
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

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_solver(self):
        """Let ``partial_fit`` exist only for the stochastic solvers."""
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    def _fit(self, X, y, sample_weight, incremental, preset_labels=None):
        """Validate, then train; on any error, restore the estimator's state.

        ``preset_labels`` holds the label attributes that the classifier's first
        ``partial_fit`` call derives from its ``classes`` argument.
        """
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        rollback = Rollback(self)
        try:
            self._validate_and_fit(
                X, y, sample_weight, incremental, first_pass, preset_labels, rollback
            )
        except BaseException:
            rollback.restore()
            raise
        return self

    def _validate_and_fit(
        self, X, y, sample_weight, incremental, first_pass, preset_labels, rollback
    ):
        # Validation comes first. It sets attributes too (validate_data records
        # the features), which is safe: _fit restores them if anything fails.
        hidden_layer_sizes = self._hidden_layer_sizes()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        stochastic = self.solver in STOCHASTIC_SOLVERS
        if stochastic and self.early_stopping and self.validation_fraction == 0:
            raise ValueError(
                "early_stopping=True needs a validation set: set "
                "validation_fraction in (0, 1); got validation_fraction=0."
            )
        reject_zero_columns(X, self)
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
        if preset_labels is not None:
            self.__dict__.update(preset_labels)
        Y, label_state = self._encode_targets(y, first_pass, incremental)
        Y = np.ascontiguousarray(Y, dtype=X.dtype)
        sample_weight = validate_sample_weight(sample_weight, X.shape[0], X.dtype)
        self.__dict__.update(label_state)

        random_state = check_random_state(self.random_state)
        layer_units = [X.shape[1], *hidden_layer_sizes, Y.shape[1]]
        if first_pass:
            self._initialize(layer_units, X.dtype, label_state, random_state)
        else:
            self._check_network_matches(layer_units, label_state)
            # A kept network keeps its dtype, whatever the dtype of this X.
            dtype = self._network.params.dtype
            X, Y = X.astype(dtype, copy=False), Y.astype(dtype, copy=False)
            if sample_weight is not None:
                sample_weight = sample_weight.astype(dtype, copy=False)
            rollback.protect_model(keeps_optimizer=incremental)

        if stochastic:
            if scipy.sparse.issparse(X) and X.format != "csr":
                X = X.tocsr()  # row slicing of mini-batches needs CSR
            self._fit_stochastic(X, Y, sample_weight, incremental, random_state)
        else:
            self._fit_lbfgs(X, Y, sample_weight)

    def _check_network_matches(self, layer_units, label_state):
        """Refuse to continue training a network the parameters no longer fit."""
        network = self._network
        fitted = (network.layer_units, network.activation, network.loss.name)
        wanted = (layer_units, self.activation, self._loss_name(label_state))
        for name, fitted_value, wanted_value in zip(
            ("layer sizes", "activation", "loss"), fitted, wanted, strict=True
        ):
            if fitted_value != wanted_value:
                raise ValueError(
                    f"The fitted network has {name} {fitted_value!r}, but this "
                    f"call asks for {wanted_value!r}. Set warm_start=False, or "
                    f"call partial_fit on a clone of the estimator, to train a "
                    f"new network."
                )

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not all(isinstance(size, Integral) for size in sizes):
            raise InvalidParameterError(
                f"hidden_layer_sizes must hold integers, got {sizes}."
            )
        if any(size <= 0 for size in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(size) for size in sizes]

    def _initialize(self, layer_units, dtype, label_state, random_state):
        """Create a fresh network and reset every fitted attribute."""
        self._network = Network(
            layer_units, self.activation, self._loss_name(label_state), dtype
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

    def _make_optimizer(self, params):
        if self.solver == "sgd":
            return SGD(
                params,
                self.learning_rate_init,
                self.learning_rate,
                self.momentum,
                self.nesterovs_momentum,
                self.power_t,
            )
        return Adam(
            params, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon
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
        validation = (X_val, self._decode_targets(Y_val), sample_weight_val)
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

    def _fit_stochastic(self, X, Y, sample_weight, incremental, random_state):
        """Train with mini-batch epochs until a stopping rule or ``max_iter``."""
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer(self._network.params)

        validation = None
        if self.early_stopping:
            train, validation = self._start_early_stopping(
                X, Y, sample_weight, random_state
            )
            X, Y, sample_weight = train
        elif self.best_loss_ is None:  # a warm start switched early stopping off
            self.best_loss_ = np.inf

        # The run's buffers are allocated here (the optimizer's on its first step),
        # so that a dense batch costs no allocation.
        batch_size = self._batch_size(X.shape[0])
        batches = MiniBatches(X, Y, sample_weight, batch_size, self.shuffle)
        workspace = Workspace(self._network.layer_units, batch_size, X.dtype)

        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                self._run_epoch(batches, workspace, random_state, incremental)
                if self._end_epoch(validation, incremental):
                    break
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=2)

        if self.early_stopping:
            np.copyto(self._network.params, self._best_params)

    def _start_early_stopping(self, X, Y, sample_weight, random_state):
        """Split off the validation set and prepare the record of its scores."""
        if self.validation_scores_ is None:  # a warm start switched it on
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
        if self._best_params is None:
            self._best_params = self._network.params.copy()
        return self._split_validation(X, Y, sample_weight, random_state)

    def _run_epoch(self, batches, workspace, random_state, incremental):
        """Make one pass over the data: forward, backward and a step per batch."""
        network, optimizer = self._network, self._optimizer
        loss_sum, n_trained = 0.0, 0
        for X_batch, Y_batch, weight_batch in batches.epoch(random_state):
            batch_loss = network.loss_gradient(
                X_batch, Y_batch, weight_batch, self.alpha, workspace
            )
            optimizer.step(network.params, network.grads)
            loss_sum += batch_loss * X_batch.shape[0]
            n_trained += X_batch.shape[0]

        self.n_iter_ += 1
        self.t_ += batches.n_samples
        self.loss_ = loss_sum / n_trained
        # Epochs are counted over the model's life, across partial_fit calls.
        kept_optimizer = incremental and len(self.loss_curve_) > 0
        self._check_finite(f"at epoch {len(self.loss_curve_) + 1}", kept_optimizer)

    def _end_epoch(self, validation, incremental):
        """Record the epoch and apply the stopping rules; return whether to stop."""
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print(_epoch_line(self.n_iter_, self.loss_))

        self._update_no_improvement_count(validation)
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
        watched = "Validation score" if self.early_stopping else "Training loss"
        return (
            f"{watched} did not improve more than tol={self.tol:f} for "
            f"{self.n_iter_no_change} consecutive epochs."
        )

    def _update_no_improvement_count(self, validation):
        """Count the epochs without progress, on validation score or loss."""
        if validation is not None:
            score = self._score(*validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                np.copyto(self._best_params, self._network.params)
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _fit_lbfgs(self, X, Y, sample_weight):
        network = self._network
        params = network.params
        workspace = Workspace(network.layer_units, X.shape[0], params.dtype)

        # L-BFGS-B works in float64 on a copy of the parameters; each evaluation
        # writes its point into the network's buffer and backpropagates there.
        last_loss, n_iterations = math.nan, 0

        def loss_and_gradient(point):
            nonlocal last_loss
            np.copyto(params, point, casting="same_kind")
            last_loss = network.loss_gradient(
                X, Y, sample_weight, self.alpha, workspace
            )
            return last_loss, network.grads.astype(np.float64)

        def end_of_iteration(point):
            nonlocal n_iterations
            n_iterations += 1
            self.loss_curve_.append(last_loss)
            if self.verbose:
                print(_epoch_line(n_iterations, last_loss))

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
        np.copyto(params, result.x, casting="same_kind")
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        self._check_finite(f"after {self.n_iter_} L-BFGS iteration(s)")
        self.best_loss_ = min([*self.loss_curve_, self.loss_])
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
        remedy = "scale the input data (for example with StandardScaler)"
        if self.solver in STOCHASTIC_SOLVERS:
            lower_rate = f"lower learning_rate_init={self.learning_rate_init}"
            if kept_optimizer:
                lower_rate += " and train a new model (clone the estimator)"
            remedy = f"{lower_rate}, or {remedy}"
        raise ValueError(
            f"Training diverged {where}: the loss is {self.loss_} and the "
            f"weights are {weights}. To fix it, {remedy}. The estimator was left "
            f"as it was before this call."
        )

    # ----------------------------------------------------------------------------
    # Prediction

    def _score_weights(self, X, sample_weight):
        """Validate the ``sample_weight`` of ``score`` as ``fit`` validates it."""
        if sample_weight is None or not hasattr(X, "__len__"):
            return sample_weight  # a bad X is reported by predict
        n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
        return validate_sample_weight(sample_weight, n_samples, np.float64)

    def _forward(self, X, check_input=True):
        """Return the network's raw output and prediction for ``X``.

        Allocates its own arrays and writes nothing on the estimator, so that
        many threads can predict with one fitted model at once.
        """
        if check_input:
            check_is_fitted(self)
            reject_zero_columns(X, self)
            X = validate_data(
                self,
                X,
                accept_sparse=["csr", "csc"],
                dtype=(np.float64, np.float32),
                reset=False,
            )
        return self._network.predict_raw(X)

    # ----------------------------------------------------------------------------
    # Persistence and tags

    def __getstate__(self):
        # A copy: on Python 3.11 and later this may be the live __dict__.
        state = dict(super().__getstate__())
        state["_sknn_scratch_version"] = __version__
        return state

    def __setstate__(self, state):
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _epoch_line(iteration, loss):
    """The verbose line printed after each epoch, as scikit-learn prints it."""
    return f"Iteration {iteration}, loss = {loss:.8f}"
