"""sknn_scratch: scikit-learn multi-layer perceptrons on a from-scratch NumPy core.

:class:`ScratchMLPClassifier` and :class:`ScratchMLPRegressor` are drop-ins for
scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` whose forward pass, losses,
backpropagation, optimizers and training loop live in :mod:`sknn_scratch.core`.
"""

from sknn_scratch._classifier import ScratchMLPClassifier
from sknn_scratch._regressor import ScratchMLPRegressor
from sknn_scratch._version import __version__

__all__ = ["ScratchMLPClassifier", "ScratchMLPRegressor", "__version__"]
