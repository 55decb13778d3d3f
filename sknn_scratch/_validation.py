"""Checks that scikit-learn's ``validate_data`` leaves to the estimator.

They cover the inputs (sample weights, inputs without columns) and one output:
a network whose forward pass overflows on finite but far too large inputs.
"""

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
        # scikit-learn's wording.
        raise ValueError(
            f"Sample weights must be 1D array or scalar, got {sample_weight.ndim}D "
            f"array. Expected either a scalar value or a 1D array of length "
            f"{n_samples}."
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


def check_finite_output(raw, estimator):
    """Raise when the network's raw output for some samples is not finite.

    Finite inputs far larger than the training data can overflow the forward
    pass; infinite logits then turn the softmax into NaN, and infinite
    activations of opposite signs sum to NaN in the next layer. Raising here
    keeps a prediction from silently being NaN.

    Parameters
    ----------
    raw : ndarray of shape (n_samples, n_outputs)
        The output layer's pre-activations.
    estimator : BaseScratchMLP
        The estimator predicting, named in the message.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn_scratch import ScratchMLPRegressor
    >>> check_finite_output(np.array([[1.0], [2.0]]), ScratchMLPRegressor())
    >>> check_finite_output(np.array([[1.0], [np.inf]]), ScratchMLPRegressor())
    Traceback (most recent call last):
    ...
    ValueError: The output of ScratchMLPRegressor's network is not finite for 1 of
    the 2 samples of X (rows [1]): ...
    """
    finite_rows = np.isfinite(raw).all(axis=1)
    if finite_rows.all():
        return
    bad_rows = np.flatnonzero(~finite_rows)
    shown = bad_rows[:5].tolist()
    more = ", ..." if len(bad_rows) > len(shown) else ""
    raise ValueError(
        f"The output of {type(estimator).__name__}'s network is not finite for "
        f"{len(bad_rows)} of the {raw.shape[0]} samples of X (rows "
        f"{str(shown)[:-1]}{more}]): the forward pass overflowed. X holds values "
        f"far larger than the network can take; scale X as the training data "
        f"was scaled."
    )


def reject_missing_labels(y):
    """Raise scikit-learn's error for missing labels in a pandas column of objects.

    ``validate_data`` reports missing targets itself, except ``pd.NA`` in a
    'string' or object column: comparing it with itself fails inside pandas
    with "boolean value of NA is ambiguous".

    Parameters
    ----------
    y : array-like
        The targets as given by the user.
    """
    kind = getattr(getattr(y, "dtype", None), "kind", None)
    isna = getattr(y, "isna", None)
    if kind is None or kind in "biuf" or not callable(isna):
        return
    if np.asarray(isna()).any():
        raise ValueError("Input contains NaN")
