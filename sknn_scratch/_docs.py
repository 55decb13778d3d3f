"""Docstring sections that both estimators share, written once.

The classes in :mod:`sknn_scratch._classifier` and :mod:`sknn_scratch._regressor`
build their ``__doc__`` from these pieces, so that a parameter they share is
described the same way in both.
"""

ARCHITECTURE_PARAMETERS = """\
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.

    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation function of the hidden layers: 'identity' returns x,
        'logistic' 1 / (1 + exp(-x)), 'tanh' tanh(x) and 'relu' max(0, x).
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
        Seeds the weight initialisation, the early-stopping split and the
        shuffling of the stochastic solvers. Pass an int for reproducible
        results; see :term:`Glossary <random_state>`.

    tol : float, default=1e-4
        Tolerance of the optimisation. When the loss or score does not improve
        by at least ``tol`` for ``n_iter_no_change`` consecutive epochs
        (unless ``learning_rate='adaptive'``), training stops; for 'lbfgs' it
        is the gradient tolerance ``gtol``.

    verbose : bool or int, default=False
        Whether to print the loss after each iteration.

    warm_start : bool, default=False
        When True, ``fit`` continues from the previous solution instead of
        starting anew. See :term:`the Glossary <warm_start>`.

    momentum : float, default=0.9
        Momentum of 'sgd', between 0 and 1.

    nesterovs_momentum : bool, default=True
        Whether 'sgd' uses Nesterov's momentum (when ``momentum > 0``).

    early_stopping : bool, default=False
        Whether the stochastic solvers hold out ``validation_fraction`` of the
        training data and stop when its score has not improved by ``tol`` for
        ``n_iter_no_change`` epochs; the weights of the best epoch are kept.

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
        The loss after each iteration (epoch, or L-BFGS iteration).

    validation_scores_ : list of float or None
        The validation score after each epoch trained with ``early_stopping``;
        None when the model has never been trained with it.

    best_validation_score_ : float or None
        The best of ``validation_scores_``, or None.

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
