"""Tests of :mod:`sknn_scratch.core.optimizers`.

One and two steps of SGD (plain, with momentum, with Nesterov's momentum) and
of Adam are compared with the update formulas written out by hand; the learning
rate schedules and the stopping decision are checked, printed messages
included; and a pickled optimizer is checked to leave its scratch buffers out
and to keep stepping like the original.
"""

import pickle

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
