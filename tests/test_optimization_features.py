"""Tests of the estimators' optimisation options beyond scikit-learn's MLP.

``weight_decay``, ``max_grad_norm``, ``lr_schedule`` and ``warmup_iter`` are
checked through the estimators, on problems small enough that the weights after
a step can be computed by hand from the network's own gradient:

- decoupled weight decay shrinks the weights and not the intercepts, and one
  step of 'sgd' and of 'adam' is exactly SGDW's and AdamW's;
- clipping steps with the rescaled gradient, changes nothing under the limit,
  and keeps a run with a far too large learning rate from diverging;
- every epoch of a schedule uses the rate of its formula, for 'adam' as for
  'sgd'; ``fit`` restarts the schedule and ``partial_fit`` continues it; the
  'adaptive' schedule makes 'adam' divide its rate on a stall;
- the options refused: with 'lbfgs', and the combinations that cannot work.

That the defaults keep scikit-learn's results bit for bit is the subject of
``tests/test_sklearn_parity.py``.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch.core.network import Network, Workspace

N_SAMPLES = 20
ALPHA = 1e-4

parametrize_estimators = pytest.mark.parametrize(
    "estimator_class",
    [ScratchMLPClassifier, ScratchMLPRegressor],
    ids=["classifier", "regressor"],
)
parametrize_solvers = pytest.mark.parametrize("solver", ["sgd", "adam"])

# One batch of every sample, in order: each epoch is exactly one step.
ONE_STEP_PER_EPOCH = {
    "hidden_layer_sizes": (4,),
    "batch_size": N_SAMPLES,
    "shuffle": False,
    "alpha": ALPHA,
    "tol": 0.0,
    "n_iter_no_change": 1000,
    "random_state": 0,
}


def tiny_problem(estimator_class):
    """Return ``X``, ``y`` and the targets ``Y`` as the network trains on them."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((N_SAMPLES, 3))
    signal = X @ np.array([1.0, -2.0, 0.5])
    if estimator_class is ScratchMLPClassifier:
        y = (signal > 0).astype(int)
    else:
        y = signal + 0.1 * rng.standard_normal(N_SAMPLES)
    return X, y, y.reshape(-1, 1).astype(np.float64)


def fit_quietly(estimator, X, y):
    """Fit, ignoring the ConvergenceWarning of deliberately short runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def partial_fit(estimator, X, y):
    """One partial_fit call; the classifier is told both classes."""
    if isinstance(estimator, ScratchMLPClassifier):
        return estimator.partial_fit(X, y, classes=[0, 1])
    return estimator.partial_fit(X, y)


# The core loss each estimator trains on this problem's targets.
LOSS_NAMES = {
    ScratchMLPClassifier: "binary_log_loss",
    ScratchMLPRegressor: "squared_error",
}


def initial_network(estimator_class):
    """The network the estimators start from with ``random_state=0``."""
    network = Network([3, 4, 1], "relu", LOSS_NAMES[estimator_class])
    network.initialize(np.random.RandomState(0))
    return network


def gradient_at(network, params, X, Y):
    """Return the full-batch gradient of ``network`` at ``params``."""
    network.params[:] = params
    workspace = Workspace(network.layer_units, X.shape[0], np.float64)
    network.loss_gradient(X, Y, None, ALPHA, workspace)
    return network.grads.copy()


def params_of(estimator):
    return estimator._network.params.copy()


# --------------------------------------------------------------------------------
# Decoupled weight decay


@parametrize_estimators
@parametrize_solvers
def test_weight_decay_shrinks_the_weights(estimator_class, solver):
    X, y, _ = tiny_problem(estimator_class)
    params = {**ONE_STEP_PER_EPOCH, "solver": solver, "max_iter": 30}
    params["learning_rate_init"] = 0.01
    plain = fit_quietly(estimator_class(**params), X, y)
    decayed = fit_quietly(estimator_class(**params, weight_decay=2.0), X, y)

    plain_norm = np.sqrt(sum((coef**2).sum() for coef in plain.coefs_))
    decayed_norm = np.sqrt(sum((coef**2).sum() for coef in decayed.coefs_))
    assert decayed_norm < 0.8 * plain_norm


@parametrize_estimators
@parametrize_solvers
def test_one_step_with_weight_decay_is_sgdw_or_adamw(estimator_class, solver):
    X, y, Y = tiny_problem(estimator_class)
    lr, weight_decay = 0.05, 4.0
    params = {**ONE_STEP_PER_EPOCH, "solver": solver, "max_iter": 1}
    params.update(learning_rate_init=lr, momentum=0.0, beta_1=0.8, beta_2=0.95)
    decayed = fit_quietly(estimator_class(**params, weight_decay=weight_decay), X, y)
    plain = fit_quietly(estimator_class(**params), X, y)

    network = initial_network(estimator_class)
    start = network.params.copy()
    grads = gradient_at(network, start, X, Y)
    if solver == "sgd":
        update = -lr * grads
    else:
        # Adam's first step; the decay uses lr, not the bias-corrected rate.
        m, v = 0.2 * grads, 0.05 * grads**2
        update = -lr * np.sqrt(0.05) / 0.2 * m / (np.sqrt(v) + 1e-8)
    n_coef = network.n_coef
    expected = start + update
    expected[:n_coef] -= lr * weight_decay * start[:n_coef]

    np.testing.assert_allclose(params_of(decayed), expected, rtol=1e-12, atol=1e-15)
    # The intercepts are left to the update alone.
    np.testing.assert_array_equal(
        params_of(decayed)[n_coef:], params_of(plain)[n_coef:]
    )


# --------------------------------------------------------------------------------
# Gradient-norm clipping


@parametrize_estimators
def test_clipped_step_is_the_step_of_the_rescaled_gradient(estimator_class):
    X, y, Y = tiny_problem(estimator_class)
    lr = 0.5
    network = initial_network(estimator_class)
    start = network.params.copy()
    grads = gradient_at(network, start, X, Y)
    grad_norm = np.sqrt(grads @ grads)
    params = {**ONE_STEP_PER_EPOCH, "solver": "sgd", "max_iter": 1}
    params.update(learning_rate_init=lr, momentum=0.0)

    clipped = fit_quietly(estimator_class(**params, max_grad_norm=grad_norm / 4), X, y)

    # A step a quarter of the unclipped one, in the same direction.
    expected = start - lr * grads / 4
    np.testing.assert_allclose(params_of(clipped), expected, rtol=1e-12, atol=1e-15)


@parametrize_estimators
@parametrize_solvers
def test_clipping_above_every_gradient_changes_nothing(estimator_class, solver):
    X, y, _ = tiny_problem(estimator_class)
    params = {**ONE_STEP_PER_EPOCH, "solver": solver, "max_iter": 5}
    params.update(batch_size=7, learning_rate_init=0.01)

    plain = fit_quietly(estimator_class(**params), X, y)
    clipped = fit_quietly(estimator_class(**params, max_grad_norm=1e6), X, y)

    np.testing.assert_array_equal(params_of(clipped), params_of(plain))
    assert clipped.loss_curve_ == plain.loss_curve_


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_clipping_keeps_a_too_large_learning_rate_from_diverging():
    # The classifier's log loss grows without overflowing at such rates; the
    # squared error of the regressor overflows within a few epochs.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((60, 4))
    y = X @ rng.standard_normal(4) + 0.1 * rng.standard_normal(60)
    params = {
        "hidden_layer_sizes": (8,),
        "solver": "sgd",
        "learning_rate_init": 2.0,
        "momentum": 0.0,
        "batch_size": 20,
        "max_iter": 20,
        "tol": 0.0,
        "n_iter_no_change": 1000,
        "random_state": 0,
    }

    with pytest.raises(ValueError, match="Training diverged at epoch"):
        fit_quietly(ScratchMLPRegressor(**params), X, y)
    clipped = fit_quietly(ScratchMLPRegressor(**params, max_grad_norm=1.0), X, y)

    assert clipped.n_iter_ == 20
    assert np.isfinite(clipped.loss_curve_).all()
    assert np.isfinite(params_of(clipped)).all()


# --------------------------------------------------------------------------------
# Learning-rate schedules


def cosine_with_warmup(lr, epoch, warmup_iter, max_iter):
    """The rate of ``epoch`` (from 1): linear warm-up, then half a cosine."""
    if epoch <= warmup_iter:
        return lr * epoch / warmup_iter
    decay_epochs_done = epoch - 1 - warmup_iter
    return lr * 0.5 * (1 + np.cos(np.pi * decay_epochs_done / (max_iter - warmup_iter)))


@parametrize_estimators
def test_every_sgd_epoch_steps_with_the_cosine_warmup_rate(estimator_class):
    X, y, Y = tiny_problem(estimator_class)
    lr, warmup_iter, max_iter = 0.2, 3, 8
    estimator = estimator_class(
        **ONE_STEP_PER_EPOCH,
        solver="sgd",
        momentum=0.0,
        learning_rate_init=lr,
        lr_schedule="cosine",
        warmup_iter=warmup_iter,
        max_iter=max_iter,
    )
    network = initial_network(estimator_class)
    expected = network.params.copy()

    for epoch in range(1, max_iter + 1):
        rate = cosine_with_warmup(lr, epoch, warmup_iter, max_iter)
        expected -= rate * gradient_at(network, expected, X, Y)
        partial_fit(estimator, X, y)

        np.testing.assert_allclose(params_of(estimator), expected, rtol=1e-10)
    assert rate == pytest.approx(lr * 0.5 * (1 + np.cos(np.pi * 4 / 5)))


@parametrize_estimators
@pytest.mark.parametrize(
    "schedule",
    ["cosine", "warmup_constant", "invscaling"],
)
def test_every_adam_epoch_steps_with_the_scheduled_rate(estimator_class, schedule):
    X, y, _ = tiny_problem(estimator_class)
    lr, power_t, max_iter = 0.02, 0.3, 7
    settings = {
        "cosine": {"lr_schedule": "cosine", "warmup_iter": 2},
        "warmup_constant": {"lr_schedule": "constant", "warmup_iter": 4},
        "invscaling": {"lr_schedule": "invscaling", "power_t": power_t},
    }[schedule]
    estimator = estimator_class(
        **ONE_STEP_PER_EPOCH,
        solver="adam",
        learning_rate_init=lr,
        max_iter=max_iter,
        **settings,
    )

    for epoch in range(1, max_iter + 1):
        partial_fit(estimator, X, y)

        if schedule == "cosine":
            rate = cosine_with_warmup(lr, epoch, 2, max_iter)
        elif schedule == "warmup_constant":
            rate = lr * min(epoch / 4, 1)
        else:  # t counts the samples of the epochs before
            rate = lr / ((epoch - 1) * N_SAMPLES + 1) ** power_t
        # One step per epoch: epoch e's step is Adam's step e.
        bias_correction = np.sqrt(1 - 0.999**epoch) / (1 - 0.9**epoch)
        assert estimator._optimizer.learning_rate == pytest.approx(
            rate * bias_correction, rel=1e-14
        )


@parametrize_estimators
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_history_records_the_scheduled_rate_of_every_epoch(estimator_class, solver):
    X, y, _ = tiny_problem(estimator_class)
    lr, warmup_iter, max_iter = 0.02, 2, 6
    estimator = estimator_class(
        **ONE_STEP_PER_EPOCH,
        solver=solver,
        learning_rate_init=lr,
        lr_schedule="cosine",
        warmup_iter=warmup_iter,
        max_iter=max_iter,
    )

    fit_quietly(estimator, X, y)

    recorded = [record["learning_rate"] for record in estimator.history_]
    expected = [
        cosine_with_warmup(lr, epoch, warmup_iter, max_iter)
        for epoch in range(1, max_iter + 1)
    ]
    np.testing.assert_allclose(recorded, expected, rtol=1e-14)


@parametrize_estimators
@parametrize_solvers
def test_fit_follows_the_schedule_of_as_many_partial_fit_calls(estimator_class, solver):
    X, y, _ = tiny_problem(estimator_class)
    settings = {**ONE_STEP_PER_EPOCH, "batch_size": 7, "solver": solver}
    settings.update(learning_rate_init=0.05, lr_schedule="cosine", warmup_iter=2)
    settings.update(max_iter=6, weight_decay=0.5, max_grad_norm=0.5)
    fitted = fit_quietly(estimator_class(**settings), X, y)
    incremental = estimator_class(**settings)

    for _ in range(6):
        partial_fit(incremental, X, y)

    np.testing.assert_array_equal(params_of(incremental), params_of(fitted))


@parametrize_estimators
@parametrize_solvers
def test_warm_start_fit_restarts_the_schedule(estimator_class, solver):
    X, y, _ = tiny_problem(estimator_class)
    estimator = estimator_class(
        **ONE_STEP_PER_EPOCH,
        solver=solver,
        learning_rate_init=0.05,
        lr_schedule="cosine",
        max_iter=4,
        warm_start=True,
    )
    fit_quietly(estimator, X, y)
    first_optimizer, after_first_fit = estimator._optimizer, params_of(estimator)

    fit_quietly(estimator, X, y)

    # A new optimizer whose schedule ran its four epochs again: counted from
    # len(loss_curve_), the second fit would have used the rate 0 throughout.
    assert estimator._optimizer is not first_optimizer
    assert estimator._optimizer.epoch == 4
    assert len(estimator.loss_curve_) == 8
    assert not np.allclose(params_of(estimator), after_first_fit)


@parametrize_estimators
@parametrize_solvers
def test_partial_fit_after_fit_continues_the_schedule(estimator_class, solver):
    X, y, _ = tiny_problem(estimator_class)
    estimator = estimator_class(
        **ONE_STEP_PER_EPOCH,
        solver=solver,
        learning_rate_init=0.05,
        lr_schedule="cosine",
        max_iter=4,
        weight_decay=1.0,
        momentum=0.0,  # a velocity would carry on moving the weights
    )
    fit_quietly(estimator, X, y)
    after_fit = params_of(estimator)

    partial_fit(estimator, X, y)

    # Epoch 5 of a cosine over 4 epochs: the rate, and so the step and the
    # decay, are 0.
    assert estimator._optimizer.epoch == 5
    np.testing.assert_array_equal(params_of(estimator), after_fit)


@parametrize_estimators
def test_adaptive_schedule_divides_the_adam_rate_on_each_stall(estimator_class, capsys):
    X, y, _ = tiny_problem(estimator_class)
    # Every epoch after the first is a stall; one is declared after 2 + 1.
    stalling = {**ONE_STEP_PER_EPOCH, "solver": "adam", "tol": 1e6}
    stalling.update(n_iter_no_change=2, learning_rate_init=0.1, max_iter=7)
    adaptive = estimator_class(**stalling, lr_schedule="adaptive", verbose=True)

    fit_quietly(adaptive, X, y)
    constant = estimator_class(**stalling).fit(X, y)

    # Stalls after epochs 4 and 7; sklearn's Adam stops at the first.
    assert adaptive.n_iter_ == 7
    assert constant.n_iter_ == 4
    assert adaptive._optimizer.scheduled_rate == pytest.approx(0.1 / 25, rel=1e-15)
    stall_lines = [
        line for line in capsys.readouterr().out.splitlines() if "did not" in line
    ]
    assert [line.split(". ")[-1] for line in stall_lines] == [
        "Setting learning rate to 0.020000",
        "Setting learning rate to 0.004000",
    ]


@parametrize_estimators
def test_lr_schedule_none_keeps_sklearn_schedules(estimator_class):
    X, y, _ = tiny_problem(estimator_class)
    settings = {**ONE_STEP_PER_EPOCH, "max_iter": 1, "learning_rate": "invscaling"}

    adam = fit_quietly(estimator_class(**settings, solver="adam"), X, y)
    sgd = fit_quietly(estimator_class(**settings, solver="sgd"), X, y)
    overridden = fit_quietly(
        estimator_class(**settings, solver="sgd", lr_schedule="constant"), X, y
    )

    # Adam ignores learning_rate, as scikit-learn's does; lr_schedule wins.
    assert adam._optimizer.lr_schedule == "constant"
    assert sgd._optimizer.lr_schedule == "invscaling"
    assert overridden._optimizer.lr_schedule == "constant"


# --------------------------------------------------------------------------------
# Refused settings


@parametrize_estimators
@pytest.mark.parametrize(
    "name, value",
    [
        ("weight_decay", 0.1),
        ("max_grad_norm", 1.0),
        ("lr_schedule", "constant"),
        ("warmup_iter", 2),
    ],
)
def test_lbfgs_refuses_the_stochastic_options(estimator_class, name, value):
    X, y, _ = tiny_problem(estimator_class)
    estimator = fit_quietly(
        estimator_class(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5), X, y
    )
    fitted_params = params_of(estimator)
    estimator.set_params(**{name: value})

    with pytest.raises(
        ValueError,
        match=rf"^{name}={value!r} only applies to the stochastic solvers 'sgd' "
        rf"and 'adam', not to solver='lbfgs'\.",
    ):
        estimator.fit(X, y)

    np.testing.assert_array_equal(params_of(estimator), fitted_params)


@parametrize_estimators
@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"lr_schedule": "cosine", "warmup_iter": 5, "max_iter": 5},
            r"warmup_iter=5 leaves none of max_iter=5: set warmup_iter below",
        ),
        (
            {"weight_decay": 200.0, "learning_rate_init": 0.01},
            r"weight_decay=200.0 times learning_rate_init=0.01 must be below 1",
        ),
    ],
    ids=["cosine_without_decay_epochs", "decay_flipping_the_weights"],
)
def test_settings_that_cannot_train_are_refused_at_fit(
    estimator_class, settings, message
):
    X, y, _ = tiny_problem(estimator_class)
    estimator = fit_quietly(
        estimator_class(**{**ONE_STEP_PER_EPOCH, "max_iter": 3}), X, y
    )
    fitted_params, fitted_curve = params_of(estimator), list(estimator.loss_curve_)
    broken = clone(estimator).set_params(**settings)

    with pytest.raises(ValueError, match=message):
        broken.fit(X, y)
    estimator.set_params(warm_start=True, **settings)
    with pytest.raises(ValueError, match=message):
        estimator.fit(X, y)

    assert not hasattr(broken, "coefs_")
    np.testing.assert_array_equal(params_of(estimator), fitted_params)
    assert estimator.loss_curve_ == fitted_curve
