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
any BLAS setting, and is only set from the main thread. Recent threadpoolctl
lets one Python thread at a time change the limits of an OpenBLAS that runs its
own threads, and ignores the others; were fits in two threads to set and
restore the limit, one could restore the count that the other had set, and
leave SciPy's BLAS on one thread for good. Fits in other threads (a threading
backend of joblib, Dask's workers) therefore run with the counts as they are;
fits in worker processes run in those processes' main threads and are limited.

Limiting SciPy's BLAS changes how its long vector operations are summed, so an
``lbfgs`` fit of more than about ten thousand parameters on several threads
matches scikit-learn's to about 1e-14 instead of to the last bit.
"""

import functools
import os
import threading
from contextlib import contextmanager

import scipy
from threadpoolctl import ThreadpoolController


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

    Only in the main thread; elsewhere the block runs as it is. The previous
    count comes back when the block ends, however it ends, and threadpoolctl's
    hold on the library is released.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import minimize
    >>> with scipy_blas_on_one_thread():
    ...     result = minimize(lambda x: x @ x, np.ones(3), method="L-BFGS-B")
    >>> bool(result.success)
    True
    """
    libraries = None
    if threading.current_thread() is threading.main_thread():
        libraries = _scipy_blas()
    if libraries is None:
        yield
        return
    with libraries.limit(limits=1):
        yield
