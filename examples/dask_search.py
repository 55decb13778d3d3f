"""Grid search over ScratchMLPClassifier, with the fits run on a Dask cluster.

This script tunes a pipeline of ``StandardScaler`` and ``ScratchMLPClassifier`` on
the digits data set (bundled with scikit-learn, no download needed) with an
ordinary ``GridSearchCV``. The only Dask-specific line is the context in which
``fit`` is called::

    with joblib.parallel_config(backend="dask", client=client):
        search.fit(X_train, y_train)

Inside it, joblib hands every cross-validation fit to the ``dask.distributed``
cluster behind ``client`` instead of to local processes. Nothing in the search,
the pipeline or the estimator changes, and because every random draw comes from a
fixed ``random_state``, the search finds the same best parameters and the same
cross-validation scores as a serial ``n_jobs=1`` run. The script prints the best
parameters, their cross-validation accuracy, the accuracy of the refitted best
pipeline on held-out data, and how many fits each worker of the cluster ran.

By default it starts a ``LocalCluster`` on this machine with one worker process
per core and one thread per worker (``--workers`` and ``--threads`` change that):
the fits are NumPy code that holds the GIL between BLAS calls, so processes
scale better than threads. The cluster needs two threads or more in all: given
a single one, joblib runs every fit in this process instead (the script says so,
and counts no fits on the cluster). ``--quick`` runs a tiny search.

Install and run it from the repository root::

    pip install ".[dask]"
    python examples/dask_search.py
    python examples/dask_search.py --workers 2 --threads 1 --quick

**On a real cluster.** Start a scheduler on one machine and workers on the
others, then give the script the scheduler's address::

    dask scheduler                        # on the scheduler host
    dask worker tcp://scheduler-host:8786  # on each worker host
    python examples/dask_search.py --scheduler tcp://scheduler-host:8786

The code is the same: ``Client("tcp://scheduler-host:8786")`` instead of a
``LocalCluster``. The unfitted pipelines are pickled to the workers, which fit
them and send the scores back, so every worker needs the same versions of
sknn_scratch, scikit-learn, NumPy, SciPy, joblib and dask/distributed as the
client. The script checks this before it starts and stops with an error naming
the package that differs. Arguments larger than about a kilobyte, such as the
training data, are scattered to the cluster once by joblib's dask backend, not
sent with every fit. The final refit of the best candidate runs in this process,
as ``GridSearchCV`` always does.

**With Ray instead of Dask.** Ray ships a joblib backend as well. It is not
installed here and this script does not use it; with ``pip install "ray[default]"``
the same search runs on a Ray cluster after::

    import ray
    from ray.util.joblib import register_ray

    ray.init(address="auto")  # or ray.init() for a local Ray instance
    register_ray()
    with joblib.parallel_config(backend="ray"):  # or parallel_backend("ray")
        search.fit(X_train, y_train)
"""

import argparse
import contextlib
import importlib
import re
import warnings
from collections import Counter

from distributed import Client, LocalCluster, get_task_stream
from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sknn_scratch import ScratchMLPClassifier

# The grid and data of the full run and of the quick one. The full grid has
# 8 candidates x 3 folds = 24 fits on 1,347 training digits; the quick one
# 4 x 2 = 8 small fits on 300 digits.
FULL_SETTINGS = {
    "n_samples": None,
    "n_splits": 3,
    "max_iter": 100,
    "param_grid": {
        "scratchmlpclassifier__hidden_layer_sizes": [(32,), (64,)],
        "scratchmlpclassifier__alpha": [1e-4, 1e-2],
        "scratchmlpclassifier__learning_rate_init": [1e-3, 1e-2],
    },
}
QUICK_SETTINGS = {
    "n_samples": 300,
    "n_splits": 2,
    "max_iter": 20,
    "param_grid": {
        "scratchmlpclassifier__hidden_layer_sizes": [(8,), (16,)],
        "scratchmlpclassifier__alpha": [1e-4, 1e-1],
        "scratchmlpclassifier__learning_rate_init": [1e-2],
    },
}
RANDOM_STATE = 0

# Packages whose versions must agree between this process and the workers:
# the estimators travel as pickles, and the fits must compute the same numbers.
MATCHING_PACKAGES = ("sknn_scratch", "sklearn", "numpy", "scipy", "joblib")

# joblib's dask backend names each task after the batch of calls it runs, for
# example "batch_of__fit_and_score_2_calls-<uuid>" (with "mixed_" in front when
# the calls wrap different function objects).
BATCH_KEY = re.compile(r"^(?:mixed_)?batch_of_(?P<function>\w+?)_(?P<calls>\d+)_calls-")


def get_settings(quick=False):
    """Return the settings of the full or the quick search.

    Parameters
    ----------
    quick : bool, default=False
        Whether to return the settings of the tiny search used by ``--quick``.

    Returns
    -------
    settings : dict
        ``n_samples`` (None for all the digits), ``n_splits``, ``max_iter`` and
        ``param_grid``.

    Examples
    --------
    >>> settings = get_settings(quick=True)
    >>> settings["n_samples"], settings["n_splits"]
    (300, 2)
    """
    return QUICK_SETTINGS if quick else FULL_SETTINGS


def load_data(settings):
    """Load the digits and split them into training and held-out data.

    Parameters
    ----------
    settings : dict
        Settings from :func:`get_settings`; ``n_samples`` limits the data to its
        first rows.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        A stratified split with a quarter of the samples held out.

    Examples
    --------
    >>> X_train, X_test, y_train, y_test = load_data(get_settings(quick=True))
    >>> X_train.shape, X_test.shape
    ((225, 64), (75, 64))
    """
    X, y = load_digits(return_X_y=True)
    X, y = X[: settings["n_samples"]], y[: settings["n_samples"]]
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=RANDOM_STATE)


def make_search(settings, n_jobs=None):
    """Build the grid search over the scaler-and-MLP pipeline.

    Parameters
    ----------
    settings : dict
        Settings from :func:`get_settings`.
    n_jobs : int, default=None
        Passed to ``GridSearchCV``. None lets the active joblib backend decide;
        under the dask backend that means every thread of the cluster.

    Returns
    -------
    search : GridSearchCV
        An unfitted search with shuffled, seeded stratified folds that raises on
        a failed fit instead of scoring it as NaN.

    Examples
    --------
    >>> search = make_search(get_settings(quick=True))
    >>> search.cv.get_n_splits(), len(search.param_grid)
    (2, 3)
    """
    pipeline = make_pipeline(
        StandardScaler(),
        ScratchMLPClassifier(max_iter=settings["max_iter"], random_state=RANDOM_STATE),
    )
    folds = StratifiedKFold(
        n_splits=settings["n_splits"], shuffle=True, random_state=RANDOM_STATE
    )
    return GridSearchCV(
        pipeline,
        settings["param_grid"],
        cv=folds,
        n_jobs=n_jobs,
        error_score="raise",
    )


@contextlib.contextmanager
def connect(scheduler=None, n_workers=None, threads_per_worker=1, processes=True):
    """Connect to a Dask scheduler, or start a LocalCluster, for one block.

    Parameters
    ----------
    scheduler : str, default=None
        Address of a running scheduler, such as ``"tcp://host:8786"``. When
        given, the other parameters are ignored: the cluster is sized by whoever
        started it.
    n_workers : int, default=None
        Number of local workers. None lets ``LocalCluster`` size the cluster
        for this machine: with processes, the available cores divided by
        ``threads_per_worker``; with threads, one worker.
    threads_per_worker : int, default=1
        Threads of each local worker.
    processes : bool, default=True
        Whether the local workers are separate processes (as on a real cluster)
        or threads of this process.

    Yields
    ------
    client : distributed.Client
        A client that is closed, together with any cluster started here, when
        the block ends.

    Examples
    --------
    >>> with connect(n_workers=1, processes=False) as client:
    ...     sum(client.nthreads().values())
    1
    """
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            scheduler = stack.enter_context(
                LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=threads_per_worker,
                    processes=processes,
                    dashboard_address=None,
                )
            )
        yield stack.enter_context(Client(scheduler))


def _package_versions():
    """The versions of MATCHING_PACKAGES in the process that runs this."""
    versions = {}
    for name in MATCHING_PACKAGES:
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            versions[name] = "not installed"
    return versions


def check_worker_versions(client):
    """Raise if a worker's packages differ from those of this process.

    Parameters
    ----------
    client : distributed.Client
        The client whose workers are checked.

    Raises
    ------
    RuntimeError
        Naming the worker, the package and both versions.

    Examples
    --------
    >>> with connect(n_workers=1, processes=False) as client:
    ...     check_worker_versions(client)
    """
    here = _package_versions()
    for worker, versions in client.run(_package_versions).items():
        for name, version in versions.items():
            if version != here[name]:
                raise RuntimeError(
                    f"Worker {worker} has {name} {version}, but this process has "
                    f"{here[name]}. Install the same versions on every worker."
                )


def count_fits(task_records):
    """Count the fits of each worker in the records of a Dask task stream.

    Parameters
    ----------
    task_records : list of dict
        The ``data`` of :func:`distributed.get_task_stream`, one record per task
        with its ``key`` and the ``worker`` that ran it.

    Returns
    -------
    fits_per_worker : Counter
        The number of ``_fit_and_score`` calls each worker ran.

    Examples
    --------
    >>> records = [
    ...     {"key": "batch_of__fit_and_score_2_calls-ab12", "worker": "w1"},
    ...     {"key": "mixed_batch_of__fit_and_score_3_calls-cd34", "worker": "w2"},
    ...     {"key": "_joblib_probe_task-ef56", "worker": "w1"},
    ... ]
    >>> dict(count_fits(records))
    {'w1': 2, 'w2': 3}
    """
    fits_per_worker = Counter()
    for record in task_records:
        match = BATCH_KEY.match(str(record["key"]))
        if match and match["function"] == "_fit_and_score":
            fits_per_worker[record["worker"]] += int(match["calls"])
    return fits_per_worker


def run_search(search, X, y, client):
    """Fit the search with its cross-validation fits run by the cluster.

    Parameters
    ----------
    search : GridSearchCV
        The search to fit, in place.
    X, y : ndarray
        The training data.
    client : distributed.Client
        The client of the cluster that runs the fits.

    Returns
    -------
    fits_per_worker : Counter
        How many fits each worker ran, from the cluster's task stream.
    """
    # Short searches stop some fits at max_iter; the warnings would only clutter
    # the output. scikit-learn passes these filters on to the workers with each
    # fit.
    with (
        warnings.catch_warnings(),
        get_task_stream(client) as task_stream,
        parallel_config(backend="dask", client=client),
    ):
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        search.fit(X, y)
    return count_fits(task_stream.data)


def parse_args(argv=None):
    """Parse the command line; see ``python examples/dask_search.py --help``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler, e.g. tcp://host:8786; "
        "without it a LocalCluster is started",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="workers of the LocalCluster (default: one per core divided by --threads)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per LocalCluster worker"
    )
    parser.add_argument(
        "--processes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the LocalCluster workers as processes (default) or as threads",
    )
    parser.add_argument(
        "--quick", action="store_true", help="run a tiny search on 300 digits"
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Run the search on the cluster, print and return the outcome.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; None reads ``sys.argv``.

    Returns
    -------
    outcome : dict
        ``search`` (the fitted GridSearchCV), ``fits_per_worker`` (a Counter),
        ``test_score`` (accuracy of the best pipeline on the held-out data).
    """
    args = parse_args(argv)
    settings = get_settings(args.quick)
    X_train, X_test, y_train, y_test = load_data(settings)
    search = make_search(settings)

    # One BLAS thread per fit, as Dask's worker processes set for themselves:
    # in-process workers and the final refit run here and would otherwise start
    # more BLAS threads than there are cores.
    with (
        threadpool_limits(limits=1),
        connect(args.scheduler, args.workers, args.threads, args.processes) as client,
    ):
        check_worker_versions(client)
        n_threads = sum(client.nthreads().values())
        print(f"Dask cluster: {len(client.nthreads())} workers, {n_threads} threads")
        if n_threads == 1:
            print(
                "joblib runs the fits in this process when the cluster has a "
                "single thread; start it with two threads or more."
            )
        fits_per_worker = run_search(search, X_train, y_train, client)
        test_score = search.score(X_test, y_test)

    n_candidates = len(search.cv_results_["params"])
    print(f"Best parameters: {search.best_params_}")
    print(f"Best {settings['n_splits']}-fold CV accuracy: {search.best_score_:.4f}")
    print(f"Held-out accuracy of the refitted best pipeline: {test_score:.4f}")
    print(
        f"The cluster ran {sum(fits_per_worker.values())} fits "
        f"({n_candidates} candidates x {settings['n_splits']} folds):"
    )
    for worker, n_fits in sorted(fits_per_worker.items()):
        print(f"  {worker}: {n_fits}")
    return {
        "search": search,
        "fits_per_worker": fits_per_worker,
        "test_score": test_score,
    }


if __name__ == "__main__":
    main()
