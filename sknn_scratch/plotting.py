"""Plots of how a model trained: the loss and the validation score per epoch.

:class:`TrainingCurveDisplay` follows scikit-learn's Display API: build it from
a fitted estimator with :meth:`TrainingCurveDisplay.from_estimator`, or from the
curves themselves, and draw it with :meth:`TrainingCurveDisplay.plot`, which
returns the display with the drawn axes and lines as attributes.

The curves come from the estimator's ``history_`` when it has one: a list of
per-epoch records (dicts) with the keys ``"epoch"`` and ``"loss"`` and, when
measured, ``"val_loss"`` and ``"val_score"``; other keys, such as
``"learning_rate"`` or ``"seconds"``, are ignored. Otherwise they come from
``loss_curve_`` and ``validation_scores_``, which every scikit-learn MLP has.

matplotlib is an optional dependency (``pip install matplotlib``), imported
only when something is drawn.
"""

import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._plotting import _validate_style_kwargs
from sklearn.utils.validation import check_is_fitted

# The figure size of a new figure, by number of panels: matplotlib's default
# for one, taller for two stacked panels that share the epoch axis.
_FIGURE_SIZES = {1: (6.4, 4.8), 2: (6.4, 6.4)}


class TrainingCurveDisplay:
    """The training loss per epoch and, when measured, the validation score.

    The losses (training, and validation when measured) share one panel, since
    they are in the same units; the validation score, a different quantity
    (accuracy or R²) that rises where the loss falls, gets a second panel below
    it, on the same epoch axis. All the lines of one display have one colour;
    dashed lines are measured on the validation set. Several models can be
    compared by drawing their displays on the same axes.

    It is recommended to build a display with :meth:`from_estimator`. All
    parameters are stored as attributes.

    Parameters
    ----------
    epochs : array-like of shape (n_epochs,)
        The epoch (or L-BFGS iteration) numbers, the x coordinates.
    loss : array-like of shape (n_epochs,)
        The training loss at each epoch.
    validation_loss : array-like of shape (n_epochs,), default=None
        The loss on the validation set at each epoch; NaN where it was not
        measured. None draws no validation loss.
    validation_score : array-like of shape (n_epochs,), default=None
        The validation score at each epoch; NaN where it was not measured.
        None draws no score panel.
    score_name : str, default="Validation score"
        Label of the score axis.
    x_label : str, default="Epoch"
        Label of the epoch axis.
    name : str, default=None
        Name of the model, for the legends; None leaves it out.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The panel with the losses.
    score_ax_ : matplotlib Axes or None
        The panel with the validation score, or None when there is none.
    figure_ : matplotlib Figure
        The figure holding the panels.
    loss_line_ : matplotlib Line2D
        The training loss.
    validation_loss_line_ : matplotlib Line2D or None
        The validation loss, or None.
    validation_score_line_ : matplotlib Line2D or None
        The validation score, or None.

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : Scores against the size of
        the training set.

    Examples
    --------
    >>> import pytest
    >>> _ = pytest.importorskip("matplotlib")  # the display needs matplotlib
    >>> import matplotlib.pyplot as plt
    >>> from sknn_scratch.plotting import TrainingCurveDisplay
    >>> display = TrainingCurveDisplay(
    ...     epochs=[1, 2, 3, 4],
    ...     loss=[1.2, 0.7, 0.5, 0.45],
    ...     validation_score=[0.61, 0.80, 0.84, 0.83],
    ...     score_name="Validation accuracy",
    ... )
    >>> display = display.plot()
    >>> display.loss_line_.get_ydata()
    array([1.2 , 0.7 , 0.5 , 0.45])
    >>> display.score_ax_.get_ylabel()
    'Validation accuracy'
    >>> plt.close(display.figure_)
    """

    def __init__(
        self,
        *,
        epochs,
        loss,
        validation_loss=None,
        validation_score=None,
        score_name="Validation score",
        x_label="Epoch",
        name=None,
    ):
        self.epochs = epochs
        self.loss = loss
        self.validation_loss = validation_loss
        self.validation_score = validation_score
        self.score_name = score_name
        self.x_label = x_label
        self.name = name

    @classmethod
    def from_estimator(cls, estimator, *, name=None, ax=None, line_kw=None):
        """Plot the training curves of a fitted estimator.

        Reads the estimator's ``history_`` when it has one, and otherwise its
        ``loss_curve_`` and ``validation_scores_`` (recorded with
        ``early_stopping=True``). A model trained by L-BFGS has no validation
        set, and is drawn with its loss alone.

        Parameters
        ----------
        estimator : estimator instance
            A fitted :class:`~sknn_scratch.ScratchMLPClassifier` or
            :class:`~sknn_scratch.ScratchMLPRegressor`, or any fitted
            estimator with a ``loss_curve_``; for a pipeline, its last step.
        name : str, default=None
            Name of the model, for the legends; None uses the name of its
            class.
        ax : matplotlib Axes or array-like of matplotlib Axes, default=None
            Where to draw, as in :meth:`plot`.
        line_kw : dict, default=None
            Keyword arguments passed to matplotlib's ``plot`` for every line.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, with the drawn axes and lines.

        Examples
        --------
        >>> import pytest
        >>> _ = pytest.importorskip("matplotlib")  # the display needs matplotlib
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import load_iris
        >>> from sknn_scratch import ScratchMLPClassifier
        >>> from sknn_scratch.plotting import TrainingCurveDisplay
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = ScratchMLPClassifier(early_stopping=True, max_iter=30,
        ...                            learning_rate_init=0.01, random_state=0)
        >>> clf = clf.fit(X, y)
        >>> display = TrainingCurveDisplay.from_estimator(clf)
        >>> len(display.loss_line_.get_xdata()) == clf.n_iter_
        True
        >>> display.score_ax_.get_ylabel()
        'Validation accuracy'
        >>> plt.close(display.figure_)
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)

        history = getattr(estimator, "history_", None)
        if history is not None:
            curves = _curves_from_history(history)
            x_label = "Epoch"
        elif hasattr(estimator, "loss_curve_"):
            curves = _curves_from_attributes(estimator)
            # L-BFGS records one loss per iteration, which is not an epoch.
            lbfgs = getattr(estimator, "solver", None) == "lbfgs"
            x_label = "Iteration" if lbfgs else "Epoch"
        else:
            raise ValueError(
                f"{cls.__name__} needs an estimator that records its training, "
                f"in history_ or loss_curve_; {type(estimator).__name__} has "
                f"neither. For a pipeline, pass its last step: pipeline[-1]."
            )

        metric = "accuracy" if is_classifier(estimator) else "R²"
        display = cls(
            **curves,
            score_name=f"Validation {metric}",
            x_label=x_label,
            name=type(estimator).__name__ if name is None else name,
        )
        return display.plot(ax=ax, line_kw=line_kw)

    def plot(self, ax=None, *, name=None, line_kw=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of matplotlib Axes, default=None
            Where to draw. None makes a new figure with one panel, or two
            stacked panels when there is a validation score. A single Axes
            receives the loss panel, and its area is split in two when a score
            panel is needed. Two Axes, ``[loss_ax, score_ax]``, receive one
            panel each; pass ``[display.ax_, display.score_ax_]`` of an earlier
            display to draw another model over it.
        name : str, default=None
            Name of the model, for the legends; None uses ``self.name``.
        line_kw : dict, default=None
            Keyword arguments passed to matplotlib's ``plot`` for every line,
            such as ``{"color": "C1"}`` to tell models apart.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, with the drawn axes and lines as attributes.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        from matplotlib.ticker import MaxNLocator

        curves = self._checked_curves()
        name = self.name if name is None else name
        line_kw = {} if line_kw is None else line_kw
        has_score = curves["validation_score"] is not None
        loss_ax, score_ax = _panels(ax, 2 if has_score else 1)

        # The training loss takes the next colour of the axes' cycle, unless
        # line_kw sets one; the validation lines repeat it, dashed.
        epochs = curves["epochs"]
        (self.loss_line_,) = loss_ax.plot(
            epochs,
            curves["loss"],
            **_validate_style_kwargs({"label": _label(name, "training")}, line_kw),
        )
        validation_style = {"color": self.loss_line_.get_color(), "linestyle": "--"}
        self.validation_loss_line_ = self.validation_score_line_ = None
        if curves["validation_loss"] is not None:
            (self.validation_loss_line_,) = loss_ax.plot(
                epochs,
                curves["validation_loss"],
                **_validate_style_kwargs(
                    {**validation_style, "label": _label(name, "validation")}, line_kw
                ),
            )
        if has_score:
            (self.validation_score_line_,) = score_ax.plot(
                epochs,
                curves["validation_score"],
                **_validate_style_kwargs({**validation_style, "label": name}, line_kw),
            )

        # Labels, legends, and whole epochs on the shared axis.
        loss_ax.set_ylabel("Loss")
        loss_ax.legend()
        if has_score:
            score_ax.set_ylabel(self.score_name)
            if name is not None:
                score_ax.legend()
        bottom_ax = score_ax if has_score else loss_ax
        bottom_ax.set_xlabel(self.x_label)
        bottom_ax.xaxis.set_major_locator(MaxNLocator(integer=True))

        self.ax_, self.score_ax_, self.figure_ = loss_ax, score_ax, loss_ax.figure
        return self

    def _checked_curves(self):
        """Return the curves as 1-D float arrays of one length, or None."""
        given = {
            "epochs": self.epochs,
            "loss": self.loss,
            "validation_loss": self.validation_loss,
            "validation_score": self.validation_score,
        }
        n_epochs = len(self.epochs)
        curves = {}
        for key, values in given.items():
            if values is not None:
                values = np.asarray(values, dtype=float)
                if values.shape != (n_epochs,):
                    raise ValueError(
                        f"{key} must be a 1-D sequence with one value per epoch; "
                        f"got shape {values.shape} for {n_epochs} epochs."
                    )
            curves[key] = values
        return curves


def _label(name, curve):
    """Return the legend entry of one loss curve: ``"Model (training)"``."""
    return curve if name is None else f"{name} ({curve})"


def _curves_from_attributes(estimator):
    """Return the curves that ``loss_curve_`` and ``validation_scores_`` hold."""
    loss = np.asarray(estimator.loss_curve_, dtype=float)
    scores = getattr(estimator, "validation_scores_", None)
    validation_score = None
    if scores is not None and len(scores) == len(loss):
        validation_score = np.asarray(scores, dtype=float)
    elif scores is not None and len(scores) > 0:
        # A warm start that switched early stopping on or off leaves scores for
        # some epochs only, without saying which: drawing them would be a guess.
        warnings.warn(
            f"validation_scores_ holds {len(scores)} scores for the "
            f"{len(loss)} epochs of loss_curve_, because a warm start changed "
            f"early_stopping; the epochs they belong to are unknown, so the "
            f"validation score is not drawn.",
            UserWarning,
            stacklevel=3,
        )
    return {
        "epochs": np.arange(1, len(loss) + 1),
        "loss": loss,
        "validation_loss": None,
        "validation_score": validation_score,
    }


def _curves_from_history(history):
    """Return the curves of a list of per-epoch records."""
    if len(history) == 0:
        raise ValueError("history_ has no records: the model has not trained yet.")
    for index, record in enumerate(history):
        missing = sorted({"epoch", "loss"} - set(record))
        if missing:
            raise ValueError(
                f"history_[{index}] has no {missing} entry; every record needs "
                f"'epoch' and 'loss'. Got the keys {sorted(record)}."
            )
    return {
        "epochs": np.array([record["epoch"] for record in history]),
        "loss": np.array([record["loss"] for record in history], dtype=float),
        "validation_loss": _optional_column(history, "val_loss"),
        "validation_score": _optional_column(history, "val_score"),
    }


def _optional_column(history, key):
    """Return one key of every record, NaN where missing; None if always missing."""
    values = [record.get(key) for record in history]
    if all(value is None for value in values):
        return None
    return np.array([np.nan if value is None else value for value in values], float)


def _panels(ax, n_panels):
    """Return the loss axes and the score axes (None for one panel) to draw on."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, axes = plt.subplots(
            n_panels,
            1,
            sharex=True,
            squeeze=False,
            figsize=_FIGURE_SIZES[n_panels],
            layout="constrained",
        )
        axes = list(axes[:, 0])
    else:
        axes = list(np.ravel(ax)) if np.iterable(ax) else [ax]
        if len(axes) == 1 and n_panels == 2:
            axes = _split(axes[0])
        elif len(axes) != n_panels:
            raise ValueError(
                f"TrainingCurveDisplay draws {n_panels} panel(s) here, but got "
                f"{len(axes)} axes; pass one Axes, or {n_panels} Axes, or None."
            )
    return axes[0], axes[1] if n_panels == 2 else None


def _split(ax):
    """Replace a subplot by two stacked subplots in its place."""
    # Before matplotlib 3.7, an Axes that is no subplot has no get_subplotspec.
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    if spec is None:
        raise ValueError(
            "The validation score needs a second panel, and this Axes is not a "
            "subplot whose area can be split; pass two Axes, [loss_ax, score_ax]."
        )
    figure = ax.figure
    ax.remove()
    halves = spec.subgridspec(2, 1)
    loss_ax = figure.add_subplot(halves[0])
    score_ax = figure.add_subplot(halves[1], sharex=loss_ax)
    loss_ax.tick_params(labelbottom=False)  # the score panel below labels epochs
    return [loss_ax, score_ax]
