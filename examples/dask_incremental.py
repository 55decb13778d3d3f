"""Train ScratchMLPClassifier block by block on a Dask array with dask-ml.

Data too large for one machine's memory lives in a Dask array of many blocks
(chunks of rows). ``dask_ml.wrappers.Incremental`` trains any estimator with a
``partial_fit`` method on such an array: it calls ``partial_fit`` once per block,
in sequence, on the cluster's workers, so that no machine ever needs the whole
array in memory. Each call is one epoch of the MLP's optimizer over that
block; each ``Incremental.partial_fit`` is one pass over all the blocks.

This script stands in for such data with the digits data set (bundled with
scikit-learn, no download needed): it holds out a quarter of the digits, cuts the
rest into a Dask array of several blocks, scales them with dask-ml's
``StandardScaler`` (fitted on the Dask array, lazily), trains the MLP for a few
passes and prints the accuracy on the held-out digits after each pass, next to
the accuracy of always predicting the most frequent class.

As ``partial_fit`` requires, the classes are passed on every call, through the
fit keyword arguments that ``Incremental`` hands on to the estimator::

    model = Incremental(ScratchMLPClassifier(...), scoring="accuracy")
    model.partial_fit(X_train, y_train, classes=classes)

A block need not contain every class, which is why the classes are computed once
from the whole target first. ``ScratchMLPRegressor`` is trained the same way,
without ``classes``.

By default the script starts a ``LocalCluster`` with one worker process per
core; ``--workers``, ``--threads`` and ``--quick`` work as in
``examples/dask_search.py``, and so does ``--scheduler tcp://host:8786`` for a
real cluster, whose workers need the same package versions as this process. On
real data the Dask array would come from the workers' storage (for example
``dask.array.from_zarr`` or a Dask DataFrame's ``to_dask_array(lengths=True)``)
instead of from an in-memory NumPy array.

Install and run it from the repository root::

    pip install ".[dask]"
    python examples/dask_incremental.py
"""

import argparse
import contextlib
import importlib

import dask.array as da
import numpy as np
from dask_ml.preprocessing import StandardScaler
from dask_ml.wrappers import Incremental
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from sknn_scratch import ScratchMLPClassifier

# The full run trains a wider network for more passes over smaller blocks.
FULL_SETTINGS = {
    "hidden_layer_sizes": (64,),
    "learning_rate_init": 1e-2,
    "block_rows": 250,
    "n_passes": 10,
}
QUICK_SETTINGS = {
    "hidden_layer_sizes": (16,),
    "learning_rate_init": 1e-2,
    "block_rows": 400,
    "n_passes": 3,
}
RANDOM_STATE = 0

# Packages whose versions must agree between this process and the workers:
# the estimator travels between them as a pickle after every block.
MATCHING_PACKAGES = ("sknn_scratch", "sklearn", "numpy", "scipy", "dask", "dask_ml")


def get_settings(quick=False):
    """Return the settings of the full or the quick run.

    Parameters
    ----------
    quick : bool, default=False
        Whether to return the settings of the short run used by ``--quick``.

    Returns
    -------
    settings : dict
        ``hidden_layer_sizes`` and ``learning_rate_init`` of the MLP,
        ``block_rows`` (rows per block of the training array) and ``n_passes``.

    Examples
    --------
    >>> get_settings(quick=True)["n_passes"]
    3
    """
    return QUICK_SETTINGS if quick else FULL_SETTINGS


def make_dask_data(settings):
    """Split the digits and put them into scaled Dask arrays.

    Parameters
    ----------
    settings : dict
        Settings from :func:`get_settings`; ``block_rows`` sets the blocks.

    Returns
    -------
    data : dict
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` as Dask arrays, blocked
        along the rows only, with X scaled by a ``StandardScaler`` fitted on
        ``X_train``; and ``classes``, the sorted labels of ``y_train``.

    Examples
    --------
    >>> data = make_dask_data(get_settings(quick=True))
    >>> data["X_train"].numblocks, data["classes"].tolist()
    ((4, 1), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=RANDOM_STATE
    )

    # Blocks of whole rows: partial_fit needs every feature of a sample at once.
    block_rows = settings["block_rows"]
    X_train = da.from_array(X_train, chunks=(block_rows, -1))
    y_train = da.from_array(y_train, chunks=block_rows)
    X_test = da.from_array(X_test, chunks=(block_rows, -1))
    y_test = da.from_array(y_test, chunks=block_rows)

    scaler = StandardScaler().fit(X_train)
    return {
        "X_train": scaler.transform(X_train),
        "y_train": y_train,
        "X_test": scaler.transform(X_test),
        "y_test": y_test,
        # Computed once from all the blocks, since one block may lack a class.
        "classes": da.unique(y_train).compute(),
    }


def make_model(settings):
    """Wrap the MLP in ``Incremental``, visiting the blocks in a fixed order.

    The rows were shuffled once by the train/test split and the MLP shuffles
    the rows of each block itself (``shuffle=True``), so a fixed block order is
    enough here and keeps the run reproducible.

    Parameters
    ----------
    settings : dict
        Settings from :func:`get_settings`.

    Returns
    -------
    model : dask_ml.wrappers.Incremental
        An unfitted wrapper scored by accuracy.

    Examples
    --------
    >>> make_model(get_settings(quick=True)).estimator.hidden_layer_sizes
    (16,)
    """
    mlp = ScratchMLPClassifier(
        hidden_layer_sizes=settings["hidden_layer_sizes"],
        learning_rate_init=settings["learning_rate_init"],
        random_state=RANDOM_STATE,
    )
    return Incremental(mlp, scoring="accuracy", shuffle_blocks=False)


@contextlib.contextmanager
def connect(scheduler=None, n_workers=None, threads_per_worker=1, processes=True):
    """Connect to a Dask scheduler, or start a LocalCluster, for one block.

    Parameters
    ----------
    scheduler : str, default=None
        Address of a running scheduler, such as ``"tcp://host:8786"``. When
        given, the other parameters are ignored.
    n_workers : int, default=None
        Number of local workers. None lets ``LocalCluster`` size the cluster
        for this machine: with processes, the available cores divided by
        ``threads_per_worker``; with threads, one worker.
    threads_per_worker : int, default=1
        Threads of each local worker.
    processes : bool, default=True
        Whether the local workers are separate processes or threads of this
        process.

    Yields
    ------
    client : distributed.Client
        The default client for Dask computations inside the block; it is
        closed, together with any cluster started here, when the block ends.

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


def train(model, data, n_passes):
    """Train for ``n_passes`` passes over the blocks, scoring after each.

    Parameters
    ----------
    model : dask_ml.wrappers.Incremental
        The model to train, in place. Its first ``partial_fit`` starts from a
        clone of its estimator; the later ones continue from ``estimator_``.
    data : dict
        Data from :func:`make_dask_data`.
    n_passes : int
        Number of passes over all the training blocks.

    Returns
    -------
    test_scores : list of float
        The held-out accuracy after each pass.
    """
    test_scores = []
    for n_pass in range(1, n_passes + 1):
        model.partial_fit(data["X_train"], data["y_train"], classes=data["classes"])
        test_scores.append(float(model.score(data["X_test"], data["y_test"])))
        print(f"Pass {n_pass}: held-out accuracy {test_scores[-1]:.4f}")
    return test_scores


def parse_args(argv=None):
    """Parse the command line; see ``python examples/dask_incremental.py --help``."""
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
        "--quick", action="store_true", help="train a small network for 3 passes"
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Train on the cluster, print and return the outcome.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; None reads ``sys.argv``.

    Returns
    -------
    outcome : dict
        ``model`` (the fitted Incremental), ``data`` (from
        :func:`make_dask_data`), ``test_scores`` (held-out accuracy after each
        pass) and ``chance`` (accuracy of predicting the most frequent class).
    """
    args = parse_args(argv)
    settings = get_settings(args.quick)
    model = make_model(settings)

    # One BLAS thread per task, as Dask's worker processes set for themselves,
    # so that in-process workers do not start more BLAS threads than cores.
    with (
        threadpool_limits(limits=1),
        connect(args.scheduler, args.workers, args.threads, args.processes) as client,
    ):
        check_worker_versions(client)
        n_threads = sum(client.nthreads().values())
        print(f"Dask cluster: {len(client.nthreads())} workers, {n_threads} threads")

        # Inside the block, so that the cluster also fits the scaler.
        data = make_dask_data(settings)
        print(
            f"Training on {data['X_train'].shape[0]} digits in "
            f"{data['X_train'].numblocks[0]} blocks of up to "
            f"{settings['block_rows']} rows"
        )
        test_scores = train(model, data, settings["n_passes"])
        y_test = data["y_test"].compute()

    chance = np.bincount(y_test).max() / len(y_test)
    print(
        f"Held-out accuracy after {settings['n_passes']} passes: "
        f"{test_scores[-1]:.4f} (most frequent class: {chance:.4f})"
    )
    return {
        "model": model,
        "data": data,
        "test_scores": test_scores,
        "chance": chance,
    }


if __name__ == "__main__":
    main()
