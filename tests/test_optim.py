import numpy as np
import pytest

import minnet as mn
from minnet import optim


def _param(values):
    return mn.Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_step_is_exactly_theta_minus_lr_grad_in_place():
    p = _param([1.0, -2.0])
    data = p.data
    p.grad = np.array([0.5, 0.25])
    optim.SGD([p], lr=0.1).step()
    assert p.data is data
    np.testing.assert_array_equal(p.data, np.array([1.0, -2.0]) - 0.1 * np.array([0.5, 0.25]))


def test_parameters_without_gradient_are_skipped():
    used, unused = _param([1.0]), _param([2.0])
    used.grad = np.array([1.0])
    optim.SGD([used, unused], lr=1.0).step()
    assert used.data[0] == 0.0 and unused.data[0] == 2.0


def test_momentum_follows_pytorchs_formula():
    p = _param([1.0])
    grads = [0.5, -1.0, 2.0, 0.25]
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    theta, velocity = 1.0, None
    for g in grads:
        p.grad = np.array([g])
        opt.step()
        velocity = g if velocity is None else 0.9 * velocity + g
        theta -= 0.1 * velocity
        assert p.data[0] == pytest.approx(theta, abs=1e-15)


def test_momentum_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 2))
    ours = _param(start.copy())
    theirs = torch.tensor(start.copy(), requires_grad=True)
    opt, topt = optim.SGD([ours], lr=0.05, momentum=0.8), torch.optim.SGD([theirs], lr=0.05, momentum=0.8)
    for _ in range(5):
        g = rng.normal(size=(3, 2))
        ours.grad, theirs.grad = g, torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)


def test_zero_grad_sets_gradients_to_none():
    p = _param([1.0])
    p.grad = np.array([3.0])
    optim.SGD([p], lr=0.1).zero_grad()
    assert p.grad is None


def test_state_dict_resumes_momentum_exactly():
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=2) for _ in range(6)]
    straight = _param([0.0, 0.0])
    opt = optim.SGD([straight], lr=0.1, momentum=0.5)
    for g in grads:
        straight.grad = g
        opt.step()

    resumed = _param([0.0, 0.0])
    first = optim.SGD([resumed], lr=0.1, momentum=0.5)
    for g in grads[:3]:
        resumed.grad = g
        first.step()
    second = optim.SGD([resumed], lr=0.1, momentum=0.5)
    second.load_state_dict(first.state_dict())
    for g in grads[3:]:
        resumed.grad = g
        second.step()
    np.testing.assert_array_equal(resumed.data, straight.data)


def test_load_state_dict_rejects_mismatched_buffers():
    opt = optim.SGD([_param([1.0, 2.0])], lr=0.1, momentum=0.5)
    with pytest.raises(ValueError, match="1 parameters"):
        opt.load_state_dict({"lr": 0.1, "momentum": 0.5, "velocity": [None, None]})
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        opt.load_state_dict({"lr": 0.1, "momentum": 0.5, "velocity": [np.zeros(3)]})


@pytest.mark.parametrize("lr", [0, 0.0, -0.1, float("nan"), float("inf"), "fast"])
def test_bad_learning_rates_are_rejected(lr):
    with pytest.raises(ValueError, match="lr: expected a number > 0"):
        optim.SGD([_param([1.0])], lr=lr)


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5])
def test_momentum_outside_zero_one_is_rejected(momentum):
    with pytest.raises(ValueError, match=r"momentum: expected a number in \[0, 1\)"):
        optim.SGD([_param([1.0])], lr=0.1, momentum=momentum)


def test_empty_parameter_list_is_rejected():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
