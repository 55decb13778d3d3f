"""Plots of how a model trained: its losses and validation score per epoch.

:class:`TrainingCurveDisplay` follows scikit-learn's Display API: build it from
a fitted estimator with :meth:`TrainingCurveDisplay.from_estimator`, or from the
curves themselves, and draw it with :meth:`TrainingCurveDisplay.plot`, which
returns the display with the drawn axes and lines as attributes.

The curves come from the estimator's ``history_``, the list of per-epoch
records (dicts) that :class:`~sknn_scratch.ScratchMLPClassifier` and
:class:`~sknn_scratch.ScratchMLPRegressor` keep: ``"epoch"`` and ``"loss"``
always, ``"val_loss"`` and ``"val_score"`` for the epochs that had validation
data, which are drawn with a gap over the epochs that had none; other keys,
such as ``"learning_rate"`` or ``"seconds"``, are ignored. When the model holds
the weights of an earlier epoch than its last, restored by early stopping or
``restore_best_weights``, a dotted vertical line marks that epoch,
``best_iter_``. An estimator without ``history_``, such as scikit-learn's own
MLPs, is read from ``loss_curve_`` and ``validation_scores_``, which hold no
validation loss and do not say which epochs were scored; scores for only some
of the epochs are then left out, with a warning.

The x axis counts epochs, or iterations for a model trained by L-BFGS, whose
``solver`` is 'lbfgs'.

matplotlib is an optional dependency (``pip install matplotlib``), imported
only when something is drawn.
"""

import numbers
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
    """The training loss per epoch and, when measured, the validation curves.

    The losses (training, and validation when measured) share one panel, since
    they are in the same units; the validation score, a different quantity
    (accuracy or R²) that rises where the loss falls, gets a second panel below
    it, on the same epoch axis. The training loss of the scratch estimators
    includes the L2 penalty, which their validation loss leaves out. All the
    lines of one display have one colour; dashed lines are measured on the
    validation set, and a dotted vertical line marks the best epoch, when one
    is given. Several models can be compared by drawing their displays on the
    same axes.

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
    best_epoch : int, default=None
        The epoch to mark, on every panel, with a dotted vertical line: the one
        whose weights the model holds. Its legend entry names it by the x label:
        "best epoch 12", or "best iteration 12". None marks none.

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
    best_epoch_lines_ : list of matplotlib Line2D
        The vertical lines at ``best_epoch``, one per panel, loss panel first;
        empty when ``best_epoch`` is None.

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
    ...     best_epoch=3,
    ... )
    >>> display = display.plot()
    >>> display.loss_line_.get_ydata()
    array([1.2 , 0.7 , 0.5 , 0.45])
    >>> display.score_ax_.get_ylabel()
    'Validation accuracy'
    >>> [line.get_xdata()[0] for line in display.best_epoch_lines_]
    [3, 3]
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
        best_epoch=None,
    ):
        self.epochs = epochs
        self.loss = loss
        self.validation_loss = validation_loss
        self.validation_score = validation_score
        self.score_name = score_name
        self.x_label = x_label
        self.name = name
        self.best_epoch = best_epoch

    @classmethod
    def from_estimator(cls, estimator, *, name=None, ax=None, line_kw=None):
        """Plot the training curves of a fitted estimator.

        Reads the estimator's ``history_`` when it has one: its training loss,
        and its validation loss and score for the epochs that had validation
        data (the split of ``early_stopping=True``, or the ``X_val`` given to
        ``fit``), with gaps over the epochs that had none. An estimator
        without ``history_`` is read from its ``loss_curve_`` and
        ``validation_scores_``, with no validation loss. A model with no
        validation data, such as one trained by L-BFGS without ``X_val``, is
        drawn with its training loss alone.

        When the estimator's ``best_iter_`` is an earlier epoch than its last,
        the model holds that epoch's weights (restored by early stopping or
        ``restore_best_weights``), and a dotted vertical line marks it. The x
        axis is labelled "Iteration" when ``estimator.solver`` is 'lbfgs', and
        "Epoch" otherwise.

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
            Keyword arguments passed to matplotlib's ``plot`` for every curve,
            as in :meth:`plot`.

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
        >>> list(display.validation_loss_line_.get_ydata()) == (
        ...     clf.validation_loss_curve_)
        True
        >>> display.score_ax_.get_ylabel()
        'Validation accuracy'
        >>> plt.close(display.figure_)
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)

        # The per-epoch records say which epochs had validation data; the
        # curves of scikit-learn's MLPs do not.
        history = getattr(estimator, "history_", None)
        if history is not None:
            curves = _curves_from_history(history)
        elif hasattr(estimator, "loss_curve_"):
            curves = _curves_from_attributes(estimator)
        else:
            raise ValueError(
                f"{cls.__name__} needs an estimator that records its training, "
                f"in history_ or loss_curve_; {type(estimator).__name__} has "
                f"neither. For a pipeline, pass its last step: pipeline[-1]."
            )

        # L-BFGS records one loss per iteration, which is not an epoch.
        lbfgs = getattr(estimator, "solver", None) == "lbfgs"
        metric = "accuracy" if is_classifier(estimator) else "R²"
        display = cls(
            **curves,
            score_name=f"Validation {metric}",
            x_label="Iteration" if lbfgs else "Epoch",
            name=type(estimator).__name__ if name is None else name,
            best_epoch=_restored_epoch(estimator, curves["epochs"]),
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
            Keyword arguments passed to matplotlib's ``plot`` for every curve,
            such as ``{"color": "C1"}`` to tell models apart. The best-epoch
            line takes the curves' colour, and keeps its own style.

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
        panels = [loss_ax, score_ax] if has_score else [loss_ax]

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

        # The best epoch spans both panels, dotted, so as not to read as a
        # curve; only the loss panel's legend names it.
        self.best_epoch_lines_ = []
        best_epoch = curves["best_epoch"]
        if best_epoch is not None:
            style = {"color": self.loss_line_.get_color(), "linestyle": ":"}
            best_label = _label(name, f"best {self.x_label.lower()} {best_epoch:g}")
            for panel in panels:
                label = best_label if panel is loss_ax else None
                self.best_epoch_lines_.append(
                    panel.axvline(best_epoch, label=label, **style)
                )

        # Labels, legends, and whole epochs on every panel: given axes need
        # not share their x axis.
        loss_ax.set_ylabel("Loss")
        loss_ax.legend()
        if has_score:
            score_ax.set_ylabel(self.score_name)
            if name is not None:
                score_ax.legend()
        bottom_ax = score_ax if has_score else loss_ax
        bottom_ax.set_xlabel(self.x_label)
        for panel in panels:
            panel.xaxis.set_major_locator(MaxNLocator(integer=True))

        self.ax_, self.score_ax_, self.figure_ = loss_ax, score_ax, loss_ax.figure
        return self

    def _checked_curves(self):
        """Return the curves as 1-D float arrays of one length, or None.

        The best epoch, checked to be one of the epochs, is under the key
        ``"best_epoch"``.
        """
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

        best_epoch = self.best_epoch
        if best_epoch is not None:
            epochs = curves["epochs"]
            if not isinstance(best_epoch, numbers.Real) or best_epoch not in epochs:
                drawn = f"{epochs.min():g} to {epochs.max():g}" if n_epochs else "none"
                raise ValueError(
                    f"best_epoch must be one of the epochs drawn ({drawn}) or "
                    f"None; got {best_epoch!r}."
                )
        curves["best_epoch"] = best_epoch
        return curves


def _label(name, curve):
    """Return the legend entry of one loss curve: ``"Model (training)"``."""
    return curve if name is None else f"{name} ({curve})"


def _restored_epoch(estimator, epochs):
    """Return ``best_iter_`` if the model holds an earlier epoch than the last.

    A model that holds its last epoch's weights, as most do, needs no mark:
    its curves end there. Without ``best_iter_`` (scikit-learn's MLPs), None.
    """
    best_epoch = getattr(estimator, "best_iter_", None)
    if best_epoch is None or len(epochs) == 0:
        return None
    return int(best_epoch) if 0 < best_epoch < epochs[-1] else None


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
