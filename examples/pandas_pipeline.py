"""A mixed-type pandas DataFrame through a full scikit-learn workflow.

The diabetes data set bundled with scikit-learn (442 patients, no download) is
turned into the kind of table met in practice: ``sex`` becomes a categorical
column, ``age`` a categorical age band, and a fixed-seed tenth of the values of
four columns is knocked out. The same table then feeds two tasks:

- classification: is the disease progression one year later "high" or "low"
  (above or below the median)? A ``ColumnTransformer`` imputes and scales the
  numeric columns and one-hot encodes the categorical ones, a
  ``ScratchMLPClassifier`` learns on the result, ``GridSearchCV(n_jobs=-1)``
  tunes its size and L2 penalty, and ``cross_validate`` scores the whole
  search on folds it never saw (nested cross-validation);
- regression: the progression itself, learnt by a ``ScratchMLPRegressor`` on
  a standardised target through ``TransformedTargetRegressor``, scored by
  ``cross_validate``.

Each score is printed next to that of a constant baseline, so that the numbers
mean something. Run it from the repository root::

    python examples/pandas_pipeline.py            # 65 fits of the grid search
    python examples/pandas_pipeline.py --quick    # 15: a smaller grid, fewer folds

The grid search runs in worker processes (``--n-jobs``, default -1: one per
core). ``--quick --n-jobs 1`` needs about 4 CPU-seconds, imports included; the
full run about 15 in the main process plus the workers' share.
"""

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import (
    ColumnTransformer,
    TransformedTargetRegressor,
    make_column_selector,
)
from sklearn.datasets import load_diabetes
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

SEED = 0
MISSING_FRACTION = 0.1
COLUMNS_WITH_GAPS = ("sex", "bmi", "bp", "s5")
AGE_BANDS = {"bins": [0, 40, 50, 60, 120], "labels": ["<40", "40-49", "50-59", "60+"]}


def load_mixed_diabetes(seed=SEED):
    """Return the diabetes data as a table of numeric and categorical columns.

    Parameters
    ----------
    seed : int, default=0
        Seed of the draw that chooses which values go missing.

    Returns
    -------
    frame : pandas.DataFrame of shape (442, 10)
        Eight float columns (``bmi``, ``bp``, ``s1`` to ``s6``) and two
        categorical ones (``sex``, ``age_band``); ``sex``, ``bmi``, ``bp`` and
        ``s5`` each miss a tenth of their values.
    progression : pandas.Series of shape (442,)
        The disease progression one year after the baseline.

    Examples
    --------
    >>> frame, progression = load_mixed_diabetes()
    >>> frame.shape, progression.shape
    ((442, 10), (442,))
    >>> sorted(frame.select_dtypes("category").columns)
    ['age_band', 'sex']
    >>> int(frame["bmi"].isna().sum())
    44
    """
    raw = load_diabetes(as_frame=True, scaled=False).frame
    progression = raw.pop("target").rename("progression")

    # The data set codes sex as 1 or 2 without saying which is which, so the
    # categories keep those codes, as text.
    raw["sex"] = pd.Categorical(raw["sex"].astype(int).astype(str))
    raw.insert(0, "age_band", pd.cut(raw.pop("age"), **AGE_BANDS))

    # Values missing completely at random, the same ones on every run.
    rng = np.random.default_rng(seed)
    n_missing = round(MISSING_FRACTION * len(raw))
    for column in COLUMNS_WITH_GAPS:
        rows = rng.choice(len(raw), size=n_missing, replace=False)
        raw.loc[raw.index[rows], column] = np.nan
    return raw, progression


def make_preprocessor():
    """Impute and scale the numeric columns; impute and one-hot the categories.

    The missing-value indicators let the network tell an imputed median from
    a measured one. The output is a DataFrame, so the network records the
    names of the columns it was trained on.
    """
    numeric = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
    )
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    preprocessor = ColumnTransformer(
        [
            ("numeric", numeric, make_column_selector(dtype_include="number")),
            (
                "categorical",
                categorical,
                make_column_selector(dtype_include="category"),
            ),
        ],
        verbose_feature_names_out=False,
    )
    return preprocessor.set_output(transform="pandas")


def make_classification_search(quick, n_jobs):
    """The preprocessing and classifier pipeline, inside its grid search."""
    pipeline = Pipeline(
        [
            ("preprocess", make_preprocessor()),
            (
                "mlp",
                ScratchMLPClassifier(solver="lbfgs", max_iter=300, random_state=SEED),
            ),
        ]
    )
    # lbfgs suits a data set this small: there is no learning rate to tune,
    # and a few hundred iterations reach a good model. With 442 rows, strong
    # L2 penalties do best.
    grid = {"mlp__hidden_layer_sizes": [(8,), (16,)], "mlp__alpha": [3.0, 30.0]}
    if quick:
        grid["mlp__hidden_layer_sizes"] = [(8,)]
    inner_cv = StratifiedKFold(
        n_splits=2 if quick else 3, shuffle=True, random_state=SEED
    )
    return GridSearchCV(pipeline, grid, cv=inner_cv, n_jobs=n_jobs)


def make_regressor():
    """The preprocessing and regressor pipeline, on a standardised target.

    TransformedTargetRegressor trains the network on the standardised
    progression and maps its predictions back, so scores are on the original
    scale.
    """
    mlp = ScratchMLPRegressor(
        hidden_layer_sizes=(8,),
        alpha=30.0,
        solver="lbfgs",
        max_iter=300,
        random_state=SEED,
    )
    return TransformedTargetRegressor(
        regressor=Pipeline([("preprocess", make_preprocessor()), ("mlp", mlp)]),
        transformer=StandardScaler(),
    )


def mean_and_spread(scores):
    """Return ``"mean ± std"`` of an array of fold scores."""
    return f"{np.mean(scores):.3f} ± {np.std(scores):.3f}"


def evaluate_classifier(frame, labels, quick, n_jobs):
    """Run the nested cross-validation of the grid search; return its scores."""
    outer_cv = StratifiedKFold(n_splits=3 if quick else 5, shuffle=True, random_state=1)
    scoring = ("accuracy", "roc_auc")
    nested = cross_validate(
        make_classification_search(quick, n_jobs),
        frame,
        labels,
        cv=outer_cv,
        scoring=scoring,
        return_estimator=True,
    )
    baseline = cross_validate(
        DummyClassifier(strategy="most_frequent"),
        frame,
        labels,
        cv=outer_cv,
        scoring=scoring,
    )

    print("Classification: progression 'high' or 'low' (split at the median)")
    print(f"  accuracy  {mean_and_spread(nested['test_accuracy'])}", end="")
    print(f"   (most frequent class: {np.mean(baseline['test_accuracy']):.3f})")
    print(f"  ROC AUC   {mean_and_spread(nested['test_roc_auc'])}", end="")
    print(f"   (constant guess: {np.mean(baseline['test_roc_auc']):.3f})")
    print("  parameters chosen by the grid search in each outer fold:")
    for search in nested["estimator"]:
        print(
            f"    {search.best_params_}  (inner CV accuracy {search.best_score_:.3f})"
        )
    fitted_mlp = nested["estimator"][0].best_estimator_["mlp"]
    print(
        f"  the network sees {fitted_mlp.n_features_in_} columns: "
        f"{', '.join(fitted_mlp.feature_names_in_)}"
    )
    return {
        "accuracy": float(np.mean(nested["test_accuracy"])),
        "roc_auc": float(np.mean(nested["test_roc_auc"])),
        "baseline_accuracy": float(np.mean(baseline["test_accuracy"])),
        "best_params": [search.best_params_ for search in nested["estimator"]],
        "feature_names": list(fitted_mlp.feature_names_in_),
    }


def evaluate_regressor(frame, progression, quick):
    """Cross-validate the regressor and a mean-predicting baseline."""
    cv = KFold(n_splits=3 if quick else 5, shuffle=True, random_state=1)
    scoring = ("r2", "neg_mean_absolute_error")
    result = cross_validate(
        make_regressor(), frame, progression, cv=cv, scoring=scoring
    )
    baseline = cross_validate(
        DummyRegressor(), frame, progression, cv=cv, scoring=scoring
    )

    mae = -result["test_neg_mean_absolute_error"]
    baseline_mae = -np.mean(baseline["test_neg_mean_absolute_error"])
    print("Regression: progression, on a standardised target")
    print(f"  R^2       {mean_and_spread(result['test_r2'])}", end="")
    print(f"   (predicting the mean: {np.mean(baseline['test_r2']):.3f})")
    print(f"  MAE       {np.mean(mae):.1f} ± {np.std(mae):.1f}", end="")
    print(f"   (predicting the mean: {baseline_mae:.1f})")
    return {
        "r2": float(np.mean(result["test_r2"])),
        "mae": float(np.mean(mae)),
        "baseline_r2": float(np.mean(baseline["test_r2"])),
        "baseline_mae": float(baseline_mae),
    }


def main(argv=None):
    """Build the table, run both tasks and print their scores.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    results : dict
        ``"classification"`` and ``"regression"``, each a dict of the mean
        test scores of the cross-validation and of its baseline.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smaller grid and fewer folds"
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        help="processes of the grid search (default: -1, every core)",
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    frame, progression = load_mixed_diabetes()
    labels = pd.Series(
        pd.Categorical.from_codes(
            (progression > progression.median()).astype(int), ["low", "high"]
        ),
        name="progression_band",
    )
    print(f"{frame.shape[0]} patients, columns and types:")
    print("  " + ", ".join(f"{name} ({dtype})" for name, dtype in frame.dtypes.items()))
    print(f"  missing values: {int(frame.isna().sum().sum())}\n")

    # With the weaker penalties of the grid, lbfgs can reach max_iter before its
    # gradient falls below tol, and warns; the held-out scores printed below
    # are what tells whether the models are good enough, so the warnings would
    # only clutter the output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        results = {
            "classification": evaluate_classifier(
                frame, labels, args.quick, args.n_jobs
            )
        }
        print()
        results["regression"] = evaluate_regressor(frame, progression, args.quick)
    print(f"\nDone in {time.perf_counter() - start:.1f} s.")
    return results


if __name__ == "__main__":
    main()
