"""Input checks that scikit-learn's ``validate_data`` leaves to the estimator."""

from numbers import Real

import numpy as np
from sklearn.utils.validation import check_array


def validate_sample_weight(sample_weight, n_samples, dtype):
    """Return ``sample_weight`` as a finite, non-negative 1-D array of ``dtype``.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), float or None
        The weights given by the user; a number gives every sample that weight.
    n_samples : int
        Number of samples the weights must match.
    dtype : numpy dtype
        Floating-point type of the network.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,) or None
        None when no weights were given.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, Real):
        sample_weight = np.full(n_samples, sample_weight, dtype=dtype)
    sample_weight = check_array(
        sample_weight,
        ensure_2d=False,
        dtype=dtype,
        order="C",
        input_name="sample_weight",
    )
    if sample_weight.ndim != 1:
        raise ValueError(
            f"sample_weight must be a 1D array or a scalar, got a "
            f"{sample_weight.ndim}D array of shape {sample_weight.shape}."
        )
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected {(n_samples,)}!"
        )
    if np.any(sample_weight < 0):
        raise ValueError(
            f"sample_weight must be non-negative; got {int(np.sum(sample_weight < 0))}"
            f" negative value(s), the smallest being {sample_weight.min()}."
        )
    if not np.any(sample_weight):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


def reject_zero_columns(X, estimator):
    """Raise scikit-learn's error for a 2-D input with no columns.

    ``validate_data`` gives it for arrays, but fails obscurely inside NumPy on a
    DataFrame without columns.
    """
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 2 and shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(shape)}) while a minimum "
            f"of 1 is required by {type(estimator).__name__}."
        )
