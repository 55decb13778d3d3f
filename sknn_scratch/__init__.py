"""sknn_scratch: scikit-learn multi-layer perceptrons on a from-scratch NumPy core.

:class:`ScratchMLPClassifier` and :class:`ScratchMLPRegressor` are drop-ins for
scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` whose forward pass, losses,
backpropagation, optimizers and training loop live in :mod:`sknn_scratch.core`.
:func:`check_gradients` compares backpropagation with finite differences, for
those who extend the core, and :class:`TrainingCurveDisplay` plots training
curves (with matplotlib, an optional dependency).
"""

from sknn_scratch._classifier import ScratchMLPClassifier
from sknn_scratch._regressor import ScratchMLPRegressor
from sknn_scratch._version import __version__
from sknn_scratch.gradient_check import check_gradients
from sknn_scratch.plotting import TrainingCurveDisplay

__all__ = [
    "ScratchMLPClassifier",
    "ScratchMLPRegressor",
    "TrainingCurveDisplay",
    "__version__",
    "check_gradients",
]
