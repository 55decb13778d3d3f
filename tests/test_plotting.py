"""Tests of :mod:`sknn_scratch.plotting` and of the example that uses it.

The lines drawn must hold exactly the estimator's curves: for the scratch
estimators, what their ``history_`` records, which is also in ``loss_curve_``,
``validation_loss_curve_`` and ``validation_scores_``; for an estimator without
``history_``, such as scikit-learn's own MLPs, ``loss_curve_`` and
``validation_scores_``. Around that: the mark at ``best_iter_``, axis labels and
legends, one panel or two, drawing into given axes or over an earlier display,
the errors for unfitted estimators and bad curves, and what happens without
matplotlib, which is an optional dependency.
"""

import importlib.util
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import sknn_scratch
from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch.plotting import TrainingCurveDisplay

REPOSITORY = Path(sknn_scratch.__file__).parents[1]
EXAMPLE = REPOSITORY / "examples" / "plot_training_curves.py"


@pytest.fixture
def pyplot():
    """matplotlib's pyplot on the Agg backend, with no figure left open."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    yield plt
    plt.close("all")


def quiet_fit(estimator, X, y, **fit_params):
    """Fit, ignoring the ConvergenceWarning of deliberately short runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit_params)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


@pytest.fixture(scope="module")
def early_stopping_classifier(iris):
    """A classifier that early stopping ended 4 epochs after its best, epoch 12."""
    classifier = ScratchMLPClassifier(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        learning_rate_init=0.03,
        n_iter_no_change=3,
        max_iter=25,
        random_state=0,
    )
    return quiet_fit(classifier, *iris)


@pytest.fixture(scope="module")
def regression_data():
    X, y = make_regression(n_samples=40, n_features=3, noise=1.0, random_state=0)
    return X, y / y.std()


@pytest.fixture(scope="module")
def lbfgs_regressor(regression_data):
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), solver="lbfgs", max_iter=15, random_state=0
    )
    return quiet_fit(regressor, *regression_data)


@pytest.fixture(scope="module")
def sklearn_classifier(iris):
    """scikit-learn's own MLP: curves in loss_curve_ and validation_scores_ only."""
    classifier = MLPClassifier(
        hidden_layer_sizes=(4,), early_stopping=True, max_iter=5, random_state=0
    )
    return quiet_fit(classifier, *iris)


def legend_texts(ax):
    legend = ax.get_legend()
    return None if legend is None else [text.get_text() for text in legend.texts]


def a_history(n_epochs):
    """Per-epoch records, as a training loop that keeps a history would make."""
    return [
        {
            "epoch": epoch,
            "loss": 1.0 / epoch,
            "val_loss": 1.2 / epoch + 0.05,
            "val_score": 0.9 - 0.5 / epoch,
            "learning_rate": 0.01,
            "seconds": 0.002 * epoch,
        }
        for epoch in range(1, n_epochs + 1)
    ]


# --------------------------------------------------------------------------------
# The scratch estimators, from their history_


def test_draws_the_losses_and_the_validation_score_per_epoch(
    pyplot, early_stopping_classifier
):
    classifier = early_stopping_classifier
    n_epochs = len(classifier.history_)
    assert len(classifier.validation_loss_curve_) == n_epochs > 5

    display = TrainingCurveDisplay.from_estimator(classifier)

    epochs = np.arange(1, n_epochs + 1)
    for line, curve in [
        (display.loss_line_, classifier.loss_curve_),
        (display.validation_loss_line_, classifier.validation_loss_curve_),
        (display.validation_score_line_, classifier.validation_scores_),
    ]:
        np.testing.assert_array_equal(line.get_xdata(), epochs)
        np.testing.assert_array_equal(line.get_ydata(), curve)
    assert display.validation_loss_line_.axes is display.ax_

    # Two panels of one figure, sharing the epoch axis, labelled below.
    assert display.figure_.axes == [display.ax_, display.score_ax_]
    assert display.ax_.get_ylabel() == "Loss"
    assert display.score_ax_.get_ylabel() == "Validation accuracy"
    assert display.score_ax_.get_xlabel() == "Epoch"
    assert display.ax_.get_shared_x_axes().joined(display.ax_, display.score_ax_)
    assert legend_texts(display.ax_) == [
        "ScratchMLPClassifier (training)",
        "ScratchMLPClassifier (validation)",
        "ScratchMLPClassifier (best epoch 12)",
    ]
    assert legend_texts(display.score_ax_) == ["ScratchMLPClassifier"]

    # One colour per model; what was measured on the validation set is dashed,
    # the best epoch dotted.
    colour = display.loss_line_.get_color()
    assert display.loss_line_.get_linestyle() == "-"
    for line in (display.validation_loss_line_, display.validation_score_line_):
        assert line.get_color() == colour and line.get_linestyle() == "--"
    for line in display.best_epoch_lines_:
        assert line.get_color() == colour and line.get_linestyle() == ":"


def test_the_best_epoch_whose_weights_the_model_holds_is_marked(
    pyplot, early_stopping_classifier
):
    classifier = early_stopping_classifier
    # Early stopping went on past the best epoch, then restored its weights.
    assert classifier.best_iter_ == 12 < classifier.n_iter_ == 16
    best_score = classifier.validation_scores_[classifier.best_iter_ - 1]
    assert best_score == classifier.best_validation_score_

    display = TrainingCurveDisplay.from_estimator(classifier)

    loss_mark, score_mark = display.best_epoch_lines_
    assert loss_mark.axes is display.ax_ and score_mark.axes is display.score_ax_
    for mark in (loss_mark, score_mark):
        np.testing.assert_array_equal(mark.get_xdata(), [12, 12])
        # A vertical line: from the bottom of the panel to its top.
        np.testing.assert_array_equal(mark.get_ydata(), [0, 1])


def test_a_model_that_holds_its_last_epoch_has_no_mark(pyplot, iris):
    classifier = quiet_fit(
        ScratchMLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
        *iris,
    )
    assert classifier.best_iter_ == classifier.n_iter_ == 5

    display = TrainingCurveDisplay.from_estimator(classifier)

    assert display.best_epoch_lines_ == []
    assert legend_texts(display.ax_) == ["ScratchMLPClassifier (training)"]
    # Without validation data: the training loss alone, in one panel.
    assert display.score_ax_ is None and display.validation_loss_line_ is None
    assert display.ax_.get_xlabel() == "Epoch"
    np.testing.assert_array_equal(
        display.loss_line_.get_ydata(), classifier.loss_curve_
    )


def test_a_regressor_scores_r2(pyplot, iris):
    X, y = iris
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(4,), early_stopping=True, max_iter=5, random_state=0
    )
    quiet_fit(regressor, X[:, :3], X[:, 3])

    display = TrainingCurveDisplay.from_estimator(regressor)

    assert display.score_ax_.get_ylabel() == "Validation R²"
    np.testing.assert_array_equal(
        display.validation_score_line_.get_ydata(), regressor.validation_scores_
    )
    np.testing.assert_array_equal(
        display.validation_loss_line_.get_ydata(), regressor.validation_loss_curve_
    )


def test_validation_data_given_to_fit_is_drawn_per_lbfgs_iteration(
    pyplot, regression_data
):
    X, y = regression_data
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(5,),
        solver="lbfgs",
        max_iter=15,
        restore_best_weights=True,
        random_state=1,
    )
    quiet_fit(regressor, X[:30], y[:30], X_val=X[30:], y_val=y[30:])
    assert regressor.best_iter_ == 14 < regressor.n_iter_ == 15

    display = TrainingCurveDisplay.from_estimator(regressor)

    np.testing.assert_array_equal(
        display.validation_loss_line_.get_ydata(), regressor.validation_loss_curve_
    )
    np.testing.assert_array_equal(
        display.validation_score_line_.get_ydata(), regressor.validation_scores_
    )
    assert display.score_ax_.get_xlabel() == "Iteration"
    assert legend_texts(display.ax_)[-1] == "ScratchMLPRegressor (best iteration 14)"
    np.testing.assert_array_equal(display.best_epoch_lines_[0].get_xdata(), [14, 14])


def test_epochs_without_validation_data_leave_a_gap(pyplot, iris):
    # Three epochs with early stopping's validation split, then three without.
    classifier = ScratchMLPClassifier(
        hidden_layer_sizes=(4,), early_stopping=True, max_iter=3, random_state=0
    )
    quiet_fit(classifier, *iris)
    quiet_fit(classifier.set_params(early_stopping=False, warm_start=True), *iris)
    assert len(classifier.validation_scores_) == 3
    assert len(classifier.history_) == len(classifier.loss_curve_) == 6

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the history says where the scores go
        display = TrainingCurveDisplay.from_estimator(classifier)

    np.testing.assert_array_equal(
        display.loss_line_.get_ydata(), classifier.loss_curve_
    )
    gap = [np.nan] * 3
    np.testing.assert_array_equal(
        display.validation_loss_line_.get_ydata(),
        [*classifier.validation_loss_curve_, *gap],
    )
    np.testing.assert_array_equal(
        display.validation_score_line_.get_ydata(),
        [*classifier.validation_scores_, *gap],
    )
    np.testing.assert_array_equal(
        display.validation_score_line_.get_xdata(), [1, 2, 3, 4, 5, 6]
    )


@pytest.mark.parametrize("source", ["history_", "loss_curve_"])
def test_an_lbfgs_model_is_drawn_with_its_loss_only_per_iteration(
    pyplot, monkeypatch, lbfgs_regressor, source
):
    regressor = lbfgs_regressor
    if source == "loss_curve_":
        # Without its history_, the scratch model is read as scikit-learn's
        # stochastic MLPs are; the label must still say iterations.
        monkeypatch.delattr(regressor, "history_")

    display = TrainingCurveDisplay.from_estimator(regressor)

    assert regressor.validation_scores_ is None
    np.testing.assert_array_equal(display.loss_line_.get_ydata(), regressor.loss_curve_)
    assert display.score_ax_ is None
    assert display.validation_score_line_ is None
    assert display.validation_loss_line_ is None
    assert display.best_epoch_lines_ == []
    assert display.figure_.axes == [display.ax_]
    assert display.ax_.get_xlabel() == "Iteration"
    assert len(display.ax_.get_lines()) == 1


# --------------------------------------------------------------------------------
# Estimators without history_, from loss_curve_ and validation_scores_


def test_reads_scikit_learns_own_mlp_too(pyplot, sklearn_classifier):
    classifier = sklearn_classifier

    display = TrainingCurveDisplay.from_estimator(classifier)

    np.testing.assert_array_equal(
        display.loss_line_.get_xdata(), np.arange(1, classifier.n_iter_ + 1)
    )
    np.testing.assert_array_equal(
        display.loss_line_.get_ydata(), classifier.loss_curve_
    )
    np.testing.assert_array_equal(
        display.validation_score_line_.get_ydata(), classifier.validation_scores_
    )
    # Neither a validation loss nor a best epoch is recorded.
    assert display.validation_loss_line_ is None
    assert display.best_epoch_lines_ == []
    assert legend_texts(display.ax_) == ["MLPClassifier (training)"]
    assert legend_texts(display.score_ax_) == ["MLPClassifier"]
    assert display.score_ax_.get_xlabel() == "Epoch"


def test_scores_of_only_some_epochs_are_not_guessed_into_place(pyplot, iris):
    classifier = ScratchMLPClassifier(
        hidden_layer_sizes=(4,), early_stopping=True, max_iter=3, random_state=0
    )
    quiet_fit(classifier, *iris)
    quiet_fit(classifier.set_params(early_stopping=False, warm_start=True), *iris)
    assert len(classifier.validation_scores_) == 3 < len(classifier.loss_curve_)
    # scikit-learn's own MLP fails in this warm start (its best_loss_ is None),
    # so the scratch model stands in for an estimator that keeps only
    # scikit-learn's curves: without history_, nothing says which epochs the
    # three scores belong to.
    del classifier.history_

    with pytest.warns(UserWarning, match="holds 3 scores for the 6 epochs"):
        display = TrainingCurveDisplay.from_estimator(classifier)

    assert display.score_ax_ is None
    np.testing.assert_array_equal(
        display.loss_line_.get_ydata(), classifier.loss_curve_
    )


# --------------------------------------------------------------------------------
# Histories made by hand, on an estimator that has none of its own


def test_a_history_is_preferred_and_draws_the_validation_loss(
    pyplot, monkeypatch, sklearn_classifier
):
    history = a_history(7)
    monkeypatch.setattr(sklearn_classifier, "history_", history, raising=False)

    display = TrainingCurveDisplay.from_estimator(sklearn_classifier, name="adam")

    epochs = [record["epoch"] for record in history]
    for line, key in [
        (display.loss_line_, "loss"),
        (display.validation_loss_line_, "val_loss"),
        (display.validation_score_line_, "val_score"),
    ]:
        np.testing.assert_array_equal(line.get_xdata(), epochs)
        np.testing.assert_array_equal(
            line.get_ydata(), [record[key] for record in history]
        )
    assert display.validation_loss_line_.axes is display.ax_
    assert display.validation_loss_line_.get_linestyle() == "--"
    assert legend_texts(display.ax_) == ["adam (training)", "adam (validation)"]
    assert display.score_ax_.get_xlabel() == "Epoch"


def test_a_history_without_validation_draws_the_loss_only(
    pyplot, monkeypatch, sklearn_classifier
):
    history = [{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.4}]
    monkeypatch.setattr(sklearn_classifier, "history_", history, raising=False)

    display = TrainingCurveDisplay.from_estimator(sklearn_classifier)

    np.testing.assert_array_equal(display.loss_line_.get_ydata(), [0.9, 0.4])
    assert display.score_ax_ is None
    assert display.validation_loss_line_ is None


def test_epochs_missing_a_validation_value_leave_a_gap(
    pyplot, monkeypatch, sklearn_classifier
):
    history = a_history(3)
    history[0]["val_loss"] = None
    del history[0]["val_score"]
    monkeypatch.setattr(sklearn_classifier, "history_", history, raising=False)

    display = TrainingCurveDisplay.from_estimator(sklearn_classifier)

    validation_loss = display.validation_loss_line_.get_ydata()
    validation_score = display.validation_score_line_.get_ydata()
    assert np.isnan(validation_loss[0]) and np.isnan(validation_score[0])
    np.testing.assert_array_equal(validation_loss[1:], [0.65, 1.2 / 3 + 0.05])


@pytest.mark.parametrize(
    "history, message",
    [
        ([], "history_ has no records"),
        ([{"epoch": 1, "loss": 0.5}, {"epoch": 2}], r"history_\[1\] has no \['loss'\]"),
        ([{"loss": 0.5}], r"history_\[0\] has no \['epoch'\] entry"),
    ],
)
def test_a_bad_history_is_reported(
    pyplot, monkeypatch, sklearn_classifier, history, message
):
    monkeypatch.setattr(sklearn_classifier, "history_", history, raising=False)
    with pytest.raises(ValueError, match=message):
        TrainingCurveDisplay.from_estimator(sklearn_classifier)


# --------------------------------------------------------------------------------
# Where it draws


def test_name_and_line_kw_style_every_line(pyplot, early_stopping_classifier):
    from matplotlib.colors import to_rgba

    display = TrainingCurveDisplay.from_estimator(
        early_stopping_classifier, name="model A", line_kw={"c": "C3", "lw": 3}
    )

    curves = [
        display.loss_line_,
        display.validation_loss_line_,
        display.validation_score_line_,
    ]
    for line in curves:
        assert to_rgba(line.get_color()) == to_rgba("C3")
        assert line.get_linewidth() == 3
    # The best-epoch mark takes the colour only; it stays a thin dotted line.
    for line in display.best_epoch_lines_:
        assert to_rgba(line.get_color()) == to_rgba("C3")
        assert line.get_linewidth() < 3 and line.get_linestyle() == ":"
    assert legend_texts(display.ax_) == [
        "model A (training)",
        "model A (validation)",
        "model A (best epoch 12)",
    ]


def test_a_second_model_is_drawn_over_the_first(
    pyplot, early_stopping_classifier, iris
):
    other = quiet_fit(
        ScratchMLPClassifier(
            hidden_layer_sizes=(3,), early_stopping=True, max_iter=8, random_state=1
        ),
        *iris,
    )
    assert other.best_iter_ == 1 < other.n_iter_  # its score never improved
    first = TrainingCurveDisplay.from_estimator(early_stopping_classifier, name="A")

    second = TrainingCurveDisplay.from_estimator(
        other, name="B", ax=[first.ax_, first.score_ax_]
    )

    assert second.ax_ is first.ax_ and second.score_ax_ is first.score_ax_
    assert legend_texts(first.ax_) == [
        "A (training)",
        "A (validation)",
        "A (best epoch 12)",
        "B (training)",
        "B (validation)",
        "B (best epoch 1)",
    ]
    assert legend_texts(first.score_ax_) == ["A", "B"]
    assert len(first.score_ax_.get_lines()) == 4  # a score and a mark each
    # Each display takes the next colour of the cycle for all of its lines.
    assert second.loss_line_.get_color() != first.loss_line_.get_color()
    for line in [
        second.validation_loss_line_,
        second.validation_score_line_,
        *second.best_epoch_lines_,
    ]:
        assert line.get_color() == second.loss_line_.get_color()


def test_a_single_axes_is_split_for_the_score_panel(pyplot, early_stopping_classifier):
    figure, (left, right) = pyplot.subplots(1, 2)

    display = TrainingCurveDisplay.from_estimator(early_stopping_classifier, ax=right)

    assert right not in figure.axes
    assert figure.axes == [left, display.ax_, display.score_ax_]
    assert display.figure_ is figure
    # The two panels stack where the given axes was.
    left_edge = right.get_position().x0
    for panel in (display.ax_, display.score_ax_):
        assert panel.get_position().x0 == pytest.approx(left_edge, abs=0.05)
    assert display.ax_.get_position().y0 > display.score_ax_.get_position().y1


def test_a_single_axes_takes_a_loss_only_plot(pyplot, lbfgs_regressor):
    figure, ax = pyplot.subplots()

    display = TrainingCurveDisplay.from_estimator(lbfgs_regressor, ax=ax)

    assert display.ax_ is ax and figure.axes == [ax]


def test_the_wrong_number_of_axes_is_refused(pyplot, early_stopping_classifier):
    _, axes = pyplot.subplots(3)
    with pytest.raises(ValueError, match=r"draws 2 panel\(s\) here, but got 3 axes"):
        TrainingCurveDisplay.from_estimator(early_stopping_classifier, ax=axes)


def test_an_axes_that_is_no_subplot_cannot_be_split(pyplot, early_stopping_classifier):
    ax = pyplot.figure().add_axes((0.1, 0.1, 0.8, 0.8))
    with pytest.raises(ValueError, match="pass two Axes, \\[loss_ax, score_ax\\]"):
        TrainingCurveDisplay.from_estimator(early_stopping_classifier, ax=ax)


def test_plot_draws_curves_given_directly(pyplot):
    display = TrainingCurveDisplay(
        epochs=[1, 2, 3], loss=[3.0, 2.0, 1.5], validation_loss=[3.5, 2.5, 2.4]
    )

    display.plot(name="net")

    np.testing.assert_array_equal(
        display.validation_loss_line_.get_ydata(), [3.5, 2.5, 2.4]
    )
    assert display.score_ax_ is None
    assert legend_texts(display.ax_) == ["net (training)", "net (validation)"]


def test_both_given_panels_tick_whole_epochs(pyplot):
    # Two axes that do not share their x axis: each needs its own ticks.
    _, (loss_ax, score_ax) = pyplot.subplots(1, 2)
    # Over three epochs, matplotlib's own ticks would be every half epoch.
    display = TrainingCurveDisplay(
        epochs=[1, 2, 3], loss=[3.0, 2.0, 1.5], validation_score=[0.5, 0.6, 0.7]
    )

    display.plot([loss_ax, score_ax])

    for panel in (loss_ax, score_ax):
        ticks = [tick for tick in panel.get_xticks() if 1 <= tick <= 3]
        assert ticks == [1, 2, 3]


def test_plot_marks_a_best_epoch_given_directly(pyplot):
    display = TrainingCurveDisplay(
        epochs=[1, 2, 3, 4], loss=[3.0, 2.0, 1.5, 1.4], best_epoch=2
    )

    display.plot(name="net")

    (mark,) = display.best_epoch_lines_  # one panel, one mark
    np.testing.assert_array_equal(mark.get_xdata(), [2, 2])
    assert mark.axes is display.ax_
    assert legend_texts(display.ax_) == ["net (training)", "net (best epoch 2)"]


def test_a_best_epoch_is_named_by_the_x_label(pyplot):
    display = TrainingCurveDisplay(
        epochs=[1, 2, 3], loss=[3.0, 2.0, 1.5], x_label="Iteration", best_epoch=3
    )

    display.plot()

    assert legend_texts(display.ax_) == ["training", "best iteration 3"]


@pytest.mark.parametrize("best_epoch", [0, 4, 2.5, "2"])
def test_a_best_epoch_that_is_not_drawn_is_refused(pyplot, best_epoch):
    display = TrainingCurveDisplay(
        epochs=[1, 2, 3], loss=[3.0, 2.0, 1.5], best_epoch=best_epoch
    )
    message = r"best_epoch must be one of the epochs drawn \(1 to 3\) or None; "
    with pytest.raises(ValueError, match=message + f"got {best_epoch!r}"):
        display.plot()


def test_curves_of_different_lengths_are_refused(pyplot):
    display = TrainingCurveDisplay(
        epochs=[1, 2, 3], loss=[3.0, 2.0, 1.5], validation_score=[0.5, 0.6]
    )
    with pytest.raises(ValueError, match=r"validation_score must be a 1-D sequence"):
        display.plot()


# --------------------------------------------------------------------------------
# Estimators it cannot read


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_an_unfitted_estimator_raises_not_fitted_error(pyplot, estimator_class):
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        TrainingCurveDisplay.from_estimator(estimator_class())


@pytest.mark.parametrize(
    "model",
    [
        LogisticRegression(),
        # scikit-learn's MLPs record no loss_curve_ when trained by L-BFGS.
        MLPClassifier(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=5),
    ],
    ids=["LogisticRegression", "MLPClassifier-lbfgs"],
)
def test_an_estimator_without_curves_is_refused(pyplot, iris, model):
    quiet_fit(model, *iris)
    with pytest.raises(ValueError, match=f"{type(model).__name__} has neither"):
        TrainingCurveDisplay.from_estimator(model)


# --------------------------------------------------------------------------------
# Without matplotlib


def test_without_matplotlib_plotting_says_how_to_install_it(
    monkeypatch, early_stopping_classifier
):
    # A None entry in sys.modules makes "import matplotlib" fail as if it were
    # not installed.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    display = TrainingCurveDisplay(epochs=[1], loss=[0.5])

    with pytest.raises(ImportError, match=r"from_estimator requires matplotlib\. "):
        TrainingCurveDisplay.from_estimator(early_stopping_classifier)
    with pytest.raises(ImportError, match=r"TrainingCurveDisplay\.plot requires"):
        display.plot()


def test_without_matplotlib_the_module_imports_and_its_doctests_skip(tmp_path):
    # A matplotlib package that is not there: its import fails as a missing
    # module's does. pytest runs the module's doctests in a fresh interpreter,
    # where its own warnings (UserWarnings) are errors, so that only a clean
    # skip passes.
    missing = tmp_path / "without_matplotlib" / "matplotlib"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'matplotlib'\", "
        "name='matplotlib')\n"
    )
    search_path = [str(missing.parent), os.environ.get("PYTHONPATH")]
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "sknn_scratch/plotting.py"),
            *("-q", "-p", "no:cacheprovider", "-W", "error::UserWarning"),
        ],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, search_path))},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "2 skipped" in completed.stdout


# --------------------------------------------------------------------------------
# The example


def load_example():
    pytest.importorskip("matplotlib")  # the example imports it at the top
    spec = importlib.util.spec_from_file_location("plot_training_curves", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_saves_a_figure_of_both_models(pyplot, tmp_path, capsys):
    example = load_example()
    output = tmp_path / "curves.png"

    # Small matrix products run several times faster on one BLAS thread than
    # on threads that contend for the test machine's two cores.
    with threadpool_limits(limits=1):
        assert example.main([str(output)]) == str(output)

    png = output.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 20_000
    image = pyplot.imread(output)
    assert image.shape[0] >= 400 and image.shape[1] >= 400
    assert image[..., :3].std() > 0.05  # not a blank canvas
    printed = capsys.readouterr().out
    assert "adam: stopped after" in printed and "sgd: stopped after" in printed
    assert f"Saved the figure to {output}" in printed


def test_the_example_writes_to_the_current_directory_by_default():
    arguments = load_example().parse_arguments([])
    assert arguments.output == "training_curves.png"
