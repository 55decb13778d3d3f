"""Tests of :mod:`sknn_scratch.core.optimizers`.

One and two steps of SGD (plain, with momentum, with Nesterov's momentum) and
of Adam are compared with the update formulas written out by hand; the learning
rate schedules and the stopping decision are checked, printed messages
included; and a pickled optimizer is checked to leave its scratch buffers out
and to keep stepping like the original.

The options beyond scikit-learn are checked the same way: steps with decoupled
weight decay against SGDW and AdamW written out by hand, clipped steps against
steps from the rescaled gradient, the rate of every epoch of each schedule
(warm-up, cosine, invscaling and adaptive for Adam) against its formula, and
the steps on these paths for allocations.
"""

import pickle
import tracemalloc

import numpy as np
import pytest

from sknn_scratch.core.optimizers import SGD, Adam

PARAMS_0 = np.array([0.5, -1.0, 2.0, 0.0])
GRADS_1 = np.array([0.2, -0.4, 1.5, -3.0])
GRADS_2 = np.array([-0.1, 0.3, 0.5, 2.0])


def take_steps(optimizer, params, *all_grads):
    """Apply ``optimizer.step`` once per gradient; return the parameter history."""
    history = []
    for grads in all_grads:
        returned = optimizer.step(params, grads)
        assert returned is None
        history.append(params.copy())
    return history


@pytest.mark.parametrize("nesterov", [False, True])
def test_plain_sgd_steps(nesterov):
    lr = 0.3
    params = PARAMS_0.copy()
    optimizer = SGD(params, learning_rate_init=lr, momentum=0.0, nesterov=nesterov)

    first, second = take_steps(optimizer, params, GRADS_1, GRADS_2)

    np.testing.assert_allclose(first, PARAMS_0 - lr * GRADS_1, rtol=1e-15)
    np.testing.assert_allclose(
        second, PARAMS_0 - lr * GRADS_1 - lr * GRADS_2, rtol=1e-15
    )


def test_sgd_with_momentum_steps():
    lr, mu = 0.3, 0.7
    params = PARAMS_0.copy()
    optimizer = SGD(params, learning_rate_init=lr, momentum=mu, nesterov=False)

    first, second = take_steps(optimizer, params, GRADS_1, GRADS_2)

    velocity_1 = -lr * GRADS_1
    velocity_2 = mu * velocity_1 - lr * GRADS_2
    np.testing.assert_allclose(first, PARAMS_0 + velocity_1, rtol=1e-15)
    np.testing.assert_allclose(second, PARAMS_0 + velocity_1 + velocity_2, rtol=1e-15)
    np.testing.assert_allclose(optimizer.velocity, velocity_2, rtol=1e-15)


def test_sgd_with_nesterov_momentum_steps():
    lr, mu = 0.3, 0.7
    params = PARAMS_0.copy()
    optimizer = SGD(params, learning_rate_init=lr, momentum=mu, nesterov=True)

    first, second = take_steps(optimizer, params, GRADS_1, GRADS_2)

    velocity_1 = -lr * GRADS_1
    velocity_2 = mu * velocity_1 - lr * GRADS_2
    # Nesterov looks ahead: the update is mu * (new velocity) - lr * g.
    expected_first = PARAMS_0 + mu * velocity_1 - lr * GRADS_1
    expected_second = expected_first + mu * velocity_2 - lr * GRADS_2
    np.testing.assert_allclose(first, expected_first, rtol=1e-15)
    np.testing.assert_allclose(second, expected_second, rtol=1e-15)
    np.testing.assert_allclose(optimizer.velocity, velocity_2, rtol=1e-15)


def test_sgd_defaults():
    params = PARAMS_0.copy()
    optimizer = SGD(params)

    assert optimizer.learning_rate == 0.1
    assert optimizer.lr_schedule == "constant"
    assert optimizer.momentum == 0.9
    assert optimizer.nesterov is True
    assert optimizer.power_t == 0.5
    np.testing.assert_array_equal(optimizer.velocity, np.zeros_like(params))


def test_sgd_updates_params_in_place_and_leaves_grads_alone():
    params = PARAMS_0.copy()
    params_object = params
    grads = GRADS_1.copy()
    optimizer = SGD(params, learning_rate_init=0.1, momentum=0.9)

    optimizer.step(params, grads)

    assert params is params_object
    assert not np.array_equal(params, PARAMS_0)
    np.testing.assert_array_equal(grads, GRADS_1)


def test_adam_one_step():
    lr, beta_1, beta_2, epsilon = 0.01, 0.8, 0.95, 1e-2
    params = PARAMS_0.copy()
    optimizer = Adam(params, lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)

    (first,) = take_steps(optimizer, params, GRADS_1)

    m = (1 - beta_1) * GRADS_1
    v = (1 - beta_2) * GRADS_1**2
    lr_1 = lr * np.sqrt(1 - beta_2) / (1 - beta_1)
    np.testing.assert_allclose(first, PARAMS_0 - lr_1 * m / (np.sqrt(v) + epsilon))
    assert optimizer.t == 1
    assert optimizer.learning_rate == pytest.approx(lr_1, rel=1e-15)
    np.testing.assert_allclose(optimizer.first_moment, m, rtol=1e-15)
    np.testing.assert_allclose(optimizer.second_moment, v, rtol=1e-15)


def test_adam_two_steps():
    lr, beta_1, beta_2, epsilon = 0.01, 0.8, 0.95, 1e-2
    params = PARAMS_0.copy()
    optimizer = Adam(params, lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)

    first, second = take_steps(optimizer, params, GRADS_1, GRADS_2)

    m_1 = (1 - beta_1) * GRADS_1
    v_1 = (1 - beta_2) * GRADS_1**2
    lr_1 = lr * np.sqrt(1 - beta_2) / (1 - beta_1)
    expected_first = PARAMS_0 - lr_1 * m_1 / (np.sqrt(v_1) + epsilon)
    m_2 = beta_1 * m_1 + (1 - beta_1) * GRADS_2
    v_2 = beta_2 * v_1 + (1 - beta_2) * GRADS_2**2
    lr_2 = lr * np.sqrt(1 - beta_2**2) / (1 - beta_1**2)
    expected_second = expected_first - lr_2 * m_2 / (np.sqrt(v_2) + epsilon)
    np.testing.assert_allclose(first, expected_first, rtol=1e-14)
    np.testing.assert_allclose(second, expected_second, rtol=1e-14)
    assert optimizer.t == 2
    assert optimizer.learning_rate == pytest.approx(lr_2, rel=1e-15)
    np.testing.assert_allclose(optimizer.first_moment, m_2, rtol=1e-15)
    np.testing.assert_allclose(optimizer.second_moment, v_2, rtol=1e-15)


def test_adam_first_step_has_the_size_of_the_learning_rate():
    # With a negligible epsilon, the first bias-corrected step is lr * sign(g).
    params = PARAMS_0.copy()
    optimizer = Adam(params, learning_rate_init=0.05, epsilon=1e-300)

    (first,) = take_steps(optimizer, params, GRADS_1)

    np.testing.assert_allclose(first, PARAMS_0 - 0.05 * np.sign(GRADS_1), rtol=1e-12)


def test_adam_defaults():
    params = PARAMS_0.copy()
    optimizer = Adam(params)

    assert optimizer.learning_rate_init == 0.001
    assert optimizer.learning_rate == 0.001
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (
        0.9,
        0.999,
        1e-8,
    )
    assert optimizer.t == 0
    np.testing.assert_array_equal(optimizer.first_moment, np.zeros_like(params))
    np.testing.assert_array_equal(optimizer.second_moment, np.zeros_like(params))


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_float32_params_stay_float32(optimizer_class):
    params = PARAMS_0.astype(np.float32)
    optimizer = optimizer_class(params)

    take_steps(
        optimizer, params, GRADS_1.astype(np.float32), GRADS_2.astype(np.float32)
    )

    assert params.dtype == np.float32
    state = optimizer.velocity if optimizer_class is SGD else optimizer.first_moment
    assert state.dtype == np.float32


def test_invscaling_schedule_after_iteration_ends():
    lr, power_t = 0.5, 0.3
    params = PARAMS_0.copy()
    optimizer = SGD(params, lr, lr_schedule="invscaling", momentum=0.0, power_t=power_t)

    optimizer.iteration_ends(99)

    expected_lr = lr / 100**power_t
    assert optimizer.learning_rate == pytest.approx(expected_lr, rel=1e-15)

    optimizer.step(params, GRADS_1)

    np.testing.assert_allclose(params, PARAMS_0 - expected_lr * GRADS_1, rtol=1e-15)

    # The rate is recomputed from the initial one, not compounded.
    optimizer.iteration_ends(399)

    assert optimizer.learning_rate == pytest.approx(lr / 400**power_t, rel=1e-15)
    assert optimizer.learning_rate_init == lr


@pytest.mark.parametrize("lr_schedule", ["constant", "adaptive"])
def test_other_schedules_keep_the_rate_at_iteration_ends(lr_schedule):
    optimizer = SGD(PARAMS_0.copy(), 0.2, lr_schedule=lr_schedule)

    optimizer.iteration_ends(1000)

    assert optimizer.learning_rate == 0.2


def test_adam_keeps_its_rate_at_iteration_ends():
    optimizer = Adam(PARAMS_0.copy(), 0.2)

    optimizer.iteration_ends(1000)

    assert optimizer.learning_rate == 0.2


def test_adaptive_trigger_stopping_divides_by_five_then_stops(capsys):
    optimizer = SGD(PARAMS_0.copy(), 0.01, lr_schedule="adaptive")
    message = "Training loss did not improve more than tol for 10 epochs."

    decisions = [optimizer.trigger_stopping(message, verbose=True) for _ in range(7)]

    # 0.01 / 5**6 = 6.4e-7 is the first rate at or below 1e-6.
    assert decisions == [False] * 6 + [True]
    assert optimizer.learning_rate == pytest.approx(0.01 / 5**6, rel=1e-15)
    lines = capsys.readouterr().out.splitlines()
    rates = ["0.002000", "0.000400", "0.000080", "0.000016", "0.000003", "0.000001"]
    assert lines == [f"{message} Setting learning rate to {rate}" for rate in rates] + [
        f"{message} Learning rate too small. Stopping."
    ]


def test_adaptive_trigger_stopping_at_exactly_the_threshold(capsys):
    optimizer = SGD(PARAMS_0.copy(), 1e-6, lr_schedule="adaptive")

    assert optimizer.trigger_stopping("Stalled.", verbose=True) is True
    assert optimizer.learning_rate == 1e-6
    assert capsys.readouterr().out == "Stalled. Learning rate too small. Stopping.\n"


def test_adaptive_trigger_stopping_just_above_the_threshold(capsys):
    optimizer = SGD(PARAMS_0.copy(), 1.5e-6, lr_schedule="adaptive")

    assert optimizer.trigger_stopping("Stalled.", verbose=False) is False
    assert optimizer.learning_rate == pytest.approx(3e-7, rel=1e-15)
    assert optimizer.trigger_stopping("Stalled.", verbose=False) is True
    assert capsys.readouterr().out == ""


def test_adaptive_rate_is_used_by_the_next_step():
    params = PARAMS_0.copy()
    optimizer = SGD(params, 0.5, lr_schedule="adaptive", momentum=0.0)

    optimizer.trigger_stopping("Stalled.", verbose=False)
    optimizer.step(params, GRADS_1)

    np.testing.assert_allclose(params, PARAMS_0 - 0.1 * GRADS_1, rtol=1e-15)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: SGD(params, lr_schedule="constant"),
        lambda params: SGD(params, lr_schedule="invscaling"),
        lambda params: Adam(params),
    ],
    ids=["sgd_constant", "sgd_invscaling", "adam"],
)
@pytest.mark.parametrize("verbose", [False, True])
def test_non_adaptive_trigger_stopping_stops_at_once(make_optimizer, verbose, capsys):
    optimizer = make_optimizer(PARAMS_0.copy())
    rate_before = optimizer.learning_rate

    assert optimizer.trigger_stopping("No improvement.", verbose=verbose) is True

    assert optimizer.learning_rate == rate_before
    expected_output = "No improvement. Stopping.\n" if verbose else ""
    assert capsys.readouterr().out == expected_output


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: SGD(params, 0.1, momentum=0.9, nesterov=False),
        lambda params: SGD(params, 0.1, momentum=0.9, nesterov=True),
        lambda params: Adam(params, 0.01),
    ],
    ids=["sgd_momentum", "sgd_nesterov", "adam"],
)
def test_pickled_optimizer_drops_scratch_and_keeps_stepping(make_optimizer):
    params = PARAMS_0.copy()
    optimizer = make_optimizer(params)
    optimizer.step(params, GRADS_1)
    assert optimizer._scratch is not None

    restored = pickle.loads(pickle.dumps(optimizer))
    restored_params = params.copy()

    assert restored._scratch is None
    # Pickling does not disturb the original's buffers.
    assert optimizer._scratch is not None

    optimizer.step(params, GRADS_2)
    restored.step(restored_params, GRADS_2)

    np.testing.assert_array_equal(restored_params, params)
    assert restored._scratch is not None
    assert restored.learning_rate == optimizer.learning_rate


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_pickle_size_does_not_include_the_scratch_buffers(optimizer_class):
    params = np.zeros(5000)
    optimizer = optimizer_class(params)
    size_before_step = len(pickle.dumps(optimizer))

    optimizer.step(params, np.ones_like(params))
    size_after_step = len(pickle.dumps(optimizer))

    # The two scratch buffers would add 2 * 40 kB.
    assert optimizer._scratch is not None
    assert abs(size_after_step - size_before_step) < 200


# --------------------------------------------------------------------------------
# Decoupled weight decay

N_COEF = 3  # PARAMS_0[:3] play the weights, PARAMS_0[3:] the intercepts


def test_sgd_weight_decay_is_sgdw():
    lr, mu, weight_decay = 0.3, 0.7, 0.5
    params = PARAMS_0.copy()
    optimizer = SGD(
        params,
        lr,
        momentum=mu,
        nesterov=False,
        weight_decay=weight_decay,
        n_coef=N_COEF,
    )

    first, second = take_steps(optimizer, params, GRADS_1, GRADS_2)

    # The decay shrinks the weights the update starts from and stays out of
    # the velocity; the intercepts are not decayed.
    decay = np.array([1 - lr * weight_decay] * N_COEF + [1.0])
    velocity_1 = -lr * GRADS_1
    velocity_2 = mu * velocity_1 - lr * GRADS_2
    expected_first = decay * PARAMS_0 + velocity_1
    expected_second = decay * expected_first + velocity_2
    np.testing.assert_allclose(first, expected_first, rtol=1e-15)
    np.testing.assert_allclose(second, expected_second, rtol=1e-15)
    np.testing.assert_allclose(optimizer.velocity, velocity_2, rtol=1e-15)


def test_nesterov_sgd_weight_decay():
    lr, mu, weight_decay = 0.3, 0.7, 0.5
    params = PARAMS_0.copy()
    optimizer = SGD(params, lr, momentum=mu, weight_decay=weight_decay, n_coef=N_COEF)

    (first,) = take_steps(optimizer, params, GRADS_1)

    decay = np.array([1 - lr * weight_decay] * N_COEF + [1.0])
    velocity_1 = -lr * GRADS_1
    expected = decay * PARAMS_0 + mu * velocity_1 - lr * GRADS_1
    np.testing.assert_allclose(first, expected, rtol=1e-15)


def test_adam_weight_decay_is_adamw_with_the_rate_before_bias_correction():
    lr, beta_1, beta_2, epsilon, weight_decay = 0.01, 0.8, 0.95, 1e-2, 3.0
    params = PARAMS_0.copy()
    optimizer = Adam(
        params,
        lr,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
        weight_decay=weight_decay,
        n_coef=N_COEF,
    )

    (first,) = take_steps(optimizer, params, GRADS_1)

    m = (1 - beta_1) * GRADS_1
    v = (1 - beta_2) * GRADS_1**2
    lr_1 = lr * np.sqrt(1 - beta_2) / (1 - beta_1)
    # The bias-corrected lr_1 is about 1.1 lr here: a decay by lr_1 would differ.
    decay = np.array([1 - lr * weight_decay] * N_COEF + [1.0])
    expected = decay * PARAMS_0 - lr_1 * m / (np.sqrt(v) + epsilon)
    np.testing.assert_allclose(first, expected, rtol=1e-15)
    np.testing.assert_allclose(optimizer.first_moment, m, rtol=1e-15)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_weight_decay_follows_the_scheduled_rate(optimizer_class):
    # In its first warm-up epoch of four, the scheduled rate is a quarter of 0.2.
    params = PARAMS_0.copy()
    optimizer = optimizer_class(
        params, 0.2, weight_decay=1.0, warmup_iter=4, n_coef=N_COEF
    )
    no_decay_params = PARAMS_0.copy()
    no_decay = optimizer_class(no_decay_params, 0.2, warmup_iter=4)

    optimizer.step(params, GRADS_1)
    no_decay.step(no_decay_params, GRADS_1)

    assert optimizer.scheduled_rate == 0.05
    expected = no_decay_params.copy()
    expected[:N_COEF] -= 0.05 * PARAMS_0[:N_COEF]
    np.testing.assert_allclose(params, expected, rtol=1e-15)


def test_weight_decay_without_n_coef_decays_every_parameter():
    params = PARAMS_0.copy()
    optimizer = SGD(params, 0.1, momentum=0.0, weight_decay=2.0)

    optimizer.step(params, np.zeros_like(params))

    np.testing.assert_allclose(params, 0.8 * PARAMS_0, rtol=1e-15)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_weight_decay_too_strong_for_the_rate_is_refused(optimizer_class):
    with pytest.raises(ValueError, match=r"weight_decay=20 times learning_rate_init"):
        optimizer_class(PARAMS_0.copy(), 0.05, weight_decay=20)


# --------------------------------------------------------------------------------
# Gradient-norm clipping

GRADS_1_NORM = np.sqrt(GRADS_1 @ GRADS_1)  # about 3.39


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_clipping_steps_with_the_rescaled_gradient(optimizer_class):
    max_grad_norm = 1.5
    params = PARAMS_0.copy()
    grads = GRADS_1.copy()
    optimizer = optimizer_class(params, 0.1, max_grad_norm=max_grad_norm)
    reference_params = PARAMS_0.copy()
    reference = optimizer_class(reference_params, 0.1)
    clipped_grads = GRADS_1 * (max_grad_norm / GRADS_1_NORM)

    optimizer.step(params, grads)
    reference.step(reference_params, clipped_grads)

    np.testing.assert_allclose(params, reference_params, rtol=1e-14)
    np.testing.assert_allclose(grads, clipped_grads, rtol=1e-15)
    assert np.sqrt(grads @ grads) == pytest.approx(max_grad_norm, rel=1e-15)


def test_clipped_sgd_step_by_hand():
    params = PARAMS_0.copy()
    optimizer = SGD(params, 0.1, momentum=0.0, max_grad_norm=1.0)

    optimizer.step(params, GRADS_1.copy())

    # The step has length lr * max_grad_norm, along -GRADS_1.
    expected = PARAMS_0 - 0.1 * GRADS_1 / GRADS_1_NORM
    np.testing.assert_allclose(params, expected, rtol=1e-15)
    assert np.linalg.norm(params - PARAMS_0) == pytest.approx(0.1, rel=1e-14)


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_clipping_leaves_a_shorter_gradient_alone(optimizer_class):
    params = PARAMS_0.copy()
    grads = GRADS_1.copy()
    optimizer = optimizer_class(params, 0.1, max_grad_norm=GRADS_1_NORM * 1.001)
    reference_params = PARAMS_0.copy()
    reference = optimizer_class(reference_params, 0.1)

    optimizer.step(params, grads)
    reference.step(reference_params, GRADS_1)

    np.testing.assert_array_equal(params, reference_params)
    np.testing.assert_array_equal(grads, GRADS_1)


def test_clipping_a_gradient_whose_squares_overflow_float32():
    params = np.zeros(4, dtype=np.float32)
    grads = np.array([3e20, -4e20, 0.0, 0.0], dtype=np.float32)
    optimizer = SGD(params, 1.0, momentum=0.0, max_grad_norm=2.0)

    optimizer.step(params, grads)

    # The norm is 5e20, whose square float32 cannot hold.
    np.testing.assert_allclose(grads, [1.2, -1.6, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(params, [-1.2, 1.6, 0.0, 0.0], rtol=1e-6)


def test_clipping_leaves_a_non_finite_gradient_for_the_divergence_check():
    params = PARAMS_0.copy()
    grads = np.array([np.inf, 1.0, 0.0, 0.0])
    optimizer = SGD(params, 0.1, momentum=0.0, nesterov=False, max_grad_norm=1.0)

    optimizer.step(params, grads)

    # Scaling would turn the infinity into a NaN; it stays what it was.
    np.testing.assert_array_equal(grads, [np.inf, 1.0, 0.0, 0.0])
    assert params[0] == -np.inf


# --------------------------------------------------------------------------------
# Learning-rate schedules, for Adam as for SGD

N_EPOCHS = 10


def rates_by_epoch(optimizer, n_epochs, samples_per_epoch=1):
    """Return the scheduled rate of each of ``n_epochs`` epochs."""
    rates = []
    for epoch in range(n_epochs):
        rates.append(optimizer.scheduled_rate)
        optimizer.iteration_ends((epoch + 1) * samples_per_epoch)
    return rates


def cosine(lr, k, n):
    return lr * 0.5 * (1 + np.cos(np.pi * k / n))


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_cosine_schedule_rate_of_every_epoch(optimizer_class):
    optimizer = optimizer_class(
        PARAMS_0.copy(), 0.4, lr_schedule="cosine", max_iter=N_EPOCHS
    )

    rates = rates_by_epoch(optimizer, N_EPOCHS + 2)

    expected = [cosine(0.4, epoch, N_EPOCHS) for epoch in range(N_EPOCHS)]
    np.testing.assert_allclose(rates[:N_EPOCHS], expected, rtol=1e-15)
    assert rates[0] == 0.4
    assert rates[N_EPOCHS - 1] > 0
    # Past max_iter the schedule has run out.
    assert rates[N_EPOCHS:] == [0.0, 0.0]


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_warmup_then_cosine_rate_of_every_epoch(optimizer_class):
    warmup_iter = 4
    optimizer = optimizer_class(
        PARAMS_0.copy(),
        0.4,
        lr_schedule="cosine",
        warmup_iter=warmup_iter,
        max_iter=N_EPOCHS,
    )

    rates = rates_by_epoch(optimizer, N_EPOCHS)

    # Epochs 1 to 4 rise to 0.4, then the cosine spans the 6 epochs left.
    np.testing.assert_allclose(rates[:warmup_iter], [0.1, 0.2, 0.3, 0.4], rtol=1e-15)
    expected = [cosine(0.4, k, N_EPOCHS - warmup_iter) for k in range(6)]
    np.testing.assert_allclose(rates[warmup_iter:], expected, rtol=1e-15)


@pytest.mark.parametrize(
    "lr_schedule, expected_after_warmup",
    [
        ("constant", lambda epoch: 0.3),
        ("invscaling", lambda epoch: 0.3 / (5 * epoch + 1) ** 0.5),
    ],
)
def test_warmup_scales_the_schedule_rate(lr_schedule, expected_after_warmup):
    optimizer = SGD(PARAMS_0.copy(), 0.3, lr_schedule=lr_schedule, warmup_iter=3)

    rates = rates_by_epoch(optimizer, 6, samples_per_epoch=5)

    # Epoch e (from 0) of the warm-up uses (e + 1) / 3 of the schedule's rate.
    expected = [
        expected_after_warmup(epoch) * min(1, (epoch + 1) / 3) for epoch in range(6)
    ]
    np.testing.assert_allclose(rates, expected, rtol=1e-15)
    assert rates[0] > 0


def test_adam_invscaling_rate_of_every_epoch_and_its_use():
    lr, power_t, samples_per_epoch = 0.2, 0.25, 50
    params = PARAMS_0.copy()
    optimizer = Adam(params, lr, lr_schedule="invscaling", power_t=power_t)

    rates = rates_by_epoch(optimizer, 5, samples_per_epoch)
    optimizer.step(params, GRADS_1)

    expected = [lr / (samples_per_epoch * epoch + 1) ** power_t for epoch in range(5)]
    np.testing.assert_allclose(rates, expected, rtol=1e-15)
    # The bias correction scales the rate of the sixth epoch.
    rate_6 = lr / (5 * samples_per_epoch + 1) ** power_t
    assert optimizer.learning_rate == pytest.approx(
        rate_6 * np.sqrt(1 - 0.999) / (1 - 0.9), rel=1e-15
    )


def test_adam_adaptive_schedule_divides_the_rate_by_five_then_stops(capsys):
    params = PARAMS_0.copy()
    optimizer = Adam(params, 1e-4, lr_schedule="adaptive")

    decisions = [optimizer.trigger_stopping("Stalled.", verbose=True) for _ in range(4)]
    optimizer.iteration_ends(100)
    optimizer.step(params, GRADS_1)

    # 1e-4 / 5**3 = 8e-7 is the first rate at or below 1e-6.
    assert decisions == [False, False, False, True]
    assert optimizer.scheduled_rate == pytest.approx(8e-7, rel=1e-15)
    assert optimizer.learning_rate == pytest.approx(
        8e-7 * np.sqrt(1 - 0.999) / (1 - 0.9), rel=1e-15
    )
    assert capsys.readouterr().out.splitlines() == [
        "Stalled. Setting learning rate to 0.000020",
        "Stalled. Setting learning rate to 0.000004",
        "Stalled. Setting learning rate to 0.000001",
        "Stalled. Learning rate too small. Stopping.",
    ]


def test_adaptive_division_survives_the_warmup():
    optimizer = SGD(PARAMS_0.copy(), 0.5, lr_schedule="adaptive", warmup_iter=2)

    optimizer.trigger_stopping("Stalled.", verbose=False)
    first = optimizer.scheduled_rate
    optimizer.iteration_ends(10)

    assert first == pytest.approx(0.05, rel=1e-15)  # 0.5 / 5, half warmed up
    assert optimizer.scheduled_rate == pytest.approx(0.1, rel=1e-15)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"lr_schedule": "linear"}, "lr_schedule must be one of"),
        ({"lr_schedule": "cosine"}, "warmup_iter=0 leaves none of max_iter=None"),
        (
            {"lr_schedule": "cosine", "warmup_iter": 5, "max_iter": 5},
            "warmup_iter=5 leaves none of max_iter=5: set warmup_iter below",
        ),
    ],
)
def test_schedule_options_that_cannot_work_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        Adam(PARAMS_0.copy(), **options)


# --------------------------------------------------------------------------------
# No allocation per step on the new paths


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_steps_with_clipping_and_decay_allocate_no_parameter_sized_array(
    optimizer_class,
):
    rng = np.random.RandomState(0)
    params = rng.standard_normal(100_000)
    grads = rng.standard_normal(100_000)
    optimizer = optimizer_class(
        params,
        0.01,
        lr_schedule="cosine",
        warmup_iter=2,
        max_iter=10,
        weight_decay=0.1,
        max_grad_norm=1.0,
        n_coef=90_000,
    )
    optimizer.step(params, grads.copy())  # allocates its scratch once
    grads_to_clip = grads.copy()

    tracemalloc.start()
    try:
        optimizer.iteration_ends(1000)
        optimizer.step(params, grads_to_clip)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # The step did clip; a parameter-sized temporary would take 800 kB.
    assert np.sqrt(grads_to_clip @ grads_to_clip) == pytest.approx(1.0)
    assert peak < params.nbytes / 100


def whole_array_steps(kind, params, grads, n_steps):
    """Return ``params`` after ``n_steps`` written out on whole arrays.

    The operations are scikit-learn's, in its order, so that a step made a
    chunk at a time must give the same bits.
    """
    params = params.copy()
    first, second = np.zeros_like(params), np.zeros_like(params)
    velocity = np.zeros_like(params)
    for t in range(1, n_steps + 1):
        if kind == "adam":
            first = 0.9 * first + (1 - 0.9) * grads
            second = 0.999 * second + (1 - 0.999) * (grads * grads)
            rate = 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            params += -rate * first / (np.sqrt(second) + 1e-8)
        else:
            velocity = 0.9 * velocity - 0.01 * grads
            if kind == "nesterov":
                params += 0.9 * velocity - 0.01 * grads
            else:
                params += velocity
    return params


@pytest.mark.parametrize("kind", ["adam", "nesterov", "momentum"])
def test_steps_in_chunks_equal_whole_array_steps(kind):
    # More parameters than one chunk, and not a multiple of it.
    from sknn_scratch.core.optimizers import UPDATE_CHUNK

    rng = np.random.RandomState(0)
    n_params = 2 * UPDATE_CHUNK + 123
    params = rng.standard_normal(n_params)
    grads = rng.standard_normal(n_params)
    if kind == "adam":
        optimizer = Adam(params, learning_rate_init=0.01)
    else:
        optimizer = SGD(params, 0.01, momentum=0.9, nesterov=kind == "nesterov")

    expected = whole_array_steps(kind, params, grads, n_steps=3)
    for _ in range(3):
        optimizer.step(params, grads)

    np.testing.assert_array_equal(params, expected)
    assert [buffer.size for buffer in optimizer._scratch] == [UPDATE_CHUNK] * 2


@pytest.mark.parametrize("kind", ["adam", "nesterov"])
def test_a_step_in_lent_work_memory_equals_one_in_its_own(kind):
    from sknn_scratch.core.optimizers import UPDATE_CHUNK, step_work_size

    rng = np.random.RandomState(0)
    n_params = UPDATE_CHUNK + 77
    params = rng.standard_normal(n_params)
    grads = rng.standard_normal(n_params)

    def make(params):
        if kind == "adam":
            return Adam(params, learning_rate_init=0.01)
        return SGD(params, 0.01, momentum=0.9, nesterov=True)

    own_params, lent_params = params.copy(), params.copy()
    own, lent = make(own_params), make(lent_params)
    work = np.full(step_work_size(n_params) + 5, np.nan)
    for _ in range(2):
        own.step(own_params, grads)
        lent.step(lent_params, grads, work)

    np.testing.assert_array_equal(lent_params, own_params)
    assert lent._scratch is None  # it used the lent memory only


def test_a_step_refuses_work_memory_too_small_or_of_another_dtype():
    from sknn_scratch.core.optimizers import step_work_size

    params, grads = np.ones(10), np.ones(10)
    optimizer = Adam(params, weight_decay=0.1, n_coef=5)
    for work in (np.empty(step_work_size(10) - 1), np.empty(20, dtype=np.float32)):
        with pytest.raises(ValueError, match=r"step_work_size\(params.size\) = 20"):
            optimizer.step(params, grads, work)
    # Nothing moved: not the weights, not the step count.
    np.testing.assert_array_equal(params, np.ones(10))
    assert optimizer.t == 0
