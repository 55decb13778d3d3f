"""Stochastic optimizers that update a network's parameter buffer in place.

Both optimizers take the network's flat ``params`` and ``grads`` arrays (see
:mod:`sknn_scratch.core.network`) and update all parameters with a few
vectorised, in-place operations per step: no per-layer loop and no temporary
arrays beyond two chunk-sized scratch buffers. A step works through the buffers
in chunks of :data:`UPDATE_CHUNK` elements, every operation of the momentum or
moment estimates and of the update on one chunk before the next, so that a
chunk stays in the cache from one operation to the next; gradient clipping and
weight decay, when asked for, are one pass each over the whole buffer before
the chunks. The scratch is either memory the caller lends to ``step`` (a
training loop lends the workspace that the forward and backward passes use,
idle during the step) or buffers the optimizer allocates on its first step.

Their arithmetic is that of scikit-learn's MLP solvers, operation for operation,
so that a model trained by either package takes the same steps:

- :class:`SGD` with momentum ``mu`` and learning rate ``lr``:
  ``v <- mu v - lr g``, then ``params += v``, or with Nesterov's momentum
  ``params += mu v - lr g``.
- :class:`Adam`: ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g**2``,
  ``params -= lr_t m / (sqrt(v) + eps)`` with the bias-corrected
  ``lr_t = lr sqrt(1 - b2**t) / (1 - b1**t)``.

Beyond scikit-learn, the :class:`Optimizer` base class gives both of them three
options, each off by default so that the default steps stay scikit-learn's:

- a learning-rate schedule, set once per epoch, for Adam as for SGD:
  scikit-learn's ``"constant"``, ``"invscaling"`` and ``"adaptive"``, or
  ``"cosine"``, each after an optional linear warm-up;
- gradient-norm clipping: a gradient whose Euclidean norm exceeds
  ``max_grad_norm`` is scaled down to that norm before it is used;
- decoupled weight decay (the SGDW and AdamW of Loshchilov and Hutter): each
  step multiplies the weights by ``1 - lr * weight_decay``, outside the
  gradient, so that neither momentum nor Adam's scaling acts on the decay.
"""

import math

import numpy as np

# Elements of the parameters a step updates at a time (256 KiB in float64). On
# the benchmark's wide network (536,000 parameters) a whole Adam step took 4.0 ms
# in such chunks against 4.5 ms for one pass per operation over all parameters.
UPDATE_CHUNK = 32768

LR_SCHEDULES = ("constant", "invscaling", "adaptive", "cosine")

# The "adaptive" schedule stops training once its rate is this small or smaller,
# as scikit-learn's does.
SMALLEST_ADAPTIVE_RATE = 1e-6


class Optimizer:
    """Base class: the learning-rate schedule, clipping and weight decay.

    The schedule sets :attr:`scheduled_rate` once per epoch, in
    :meth:`iteration_ends`; the subclasses' ``step`` clips the gradient first
    and decays the weights just before adding the update.

    Parameters
    ----------
    learning_rate_init : float
        Initial step size.
    lr_schedule : {"constant", "invscaling", "adaptive", "cosine"}, \
default="constant"
        How the rate changes from epoch to epoch. ``"constant"`` keeps
        ``learning_rate_init``. ``"invscaling"`` sets it to
        ``learning_rate_init / (t + 1)**power_t`` after each epoch, ``t`` being
        the number of samples seen. ``"adaptive"`` divides it by 5 each time
        :meth:`trigger_stopping` is called, and stops training once it is 1e-6
        or below. ``"cosine"`` decays it along half a cosine, from
        ``learning_rate_init`` at the first epoch after the warm-up to 0 at
        epoch ``max_iter``: the epoch that follows ``k`` epochs of decay uses
        ``learning_rate_init * (1 + cos(pi * k / (max_iter - warmup_iter))) /
        2``, and every epoch from ``max_iter`` on uses 0.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    warmup_iter : int, default=0
        Number of first epochs over which the rate rises linearly to the
        schedule's: epoch ``e`` (counted from 1) of the warm-up uses ``e /
        warmup_iter`` times the schedule's rate, so the first epoch already
        moves and epoch ``warmup_iter`` uses the full rate.
    max_iter : int or None, default=None
        Length in epochs of the ``"cosine"`` schedule, warm-up included;
        needed by it only, and must then exceed ``warmup_iter``.
    weight_decay : float, default=0.0
        Decoupled weight decay: before each update is added, ``params[:n_coef]``
        is multiplied by ``1 - scheduled_rate * weight_decay``. The rate is the
        scheduled one, warm-up included, and for Adam the one before its bias
        correction: in Loshchilov and Hutter's AdamW the decay term follows the
        schedule but stays outside Adam's bias-corrected step. Their
        ``lambda`` is ``learning_rate_init * weight_decay`` here, which must be
        below 1.
    max_grad_norm : float or None, default=None
        When the Euclidean norm of a step's ``grads`` exceeds it, ``grads`` is
        scaled down in place to that norm before it is used.
    n_coef : int or None, default=None
        Number of leading entries of ``params`` that weight decay applies to
        (the weights, which come before the intercepts); None means all.

    Attributes
    ----------
    scheduled_rate : float
        The rate the schedule and warm-up set for the coming epoch's steps.
    epoch : int
        Number of epochs ended (calls to :meth:`iteration_ends`) so far.

    Examples
    --------
    Two epochs of warm-up, then a cosine over the four epochs left:

    >>> import numpy as np
    >>> optimizer = SGD(
    ...     np.zeros(3), 0.1, lr_schedule="cosine", warmup_iter=2, max_iter=6
    ... )
    >>> rates = []
    >>> for epoch in range(6):
    ...     rates.append(round(optimizer.scheduled_rate, 4))
    ...     optimizer.iteration_ends(time_step=100 * (epoch + 1))
    >>> rates
    [0.05, 0.1, 0.1, 0.0854, 0.05, 0.0146]
    """

    def __init__(
        self,
        learning_rate_init,
        *,
        lr_schedule="constant",
        power_t=0.5,
        warmup_iter=0,
        max_iter=None,
        weight_decay=0.0,
        max_grad_norm=None,
        n_coef=None,
    ):
        self.learning_rate_init = learning_rate_init
        self.lr_schedule = lr_schedule
        self.power_t = power_t
        self.warmup_iter = warmup_iter
        self.max_iter = max_iter
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.n_coef = n_coef
        self._check_options()

        self.epoch = 0
        self._samples_seen = 0
        self._adaptive_rate = float(learning_rate_init)
        self.scheduled_rate = self._rate_of_next_epoch()
        self._scratch = None

    def _check_options(self):
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}."
            )
        if self.lr_schedule == "cosine" and (
            self.max_iter is None or self.warmup_iter >= self.max_iter
        ):
            raise ValueError(
                f"lr_schedule='cosine' decays the rate over the epochs after the "
                f"warm-up up to max_iter, but warmup_iter={self.warmup_iter} "
                f"leaves none of max_iter={self.max_iter}: set warmup_iter below "
                f"max_iter."
            )
        if self.weight_decay * self.learning_rate_init >= 1:
            raise ValueError(
                f"weight_decay={self.weight_decay} times learning_rate_init="
                f"{self.learning_rate_init} must be below 1, since each step "
                f"multiplies the weights by 1 - learning_rate * weight_decay; got "
                f"{self.weight_decay * self.learning_rate_init}."
            )

    def __getstate__(self):
        # The scratch buffers hold nothing between steps; do not pickle them.
        state = self.__dict__.copy()
        state["_scratch"] = None
        return state

    def _scratch_buffers(self, params, work):
        """Return two work arrays of one chunk, cut from ``work`` if given.

        Without ``work``, they are allocated on the first step and reused.
        """
        size = min(UPDATE_CHUNK, params.size)
        if work is not None:
            if work.size < 2 * size or work.dtype != params.dtype:
                raise ValueError(
                    f"The work memory of a step must hold at least "
                    f"step_work_size(params.size) = {2 * size} values of dtype "
                    f"{params.dtype}; got {work.size} of dtype {work.dtype}."
                )
            return work[:size], work[size : 2 * size]
        if self._scratch is None:
            self._scratch = (
                np.empty(size, dtype=params.dtype),
                np.empty(size, dtype=params.dtype),
            )
        return self._scratch

    def state_arrays(self):
        """Return the arrays the optimizer updates in place at each step.

        Returns
        -------
        arrays : list of ndarray
        """
        return []

    def step(self, params, grads, work=None):
        """Update ``params`` in place from the gradient ``grads``.

        ``grads`` is left as it is, unless ``max_grad_norm`` clips it in place.

        Parameters
        ----------
        params, grads : ndarray of shape (n_params,)
        work : ndarray of shape (n_work,), default=None
            Memory of the parameters' dtype that the step may overwrite, at
            least :func:`step_work_size` ``(n_params)`` values; None uses
            buffers of the optimizer's own.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------------
    # The learning-rate schedule

    def _rate_of_next_epoch(self):
        """Return the rate of the steps of epoch ``self.epoch + 1``."""
        if self.lr_schedule == "invscaling":
            inverse_scale = (self._samples_seen + 1) ** self.power_t
            rate = float(self.learning_rate_init) / inverse_scale
        elif self.lr_schedule == "adaptive":
            rate = self._adaptive_rate
        elif self.lr_schedule == "cosine":
            rate = self._cosine_rate()
        else:
            rate = float(self.learning_rate_init)

        if self.epoch < self.warmup_iter:
            rate *= (self.epoch + 1) / self.warmup_iter
        return rate

    def _cosine_rate(self):
        # The warm-up rises to the cosine's starting point, learning_rate_init.
        n_decay_epochs = self.max_iter - self.warmup_iter
        decay_epochs_done = max(self.epoch - self.warmup_iter, 0)
        if decay_epochs_done >= n_decay_epochs:
            return 0.0
        progress = decay_epochs_done / n_decay_epochs
        half_cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return float(self.learning_rate_init) * half_cosine

    def iteration_ends(self, time_step):
        """Count an epoch and set the rate of the next one.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far, the ``t`` of
            ``"invscaling"``.
        """
        self.epoch += 1
        self._samples_seen = time_step
        self.scheduled_rate = self._rate_of_next_epoch()

    def trigger_stopping(self, message, verbose):
        """Decide whether training stops after too many epochs without progress.

        The ``"adaptive"`` schedule divides its rate by 5 and goes on, until the
        rate is 1e-6 or below; every other schedule stops at once.

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
        if self.lr_schedule != "adaptive":
            if verbose:
                print(f"{message} Stopping.")
            return True

        if self._adaptive_rate <= SMALLEST_ADAPTIVE_RATE:
            if verbose:
                print(f"{message} Learning rate too small. Stopping.")
            return True

        self._adaptive_rate /= 5.0
        self.scheduled_rate = self._rate_of_next_epoch()
        if verbose:
            print(f"{message} Setting learning rate to {self.scheduled_rate:f}")
        return False

    # ------------------------------------------------------------------------
    # What every step does around the update

    def _clip_gradient(self, grads):
        """Scale ``grads`` down in place to norm ``max_grad_norm`` if it is longer."""
        if self.max_grad_norm is None:
            return
        with np.errstate(over="ignore"):  # an overflow is handled below
            norm = math.sqrt(np.dot(grads, grads))
        if norm <= self.max_grad_norm or math.isnan(norm):
            return
        if math.isinf(norm):
            norm = _norm_without_overflow(grads)

        # An infinite entry cannot be scaled to a finite norm (inf * 0 is NaN):
        # like a NaN, it is left for the training loop's divergence check.
        if math.isfinite(norm):
            grads *= self.max_grad_norm / norm

    def _decay_weights(self, params):
        """Shrink the weights, ``params[:n_coef]``, by the decoupled decay."""
        if self.weight_decay:
            params[: self.n_coef] *= 1 - self.scheduled_rate * self.weight_decay


def step_work_size(n_params):
    """Return how many values of work memory a step over ``n_params`` needs.

    Examples
    --------
    >>> step_work_size(1000), step_work_size(10**6) == 2 * UPDATE_CHUNK
    (2000, True)
    """
    return 2 * min(UPDATE_CHUNK, n_params)


def _chunks(size):
    """Yield the slices of at most ``UPDATE_CHUNK`` elements that cover ``size``.

    Examples
    --------
    >>> list(_chunks(UPDATE_CHUNK + 1))
    [slice(0, 32768, None), slice(32768, 32769, None)]
    """
    for start in range(0, size, UPDATE_CHUNK):
        yield slice(start, min(start + UPDATE_CHUNK, size))


def _norm_without_overflow(values):
    """Return the Euclidean norm of ``values`` whose squares overflow.

    Allocates a scaled copy; it is only called when the squares' sum overflows,
    and returns infinity only when an entry is infinite or the norm itself is
    beyond the dtype's range.
    """
    largest = float(np.max(np.abs(values)))
    if math.isinf(largest):
        return largest
    scaled = values / largest
    return largest * math.sqrt(np.dot(scaled, scaled))


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and a learning-rate schedule.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        The parameter buffer; only its shape and dtype are used here.
    learning_rate_init : float, default=0.1
        Initial step size.
    lr_schedule : {"constant", "invscaling", "adaptive", "cosine"}, \
default="constant"
        How the rate changes from epoch to epoch; see :class:`Optimizer`.
    momentum : float, default=0.9
        Weight of the previous update in the velocity.
    nesterov : bool, default=True
        Whether to use Nesterov's momentum.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    **options
        ``warmup_iter``, ``max_iter``, ``weight_decay``, ``max_grad_norm`` and
        ``n_coef``, as in :class:`Optimizer`.

    Attributes
    ----------
    learning_rate : float
        The current step size, :attr:`scheduled_rate`.
    velocity : ndarray of shape (n_params,)
        The last update, weight decay aside.

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
        **options,
    ):
        super().__init__(
            learning_rate_init, lr_schedule=lr_schedule, power_t=power_t, **options
        )
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = np.zeros_like(params)

    @property
    def learning_rate(self):
        return self.scheduled_rate

    def state_arrays(self):
        return [self.velocity]

    def step(self, params, grads, work=None):
        step_work, update_work = self._scratch_buffers(params, work)
        self._clip_gradient(grads)
        # SGDW: the decay shrinks the weights the update starts from.
        self._decay_weights(params)

        for chunk in _chunks(params.size):
            velocity = self.velocity[chunk]
            step_term = step_work[: velocity.size]

            # v <- momentum * v - learning_rate * g
            np.multiply(grads[chunk], self.learning_rate, out=step_term)
            velocity *= self.momentum
            velocity -= step_term

            # Nesterov's update looks ahead: momentum * v - learning_rate * g.
            if self.nesterov:
                update = np.multiply(
                    velocity, self.momentum, out=update_work[: velocity.size]
                )
                update -= step_term
            else:
                update = velocity
            params[chunk] += update


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
    **options
        ``lr_schedule``, ``power_t``, ``warmup_iter``, ``max_iter``,
        ``weight_decay``, ``max_grad_norm`` and ``n_coef``, as in
        :class:`Optimizer`. The schedule sets the rate that the bias correction
        scales.

    Attributes
    ----------
    learning_rate : float
        The bias-corrected step size of the last step,
        ``scheduled_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)``;
        ``learning_rate_init`` before the first step.
    t : int
        Number of steps taken.
    first_moment, second_moment : ndarray of shape (n_params,)
        Running averages of the gradient and of its square.

    References
    ----------
    Kingma, D. P. and Ba, J. (2014). "Adam: A method for stochastic
    optimization." arXiv:1412.6980.

    Loshchilov, I. and Hutter, F. (2019). "Decoupled weight decay
    regularization." ICLR 2019, arXiv:1711.05101.

    Examples
    --------
    >>> import numpy as np
    >>> params, grads = np.zeros(2), np.array([1.0, -2.0])
    >>> Adam(params, learning_rate_init=0.1).step(params, grads)
    >>> params.round(6)
    array([-0.1,  0.1])
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        **options,
    ):
        super().__init__(learning_rate_init, **options)
        self.learning_rate = float(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.first_moment = np.zeros_like(params)
        self.second_moment = np.zeros_like(params)

    def state_arrays(self):
        return [self.first_moment, self.second_moment]

    def step(self, params, grads, work=None):
        term_work, root_work = self._scratch_buffers(params, work)
        self._clip_gradient(grads)
        self.t += 1
        self.learning_rate = (
            self.scheduled_rate
            * np.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        # AdamW: the decay shrinks the weights the update starts from.
        self._decay_weights(params)

        for chunk in _chunks(params.size):
            gradient = grads[chunk]
            first_moment = self.first_moment[chunk]
            second_moment = self.second_moment[chunk]
            term = term_work[: gradient.size]
            root = root_work[: gradient.size]

            # m <- beta_1 * m + (1 - beta_1) * g
            first_moment *= self.beta_1
            np.multiply(gradient, 1 - self.beta_1, out=term)
            first_moment += term

            # v <- beta_2 * v + (1 - beta_2) * g**2
            second_moment *= self.beta_2
            np.multiply(gradient, gradient, out=term)
            term *= 1 - self.beta_2
            second_moment += term

            # update = -lr_t * m / (sqrt(v) + epsilon)
            np.sqrt(second_moment, out=root)
            root += self.epsilon
            np.multiply(first_moment, -self.learning_rate, out=term)
            term /= root
            params[chunk] += term
