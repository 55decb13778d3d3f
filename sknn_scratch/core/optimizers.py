"""Stochastic optimizers that update a network's parameter buffer in place.

Both optimizers take the network's flat ``params`` and ``grads`` arrays (see
:mod:`sknn_scratch.core.network`) and update all parameters with a few
vectorised, in-place operations per step: no per-layer loop and no temporary
arrays beyond two scratch buffers allocated on the first step.

Their arithmetic is that of scikit-learn's MLP solvers, operation for operation,
so that a model trained by either package takes the same steps:

- :class:`SGD` with momentum ``mu`` and learning rate ``lr``:
  ``v <- mu v - lr g``, then ``params += v``, or with Nesterov's momentum
  ``params += mu v - lr g``.
- :class:`Adam`: ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g**2``,
  ``params -= lr_t m / (sqrt(v) + eps)`` with the bias-corrected
  ``lr_t = lr sqrt(1 - b2**t) / (1 - b1**t)``.
"""

import numpy as np


class Optimizer:
    """Base class: a learning rate, and the end-of-epoch hooks of the loop.

    Parameters
    ----------
    learning_rate_init : float
        Initial step size.
    """

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self._scratch = None

    def __getstate__(self):
        # The scratch buffers hold nothing between steps; do not pickle them.
        state = self.__dict__.copy()
        state["_scratch"] = None
        return state

    def _scratch_buffers(self, params):
        if self._scratch is None:
            self._scratch = (np.empty_like(params), np.empty_like(params))
        return self._scratch

    def state_arrays(self):
        """Return the arrays the optimizer updates in place at each step.

        Returns
        -------
        arrays : list of ndarray
        """
        return []

    def step(self, params, grads):
        """Update ``params`` in place from the gradient ``grads``.

        Parameters
        ----------
        params, grads : ndarray of shape (n_params,)
        """
        raise NotImplementedError

    def iteration_ends(self, time_step):
        """Adjust the learning rate at the end of an epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far.
        """

    def trigger_stopping(self, message, verbose):
        """Decide whether training stops after too many epochs without progress.

        Parameters
        ----------
        message : str
            Why training would stop, printed when ``verbose``.
        verbose : bool
            Whether to print the decision.

        Returns
        -------
        stop : bool
        """
        if verbose:
            print(f"{message} Stopping.")
        return True


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and a learning-rate schedule.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        The parameter buffer; only its shape and dtype are used here.
    learning_rate_init : float, default=0.1
        Initial step size.
    lr_schedule : {"constant", "invscaling", "adaptive"}, default="constant"
        ``"invscaling"`` sets the rate to ``learning_rate_init / (t + 1)**power_t``
        after each epoch, ``t`` being the number of samples seen;
        ``"adaptive"`` divides it by 5 whenever training stalls, and stops
        training once it falls to 1e-6 or below.
    momentum : float, default=0.9
        Weight of the previous update in the velocity.
    nesterov : bool, default=True
        Whether to use Nesterov's momentum.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.

    Attributes
    ----------
    learning_rate : float
        The current step size.
    velocity : ndarray of shape (n_params,)
        The last update.

    Examples
    --------
    >>> import numpy as np
    >>> params, grads = np.zeros(2), np.array([1.0, -2.0])
    >>> SGD(params, learning_rate_init=0.1, momentum=0.0).step(params, grads)
    >>> params
    array([-0.1,  0.2])
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = np.zeros_like(params)

    def state_arrays(self):
        return [self.velocity]

    def step(self, params, grads):
        step_term, update = self._scratch_buffers(params)

        # v <- momentum * v - learning_rate * g
        np.multiply(grads, self.learning_rate, out=step_term)
        self.velocity *= self.momentum
        self.velocity -= step_term

        if self.nesterov:
            np.multiply(self.velocity, self.momentum, out=update)
            update -= step_term
            params += update
        else:
            params += self.velocity

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, message, verbose):
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(message, verbose)

        if self.learning_rate <= 1e-6:
            if verbose:
                print(f"{message} Learning rate too small. Stopping.")
            return True

        self.learning_rate /= 5.0
        if verbose:
            print(f"{message} Setting learning rate to {self.learning_rate:f}")
        return False


class Adam(Optimizer):
    """Adam: steps scaled by running estimates of the gradient's moments.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        The parameter buffer; only its shape and dtype are used here.
    learning_rate_init : float, default=0.001
        Initial step size.
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of the first and second moment estimates, in [0, 1).
    epsilon : float, default=1e-8
        Added to the root of the second moment to keep the division finite.

    Attributes
    ----------
    learning_rate : float
        The bias-corrected step size of the last step.
    t : int
        Number of steps taken.
    first_moment, second_moment : ndarray of shape (n_params,)
        Running averages of the gradient and of its square.

    References
    ----------
    Kingma, D. P. and Ba, J. (2014). "Adam: A method for stochastic
    optimization." arXiv:1412.6980.

    Examples
    --------
    >>> import numpy as np
    >>> params, grads = np.zeros(2), np.array([1.0, -2.0])
    >>> Adam(params, learning_rate_init=0.1).step(params, grads)
    >>> params.round(6)
    array([-0.1,  0.1])
    """

    def __init__(
        self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        super().__init__(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.first_moment = np.zeros_like(params)
        self.second_moment = np.zeros_like(params)

    def state_arrays(self):
        return [self.first_moment, self.second_moment]

    def step(self, params, grads):
        scratch, update = self._scratch_buffers(params)
        self.t += 1

        # m <- beta_1 * m + (1 - beta_1) * g
        self.first_moment *= self.beta_1
        np.multiply(grads, 1 - self.beta_1, out=scratch)
        self.first_moment += scratch

        # v <- beta_2 * v + (1 - beta_2) * g**2
        self.second_moment *= self.beta_2
        np.multiply(grads, grads, out=scratch)
        scratch *= 1 - self.beta_2
        self.second_moment += scratch

        # params += -lr_t * m / (sqrt(v) + epsilon)
        self.learning_rate = (
            self.learning_rate_init
            * np.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        np.sqrt(self.second_moment, out=scratch)
        scratch += self.epsilon
        np.multiply(self.first_moment, -self.learning_rate, out=update)
        update /= scratch
        params += update
