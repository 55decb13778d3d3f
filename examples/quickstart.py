"""Quick start: train the scratch MLPs and compare them with scikit-learn's.

This script trains ``ScratchMLPClassifier`` on the digits data set and
``ScratchMLPRegressor`` on the diabetes data set, both bundled with scikit-learn
(no download needed). For each data set it runs 5-fold cross-validation of our
estimator and of scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` with the same
settings and the same folds, then prints a small table with the mean and standard
deviation of the score (accuracy for digits, R^2 for diabetes), the mean fit time
and the number of training epochs (``n_iter_``) of each.

scikit-learn's MLP appears here only as the yardstick; the package itself never
imports it.

Run it from the repository root after installing the package::

    pip install .
    python examples/quickstart.py

It takes well under a minute on a laptop.
"""

import time
import warnings

import numpy as np
import sklearn
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sknn_scratch
from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

# The same settings for both implementations; everything else is left at the
# scikit-learn defaults (relu, adam, alpha=1e-4, batch_size=min(200, n_samples)).
SETTINGS = dict(
    hidden_layer_sizes=(64,),
    max_iter=300,
    random_state=0,
    early_stopping=False,
)
N_FOLDS = 5


def make_classifier(mlp_class):
    """Scale the pixel features, then classify."""
    return make_pipeline(StandardScaler(), mlp_class(**SETTINGS))


def make_regressor(mlp_class):
    """Scale the features and the target, so adam converges in a few hundred epochs.

    TransformedTargetRegressor fits on the scaled target and maps predictions back
    to the original scale, so the reported R^2 is on the original target.
    """
    return TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(), mlp_class(**SETTINGS)),
        transformer=StandardScaler(),
    )


def final_mlp(estimator):
    """Return the fitted MLP inside a pipeline or a TransformedTargetRegressor."""
    if isinstance(estimator, TransformedTargetRegressor):
        estimator = estimator.regressor_
    return estimator[-1]


def evaluate(name, model_name, estimator, X, y, cv):
    """Cross-validate one estimator and return its row of the report."""
    print(
        f"Fitting {model_name} on {name} ({X.shape[0]} x {X.shape[1]}) ...",
        end=" ",
        flush=True,
    )
    start = time.perf_counter()
    result = cross_validate(estimator, X, y, cv=cv, n_jobs=1, return_estimator=True)
    print(f"done in {time.perf_counter() - start:.1f} s", flush=True)

    epochs = [final_mlp(fitted).n_iter_ for fitted in result["estimator"]]
    return {
        "data": name,
        "model": model_name,
        "score": f"{np.mean(result['test_score']):.3f} ± "
        f"{np.std(result['test_score']):.3f}",
        "fit": f"{np.mean(result['fit_time']):.2f}",
        "epochs": f"{np.mean(epochs):.0f} ({min(epochs)}-{max(epochs)})",
    }


def print_table(rows):
    """Print the rows as a table with aligned columns."""
    columns = [
        ("data", "data set"),
        ("model", "model"),
        ("score", f"{N_FOLDS}-fold CV score"),
        ("fit", "fit time (s)"),
        ("epochs", "epochs (min-max)"),
    ]
    widths = {
        key: max(len(title), *(len(row[key]) for row in rows)) for key, title in columns
    }
    # Text columns are left-aligned, numbers right-aligned.
    left = {"data", "model"}

    def line(cells):
        return "  ".join(
            cells[key].ljust(widths[key])
            if key in left
            else cells[key].rjust(widths[key])
            for key, _ in columns
        )

    header = line(dict(columns))
    print(header)
    print("-" * len(header))
    previous = None
    for row in rows:
        if previous is not None and row["data"] != previous:
            print()
        previous = row["data"]
        print(line(row))


def main():
    print(
        f"sknn_scratch {sknn_scratch.__version__}, scikit-learn {sklearn.__version__}"
    )
    print(f"Settings: {SETTINGS}\n")

    X_digits, y_digits = load_digits(return_X_y=True)
    X_diabetes, y_diabetes = load_diabetes(return_X_y=True)
    # The same shuffled folds for both implementations of each task.
    digits_cv = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=0)
    diabetes_cv = KFold(n_splits=N_FOLDS, shuffle=True, random_state=0)

    rows = []
    # With early stopping off and max_iter=300, some folds stop at the epoch limit
    # before the loss has stopped improving by more than tol. Both implementations
    # then emit a ConvergenceWarning. That is expected for this short demo, and the
    # epochs column shows it, so the warnings would only clutter the output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        for mlp_class in (ScratchMLPClassifier, MLPClassifier):
            rows.append(
                evaluate(
                    "digits",
                    mlp_class.__name__,
                    make_classifier(mlp_class),
                    X_digits,
                    y_digits,
                    digits_cv,
                )
            )
        for mlp_class in (ScratchMLPRegressor, MLPRegressor):
            rows.append(
                evaluate(
                    "diabetes",
                    mlp_class.__name__,
                    make_regressor(mlp_class),
                    X_diabetes,
                    y_diabetes,
                    diabetes_cv,
                )
            )

    print()
    print("Score: accuracy for digits, R^2 for diabetes (mean ± std over the folds).")
    print("Fit time: mean over the folds. Epochs: n_iter_, mean (min-max).\n")
    print_table(rows)


if __name__ == "__main__":
    main()
