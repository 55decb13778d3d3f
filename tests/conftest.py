"""Settings for the whole test session.

The tests train many tiny networks. On such matrices a multi-threaded BLAS only
adds synchronisation, and on a busy machine its spinning threads can make a fit
ten times slower, so the session runs the matrix products on one thread. The
same limit goes to the processes the tests start (through the environment), so
that a model trained in a subprocess or a Dask worker rounds as one trained
here. Tests about thread counts set their own limits inside this one.
"""

import os

import pytest
from threadpoolctl import threadpool_limits

BLAS_LIMITS = pytest.StashKey()
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pytest_configure(config):
    config.stash[BLAS_LIMITS] = threadpool_limits(limits=1, user_api="blas")
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")


def pytest_unconfigure(config):
    config.stash[BLAS_LIMITS].restore_original_limits()
