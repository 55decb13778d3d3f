"""sknn_scratch: scikit-learn multi-layer perceptrons on a from-scratch NumPy core.

:class:`ScratchMLPClassifier` and :class:`ScratchMLPRegressor` are drop-ins for
scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` whose forward pass, losses,
backpropagation, optimizers and training loop live in :mod:`sknn_scratch.core`.
"""

__version__ = "0.1.0"

from sknn_scratch._classifier import ScratchMLPClassifier  # noqa: E402
from sknn_scratch._regressor import ScratchMLPRegressor  # noqa: E402

__all__ = ["ScratchMLPClassifier", "ScratchMLPRegressor", "__version__"]
