"""The NumPy-only core: activations, losses, layers, the network, optimizers.

Nothing in this subpackage imports anything but NumPy and its own modules; the
scikit-learn estimators in :mod:`sknn_scratch` are built on top of it.
"""
