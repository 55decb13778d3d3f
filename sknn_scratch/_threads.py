"""One BLAS thread for SciPy's L-BFGS-B while the ``lbfgs`` solver runs.

NumPy's and SciPy's wheels each bundle their own OpenBLAS, each with a pool of
threads that keep spinning for a while after a call. An L-BFGS run alternates
between the two many times per iteration: NumPy's matrix products in our loss
and gradient, then SciPy's vector operations in L-BFGS-B. On a machine whose
cores both pools want, each pool's threads then wait on the other's. On the
2-core benchmark machine, 100 iterations on breast_cancer with hidden (100,)
took 1.03 s with both pools at 2 threads and 0.13 s with SciPy's at one
(scikit-learn's MLP: 1.08 s and 0.17 s).

L-BFGS-B's own BLAS work is a few vector operations per iteration, which gain
nothing from threads, so :func:`scipy_blas_on_one_thread` limits the BLAS
library bundled with SciPy to one thread for the duration of the fit; NumPy's
matrix products keep their threads. When SciPy has no BLAS of its own (as in
conda environments, where NumPy and SciPy share one) nothing is limited.

threadpoolctl is a dependency of scikit-learn. The limit is process-wide, like
any BLAS setting, and is only set from the main thread: recent threadpoolctl
lets one Python thread at a time set the limits of an OpenBLAS that runs its
own threads, the first one to try, so a fit in a worker thread that set them
would take that control from the user's main thread for as long as the worker
lives. Fits in other threads (a threading backend of joblib, Dask's workers)
therefore run with the counts as they are; fits in worker processes run in
those processes' main threads and are limited.
"""

import functools
import os
import threading
from contextlib import contextmanager

import scipy
from threadpoolctl import ThreadpoolController

# How many calls of scipy_blas_on_one_thread the main thread is inside, and the
# limit the outermost one set.
_depth = 0
_limiter = None


def _bundled_library_directories(package):
    """Return the directories in which a package's wheel bundles shared libraries.

    ``<site>/<name>.libs`` on Linux and Windows, the package's own ``.dylibs``
    on macOS.
    """
    package_directory = os.path.dirname(os.path.realpath(package.__file__))
    site = os.path.dirname(package_directory)
    return [os.path.join(site, package.__name__ + ".libs"), package_directory]


@functools.cache
def _scipy_blas():
    """Return a controller of the BLAS bundled with SciPy, or None if it has none.

    Looking through the loaded libraries takes milliseconds, more than a small
    fit, so it is done once: SciPy's libraries are loaded with ``scipy.optimize``
    and stay.
    """
    directories = _bundled_library_directories(scipy)
    controller = ThreadpoolController()
    bundled = [
        library.filepath
        for library in controller.lib_controllers
        if library.user_api == "blas"
        and any(
            os.path.realpath(library.filepath).startswith(directory + os.sep)
            for directory in directories
        )
    ]
    return controller.select(filepath=bundled) if bundled else None


@contextmanager
def scipy_blas_on_one_thread():
    """Run the block with the BLAS bundled with SciPy limited to one thread.

    Only in the main thread; elsewhere the block runs as it is. Nested uses
    share the limit of the outermost, which restores the previous count.

    Examples
    --------
    >>> with scipy_blas_on_one_thread():
    ...     pass
    """
    global _depth, _limiter
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    if _depth == 0:
        libraries = _scipy_blas()
        _limiter = None if libraries is None else libraries.limit(limits=1)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _limiter is not None:
            _limiter.restore_original_limits()
            _limiter = None
