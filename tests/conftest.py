"""Settings for the whole test session.

The tests train many tiny networks. On such matrices a multi-threaded BLAS only
adds synchronisation, and on a busy machine its spinning threads can make a fit
ten times slower, so the session runs the matrix products on one thread. Tests
about thread counts set their own limits inside this one.
"""

import pytest
from threadpoolctl import threadpool_limits

BLAS_LIMITS = pytest.StashKey()


def pytest_configure(config):
    config.stash[BLAS_LIMITS] = threadpool_limits(limits=1, user_api="blas")


def pytest_unconfigure(config):
    config.stash[BLAS_LIMITS].restore_original_limits()
