"""scikit-learn's callbacks (``sklearn.callback``) in the scratch estimators.

Every callback here is scikit-learn's own (``ScoringMonitor``, ``ProgressBar``)
or a small recorder that follows its ``FitCallback`` protocol. The checks:

- ``ScoringMonitor`` scores the model once per epoch (per iteration for
  'lbfgs'), and each score is the one of a model refitted for that many
  epochs, to the bit, alone, in a ``Pipeline`` and in a ``GridSearchCV``;
- the task tree: a root task per call, one subtask per epoch with its name and
  number, callbacks auto-propagated from a meta-estimator into the epochs;
- a callback that returns True at the end of an epoch stops training there,
  as cleanly as early stopping, for every solver;
- callbacks observe training without changing it, are torn down when a call
  fails, and leave nothing behind on the estimator;
- ``ProgressBar`` (which needs rich) draws the bars of ``fit`` and
  ``partial_fit``.

Without ``sklearn.callback`` (scikit-learn 1.7) only the first test runs: the
estimators then have no ``set_callbacks`` at all.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch._callbacks import CALLBACKS_AVAILABLE, SCIPY_STOPS_ON_STOP_ITERATION

requires_callbacks = pytest.mark.skipif(
    not CALLBACKS_AVAILABLE, reason="this scikit-learn has no sklearn.callback"
)

# Short runs stop at max_iter: their warning is expected, not the subject.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_EPOCHS = 4

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_DIGITS, Y_DIGITS = X_DIGITS[:240] / 16, Y_DIGITS[:240]
X_REG, Y_REG = make_regression(n_samples=80, n_features=6, noise=1.0, random_state=0)
Y_REG = Y_REG / Y_REG.std()

# (estimator, scorer name, data) for each estimator.
CASES = {
    "classifier": (ScratchMLPClassifier, "neg_log_loss", (X_DIGITS, Y_DIGITS)),
    "regressor": (ScratchMLPRegressor, "r2", (X_REG, Y_REG)),
}


def make_model(case, solver, **params):
    estimator_class, _, _ = CASES[case]
    params = {"hidden_layer_sizes": (12,), "random_state": 0, **params}
    return estimator_class(solver=solver, **params)


class TaskRecorder:
    """A FitCallback that records every hook call with the task it names.

    Each record is ``(hook, estimator class, task_name, task_id)``; the
    ``fitted_estimator`` of each task end is kept in ``models``. With
    ``stop_after``, its ``on_fit_task_end`` asks to stop at the end of that
    many subtasks.
    """

    def __init__(self, stop_after=None, fail_after=None):
        self.stop_after = stop_after
        self.fail_after = fail_after
        self.records = []
        self.models = []
        self.ends_seen = 0

    def setup(self, estimator, context):
        self.records.append(("setup", type(estimator).__name__, None, None))

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None):
        self.records.append(
            ("begin", type(estimator).__name__, context.task_name, context.task_id)
        )

    def on_fit_task_end(
        self, estimator, context, *, X=None, y=None, fitted_estimator=None
    ):
        self.records.append(
            ("end", type(estimator).__name__, context.task_name, context.task_id)
        )
        if context.max_subtasks != 0:  # the root task
            return False
        self.models.append(fitted_estimator)
        self.ends_seen += 1
        if self.fail_after is not None and self.ends_seen == self.fail_after:
            raise RuntimeError("the callback failed")
        return self.stop_after is not None and self.ends_seen >= self.stop_after

    def teardown(self, estimator, context):
        self.records.append(("teardown", type(estimator).__name__, None, None))

    def tasks(self, hook, task_name):
        return [
            task_id
            for recorded_hook, _, recorded_name, task_id in self.records
            if (recorded_hook, recorded_name) == (hook, task_name)
        ]


class PropagatedRecorder(TaskRecorder):
    """The same recorder, auto-propagated from a meta-estimator to its steps."""

    max_propagation_depth = None


def monitored_scores(monitor, task_name, run=-1):
    """Return the scores a ScoringMonitor logged for the subtasks of one run."""
    logs = monitor.get_logs(select="all")[run]
    return [row for row in logs.data if row["task_name"] == task_name]


def without_callbacks(model, **params):
    """Return an unfitted copy of ``model`` with ``params``, and no callbacks.

    ``clone`` passes the callbacks on, which would then see the copy's fits.
    """
    return clone(model).set_callbacks().set_params(**params)


def refit_scores(model, scoring, X, y, n_epochs):
    """Return the score of ``model`` refitted with max_iter=1, 2, ... n_epochs."""
    scorer = get_scorer(scoring)
    return [
        scorer(without_callbacks(model, max_iter=k).fit(X, y), X, y)
        for k in range(1, n_epochs + 1)
    ]


def test_set_callbacks_exists_exactly_with_sklearn_callback():
    for estimator in (ScratchMLPClassifier(), ScratchMLPRegressor()):
        assert hasattr(estimator, "set_callbacks") == CALLBACKS_AVAILABLE


# --------------------------------------------------------------------------------
# ScoringMonitor: one score per epoch, the score of the model of that epoch


@requires_callbacks
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_scoring_monitor_scores_the_model_of_each_epoch(case, solver):
    from sklearn.callback import ScoringMonitor

    _, scoring, (X, y) = CASES[case]
    monitor = ScoringMonitor(scoring=scoring)
    model = make_model(case, solver, max_iter=N_EPOCHS)
    model.set_callbacks(monitor).fit(X, y)

    task_name = "lbfgs-iter" if solver == "lbfgs" else "epoch"
    rows = monitored_scores(monitor, task_name)
    assert [row["task_id_path"] for row in rows] == [(0, k) for k in range(N_EPOCHS)]
    expected = refit_scores(model, scoring, X, y, N_EPOCHS)
    # The refits follow the same trajectory: the scores agree to the bit.
    assert [row[scoring] for row in rows] == expected

    # The root task scores the trained model.
    (root,) = monitored_scores(monitor, "fit")
    assert root[scoring] == get_scorer(scoring)(model, X, y)


@requires_callbacks
def test_scoring_monitor_weighs_by_the_sample_weight_given_to_fit():
    from sklearn.callback import ScoringMonitor

    X, y = X_DIGITS, Y_DIGITS
    sample_weight = np.random.RandomState(0).uniform(0.2, 2.0, y.shape[0])
    monitor = ScoringMonitor(scoring="neg_log_loss")
    model = make_model("classifier", "adam", max_iter=2).set_callbacks(monitor)
    model.fit(X, y, sample_weight=sample_weight)

    scorer = get_scorer("neg_log_loss")
    (root,) = monitored_scores(monitor, "fit")
    assert root["neg_log_loss"] == scorer(model, X, y, sample_weight=sample_weight)
    assert root["neg_log_loss"] != scorer(model, X, y)


@requires_callbacks
@pytest.mark.parametrize("case", sorted(CASES))
def test_scoring_monitor_scores_each_partial_fit_call(case):
    from sklearn.callback import ScoringMonitor

    _, scoring, (X, y) = CASES[case]
    monitor = ScoringMonitor(scoring=scoring)
    model = make_model(case, "adam").set_callbacks(monitor)
    twin = make_model(case, "adam")  # trained in step, without callbacks
    scorer = get_scorer(scoring)
    extra = {"classes": np.unique(y)} if case == "classifier" else {}

    expected = []
    for _ in range(3):
        model.partial_fit(X, y, **extra)
        twin.partial_fit(X, y, **extra)
        expected.append(scorer(twin, X, y))

    # Each call is a run of its own, with a root task and one epoch.
    logs = monitor.get_logs(select="all")
    assert len(logs) == 3
    for run, score in enumerate(expected):
        (epoch,) = monitored_scores(monitor, "epoch", run)
        (root,) = monitored_scores(monitor, "partial_fit", run)
        assert epoch["task_id_path"] == (0, 0)
        assert epoch[scoring] == root[scoring] == score


@requires_callbacks
def test_scoring_monitor_in_a_pipeline():
    from sklearn.callback import ScoringMonitor

    X, y = X_DIGITS, Y_DIGITS
    monitor = ScoringMonitor(scoring="neg_log_loss")
    model = make_model("classifier", "adam", max_iter=N_EPOCHS)
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("mlp", clone(model).set_callbacks(monitor))]
    )
    pipeline.set_callbacks(PropagatedRecorder()).fit(X, y)

    rows = monitored_scores(monitor, "epoch")
    assert monitor.get_logs().estimator_name == "Pipeline"
    # Pipeline's root task, its final-estimator task (the second), the epoch.
    assert [row["task_id_path"] for row in rows] == [(0, 1, k) for k in range(N_EPOCHS)]
    Xt = StandardScaler().fit_transform(X)
    expected = refit_scores(model, "neg_log_loss", Xt, y, N_EPOCHS)
    assert [row["neg_log_loss"] for row in rows] == expected


@requires_callbacks
def test_scoring_monitor_in_a_grid_search():
    from sklearn.callback import ScoringMonitor

    X, y = X_DIGITS, Y_DIGITS
    monitor = ScoringMonitor(scoring="neg_log_loss")
    model = make_model("classifier", "adam", max_iter=N_EPOCHS)
    grid = {"hidden_layer_sizes": [(6,), (12,)]}
    search = GridSearchCV(clone(model).set_callbacks(monitor), grid, cv=2)
    recorder = PropagatedRecorder()
    search.set_callbacks(recorder).fit(X, y)

    # One run: 2 candidates x 2 splits, then the refit, N_EPOCHS epochs each.
    assert len(monitor.get_logs(select="all")) == 1
    rows = monitored_scores(monitor, "epoch")
    assert len(rows) == 5 * N_EPOCHS
    # The refit is the second task of the search's root task.
    refit = [row for row in rows if row["task_id_path"][:2] == (0, 1)]
    best = without_callbacks(model, **search.best_params_)
    expected = refit_scores(best, "neg_log_loss", X, y, N_EPOCHS)
    assert [row["neg_log_loss"] for row in refit] == expected

    # The propagated recorder saw the epochs of all five fits.
    assert len(recorder.tasks("end", "epoch")) == 5 * N_EPOCHS


# --------------------------------------------------------------------------------
# The task tree


@requires_callbacks
def test_a_callback_sees_every_epoch_as_a_task():
    recorder = TaskRecorder()
    model = make_model("classifier", "adam", max_iter=N_EPOCHS)
    model.set_callbacks(recorder).fit(X_DIGITS, Y_DIGITS)

    name = "ScratchMLPClassifier"
    epochs = [
        record
        for k in range(N_EPOCHS)
        for record in [("begin", name, "epoch", k), ("end", name, "epoch", k)]
    ]
    assert recorder.records == [
        ("setup", name, None, None),
        ("begin", name, "fit", 0),
        *epochs,
        ("end", name, "fit", 0),
        ("teardown", name, None, None),
    ]


@requires_callbacks
def test_lbfgs_iterations_are_tasks_as_in_logistic_regression():
    recorder = TaskRecorder()
    model = make_model("classifier", "lbfgs", max_iter=N_EPOCHS)
    model.set_callbacks(recorder).fit(X_DIGITS, Y_DIGITS)

    # As in LogisticRegression, each iteration's end begins the next one, and
    # the one SciPy never ran ends as an empty task, without a model.
    assert recorder.tasks("begin", "lbfgs-iter") == list(range(N_EPOCHS + 1))
    assert recorder.tasks("end", "lbfgs-iter") == list(range(N_EPOCHS + 1))
    assert recorder.models[-1] is None
    assert all(model is not None for model in recorder.models[:-1])


@requires_callbacks
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_each_epoch_gets_a_model_of_its_own(solver):
    recorder = TaskRecorder()
    model = make_model("classifier", solver, max_iter=N_EPOCHS)
    model.set_callbacks(recorder).fit(X_DIGITS, Y_DIGITS)

    # The fitted_estimator of each epoch keeps that epoch's weights after
    # training has gone on, and its n_iter_ counts the epochs so far.
    for k, snapshot in enumerate(recorder.models[:N_EPOCHS], start=1):
        refit = without_callbacks(model, max_iter=k).fit(X_DIGITS, Y_DIGITS)
        assert snapshot.n_iter_ == k
        for got, expected in zip(snapshot.coefs_, refit.coefs_, strict=True):
            np.testing.assert_array_equal(got, expected)
    assert recorder.models[0]._network is not model._network


@requires_callbacks
def test_callbacks_propagate_from_a_pipeline_into_the_epochs():
    recorder = PropagatedRecorder()
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("mlp", make_model("classifier", "sgd"))]
    )
    pipeline.set_params(mlp__max_iter=3).set_callbacks(recorder).fit(X_DIGITS, Y_DIGITS)

    # Set up once, on the pipeline; the epochs are tasks of the MLP.
    assert [record[:2] for record in recorder.records if record[0] == "setup"] == [
        ("setup", "Pipeline")
    ]
    epochs = [record for record in recorder.records if record[2] == "epoch"]
    assert {record[1] for record in epochs} == {"ScratchMLPClassifier"}
    assert recorder.tasks("end", "epoch") == [0, 1, 2]


# --------------------------------------------------------------------------------
# Stopping


@requires_callbacks
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_a_callback_stops_training_after_epoch_3(solver):
    if solver == "lbfgs" and not SCIPY_STOPS_ON_STOP_ITERATION:
        pytest.skip("SciPy's L-BFGS-B stops on a callback's request from 1.11 on")
    recorder = TaskRecorder(stop_after=3)
    model = make_model("classifier", solver, max_iter=10)
    with warnings.catch_warnings():
        # A stop asked for is no failure to converge.
        warnings.simplefilter("error", ConvergenceWarning)
        model.set_callbacks(recorder).fit(X_DIGITS, Y_DIGITS)

    assert model.n_iter_ == 3
    assert len(model.loss_curve_) == len(model.history_) == 3
    task_name = "lbfgs-iter" if solver == "lbfgs" else "epoch"
    assert recorder.tasks("end", task_name) == [0, 1, 2]
    assert recorder.records[-2] == ("end", "ScratchMLPClassifier", "fit", 0)

    # The model is the one three epochs make.
    refit = without_callbacks(model, max_iter=3).fit(X_DIGITS, Y_DIGITS)
    np.testing.assert_array_equal(model._network.params, refit._network.params)
    assert model.loss_ == refit.loss_


@requires_callbacks
@pytest.mark.skipif(SCIPY_STOPS_ON_STOP_ITERATION, reason="SciPy can stop L-BFGS")
def test_lbfgs_says_once_that_it_cannot_stop_before_scipy_1_11():
    model = make_model("classifier", "lbfgs", max_iter=6)
    with pytest.warns(UserWarning, match="SciPy 1.11 or later") as record:
        model.set_callbacks(TaskRecorder(stop_after=2)).fit(X_DIGITS, Y_DIGITS)
    assert model.n_iter_ == 6
    assert sum("SciPy 1.11" in str(warning.message) for warning in record) == 1


@requires_callbacks
def test_a_stop_is_reported_when_verbose(capsys):
    model = make_model("regressor", "adam", max_iter=10, verbose=True)
    model.set_callbacks(TaskRecorder(stop_after=3)).fit(X_REG, Y_REG)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "Training stopped by a callback after epoch 3."
    assert lines[-2].startswith("Iteration 3, loss = ")


@requires_callbacks
def test_a_stop_keeps_the_best_epoch_of_early_stopping():
    model = make_model(
        "classifier", "adam", max_iter=10, early_stopping=True, n_iter_no_change=50
    )
    model.set_callbacks(TaskRecorder(stop_after=4)).fit(X_DIGITS, Y_DIGITS)
    assert model.n_iter_ == 4
    assert len(model.validation_scores_) == 4
    assert model.best_validation_score_ == max(model.validation_scores_)


# --------------------------------------------------------------------------------
# Callbacks observe; they change nothing


@requires_callbacks
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_callbacks_do_not_change_training(solver):
    from sklearn.callback import ScoringMonitor

    params = {"hidden_layer_sizes": (12,), "max_iter": N_EPOCHS, "random_state": 0}
    plain = ScratchMLPClassifier(solver=solver, **params).fit(X_DIGITS, Y_DIGITS)
    watched = ScratchMLPClassifier(solver=solver, **params).set_callbacks(
        ScoringMonitor(scoring="accuracy"), TaskRecorder()
    )
    watched.fit(X_DIGITS, Y_DIGITS)

    # To the bit, and still on scikit-learn's trajectory.
    np.testing.assert_array_equal(watched._network.params, plain._network.params)
    assert watched.loss_curve_ == plain.loss_curve_
    assert watched.n_iter_ == plain.n_iter_ == N_EPOCHS
    reference = MLPClassifier(solver=solver, **params).fit(X_DIGITS, Y_DIGITS)
    for got, expected in zip(watched.coefs_, reference.coefs_, strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


@requires_callbacks
def test_nothing_is_left_on_the_estimator():
    plain = make_model("classifier", "adam", max_iter=2).fit(X_DIGITS, Y_DIGITS)
    watched = make_model("classifier", "adam", max_iter=2)
    watched.set_callbacks(TaskRecorder()).fit(X_DIGITS, Y_DIGITS)
    assert set(vars(watched)) ^ set(vars(plain)) == {"_skl_callbacks"}

    watched.set_callbacks()
    assert not hasattr(watched, "_skl_callbacks")
    watched.fit(X_DIGITS, Y_DIGITS)
    assert set(vars(watched)) == set(vars(plain))


@requires_callbacks
def test_a_failing_fit_still_tears_the_callbacks_down():
    recorder = TaskRecorder()
    model = make_model("classifier", "adam").set_callbacks(recorder)
    X_bad = X_DIGITS.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(X_bad, Y_DIGITS)
    assert recorder.records[-1] == ("teardown", "ScratchMLPClassifier", None, None)
    assert not hasattr(model, "coefs_")
    unfitted = make_model("classifier", "adam")
    assert set(vars(model)) ^ set(vars(unfitted)) == {"_skl_callbacks"}


@requires_callbacks
def test_a_failing_callback_leaves_the_model_as_it_was():
    model = make_model("classifier", "adam", max_iter=3, warm_start=True)
    model.fit(X_DIGITS, Y_DIGITS)
    params_before = model._network.params.copy()
    recorder = TaskRecorder(fail_after=2)
    with pytest.raises(RuntimeError, match="the callback failed"):
        model.set_callbacks(recorder).fit(X_DIGITS, Y_DIGITS)

    # The estimator's rollback and scikit-learn's teardown both happened.
    np.testing.assert_array_equal(model._network.params, params_before)
    assert len(model.loss_curve_) == 3
    assert recorder.records[-1] == ("teardown", "ScratchMLPClassifier", None, None)
    assert set(vars(model)) - {"_skl_callbacks"} == set(
        vars(without_callbacks(model).fit(X_DIGITS, Y_DIGITS))
    ) - {"_skl_callbacks"}


# --------------------------------------------------------------------------------
# ProgressBar, which draws with rich


@requires_callbacks
def test_progress_bar_draws_fit_and_partial_fit(capsys, monkeypatch):
    pytest.importorskip("rich")
    monkeypatch.setenv("COLUMNS", "200")  # rich's width, for whole lines
    from sklearn.callback import ProgressBar

    model = make_model("classifier", "adam", max_iter=N_EPOCHS)
    model.set_callbacks(ProgressBar()).fit(X_DIGITS, Y_DIGITS)
    model.partial_fit(X_DIGITS, Y_DIGITS)
    out = capsys.readouterr().out

    # A bar per call, completed.
    fit_line, partial_fit_line = (line for line in out.splitlines() if line.strip())
    assert fit_line.startswith("ScratchMLPClassifier - fit ")
    assert partial_fit_line.startswith("ScratchMLPClassifier - partial_fit ")
    assert "100%" in fit_line and "100%" in partial_fit_line
    assert model.n_iter_ == 1 and len(model.loss_curve_) == N_EPOCHS + 1


@requires_callbacks
def test_progress_bar_draws_the_fits_of_a_grid_search(capsys, monkeypatch):
    pytest.importorskip("rich")
    monkeypatch.setenv("COLUMNS", "200")
    from sklearn.callback import ProgressBar

    model = make_model("classifier", "sgd", max_iter=2)
    search = GridSearchCV(model, {"alpha": [1e-4, 1e-2]}, cv=2)
    search.set_callbacks(ProgressBar()).fit(X_DIGITS, Y_DIGITS)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]

    # The search, its candidates and the refit, each MLP fit with its bar.
    mlp_bars = [line for line in lines if "ScratchMLPClassifier - fit" in line]
    assert len(mlp_bars) == 5
    assert all("100%" in line for line in lines)
