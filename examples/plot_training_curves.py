"""Plot the training curves of two MLPs fitted with early stopping on digits.

This script trains ``ScratchMLPClassifier`` twice on the digits data set bundled
with scikit-learn (no download needed), once with the 'adam' solver and once
with 'sgd', both with ``early_stopping=True``: each holds out 10% of its
training data and stops when the accuracy there has not improved for ten
epochs. :class:`~sknn_scratch.plotting.TrainingCurveDisplay` then draws, per
epoch and one colour per model, both models' training loss and, dashed, their
validation loss (top panel), their validation accuracy (bottom panel), and a
dotted line at the epoch whose weights early stopping kept; the figure is saved
as a PNG file.

It needs matplotlib, the package's optional plotting dependency. Run it from the
repository root after installing the package::

    pip install ".[plot]"
    python examples/plot_training_curves.py              # training_curves.png
    python examples/plot_training_curves.py curves.png   # or a path of your own

It takes a few seconds.
"""

import argparse

import matplotlib
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier
from sknn_scratch.plotting import TrainingCurveDisplay

# The two runs differ only by their solver; sgd needs a larger step than adam's
# default to train in a comparable number of epochs.
RUNS = {
    "adam": dict(solver="adam"),
    "sgd": dict(solver="sgd", learning_rate_init=0.05),
}
SETTINGS = dict(
    hidden_layer_sizes=(64,),
    early_stopping=True,
    max_iter=200,
    random_state=0,
)


def parse_arguments(argv=None):
    """Return the command-line arguments: the path of the PNG file to write."""
    parser = argparse.ArgumentParser(
        description="Plot the training curves of two MLPs fitted on digits."
    )
    parser.add_argument(
        "output",
        nargs="?",
        default="training_curves.png",
        help="where to save the figure (default: training_curves.png in the "
        "current directory)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Fit both models, draw their curves and save the figure; return its path."""
    arguments = parse_arguments(argv)
    # The figure is only saved, so no window system is needed.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )

    display = None
    for colour, (solver, parameters) in enumerate(RUNS.items()):
        model = make_pipeline(
            StandardScaler(), ScratchMLPClassifier(**SETTINGS, **parameters)
        )
        model.fit(X_train, y_train)
        mlp = model[-1]
        print(
            f"{solver}: stopped after {mlp.n_iter_} epochs, best validation "
            f"accuracy {mlp.best_validation_score_:.3f}, test accuracy "
            f"{model.score(X_test, y_test):.3f}"
        )

        # The second model is drawn on the first one's panels, in its own colour.
        axes = None if display is None else [display.ax_, display.score_ax_]
        display = TrainingCurveDisplay.from_estimator(
            mlp, name=solver, ax=axes, line_kw={"color": f"C{colour}"}
        )

    display.figure_.suptitle("ScratchMLPClassifier on digits, early stopping")
    display.figure_.savefig(arguments.output, dpi=100)
    plt.close(display.figure_)
    print(f"Saved the figure to {arguments.output}")
    return arguments.output


if __name__ == "__main__":
    main()
