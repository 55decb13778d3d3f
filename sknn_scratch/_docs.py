"""Docstring sections that both estimators share, written once.

The classes in :mod:`sknn_scratch._classifier` and :mod:`sknn_scratch._regressor`
build their ``__doc__`` from these pieces, so that a parameter they share is
described the same way in both.
"""

ARCHITECTURE_PARAMETERS = """\
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.

    activation : {'identity', 'logistic', 'tanh', 'relu', 'leaky_relu', 'elu', \
'softplus', 'silu', 'gelu_tanh'} or list of str, default='relu'
        Activation function of the hidden layers: one name for all of them, or
        a list (or tuple) of one name per hidden layer, first layer first.
        'identity' returns x, 'logistic' 1 / (1 + exp(-x)), 'tanh' tanh(x),
        'relu' max(0, x), 'leaky_relu' max(x, 0.01 x) (negative slope 0.01),
        'elu' x for x > 0 and exp(x) - 1 otherwise (alpha = 1), 'softplus'
        log(1 + exp(x)), 'silu' (swish) x / (1 + exp(-x)), and 'gelu_tanh'
        the tanh approximation of GELU,
        0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x**3))), which stays within
        5e-4 of the exact x Phi(x). The initial weights that feed a 'logistic'
        layer are drawn with scikit-learn's Glorot factor 2, all others with
        its factor 6; the output layer's take the factor of the last hidden
        layer.
"""

TRAINING_PARAMETERS = """\
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        The weight optimiser: 'lbfgs' runs SciPy's quasi-Newton L-BFGS-B on the
        whole training set, 'sgd' is stochastic gradient descent with momentum,
        'adam' is Kingma and Ba's stochastic optimiser. 'adam' suits thousands
        of samples or more; on small datasets 'lbfgs' often converges faster
        and better.

    alpha : float, default=0.0001
        Strength of the L2 penalty on the weights. The penalty is divided by
        the sum of the sample weights of each batch (its size when unweighted).

    batch_size : int, default='auto'
        Size of the mini-batches of the stochastic solvers; 'auto' means
        ``min(200, n_samples)``. Ignored by 'lbfgs'.

    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Learning-rate schedule of ``solver='sgd'``: 'constant' keeps
        ``learning_rate_init``; 'invscaling' uses
        ``learning_rate_init / pow(t + 1, power_t)`` after each epoch, ``t``
        being the number of samples seen; 'adaptive' divides the rate by 5 each time
        ``n_iter_no_change`` epochs pass without the training loss (or the
        validation score, with ``early_stopping``) improving by ``tol``.

    learning_rate_init : float, default=0.001
        Initial step size of 'sgd' and 'adam'.

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule of 'sgd'.

    max_iter : int, default=200
        Maximum number of iterations: epochs (passes over the data) for 'sgd'
        and 'adam', L-BFGS iterations for 'lbfgs'.

    shuffle : bool, default=True
        Whether the stochastic solvers shuffle the samples before each epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the early-stopping split, the
        shuffling of the stochastic solvers and the dropout masks. Pass an int
        for reproducible results; see :term:`Glossary <random_state>`.

    tol : float, default=1e-4
        Tolerance of the optimisation. When the loss or score does not improve
        by at least ``tol`` for ``n_iter_no_change`` consecutive epochs
        (unless ``learning_rate='adaptive'``), training stops; for 'lbfgs' it
        is the gradient tolerance ``gtol``.

    verbose : bool or int, default=False
        Whether to print progress after each iteration. True or 1 prints
        scikit-learn's lines: the loss, and the validation score when there is
        validation data. 2 or more prints instead one table of ``history_``:
        epoch, train loss, val loss, val score (with validation data), learning
        rate (not for 'lbfgs') and seconds, with a star on each epoch that
        improved on the best so far.

    warm_start : bool, default=False
        When True, ``fit`` continues from the previous solution instead of
        starting anew. See :term:`the Glossary <warm_start>`.

    momentum : float, default=0.9
        Momentum of 'sgd', between 0 and 1.

    nesterovs_momentum : bool, default=True
        Whether 'sgd' uses Nesterov's momentum (when ``momentum > 0``).

    early_stopping : bool, default=False
        Whether the stochastic solvers hold out ``validation_fraction`` of the
        training data (or use the ``X_val`` given to ``fit``) and stop when its
        score (or loss, see ``validation_monitor``) has not improved by ``tol``
        for ``n_iter_no_change`` epochs; the weights of the best epoch are kept.

    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping, in [0, 1).

    beta_1 : float, default=0.9
        Decay rate of Adam's first moment estimate, in [0, 1).

    beta_2 : float, default=0.999
        Decay rate of Adam's second moment estimate, in [0, 1).

    epsilon : float, default=1e-8
        Adam's guard against dividing by zero.

    n_iter_no_change : int, default=10
        Number of epochs without a ``tol`` improvement after which the
        stochastic solvers stop (or, with 'adaptive', lower the rate).

    max_fun : int, default=15000
        Maximum number of loss evaluations of 'lbfgs'.

"""

EXTENSION_PARAMETERS = """\
    dropout : float or array-like of shape (n_layers - 2,), default=0.0
        Probability of zeroing each hidden unit's output during training, one
        value for every hidden layer or one per hidden layer, in [0, 1).
        Inverted dropout: every mini-batch draws new masks, kept units are
        scaled by ``1 / (1 - dropout)`` and the gradient goes back through the
        same masks, so prediction uses the whole network unchanged (the
        training loss ``loss_curve_`` records is that of the thinned
        networks). The masks come from ``np.random.default_rng`` seeded with
        one draw of ``random_state``, made before the first epoch of each
        ``fit`` or ``partial_fit`` call and only when a rate is positive:
        ``dropout=0`` leaves every random draw as in scikit-learn. Stochastic
        solvers only: a positive rate with ``solver='lbfgs'`` raises a
        ValueError.

    weight_decay : float, default=0.0
        Decoupled weight decay, as in Loshchilov and Hutter's SGDW and AdamW:
        at each step, before the update is added, every weight (not the
        intercepts) is multiplied by ``1 - lr * weight_decay``, ``lr`` being
        the epoch's scheduled learning rate (for 'adam', the rate before
        Adam's bias correction). Unlike ``alpha``, the decay does not go
        through the gradient, so momentum does not carry it and Adam does not
        rescale it. ``learning_rate_init * weight_decay`` must be below 1.
        Stochastic solvers only.

    max_grad_norm : float or None, default=None
        When set, a batch's gradient (of all weights and intercepts, the L2
        penalty included) whose Euclidean norm exceeds ``max_grad_norm`` is
        scaled down to that norm before the optimiser uses it; shorter
        gradients are used unchanged. Stochastic solvers only.

    lr_schedule : {'constant', 'invscaling', 'adaptive', 'cosine'} or None, \
default=None
        Learning-rate schedule for 'sgd' and 'adam' alike, set once per epoch.
        None keeps scikit-learn's behaviour: ``learning_rate`` schedules 'sgd'
        and 'adam' keeps ``learning_rate_init``. 'constant', 'invscaling' and
        'adaptive' are the schedules of ``learning_rate``; for 'adam', Adam's
        bias correction scales the rate they set. 'cosine' decays the rate
        along half a cosine, from ``learning_rate_init`` at the first epoch
        after the warm-up towards 0 at epoch ``max_iter``: the epoch after
        ``k`` epochs of decay uses ``learning_rate_init * (1 + cos(pi * k /
        (max_iter - warmup_iter))) / 2``. The optimiser counts the epochs:
        every ``fit``, warm start included, starts the schedule afresh with a
        new optimiser, while ``partial_fit`` continues the schedule of the
        calls before it, so that ``max_iter`` calls run one cosine and any
        later call uses the rate 0. Stochastic solvers only.

    warmup_iter : int, default=0
        Number of first epochs over which the learning rate rises linearly to
        the schedule's: epoch ``e`` (counted from 1) of the warm-up uses
        ``e / warmup_iter`` times the schedule's rate, so the first epoch
        already trains and epoch ``warmup_iter`` uses the full rate. It
        precedes any schedule, None included, and must be below ``max_iter``
        with 'cosine'; its epochs are counted as those of ``lr_schedule``.
        Stochastic solvers only.

    validation_monitor : {'score', 'loss'}, default='score'
        What early stopping and ``restore_best_weights`` watch on the
        validation data (the ``validation_fraction`` split, or the ``X_val``
        given to ``fit``): its score, higher is better, as scikit-learn does;
        or its loss (without the L2 penalty), lower is better. With 'loss',
        early stopping counts an epoch as a stall unless it lowers the best
        validation loss by at least ``tol``.

    restore_best_weights : bool, default=False
        Whether the model ends with the weights of its best epoch of the
        call, ``best_iter_``, however training stops: by the stopping rule, at
        ``max_iter`` or by a keyboard interrupt (Ctrl-C), which keeps the model
        of the epochs completed. The best epoch is judged by
        ``validation_monitor`` on the validation data when there is any, else
        on the training loss; the first of equal values wins. For 'lbfgs' the
        iterations count as epochs, and an interrupt aborts the call, as in
        scikit-learn, leaving the model as it was. ``partial_fit`` trains a
        single epoch and keeps it. With ``early_stopping=True`` the best
        weights are always restored, as in scikit-learn, and a warm start goes
        on from the best epoch of the earlier fits, which it must beat to
        replace.

    dtype : {'float32', 'float64'} or None, default=None
        Floating-point type of the network. None follows scikit-learn's MLP:
        float32 input trains a float32 network and any other input a float64
        one. 'float32' casts any input to float32, for training and for
        prediction, which makes the matrix products about twice as fast at
        the cost of single-precision weights and outputs; 'float64' casts to
        float64.
"""

FITTED_ATTRIBUTES = """\
    loss_ : float
        For the stochastic solvers, the mean of the last epoch's batch losses
        (each computed before its batch's update); for 'lbfgs', the loss at its
        solution.

    best_loss_ : float or None
        The smallest loss of an epoch (or L-BFGS iteration) trained without
        early stopping; None when the model has only been trained with
        ``early_stopping``, where ``best_validation_score_`` counts instead.

    loss_curve_ : list of float
        The loss after each iteration (epoch, or L-BFGS iteration); the
        ``'loss'`` column of ``history_``.

    validation_scores_ : list of float or None
        The validation score after each epoch that had validation data: the
        split of ``early_stopping``, or the ``X_val`` given to ``fit``; the
        ``'val_score'`` entries of ``history_``. None when the model has never
        had any.

    best_validation_score_ : float or None
        The best of ``validation_scores_``, or None.

    validation_loss_curve_ : list of float or None
        The loss of the validation data (without the L2 penalty) after each
        epoch that had some; the ``'val_loss'`` entries of ``history_``. None
        when the model has never had validation data.

    history_ : list of dict
        One record per epoch (per iteration for 'lbfgs') over the model's life:
        ``partial_fit`` and warm starts append to it, as to ``loss_curve_``.
        Each has the keys ``'epoch'`` (its 1-based number, the record's
        position in the list plus one), ``'loss'`` (the training loss),
        ``'val_loss'`` and ``'val_score'`` when the epoch had validation data,
        ``'learning_rate'`` (the step size of the epoch; for 'adam' its rate
        before bias correction, None for 'lbfgs') and ``'seconds'`` (the
        epoch's wall time, validation included). ``pandas.DataFrame(history_)``
        makes it a table.

    best_iter_ : int
        The epoch (``history_[best_iter_ - 1]``) whose weights the model holds:
        the last one, unless ``early_stopping`` or ``restore_best_weights``
        brought back the best epoch's. 0 only if an interrupt stopped a new
        model before its first epoch ended. After an interrupt in the middle
        of an epoch, the weights are those reached there, unless the best
        epoch's are restored.

    t_ : int
        The number of training samples the stochastic solvers have seen.

    coefs_ : list of ndarray of shape (n_fan_in, n_fan_out)
        The ith element is the weight matrix of layer i. All weights and biases
        live in one contiguous buffer of which these are views. Assigning
        ``coefs_[i] = W`` or ``coefs_ = [W0, W1, ...]`` copies the new values
        into the buffer; the shapes must stay the same.

    intercepts_ : list of ndarray of shape (n_fan_out,)
        The ith element is the bias vector of layer i + 1; views like
        ``coefs_``, and assigned the same way.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    n_iter_ : int
        The number of iterations of the last call.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of outputs.

    out_activation_ : str
        Name of the output activation.
"""
