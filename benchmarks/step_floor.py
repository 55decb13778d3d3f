"""The least time a NumPy training step of the ``small`` case can take.

A mini-batch step of ``bench.py``'s small case (digits, 64-100-10, relu, softmax,
batch 200, Adam) is a list of NumPy operations that any implementation with
scikit-learn's arithmetic must make: the five matrix products, the bias
additions, the activation and its derivative, the softmax and its loss, the
intercept sums, the L2 term and Adam's dozen passes over the parameters. This
script times each of them alone, on preallocated arrays of the step's shapes,
in its fastest exact form, and adds them up: the floor of a step written as
NumPy calls. Next to it, in the same run, it times our step (the network's
``loss_gradient`` and the optimizer's ``step`` on one batch) and the per-batch
time of whole fits of ours and of scikit-learn's MLP, and prints the largest
speed-up over scikit-learn that a step at the floor could give.

Usage::

    python benchmarks/step_floor.py [--repeats N] [--quick]

``--repeats`` sets the rounds of timings (default 7, the median is reported);
``--quick`` runs few calls per timing, to check that the script works.
"""

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sknn_scratch import ScratchMLPClassifier
from sknn_scratch.core.network import Workspace
from sknn_scratch.core.optimizers import step_work_size

BATCH_SIZE = 200
HIDDEN_UNITS = 100
ALPHA = 1e-4
FIT_EPOCHS = 20


def step_operations(X, Y):
    """Return ``{name: callable}``: the operations of one step, on fixed arrays.

    Each callable makes one operation into preallocated arrays, as the step
    needs it; the arrays' values are those of a real batch. An operation that
    works in place in the step writes to a separate array here where repeating
    it in place would drift the values (into denormals, for one) and so time
    something else.
    """
    rng = np.random.default_rng(0)
    n_samples, n_features = X.shape
    n_classes = Y.shape[1]
    rows = rng.permutation(n_samples)[:BATCH_SIZE]

    X_batch = np.empty((BATCH_SIZE, n_features))
    Y_batch = np.empty((BATCH_SIZE, n_classes))
    W1 = rng.uniform(-0.2, 0.2, (n_features, HIDDEN_UNITS))
    W2 = rng.uniform(-0.2, 0.2, (HIDDEN_UNITS, n_classes))
    b1, b2 = rng.uniform(-0.2, 0.2, HIDDEN_UNITS), rng.uniform(-0.2, 0.2, n_classes)
    H, H_biased, D1 = (np.empty((BATCH_SIZE, HIDDEN_UNITS)) for _ in range(3))
    Z, Z_biased, shifted, P, D2 = (np.empty((BATCH_SIZE, n_classes)) for _ in range(5))
    kept = np.empty((BATCH_SIZE, HIDDEN_UNITS), dtype=bool)
    row_max, row_sum = np.empty(BATCH_SIZE), np.empty(BATCH_SIZE)

    n_coef = W1.size + W2.size
    n_params = n_coef + HIDDEN_UNITS + n_classes
    params, grads = rng.standard_normal(n_params), rng.standard_normal(n_params)
    G1 = grads[: W1.size].reshape(W1.shape)
    G2 = grads[W1.size : n_coef].reshape(W2.shape)
    g1, g2 = grads[n_coef : n_coef + HIDDEN_UNITS], grads[n_coef + HIDDEN_UNITS :]
    first, second = rng.standard_normal(n_params), rng.uniform(0.1, 1.0, n_params)
    term, root, result = (np.empty(n_params) for _ in range(3))

    np.take(X, rows, axis=0, out=X_batch, mode="clip")
    np.take(Y, rows, axis=0, out=Y_batch, mode="clip")
    np.maximum(X_batch @ W1 + b1, 0.0, out=H)
    np.matmul(H, W2, out=Z)
    D1[...] = rng.standard_normal(D1.shape)

    return {
        "gather X rows": lambda: np.take(X, rows, axis=0, out=X_batch, mode="clip"),
        "gather Y rows": lambda: np.take(Y, rows, axis=0, out=Y_batch, mode="clip"),
        "X @ W1": lambda: np.matmul(X_batch, W1, out=H),
        "+= b1": lambda: np.add(H, b1, out=H_biased),
        "relu": lambda: np.maximum(H, 0.0, out=H),
        "H @ W2": lambda: np.matmul(H, W2, out=Z),
        "+= b2": lambda: np.add(Z, b2, out=Z_biased),
        "softmax: row max": lambda: np.max(Z, axis=1, out=row_max),
        "softmax: z - max": lambda: np.subtract(Z, row_max[:, np.newaxis], out=shifted),
        "softmax: exp": lambda: np.exp(shifted, out=P),
        "softmax: row sum": lambda: np.sum(P, axis=1, out=row_sum),
        "softmax: divide": lambda: np.divide(P, row_sum[:, np.newaxis], out=D2),
        "loss: log of sums": lambda: np.log(row_sum),
        "loss: y . z": lambda: np.einsum("ij,ij->i", Y_batch, Z),
        "loss: sum": lambda: row_sum.sum(),
        "delta = p - y": lambda: np.subtract(P, Y_batch, out=D2),
        "H.T @ delta2": lambda: np.matmul(H.T, D2, out=G2),
        "sum delta2": lambda: np.sum(D2, axis=0, out=g2),
        "delta2 @ W2.T": lambda: np.matmul(D2, W2.T, out=D1),
        "relu': mask": lambda: np.greater(H, 0.0, out=kept),
        "relu': multiply": lambda: np.multiply(D1, kept, out=D1),
        "X.T @ delta1": lambda: np.matmul(X_batch.T, D1, out=G1),
        "sum delta1": lambda: np.sum(D1, axis=0, out=g1),
        "L2: coef . coef": lambda: params[:n_coef] @ params[:n_coef],
        "L2: alpha * coef": lambda: np.multiply(
            params[:n_coef], ALPHA, out=term[:n_coef]
        ),
        "L2: add to grads": lambda: np.add(
            grads[:n_coef], term[:n_coef], out=result[:n_coef]
        ),
        "grads /= n": lambda: np.divide(grads, BATCH_SIZE, out=result),
        "adam: m *= b1": lambda: np.multiply(first, 0.9, out=result),
        "adam: (1 - b1) g": lambda: np.multiply(grads, 0.1, out=term),
        "adam: m += ": lambda: np.add(first, term, out=result),
        "adam: v *= b2": lambda: np.multiply(second, 0.999, out=result),
        "adam: g * g": lambda: np.multiply(grads, grads, out=term),
        "adam: (1 - b2) g^2": lambda: np.multiply(term, 0.001, out=result),
        "adam: v += ": lambda: np.add(second, term, out=result),
        "adam: sqrt(v)": lambda: np.sqrt(second, out=root),
        "adam: + eps": lambda: np.add(root, 1e-8, out=result),
        "adam: -lr m": lambda: np.multiply(first, -1e-3, out=term),
        "adam: / root": lambda: np.divide(term, root, out=result),
        "adam: params +=": lambda: np.add(params, term, out=result),
    }


def interleaved_seconds(functions, calls, repeats):
    """Return each function's median over rounds of its mean time per call.

    Every round times ``calls`` calls of each function in turn, so that a
    drift of the machine's speed during the run reaches all of them alike.
    """
    rounds = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(calls):
                function()
            rounds[name].append((time.perf_counter() - start) / calls)
    return {name: statistics.median(times) for name, times in rounds.items()}


def fit_function(estimator_class, X, y):
    """Return a callable fitting ``estimator_class`` on the small case."""
    params = {
        "hidden_layer_sizes": (HIDDEN_UNITS,),
        "batch_size": BATCH_SIZE,
        "max_iter": FIT_EPOCHS,
        "tol": 0.0,
        "n_iter_no_change": 10**9,
        "random_state": 0,
    }

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator_class(**params).fit(X, y)

    return fit


def our_step(X, y):
    """Return a callable making our training step on one batch of the small case."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = ScratchMLPClassifier(
            hidden_layer_sizes=(HIDDEN_UNITS,), max_iter=1, random_state=0
        ).fit(X, y)
    network, optimizer = model._network, model._optimizer
    X_batch = np.ascontiguousarray(X[:BATCH_SIZE])
    Y_batch = model._label_binarizer.transform(y[:BATCH_SIZE]).astype(np.float64)
    workspace = Workspace(
        network.layer_units,
        BATCH_SIZE,
        X.dtype,
        work_size=step_work_size(network.params.size),
    )

    def step():
        network.loss_gradient(X_batch, Y_batch, None, ALPHA, workspace)
        optimizer.step(network.params, network.grads, workspace.work)

    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="rounds (7)")
    parser.add_argument("--quick", action="store_true", help="few calls per timing")
    args = parser.parse_args(argv)
    calls = 20 if args.quick else 2000

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Y = np.eye(10)[y]
    operations = step_operations(X, Y)
    seconds = interleaved_seconds(
        {**operations, "ours": our_step(X, y)}, calls, args.repeats
    )
    ours_step = seconds.pop("ours")
    floor = sum(seconds.values())
    products = sum(value for name, value in seconds.items() if "@" in name)
    fits = interleaved_seconds(
        {
            "ours": fit_function(ScratchMLPClassifier, X, y),
            "sklearn": fit_function(MLPClassifier, X, y),
        },
        1,
        args.repeats,
    )
    n_batches = FIT_EPOCHS * -(-X.shape[0] // BATCH_SIZE)
    ours_fit, sklearn_fit = fits["ours"] / n_batches, fits["sklearn"] / n_batches

    print(f"{'operation':24s} {'µs':>8s}")
    for name, value in seconds.items():
        print(f"{name:24s} {value * 1e6:8.1f}")
    print()
    print(f"{'the five matrix products':40s} {products * 1e6:8.1f} µs")
    print(f"{'floor: all operations above':40s} {floor * 1e6:8.1f} µs")
    print(f"{'ours: loss_gradient + step':40s} {ours_step * 1e6:8.1f} µs")
    print(f"{'ours: fit time per batch':40s} {ours_fit * 1e6:8.1f} µs")
    print(f"{'scikit-learn: fit time per batch':40s} {sklearn_fit * 1e6:8.1f} µs")
    print()
    print(f"ours over the floor: {ours_step / floor:.2f}x")
    print(f"speed-up over scikit-learn of ours: {sklearn_fit / ours_fit:.2f}x")
    # The floor is timed on data in the cache and the fits on batches gathered
    # anew, so this is an upper bound.
    print(
        f"speed-up over scikit-learn of a step at the floor, at most: "
        f"{sklearn_fit / floor:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
