"""Tests of :mod:`sknn_scratch._threads`: SciPy's BLAS on one thread in lbfgs.

The test session runs every BLAS on one thread (``conftest.py``), so each test
first gives the libraries two threads: a limit to one is then visible, and a
restored count can be told from it. The tests skip where SciPy bundles no BLAS
of its own (NumPy's is then the only one, and nothing is limited).
"""

import os
import subprocess
import sys
import textwrap
import threading

import pytest
from sklearn.datasets import load_breast_cancer
from threadpoolctl import threadpool_info, threadpool_limits

from sknn_scratch import ScratchMLPClassifier, _base, _threads

SCIPY_BLAS = _threads._scipy_blas()

pytestmark = pytest.mark.skipif(
    SCIPY_BLAS is None, reason="SciPy uses NumPy's BLAS, not one of its own"
)


def blas_thread_counts():
    """Return ``{filepath: num_threads}`` of every loaded BLAS library."""
    return {
        info["filepath"]: info["num_threads"]
        for info in threadpool_info()
        if info["user_api"] == "blas"
    }


def scipy_blas_paths():
    return {library.filepath for library in SCIPY_BLAS.lib_controllers}


def test_lbfgs_runs_scipys_blas_on_one_thread_and_restores_it(monkeypatch):
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    seen_during_fit = []
    original_minimize = _base.scipy.optimize.minimize

    def recording_minimize(*args, **kwargs):
        seen_during_fit.append(blas_thread_counts())
        return original_minimize(*args, **kwargs)

    monkeypatch.setattr(_base.scipy.optimize, "minimize", recording_minimize)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_thread_counts()
        if min(before[path] for path in scipy_blas_paths()) < 2:
            pytest.skip("threadpoolctl could not give SciPy's BLAS two threads")
        ScratchMLPClassifier(solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
        after = blas_thread_counts()

    (during,) = seen_during_fit
    assert after == before
    for path, n_threads in during.items():
        expected = 1 if path in scipy_blas_paths() else before[path]
        assert n_threads == expected, path


def test_stochastic_solvers_leave_the_thread_counts_alone(monkeypatch):
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    seen_during_fit = []
    model = ScratchMLPClassifier(solver="adam", max_iter=2, random_state=0)
    original_run_epoch = model._run_epoch

    def recording_run_epoch(*args, **kwargs):
        seen_during_fit.append(blas_thread_counts())
        return original_run_epoch(*args, **kwargs)

    monkeypatch.setattr(model, "_run_epoch", recording_run_epoch)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_thread_counts()
        model.fit(X, y)

    assert seen_during_fit == [before, before]


def test_nested_uses_keep_the_limit_until_the_outermost_leaves():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_thread_counts()
        with _threads.scipy_blas_on_one_thread():
            with _threads.scipy_blas_on_one_thread():
                pass
            inside = blas_thread_counts()
        after = blas_thread_counts()

    for path in scipy_blas_paths():
        assert inside[path] == 1
        assert after[path] == before[path]
    assert after == before


def test_fits_in_other_threads_set_no_limit(monkeypatch):
    # Two threads that each set and restored the limit could restore the
    # count the other had set, and leave SciPy's BLAS on one thread for good.
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    threads_that_limited, errors = [], []
    original_scipy_blas = _threads._scipy_blas

    def recording_scipy_blas():
        threads_that_limited.append(threading.current_thread().name)
        return original_scipy_blas()

    def fit_in_a_worker():
        try:
            ScratchMLPClassifier(solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    monkeypatch.setattr(_threads, "_scipy_blas", recording_scipy_blas)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_thread_counts()
        worker = threading.Thread(target=fit_in_a_worker, name="worker")
        worker.start()
        worker.join()
        after = blas_thread_counts()

    assert errors == []
    assert threads_that_limited == []
    assert after == before


def test_a_block_that_raises_restores_the_count():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_thread_counts()
        with pytest.raises(KeyboardInterrupt):
            with _threads.scipy_blas_on_one_thread():
                raise KeyboardInterrupt
        after = blas_thread_counts()

    assert after == before


def run_python(code):
    """Run ``code`` in a fresh interpreter with BLAS free to use 2 threads."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_a_fit_leaves_threadpoolctl_free_to_limit_from_another_thread():
    # This session's own BLAS limit holds threadpoolctl's control from the
    # main thread, so the check runs in a process that has set no limit.
    output = run_python(
        """
        import threading
        import numpy as np
        from sklearn.datasets import load_breast_cancer
        from threadpoolctl import threadpool_info, threadpool_limits
        from sknn_scratch import ScratchMLPClassifier

        X, y = load_breast_cancer(return_X_y=True)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        ScratchMLPClassifier(solver="lbfgs", max_iter=3).fit(X, y)

        seen = []
        def limit_in_a_worker():
            with threadpool_limits(limits=1, user_api="blas"):
                seen.extend(
                    info["num_threads"]
                    for info in threadpool_info()
                    if info["user_api"] == "blas"
                )
        worker = threading.Thread(target=limit_in_a_worker)
        worker.start()
        worker.join()
        print(set(seen))
        """
    )
    assert output.strip() == "{1}"


def test_lbfgs_on_two_threads_stays_within_1e_12_of_scikit_learns():
    # 12,400 weights: SciPy's vector operations are long enough for OpenBLAS
    # to split them over threads, so limiting SciPy's BLAS rounds them
    # differently from scikit-learn's run; the two stay within rounding.
    output = run_python(
        """
        import warnings
        import numpy as np
        from sklearn.datasets import load_breast_cancer
        from sklearn.neural_network import MLPClassifier
        from threadpoolctl import threadpool_limits
        from sknn_scratch import ScratchMLPClassifier

        warnings.simplefilter("ignore")
        X, y = load_breast_cancer(return_X_y=True)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        params = dict(hidden_layer_sizes=(400,), solver="lbfgs", max_iter=40,
                      random_state=0)
        with threadpool_limits(limits=2, user_api="blas"):
            ours = ScratchMLPClassifier(**params).fit(X, y)
            reference = MLPClassifier(**params).fit(X, y)
        print(max(
            float(np.max(np.abs(a - b)))
            for a, b in zip(ours.coefs_, reference.coefs_)
        ))
        """
    )
    assert float(output) < 1e-12
