"""Training and prediction speed of sknn_scratch against scikit-learn and PyTorch.

Command
-------
Run from the repository root, with the package installed::

    python benchmarks/bench.py [--repeats N] [--cases small,wide,...] [--quick]
                               [--markdown] [--dtype {float64,float32}]
                               [--no-memory]

``--cases`` takes a comma-separated subset of ``small, wide, regression, lbfgs,
sgd, predict`` (default: all), ``--repeats`` the number of timed runs per system
(default 5), ``--quick`` shrinks every case to a run of seconds (for a smoke
test, not for numbers), ``--markdown`` prints the tables as Markdown,
``--dtype float32`` trains and predicts every system in float32, and
``--no-memory`` skips the peak-memory pass. PyTorch is optional: without it the
torch rows say "PyTorch not installed".

Method
------
Three systems train the same network on the same data with the same
hyperparameters: ours (``ScratchMLPClassifier`` / ``ScratchMLPRegressor``),
scikit-learn's ``MLPClassifier`` / ``MLPRegressor``, and a PyTorch CPU network of
the same architecture (relu hidden layers; softmax, logistic or identity output
through the matching loss). Every run has a fixed length: ``max_iter`` epochs
with ``tol=0`` and ``n_iter_no_change=10**9``, so no stopping rule fires, and
the ConvergenceWarning this provokes is silenced.

The PyTorch network starts from the weights scikit-learn draws (Glorot uniform
from ``RandomState(0)``) and takes its mini-batches in scikit-learn's shuffled
order, from the same random state; its loss adds the same L2 term,
``alpha / 2 * sum(coefs**2) / n_samples_in_batch``, and Adam and SGD have
scikit-learn's settings (Adam: beta1 0.9, beta2 0.999, eps 1e-8, though PyTorch
adds eps after its bias correction and scikit-learn before; SGD: momentum 0.9,
Nesterov). Its final training score is then comparable with the others.
The ``lbfgs`` case has no exact PyTorch twin: ours and scikit-learn run SciPy's
L-BFGS-B, the torch row runs ``torch.optim.LBFGS`` full-batch (history 10,
strong-Wolfe line search, ``tolerance_grad=0``) with the same ``max_iter``, and
is labelled so; its times are per iteration, each system's own count.

On a shared machine the timings drift, so the runs are interleaved (ours,
scikit-learn, torch, matrix products, then the same in reverse order, for
``--repeats`` rounds) and each system's time is the median of its rounds. A
speed-up is the median of the per-round ratios, which compares runs made
seconds apart. Each system first makes one untimed warm-up fit on a few
batches.

Next to the systems, each round times the matrix products one training epoch
cannot avoid, as bare ``np.dot`` calls into preallocated arrays: the BLAS row
shows what NumPy's BLAS reaches on this machine for exactly these shapes, and
every system's share of it (see :func:`training_flops` for the count). PyTorch
calls its own BLAS (MKL in the usual wheels), so it can exceed 100%.

Peak memory comes from a separate, untimed pass: each (case, system) pair fits
once more in a fresh Python subprocess, which reports by how much its resident
set grew above the level just before the fit (Linux: the high-water mark is
reset through ``/proc/self/clear_refs`` before the fit and read back after it;
elsewhere the growth of ``ru_maxrss``, which can understate it). One method for
all three systems, and this one, because ``tracemalloc`` sees NumPy's
allocations but not those of PyTorch's CPU allocator, while the resident set
counts both. A fresh process per pair keeps one system's freed-but-kept memory
out of another's figure; an untimed warm-up fit inside it first loads the code
paths and thread pools, so the figure is the fit's working memory. The probe
runs with glibc's ``MALLOC_MMAP_THRESHOLD_=65536`` and ``MALLOC_TRIM_THRESHOLD_=0``
so that freed memory goes back to the system at once: otherwise the fit would
reuse what the warm-up freed, and a small fit would show no growth at all.

PyTorch runs as many intra-op threads as NumPy's BLAS (read with threadpoolctl),
and the header says so. ``--dtype float32`` casts the data (and a regression's
targets) to float32; scikit-learn's MLP then trains in float32 too, as ours
does, except with lbfgs, whose weights come back from SciPy as float64. The
notes give the dtype of each system's fitted weights and flag any that differs
from the one asked for.
"""

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_breast_cancer, load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

import sknn_scratch
from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

SEED = 0
ALPHA = 1e-4  # scikit-learn's default L2 strength
SYSTEMS = ("ours", "sklearn", "torch")
BLAS_ROW = "BLAS np.dot"
TORCH_MISSING = "PyTorch not installed"
DTYPES = {"float64": np.float64, "float32": np.float32}


# ------------------------------------------------------------------------------
# Data sets


def load_small(n_rows=None):
    """Return the digits data set (1,797 x 64), scaled to [0, 1]."""
    X, y = load_digits(return_X_y=True)
    return X[:n_rows] / 16.0, y[:n_rows]


def load_wide(n_rows=None):
    """Return standard normal features (n_rows x 784) and a linear teacher's labels.

    The teacher is drawn before the features, so that its ten classes are the
    same whatever the number of rows (None: 20,000).
    """
    n_rows = 20_000 if n_rows is None else n_rows
    rng = np.random.default_rng(SEED)
    teacher = rng.standard_normal((784, 10))
    X = rng.standard_normal((n_rows, 784))
    return X, np.argmax(X @ teacher, axis=1)


def load_regression(n_rows=None):
    """Return a noisy linear regression (n_rows x 100, None: 20,000), y standardised."""
    X, y = make_regression(
        n_samples=20_000 if n_rows is None else n_rows,
        n_features=100,
        n_informative=50,
        noise=10.0,
        random_state=SEED,
    )
    return X, (y - y.mean()) / y.std()


def load_breast_cancer_standardised(n_rows=None):
    """Return the breast cancer data set (569 x 30), features standardised."""
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X)[:n_rows], y[:n_rows]


# ------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Case:
    """One training benchmark: its data, network, solver and fixed length.

    Parameters
    ----------
    name : str
        What ``--cases`` calls it.
    description : str
        One line for the report.
    task : {"classification", "regression"}
    load : callable
        ``load(n_rows)`` returns ``(X, y)``; ``n_rows=None`` gives the default size.
    hidden_layer_sizes : tuple of int
    solver : {"adam", "sgd", "lbfgs"}
    epochs : int
        ``max_iter``: epochs for the stochastic solvers, iterations for lbfgs.
    batch_size : int, default=200
        Ignored by lbfgs, which uses the whole training set.
    rows : int or None, default=None
        Rows of a full run; None keeps the loader's default.
    quick_rows, quick_epochs : int or None, default=None
        The sizes ``--quick`` uses instead; None keeps the full run's.
    options : mapping, default={}
        Further estimator parameters, such as ``momentum``.

    Examples
    --------
    >>> case = Case("tiny", "digits, 2 epochs", "classification", load_small,
    ...             (8,), "adam", epochs=2, quick_epochs=1)
    >>> case.estimator_params(epochs=1)["max_iter"]
    1
    >>> case.size(quick=True)
    (None, 1)
    """

    name: str
    description: str
    task: str
    load: Callable
    hidden_layer_sizes: tuple
    solver: str
    epochs: int
    batch_size: int = 200
    rows: int | None = None
    quick_rows: int | None = None
    quick_epochs: int | None = None
    options: Mapping = field(default_factory=dict)

    def size(self, quick):
        """Return ``(rows, epochs)`` of a full or a ``--quick`` run."""
        if not quick:
            return self.rows, self.epochs
        rows = self.rows if self.quick_rows is None else self.quick_rows
        epochs = self.epochs if self.quick_epochs is None else self.quick_epochs
        return rows, epochs

    def estimator_params(self, epochs):
        """Return the scikit-learn parameters that ours and scikit-learn share."""
        return {
            "hidden_layer_sizes": self.hidden_layer_sizes,
            "activation": "relu",
            "solver": self.solver,
            "alpha": ALPHA,
            "batch_size": self.batch_size,
            "max_iter": epochs,
            "tol": 0.0,
            "n_iter_no_change": 10**9,
            "random_state": SEED,
            **self.options,
        }


TRAINING_CASES = {
    case.name: case
    for case in [
        Case(
            "small",
            "digits 1,797 x 64, hidden (100,), adam, batch 200",
            "classification",
            load_small,
            (100,),
            "adam",
            epochs=20,
            quick_rows=400,
            quick_epochs=10,
        ),
        Case(
            "wide",
            "synthetic 20,000 x 784, 10 classes, hidden (512, 256), adam, batch 256",
            "classification",
            load_wide,
            (512, 256),
            "adam",
            epochs=2,
            batch_size=256,
            rows=20_000,
            quick_rows=300,
            quick_epochs=1,
        ),
        Case(
            "regression",
            "make_regression 20,000 x 100, hidden (128, 64), adam, batch 200",
            "regression",
            load_regression,
            (128, 64),
            "adam",
            epochs=10,
            rows=20_000,
            quick_rows=400,
            quick_epochs=5,
        ),
        Case(
            "lbfgs",
            "breast_cancer 569 x 30 standardised, hidden (100,), lbfgs",
            "classification",
            load_breast_cancer_standardised,
            (100,),
            "lbfgs",
            epochs=200,
            quick_epochs=10,
        ),
        Case(
            "sgd",
            "digits as small, sgd lr 0.01, Nesterov momentum 0.9",
            "classification",
            load_small,
            (100,),
            "sgd",
            epochs=20,
            quick_rows=400,
            quick_epochs=10,
            options={
                "learning_rate_init": 0.01,
                "momentum": 0.9,
                "nesterovs_momentum": True,
            },
        ),
    ]
}


@dataclass(frozen=True)
class PredictCase:
    """The prediction benchmark, on a model of the ``wide`` case's shape.

    The model is fitted for one epoch on ``fit_rows`` rows (prediction speed does
    not depend on the weights' values); latency is the median time of one
    ``predict`` call on a single row, throughput the rows per second of one
    ``predict`` call on ``throughput_rows`` rows.
    """

    name: str = "predict"
    description: str = (
        "predict on the wide model: 1 row (latency), 100,000 rows (throughput)"
    )
    shape_of: str = "wide"
    fit_rows: int = 2_000
    latency_calls: int = 2_000
    throughput_rows: int = 100_000
    quick_fit_rows: int = 300
    quick_latency_calls: int = 40
    quick_throughput_rows: int = 1_000

    def size(self, quick):
        """Return ``(fit_rows, latency_calls, throughput_rows)``."""
        if quick:
            return (
                self.quick_fit_rows,
                self.quick_latency_calls,
                self.quick_throughput_rows,
            )
        return self.fit_rows, self.latency_calls, self.throughput_rows


PREDICT_CASE = PredictCase()
CASE_NAMES = (*TRAINING_CASES, PREDICT_CASE.name)


# ------------------------------------------------------------------------------
# Training data and the work it takes


@dataclass
class TrainingData:
    """A case's data in the benchmark's dtype, and the shapes it trains.

    ``layer_units`` lists the width of every layer, input to output, as the
    estimators build it; ``batch_sizes`` the sizes of the mini-batches of one
    epoch (for lbfgs, one batch: the whole set per iteration).
    """

    X: np.ndarray
    y: np.ndarray
    layer_units: list
    batch_sizes: list


def prepare_data(case, rows, dtype):
    """Load a case's data, cast to ``dtype``, and derive its shapes."""
    X, y = case.load(rows)
    X = np.ascontiguousarray(X, dtype=dtype)
    if case.task == "regression":
        # In the same dtype as X, so that no system upcasts its loss to float64.
        y = y.astype(dtype)
        n_outputs = 1
    else:
        n_classes = len(np.unique(y))
        n_outputs = 1 if n_classes == 2 else n_classes
    layer_units = [X.shape[1], *case.hidden_layer_sizes, n_outputs]
    n_samples = X.shape[0]
    if case.solver == "lbfgs":
        batch_sizes = [n_samples]
    else:
        batch_size = min(case.batch_size, n_samples)
        batch_sizes = [batch_size] * (n_samples // batch_size)
        if n_samples % batch_size:
            batch_sizes.append(n_samples % batch_size)
    return TrainingData(X, y, layer_units, batch_sizes)


def first_rows(data, n_rows):
    """Return the first ``n_rows`` of the data, with the same network shape."""
    n_rows = min(n_rows, data.X.shape[0])
    return TrainingData(
        data.X[:n_rows], data.y[:n_rows], data.layer_units, data.batch_sizes
    )


def training_flops(layer_units, n_samples):
    """Return the floating-point operations of the matrix products of one epoch.

    A dense layer with ``fan_in`` inputs and ``fan_out`` outputs costs, per
    sample, ``2 * fan_in * fan_out`` operations in each of three products: the
    forward ``A @ W``, the weight gradient ``A.T @ delta`` and the input gradient
    ``delta @ W.T``. The first layer's input gradient is not needed. Over an
    epoch of ``n`` samples, with ``S = sum(fan_in * fan_out)`` over the layers::

        flops = 2 * n * S                      # forward
              + 2 * n * (2 * S - fan_in_0 * fan_out_0)   # backward
              = 2 * n * (3 * S - fan_in_0 * fan_out_0)

    Element-wise work (biases, activations, loss, optimizer) is left out: it is
    linear in the parameters or the activations, not a product of them.

    Parameters
    ----------
    layer_units : list of int
        Width of every layer, input to output.
    n_samples : int
        Samples in one epoch (or in one lbfgs evaluation).

    Returns
    -------
    flops : int

    Examples
    --------
    >>> training_flops([64, 100, 10], n_samples=1)  # 2 * (3 * 7400 - 6400)
    31600
    """
    products = [fan_in * fan_out for fan_in, fan_out in pairwise(layer_units)]
    return 2 * n_samples * (3 * sum(products) - products[0])


def matrix_products(layer_units, batch_sizes, dtype):
    """Return a function that runs one epoch's matrix products as bare ``np.dot``.

    These are the products :func:`training_flops` counts, batch by batch, into
    arrays allocated here, so that timing the function measures what the BLAS
    reaches on this machine for exactly these shapes.

    Examples
    --------
    >>> run_epoch = matrix_products([4, 3, 2], [5, 5, 2], np.float64)
    >>> run_epoch()
    """
    rng = np.random.default_rng(SEED)
    largest = max(batch_sizes)
    weights = [
        (rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in)).astype(dtype)
        for fan_in, fan_out in pairwise(layer_units)
    ]
    outputs = [rng.standard_normal((largest, n)).astype(dtype) for n in layer_units]
    deltas = [rng.standard_normal((largest, n)).astype(dtype) for n in layer_units[1:]]
    gradients = [np.empty_like(coef) for coef in weights]

    def run_epoch():
        for size in batch_sizes:
            for i, coef in enumerate(weights):
                np.dot(outputs[i][:size], coef, out=outputs[i + 1][:size])
            for i in reversed(range(len(weights))):
                np.dot(outputs[i][:size].T, deltas[i][:size], out=gradients[i])
                if i > 0:
                    np.dot(deltas[i][:size], weights[i].T, out=deltas[i - 1][:size])

    return run_epoch


# ------------------------------------------------------------------------------
# PyTorch, optional


_torch_module = None
_torch_loaded = False


def numpy_blas():
    """Return threadpoolctl's record of the BLAS NumPy calls, or None."""
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    for info in blas:
        if "numpy" in info["filepath"]:
            return info
    return blas[0] if blas else None


def load_torch():
    """Import PyTorch once, with NumPy's BLAS thread count; None if absent."""
    global _torch_module, _torch_loaded
    if not _torch_loaded:
        _torch_loaded = True
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            blas = numpy_blas()
            threads = blas["num_threads"] if blas else os.cpu_count()
            torch.set_num_threads(threads)
        _torch_module = torch
    return _torch_module


def glorot_weights(layer_units, random_state):
    """Draw the initial weights scikit-learn's MLP draws for a relu network.

    Layer by layer, ``coef`` then ``intercept`` from ``U(-b, b)`` with
    ``b = sqrt(6 / (fan_in + fan_out))``, in float64.
    """
    weights = []
    for fan_in, fan_out in pairwise(layer_units):
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        coef = random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = random_state.uniform(-bound, bound, fan_out)
        weights.append((coef, intercept))
    return weights


def torch_network(torch, weights, dtype):
    """Build a relu ``torch.nn.Sequential`` holding the given ``(coef, intercept)``."""
    torch_dtype = getattr(torch, np.dtype(dtype).name)
    layers = []
    for i, (coef, intercept) in enumerate(weights):
        fan_in, fan_out = coef.shape
        linear = torch.nn.Linear(fan_in, fan_out, dtype=torch_dtype)
        with torch.no_grad():
            # torch keeps a layer's weight as (fan_out, fan_in).
            linear.weight.copy_(torch.from_numpy(np.asarray(coef).T))
            linear.bias.copy_(torch.from_numpy(np.asarray(intercept)))
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_objective(torch, task, y, n_outputs, dtype):
    """Return the targets as a tensor, the data loss, and the output decoder.

    The losses are scikit-learn's: half the mean squared error, the mean binary
    log-loss of one logistic output, or the mean cross-entropy of a softmax.
    """
    functional = torch.nn.functional
    if task == "regression":
        target = torch.from_numpy(y.reshape(-1, 1).astype(dtype))
        return (
            target,
            lambda raw, t: 0.5 * functional.mse_loss(raw, t),
            lambda raw: raw[:, 0].numpy(),
        )
    classes, codes = np.unique(y, return_inverse=True)
    if n_outputs == 1:
        target = torch.from_numpy(codes.reshape(-1, 1).astype(dtype))
        return (
            target,
            functional.binary_cross_entropy_with_logits,
            lambda raw: classes[(raw[:, 0] > 0).numpy().astype(int)],
        )
    return (
        torch.from_numpy(codes.astype(np.int64)),
        functional.cross_entropy,
        lambda raw: classes[raw.argmax(dim=1).numpy()],
    )


def torch_predictor(torch, model, decode):
    """Return ``predict(X)``: the model's forward pass under ``no_grad``, decoded."""

    def predict(X):
        with torch.no_grad():
            return decode(model(torch.from_numpy(X)))

    return predict


# ------------------------------------------------------------------------------
# The systems: one fitting function each


@dataclass
class Fitted:
    """What the report needs from a fit: a predictor and how far it went."""

    predict: Callable
    n_iter: int
    weights_dtype: str
    note: str = ""


ESTIMATORS = {
    "ours": {"classification": ScratchMLPClassifier, "regression": ScratchMLPRegressor},
    "sklearn": {"classification": MLPClassifier, "regression": MLPRegressor},
}


def fit_estimator(system, case, data, epochs):
    """Fit ours or scikit-learn's estimator; both take the same parameters."""
    # A future float32 (or other) parameter of ours belongs here, added to the
    # parameters when system == "ours".
    estimator = ESTIMATORS[system][case.task](**case.estimator_params(epochs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(data.X, data.y)
    return Fitted(estimator.predict, estimator.n_iter_, str(estimator.coefs_[0].dtype))


def fit_ours(case, data, epochs):
    """Fit ``ScratchMLPClassifier`` or ``ScratchMLPRegressor``."""
    return fit_estimator("ours", case, data, epochs)


def fit_sklearn(case, data, epochs):
    """Fit scikit-learn's ``MLPClassifier`` or ``MLPRegressor``."""
    return fit_estimator("sklearn", case, data, epochs)


def fit_torch(case, data, epochs):
    """Fit the PyTorch twin of the network; see the module docstring."""
    torch = load_torch()
    params = case.estimator_params(epochs)
    dtype = data.X.dtype
    n_samples = data.X.shape[0]

    # The same random state as scikit-learn's: initial weights, then shuffles.
    random_state = np.random.RandomState(SEED)
    model = torch_network(torch, glorot_weights(data.layer_units, random_state), dtype)
    coefs = [layer.weight for layer in model if isinstance(layer, torch.nn.Linear)]
    X = torch.from_numpy(data.X)
    target, data_loss, decode = torch_objective(
        torch, case.task, data.y, data.layer_units[-1], dtype
    )

    def loss_of(inputs, targets):
        penalty = sum((coef * coef).sum() for coef in coefs)
        return data_loss(model(inputs), targets) + ALPHA / 2 * penalty / len(inputs)

    if case.solver == "lbfgs":
        optimizer = torch.optim.LBFGS(
            model.parameters(),
            max_iter=epochs,
            tolerance_grad=0.0,
            history_size=10,
            line_search_fn="strong_wolfe",
        )

        def closure():
            optimizer.zero_grad()
            loss = loss_of(X, target)
            loss.backward()
            return loss

        optimizer.step(closure)
        state = optimizer.state[coefs[0]]
        note = f"{state['func_evals']} loss evaluations"
        return Fitted(
            torch_predictor(torch, model, decode), state["n_iter"], str(dtype), note
        )

    if case.solver == "adam":
        optimizer = torch.optim.Adam(
            model.parameters(),
            lr=params.get("learning_rate_init", 0.001),
            betas=(0.9, 0.999),
            eps=1e-8,
        )
    else:
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=params["learning_rate_init"],
            momentum=params["momentum"],
            nesterov=params["nesterovs_momentum"],
        )

    batch_size = min(case.batch_size, n_samples)
    order = np.arange(n_samples)
    for _ in range(epochs):
        # Shuffling the order in place draws scikit-learn's permutation.
        random_state.shuffle(order)
        for start in range(0, n_samples, batch_size):
            rows = torch.from_numpy(order[start : start + batch_size])
            optimizer.zero_grad()
            loss = loss_of(X[rows], target[rows])
            loss.backward()
            optimizer.step()
    return Fitted(torch_predictor(torch, model, decode), epochs, str(dtype))


FIT_FUNCTIONS = {"ours": fit_ours, "sklearn": fit_sklearn, "torch": fit_torch}


def training_score(case, fitted, data):
    """Return the accuracy or R^2 of a fitted system on its training data."""
    metric = accuracy_score if case.task == "classification" else r2_score
    return float(metric(data.y, fitted.predict(data.X)))


# ------------------------------------------------------------------------------
# Timing


def interleaved_timings(runners, repeats):
    """Time every runner ``repeats`` times, in rounds that visit each in turn.

    Odd rounds run the runners in reverse order, so that a runner does not
    always follow the same one: a run can leave the machine slower or faster
    for the next one (threads that spin on after a parallel region, warm
    caches), and a fixed order would hand that to one system every round.

    Parameters
    ----------
    runners : mapping of str to callable
        Functions of no argument, run in the mapping's order in even rounds
        (the first is round 0) and in reverse order in odd ones.
    repeats : int
        Number of rounds.

    Returns
    -------
    seconds : dict of str to list of float
        Each runner's wall-clock time, round by round.
    first_results : dict of str to object
        What each runner returned in the first round.

    Examples
    --------
    >>> seconds, results = interleaved_timings({"a": lambda: 1}, repeats=2)
    >>> len(seconds["a"]), results["a"]
    (2, 1)
    """
    seconds = {name: [] for name in runners}
    first_results = {}
    for round_index in range(repeats):
        for name, run in round_order(runners.items(), round_index):
            gc.collect()
            start = time.perf_counter()
            result = run()
            seconds[name].append(time.perf_counter() - start)
            first_results.setdefault(name, result)
    return seconds, first_results


def round_order(items, round_index):
    """Return ``items`` as a list, reversed in odd rounds.

    A runner is then preceded by its neighbour on one side in even rounds and
    on the other side in odd rounds; rotating the order instead would keep its
    predecessor.

    Examples
    --------
    >>> round_order("abc", 0), round_order("abc", 1)
    (['a', 'b', 'c'], ['c', 'b', 'a'])
    """
    items = list(items)
    return items[::-1] if round_index % 2 else items


def median_ratio(numerators, denominators):
    """Return the median of the round-by-round ratios of two timing lists."""
    return statistics.median(
        top / bottom for top, bottom in zip(numerators, denominators, strict=True)
    )


@dataclass
class Row:
    """One line of a training table; None prints as a dash."""

    system: str
    seconds_per_epoch: float | None = None
    speedup: float | None = None
    gflops: float | None = None
    blas_share: float | None = None
    peak_mib: float | None = None
    score: float | None = None
    text: str = ""  # replaces the numbers, e.g. "PyTorch not installed"


@dataclass
class CaseResult:
    """The rows of one training case, and the notes printed under the table."""

    case: Case
    rows: list
    notes: list


def run_training_case(case, quick, repeats, dtype, torch):
    """Time the systems and the matrix products on one case; return its rows."""
    n_rows, epochs = case.size(quick)
    data = prepare_data(case, n_rows, dtype)
    systems = [name for name in SYSTEMS if name != "torch" or torch is not None]

    # One untimed fit of each system on a few batches loads its code and threads.
    warm_up_data = first_rows(data, 2 * data.batch_sizes[0])
    for name in systems:
        FIT_FUNCTIONS[name](case, warm_up_data, 1)
    # Move what the imports left (torch's are many) out of the collector's view,
    # so that the gc.collect() before each timed run costs milliseconds, not more.
    gc.collect()
    gc.freeze()

    runners = {
        name: (lambda fit=FIT_FUNCTIONS[name]: fit(case, data, epochs))
        for name in systems
    }
    run_blas_epoch = matrix_products(data.layer_units, data.batch_sizes, dtype)
    runners[BLAS_ROW] = lambda: [run_blas_epoch() for _ in range(epochs)]
    seconds, fitted = interleaved_timings(runners, repeats)

    # Per epoch (per iteration for lbfgs), each system by its own count.
    per_epoch = {BLAS_ROW: [s / epochs for s in seconds[BLAS_ROW]]}
    for name in systems:
        per_epoch[name] = [s / fitted[name].n_iter for s in seconds[name]]
    flops = training_flops(data.layer_units, data.X.shape[0])
    blas_seconds = statistics.median(per_epoch[BLAS_ROW])

    rows = []
    for name in (*systems, BLAS_ROW):
        median_seconds = statistics.median(per_epoch[name])
        row = Row(
            system=name,
            seconds_per_epoch=median_seconds,
            gflops=flops / median_seconds / 1e9,
            blas_share=blas_seconds / median_seconds,
        )
        if name in FIT_FUNCTIONS:
            row.score = training_score(case, fitted[name], data)
        if name not in ("ours", BLAS_ROW):
            row.speedup = median_ratio(per_epoch[name], per_epoch["ours"])
        rows.append(row)
    if torch is None:
        rows.insert(2, Row(system="torch", text=TORCH_MISSING))

    unit = "iteration" if case.solver == "lbfgs" else "epoch"
    weight_dtypes = ", ".join(
        f"{name} {fitted[name].weights_dtype}" for name in systems
    )
    length = f"{epochs} {unit}" + ("s" if epochs != 1 else "")
    notes = [
        f"{case.name}: {case.description}; ran {data.X.shape[0]:,} rows, layers "
        f"{data.layer_units}, {length}, {flops / 1e9:.3g} GFLOP per {unit}; "
        f"fitted weights: {weight_dtypes}"
    ]
    for name in systems:
        if fitted[name].weights_dtype != np.dtype(dtype).name:
            notes.append(
                f"{case.name}: {name} was given {np.dtype(dtype).name} data but "
                f"its fitted weights are {fitted[name].weights_dtype}, so it "
                f"computed in {fitted[name].weights_dtype}."
            )
    if case.solver == "lbfgs":
        notes.append(lbfgs_note(fitted, systems))
    return CaseResult(case, rows, notes)


def lbfgs_note(fitted, systems):
    """Say what the lbfgs rows compare, and how many iterations each made."""
    counts = ", ".join(
        f"{name} {fitted[name].n_iter}"
        + (f" ({fitted[name].note})" if fitted[name].note else "")
        for name in systems
    )
    return (
        "lbfgs: times are per iteration. ours and sklearn run SciPy's L-BFGS-B; "
        "the torch row is torch.optim.LBFGS (full batch, history 10, strong-Wolfe "
        "line search), a different algorithm. GFLOP/s count one loss-and-gradient "
        f"evaluation per iteration, a lower bound. Iterations: {counts}."
    )


# ------------------------------------------------------------------------------
# Peak memory, in a fresh subprocess per (case, system)


def _proc_status_kib(field_name):
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(field_name)


def _reset_peak_rss():
    """Reset the kernel's high-water mark of the resident set; False if unable."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def measure_fit_memory(case_name, system, dtype, quick):
    """Fit once in this process and return the resident-set growth in MiB.

    Meant to run in a fresh process (see :func:`peak_memory`); the module
    docstring explains the method.
    """
    import resource

    case = TRAINING_CASES[case_name]
    if system == "torch":
        load_torch()
    n_rows, epochs = case.size(quick)
    data = prepare_data(case, n_rows, DTYPES[dtype])
    fit = FIT_FUNCTIONS[system]
    fit(case, first_rows(data, 2 * data.batch_sizes[0]), 1)
    gc.collect()

    if _reset_peak_rss():
        before = _proc_status_kib("VmRSS")
        fit(case, data, epochs)
        peak = _proc_status_kib("VmHWM")
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fit(case, data, epochs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.platform == "darwin":  # bytes there, KiB on Linux
            before, peak = before / 1024, peak / 1024
    return max(peak - before, 0) / 1024


def peak_memory(case_name, system, dtype, quick):
    """Return the peak memory of one fit, measured in a subprocess, in MiB."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-probe",
        f"{case_name}:{system}",
        "--dtype",
        dtype,
    ]
    if quick:
        command.append("--quick")
    # Return freed memory to the system at once (see the module docstring);
    # allocators other than glibc's ignore these variables.
    environment = {
        **os.environ,
        "MALLOC_MMAP_THRESHOLD_": "65536",
        "MALLOC_TRIM_THRESHOLD_": "0",
    }
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env=environment,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"The memory probe for {case_name}:{system} failed:\n{completed.stderr}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])["peak_mib"]


# ------------------------------------------------------------------------------
# Prediction


@dataclass
class PredictRow:
    """One line of the prediction table; None prints as a dash."""

    system: str
    latency_us: float | None = None
    latency_speedup: float | None = None
    rows_per_second: float | None = None
    throughput_speedup: float | None = None
    text: str = ""


def run_predict_case(quick, repeats, dtype, torch):
    """Time single-row latency and bulk throughput of ``predict``."""
    fit_rows, latency_calls, throughput_rows = PREDICT_CASE.size(quick)
    wide = TRAINING_CASES[PREDICT_CASE.shape_of]
    data = prepare_data(wide, fit_rows, dtype)
    ours = ScratchMLPClassifier(**wide.estimator_params(1))
    reference = MLPClassifier(**wide.estimator_params(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(data.X, data.y)
        reference.fit(data.X, data.y)
    predictors = {"ours": ours.predict, "sklearn": reference.predict}
    if torch is not None:
        # The torch network carries our fitted weights, so all three agree.
        weights = list(zip(ours.coefs_, ours.intercepts_, strict=True))
        model = torch_network(torch, weights, dtype)
        _, _, decode = torch_objective(
            torch, "classification", data.y, data.layer_units[-1], dtype
        )
        predictors["torch"] = torch_predictor(torch, model, decode)

    many_rows = np.random.default_rng(SEED + 1).standard_normal(
        (throughput_rows, data.X.shape[1])
    )
    many_rows = many_rows.astype(dtype)
    one_row = many_rows[:1]
    for predict in predictors.values():
        predict(one_row)

    # Latency: blocks of single calls, each timed on its own, interleaved.
    calls_per_round = math.ceil(latency_calls / repeats)
    latencies = {name: [] for name in predictors}
    for round_index in range(repeats):
        for name, predict in round_order(predictors.items(), round_index):
            for _ in range(calls_per_round):
                start = time.perf_counter_ns()
                predict(one_row)
                latencies[name].append((time.perf_counter_ns() - start) / 1e3)
    seconds, predictions = interleaved_timings(
        {
            name: (lambda p=predict: p(many_rows))
            for name, predict in predictors.items()
        },
        repeats,
    )

    rows = []
    for name in predictors:
        row = PredictRow(
            system=name,
            latency_us=statistics.median(latencies[name]),
            rows_per_second=throughput_rows / statistics.median(seconds[name]),
        )
        if name != "ours":
            row.latency_speedup = row.latency_us / statistics.median(latencies["ours"])
            row.throughput_speedup = median_ratio(seconds[name], seconds["ours"])
        rows.append(row)
    if torch is None:
        rows.append(PredictRow(system="torch", text=TORCH_MISSING))

    agreement = ", ".join(
        f"{name} {np.mean(predictions[name] == predictions['ours']):.1%}"
        for name in predictors
        if name != "ours"
    )
    notes = [
        f"predict: model of the wide shape {data.layer_units} fitted 1 epoch on "
        f"{fit_rows:,} rows; latency is the median of {calls_per_round * repeats:,} "
        f"single-row calls, throughput the median of {repeats} calls on "
        f"{throughput_rows:,} rows; predictions equal to ours: {agreement}."
    ]
    return rows, notes


# ------------------------------------------------------------------------------
# Report


def machine_header(torch, dtype, repeats, quick):
    """Return the lines that say where and how the benchmark ran."""
    cpu_model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())

    blas = numpy_blas()
    if blas is None:
        blas_text, threads = "not found by threadpoolctl", "?"
    else:
        threads = blas["num_threads"]
        blas_text = f"{blas['internal_api']} {blas['version']}"
        if blas.get("architecture"):
            blas_text += f" ({blas['architecture']})"
    threads_text = f"{threads} thread" + ("" if threads == 1 else "s")
    if torch is None:
        torch_text = f"torch: {TORCH_MISSING}"
        thread_text = f"numpy's BLAS runs {threads_text}"
    else:
        torch_blas = "MKL" if torch.backends.mkl.is_available() else "its own kernels"
        torch_text = f"torch {torch.__version__}"
        thread_text = (
            f"numpy's BLAS runs {threads_text}; torch (BLAS: {torch_blas}) set "
            f"to {torch.get_num_threads()} to match"
        )
    return [
        f"CPU: {cpu_model}; {os.cpu_count()} logical cores, {usable} usable; "
        f"load average {load}",
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy "
        f"{scipy.__version__}, scikit-learn {sklearn.__version__}, sknn_scratch "
        f"{sknn_scratch.__version__}, {torch_text}",
        f"BLAS (threadpoolctl): {blas_text}; {thread_text}",
        f"dtype {np.dtype(dtype).name}; median of {repeats} interleaved "
        f"run(s) per system" + ("; --quick sizes, not for numbers" if quick else ""),
    ]


def _number(value, spec, suffix=""):
    return "-" if value is None else f"{value:{spec}}{suffix}"


TRAINING_COLUMNS = (
    "case",
    "system",
    "s/epoch",
    "ours speed-up",
    "GFLOP/s",
    "% of BLAS",
    "peak MiB",
    "train score",
)
PREDICT_COLUMNS = (
    "system",
    "1-row latency µs",
    "ours speed-up (latency)",
    "rows/s",
    "ours speed-up (rows/s)",
)


def training_cells(result):
    """Return the table cells of one training case, row by row."""
    lines = []
    for row in result.rows:
        system = row.system
        if system == "torch" and result.case.solver == "lbfgs" and not row.text:
            system = "torch LBFGS"
        if row.text:
            numbers = [row.text] + ["-"] * 5
        else:
            blas_share = None if row.blas_share is None else 100 * row.blas_share
            numbers = [
                _number(row.seconds_per_epoch, ".4g"),
                _number(row.speedup, ".2f", "x"),
                _number(row.gflops, ".2f"),
                _number(blas_share, ".0f", "%"),
                _number(row.peak_mib, ".2f"),
                _number(row.score, ".4f"),
            ]
        lines.append([result.case.name, system, *numbers])
    return lines


def predict_cells(rows):
    """Return the table cells of the prediction case, row by row."""
    lines = []
    for row in rows:
        if row.text:
            lines.append([row.system, row.text, "-", "-", "-"])
            continue
        lines.append(
            [
                row.system,
                _number(row.latency_us, ".1f"),
                _number(row.latency_speedup, ".2f", "x"),
                _number(row.rows_per_second, ",.0f"),
                _number(row.throughput_speedup, ".2f", "x"),
            ]
        )
    return lines


def format_table(columns, lines, markdown, left_columns):
    """Lay out a table as aligned text or as Markdown.

    The first ``left_columns`` columns are left-aligned, the rest right-aligned.

    Examples
    --------
    >>> print(format_table(("a", "b"), [["x", "1.5"]], True, 1))
    | a | b |
    |:--|--:|
    | x | 1.5 |
    """
    if markdown:
        rule = ["--:" if i >= left_columns else ":--" for i in range(len(columns))]
        rows = ["| " + " | ".join(cells) + " |" for cells in [columns, *lines]]
        return "\n".join([rows[0], "|" + "|".join(rule) + "|", *rows[1:]])
    widths = [
        max(len(str(cells[i])) for cells in [columns, *lines])
        for i in range(len(columns))
    ]

    def layout(cells):
        return "  ".join(
            cell.ljust(width) if i < left_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([layout(columns), rule, *(layout(cells) for cells in lines)])


def report(header, training_results, predict_rows, notes, markdown):
    """Return the whole report: header, the two tables and their notes."""
    bullet = "- " if markdown else ""
    parts = ["\n".join(bullet + line for line in header)]
    if training_results:
        lines = [
            cells for result in training_results for cells in training_cells(result)
        ]
        parts.append(format_table(TRAINING_COLUMNS, lines, markdown, 2))
    if predict_rows:
        parts.append(
            format_table(PREDICT_COLUMNS, predict_cells(predict_rows), markdown, 1)
        )
    legend = [
        "s/epoch: median seconds per epoch (lbfgs: per iteration); ours speed-up: "
        "median over rounds of that row's time over ours (above 1: ours is faster)",
        "GFLOP/s: matrix-product FLOPs of an epoch (forward + backward) over its "
        f"time; {BLAS_ROW}: the same products as bare np.dot calls; % of BLAS: "
        "a row's GFLOP/s as a share of that",
        "peak MiB: growth of the resident set during one fit, each in a fresh "
        "process; train score: accuracy or R^2 on the training data",
    ]
    parts.append("\n".join(bullet + line for line in [*legend, *notes]))
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------
# Command line


def case_list(text):
    """Parse ``--cases``: comma-separated names, each one of ``CASE_NAMES``."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASE_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown case(s) {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(CASE_NAMES)}"
        )
    return names


def positive_int(text):
    """Parse a count of at least one."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Time sknn_scratch against scikit-learn's MLP and PyTorch."
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=5,
        help="timed runs per system, interleaved; the median is reported (5)",
    )
    parser.add_argument(
        "--cases",
        type=case_list,
        default=list(CASE_NAMES),
        help=f"comma-separated subset of {','.join(CASE_NAMES)} (all)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the script only"
    )
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument(
        "--dtype",
        choices=sorted(DTYPES),
        default="float64",
        help="dtype every system trains and predicts in (float64)",
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory pass"
    )
    # Used by the memory pass to run one fit in a fresh process.
    parser.add_argument("--memory-probe", metavar="CASE:SYSTEM", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


_START = time.perf_counter()


def progress(message):
    """Tell, on stderr, what the benchmark is doing and how long it has run."""
    elapsed = time.perf_counter() - _START
    print(f"[{elapsed:6.1f} s] {message}", file=sys.stderr, flush=True)


def main(argv=None):
    """Run the benchmark and print its report; return the exit status."""
    args = parse_args(argv)
    dtype = DTYPES[args.dtype]
    if args.memory_probe:
        case_name, system = args.memory_probe.split(":")
        peak = measure_fit_memory(case_name, system, args.dtype, args.quick)
        print(json.dumps({"peak_mib": peak}))
        return 0

    torch = load_torch()
    try:
        return run_benchmark(args, dtype, torch)
    finally:
        # run_training_case freezes the objects alive at its start; give them
        # back to the collector for whoever called main().
        gc.unfreeze()


def run_benchmark(args, dtype, torch):
    """Time the chosen cases, then measure memory, and print the report."""
    header = machine_header(torch, dtype, args.repeats, args.quick)
    training_results, notes = [], []
    for name in args.cases:
        if name in TRAINING_CASES:
            progress(f"timing {name} ...")
            result = run_training_case(
                TRAINING_CASES[name], args.quick, args.repeats, dtype, torch
            )
            training_results.append(result)
            notes.extend(result.notes)

    predict_rows = []
    if PREDICT_CASE.name in args.cases:
        progress("timing predict ...")
        predict_rows, predict_notes = run_predict_case(
            args.quick, args.repeats, dtype, torch
        )
        notes.extend(predict_notes)

    # The memory pass comes after every timing, so that it cannot disturb them.
    if args.no_memory:
        notes.append("peak MiB: skipped (--no-memory)")
    else:
        for result in training_results:
            for row in result.rows:
                if row.system in FIT_FUNCTIONS and not row.text:
                    progress(f"memory {result.case.name}:{row.system} ...")
                    row.peak_mib = peak_memory(
                        result.case.name, row.system, args.dtype, args.quick
                    )

    print(report(header, training_results, predict_rows, notes, args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
