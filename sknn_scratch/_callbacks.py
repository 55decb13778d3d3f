"""scikit-learn's callbacks (:mod:`sklearn.callback`) in the estimators' training.

Where the installed scikit-learn has ``sklearn.callback``, the estimators take
callbacks with ``set_callbacks`` (from scikit-learn's ``CallbackSupportMixin``),
and each ``fit`` or ``partial_fit`` call is a task for them: a root task named
after the method, with one subtask per epoch (``"epoch"``, for 'sgd' and 'adam')
or per L-BFGS iteration (``"lbfgs-iter"``, as in scikit-learn's
``LogisticRegression``). :class:`~sklearn.callback.ProgressBar` thus shows the
epochs go by, and :class:`~sklearn.callback.ScoringMonitor` scores the model
after each one. A callback whose ``on_fit_task_end`` returns True at the end of
an epoch or iteration stops training there, as early stopping would.

The hooks receive the ``X``, ``y`` and ``sample_weight`` given to the call, as
they were given (with early stopping the model trains on part of them), and a
``fitted_estimator``: a copy of the estimator holding the weights of that
moment, so that scoring it gives what ``score`` would give had training stopped
there.

On a scikit-learn without ``sklearn.callback`` the estimators have no
``set_callbacks``, as scikit-learn's own estimators of that version, and
nothing here does anything. Nor does it when no callback is set: the training
loops call the epoch hooks below, which then cost one dictionary look-up per
epoch, and nothing is ever done per batch.

Examples
--------
>>> from sknn_scratch import ScratchMLPClassifier
>>> from sknn_scratch._callbacks import CALLBACKS_AVAILABLE
>>> hasattr(ScratchMLPClassifier(), "set_callbacks") == CALLBACKS_AVAILABLE
True
"""

import copy
import functools
import inspect
import warnings

import numpy as np
import scipy

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # scikit-learn before its callback API
    CallbackSupportMixin = with_callbacks = None

CALLBACKS_AVAILABLE = CallbackSupportMixin is not None

# SciPy's minimize stops cleanly, with status 99, when the callback raises
# StopIteration from SciPy 1.11 on; before, the exception escapes minimize.
SCIPY_STOPS_ON_STOP_ITERATION = tuple(
    int(part) for part in scipy.__version__.split(".")[:2]
) >= (1, 11)

# Where a fit or partial_fit call with callbacks keeps its FitTask, for the
# training loops' hooks to find.
_TASK_ATTRIBUTE = "_sknn_callback_task"

if CALLBACKS_AVAILABLE:
    CallbackSupport = CallbackSupportMixin
else:

    class CallbackSupport:
        """Stands in for scikit-learn's ``CallbackSupportMixin`` where it is missing.

        It adds nothing, so that the estimators are what they were before
        scikit-learn had callbacks.
        """


def fit_task(method):
    """Make ``fit`` or ``partial_fit`` the root task of the estimator's callbacks.

    Without callbacks set, the decorated method runs as it is. With callbacks,
    the callbacks are set up and the root task begun before the method starts
    (so that the estimator's rollback of a failed call keeps what
    scikit-learn's teardown of the callbacks needs), the training loops find
    the :class:`FitTask` for their epoch hooks, and the root task ends once
    the method returns. scikit-learn's ``with_callbacks`` tears the callbacks
    down however the call ends. Without ``sklearn.callback``, the method is
    returned undecorated.

    Place it below ``_fit_context``, which validates the parameters first.

    Parameters
    ----------
    method : function
        ``fit`` or ``partial_fit``; its first parameters are ``X``, ``y`` and
        ``sample_weight``.

    Returns
    -------
    decorated_method : function

    Examples
    --------
    >>> import numpy as np
    >>> import pytest
    >>> _ = pytest.importorskip("sklearn.callback")
    >>> from sknn_scratch import ScratchMLPRegressor
    >>> class TaskNames:
    ...     def __init__(self):
    ...         self.names = []
    ...     def setup(self, estimator, context):
    ...         pass
    ...     def on_fit_task_begin(self, estimator, context):
    ...         pass
    ...     def on_fit_task_end(self, estimator, context):
    ...         self.names.append(f"{context.task_name} {context.task_id}")
    ...     def teardown(self, estimator, context):
    ...         pass
    >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    >>> names = TaskNames()
    >>> reg = ScratchMLPRegressor(max_iter=3, random_state=0).set_callbacks(names)
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     reg = reg.fit(X, y)
    >>> names.names
    ['epoch 0', 'epoch 1', 'epoch 2', 'fit 0']
    """
    if not CALLBACKS_AVAILABLE:
        return method
    signature = inspect.signature(method)

    @with_callbacks
    def run_as_task(estimator, arguments, args, kwargs):
        task = FitTask(
            estimator,
            method.__name__,
            arguments["X"],
            arguments.get("y"),
            arguments.get("sample_weight"),
        )
        setattr(estimator, _TASK_ATTRIBUTE, task)
        try:
            result = method(estimator, *args, **kwargs)
        finally:
            vars(estimator).pop(_TASK_ATTRIBUTE, None)
        task.end()
        return result

    @functools.wraps(method)
    def method_with_callbacks(estimator, *args, **kwargs):
        if not hasattr(estimator, "_skl_callbacks"):
            return method(estimator, *args, **kwargs)
        try:
            arguments = signature.bind(estimator, *args, **kwargs).arguments
        except TypeError:
            # Let the method itself refuse the arguments, in Python's words.
            return method(estimator, *args, **kwargs)
        return run_as_task(estimator, arguments, args, kwargs)

    return method_with_callbacks


class FitTask:
    """The callbacks' view of one ``fit`` or ``partial_fit`` call.

    Creating it sets the callbacks up and begins the root task; the training
    loop then begins and ends one subtask per epoch or L-BFGS iteration, and
    :meth:`end` ends the root task.

    Parameters
    ----------
    estimator : BaseScratchMLP
        The estimator being trained, with callbacks set.
    method_name : {'fit', 'partial_fit'}
        The call, which names the root task.
    X, y, sample_weight : array-like or None
        The data of the call, as given, passed on to every hook.
    """

    def __init__(self, estimator, method_name, X, y, sample_weight):
        self.estimator = estimator
        self.X, self.y = X, y
        # As scikit-learn's estimators do, no metadata without sample weights.
        self.metadata = None
        if sample_weight is not None:
            self.metadata = {"sample_weight": sample_weight}

        # The parameters are valid here: _fit_context has checked them.
        if estimator.solver == "lbfgs":
            # One more than the iterations, like LogisticRegression's: each
            # iteration's end begins the next, which the last one never runs.
            max_subtasks = estimator.max_iter + 1
        elif method_name == "partial_fit":
            max_subtasks = 1
        else:
            max_subtasks = estimator.max_iter
        self.context = estimator._init_callback_context(
            task_name=method_name, max_subtasks=max_subtasks
        )
        self.context.call_on_fit_task_begin(
            estimator=estimator, X=X, y=y, metadata=self.metadata
        )
        self.subtask = None
        self.n_subtasks_ended = 0
        self.stopped = False
        # Whether a stop that SciPy cannot make has been refused (and said so).
        self.stop_refused = False

    def begin_subtask(self, task_name, weights=None):
        """Begin an epoch or an iteration, from ``weights`` or the network's."""
        self.subtask = self.context.subcontext(task_name=task_name)
        self.subtask.call_on_fit_task_begin(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes=lambda: self._snapshot(weights),
        )

    def end_subtask(self, weights=None):
        """End the running subtask; return whether a callback asks to stop."""
        subtask, self.subtask = self.subtask, None
        self.n_subtasks_ended += 1
        stop = subtask.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes=lambda: self._snapshot(weights),
        )
        return bool(stop)

    def end(self):
        """End the root task with the trained model."""
        self.context.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes=lambda: self._snapshot(trained=True),
        )

    def report_stop(self, step):
        """Record that a callback stopped training; say so when verbose."""
        self.stopped = True
        if self.estimator.verbose:
            print(f"Training stopped by a callback after {step}.")

    def _snapshot(self, weights=None, trained=False):
        """Return the attributes of a copy of the estimator as it is now.

        The copy predicts with a network of its own holding ``weights`` (the
        network's current weights if None) and has its own copies of the
        curves; it has no optimizer, so that nothing that training changes in
        place is shared with the estimator being trained. ``trained`` tells
        that the call has returned, and so has set every attribute.
        """
        estimator = self.estimator
        network = copy.deepcopy(estimator._network)
        if weights is not None:
            np.copyto(network.params, weights, casting="same_kind")
        attributes = {
            "_network": network,
            "_optimizer": None,
            "_best_params": None,
            _TASK_ATTRIBUTE: None,
        }
        for name in (
            "loss_curve_",
            "history_",
            "validation_scores_",
            "validation_loss_curve_",
        ):
            curve = getattr(estimator, name, None)
            if curve is not None:
                attributes[name] = list(curve)
        if estimator.solver == "lbfgs" and not trained:
            # The L-BFGS loop sets n_iter_ and loss_ only once SciPy returns.
            attributes["n_iter_"] = self.n_subtasks_ended
            if self.n_subtasks_ended:
                attributes["loss_"] = estimator.loss_curve_[-1]
        return attributes


def _task(estimator):
    """Return the :class:`FitTask` of the estimator's running call, or None."""
    return vars(estimator).get(_TASK_ATTRIBUTE)


# Hooks of the stochastic loop: one subtask per epoch.


def begin_epoch(estimator):
    """Begin an epoch's subtask, when the estimator has callbacks."""
    task = _task(estimator)
    if task is not None:
        task.begin_subtask("epoch")


def end_epoch(estimator):
    """End an epoch's subtask; return whether a callback asks to stop training."""
    task = _task(estimator)
    if task is None or not task.end_subtask():
        return False
    task.report_stop(f"epoch {estimator.n_iter_}")
    return True


# Hooks of the L-BFGS loop: one subtask per iteration. SciPy calls back at the
# end of each iteration only, so that end begins the next iteration, as in
# scikit-learn's LogisticRegression.


def begin_lbfgs(estimator):
    """Begin the first iteration's subtask, from the initial weights."""
    task = _task(estimator)
    if task is not None:
        task.begin_subtask("lbfgs-iter")


def end_lbfgs_iteration(estimator, point):
    """End the iteration that reached ``point`` and begin the next one.

    Raises StopIteration, which SciPy's ``minimize`` takes as the order to
    stop, when a callback asks to stop training.
    """
    task = _task(estimator)
    if task is None:
        return
    if task.end_subtask(point):
        if SCIPY_STOPS_ON_STOP_ITERATION:
            task.report_stop(f"iteration {task.n_subtasks_ended}")
            raise StopIteration
        if not task.stop_refused:
            task.stop_refused = True
            warnings.warn(
                f"A callback asked to stop training, which solver='lbfgs' can "
                f"do with SciPy 1.11 or later only; SciPy {scipy.__version__} "
                f"is installed, so training goes on.",
                UserWarning,
                stacklevel=2,
            )
    task.begin_subtask("lbfgs-iter", point)


def end_lbfgs(estimator, result):
    """End the iteration SciPy did not run; make a callback's stop a success.

    ``result`` is the ``OptimizeResult`` of ``minimize``. When a callback
    stopped training, its status (99, "callback raised StopIteration") is set
    to 0, the status of a run that ended as asked, so that no convergence
    warning follows.
    """
    task = _task(estimator)
    if task is None:
        return
    if task.subtask is not None:
        # An empty task: there is neither data nor model to report.
        task.subtask.call_on_fit_task_end(estimator=estimator)
        task.subtask = None
    if task.stopped:
        result.status, result.success = 0, True
        result.message = "Stopped by a callback."
