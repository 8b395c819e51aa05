import numpy as np
import pytest

import minnet as mn
from minnet import losses, nn

RNG = np.random.default_rng(0)


def test_mse_is_half_the_mean_squared_error():
    pred = mn.Tensor(np.array([[1.0, 2.0], [3.0, 5.0]]), requires_grad=True)
    target = np.array([[0.0, 2.0], [1.0, 1.0]])
    loss = losses.mse_loss(pred, target)
    assert loss.item() == pytest.approx(0.5 * np.mean((pred.data - target) ** 2))
    loss.backward()
    np.testing.assert_allclose(pred.grad, (pred.data - target) / 4)


def test_mse_gradcheck_both_arguments():
    pred = mn.Tensor(RNG.normal(size=(5, 3)), requires_grad=True)
    target = mn.Tensor(RNG.normal(size=(5, 3)), requires_grad=True)
    assert mn.gradcheck(losses.mse_loss, pred, target)


def test_mse_accepts_a_flat_target_for_one_output():
    pred = mn.Tensor(RNG.normal(size=(4, 1)), requires_grad=True)
    target = RNG.normal(size=4)
    assert losses.mse_loss(pred, target).item() == pytest.approx(0.5 * np.mean((pred.data[:, 0] - target) ** 2))


def test_mse_rejects_a_target_of_another_shape():
    with pytest.raises(ValueError, match=r"target has shape \(4, 2\), expected \(4, 3\)"):
        losses.mse_loss(mn.Tensor(np.zeros((4, 3))), np.zeros((4, 2)))


def _reference_cross_entropy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels].mean()


def test_cross_entropy_value_and_fused_gradient():
    logits = mn.Tensor(RNG.normal(size=(6, 4)), requires_grad=True)
    labels = np.array([0, 3, 1, 1, 2, 0])
    loss = losses.softmax_cross_entropy(logits, labels)
    assert loss.item() == pytest.approx(_reference_cross_entropy(logits.data, labels))
    loss.backward()
    softmax = np.exp(logits.data) / np.exp(logits.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(logits.grad, (softmax - np.eye(4)[labels]) / 6)


def test_cross_entropy_gradcheck_labels_and_probabilities():
    logits = mn.Tensor(RNG.normal(size=(5, 3)), requires_grad=True)
    assert mn.gradcheck(lambda z: losses.softmax_cross_entropy(z, np.array([2, 0, 1, 1, 0])), logits)
    probs = RNG.dirichlet(np.ones(3), size=5)
    assert mn.gradcheck(lambda z: losses.softmax_cross_entropy(z, probs), logits)


def test_cross_entropy_with_one_hot_probabilities_equals_labels():
    logits = mn.Tensor(RNG.normal(size=(5, 3)))
    labels = np.array([2, 0, 1, 1, 0])
    by_labels = losses.softmax_cross_entropy(logits, labels).item()
    assert losses.softmax_cross_entropy(logits, np.eye(3)[labels]).item() == pytest.approx(by_labels)


def test_cross_entropy_is_stable_at_huge_logits():
    logits = mn.Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), requires_grad=True)
    loss = losses.softmax_cross_entropy(logits, np.array([0, 2]))
    loss.backward()
    assert loss.item() == pytest.approx(np.log(2) / 2)
    assert np.all(np.isfinite(logits.grad))


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 3]), r"class label 3 is outside \[0, 3\)"),
    (np.array([-1, 0]), r"class label -1 is outside \[0, 3\)"),
    (np.array([0.5, 1.0]), "class labels must be integers"),
    (np.array([0, 1, 2]), r"target has shape \(3,\); expected class labels of shape \(2,\)"),
])
def test_cross_entropy_rejects_bad_targets(labels, message):
    with pytest.raises(ValueError, match=message):
        losses.softmax_cross_entropy(mn.Tensor(np.zeros((2, 3))), labels)


def test_l2_penalty_counts_weight_matrices_only():
    rng = np.random.default_rng(1)
    model = nn.Sequential(nn.Linear(3, 4, rng=rng, dtype=np.float64), nn.Sigmoid(),
                          nn.Linear(4, 2, rng=rng, dtype=np.float64))
    for p in model.parameters():
        p.data += 1.0  # non-zero biases, so leaving them out shows
    weights = [model[0].weight.data, model[2].weight.data]
    penalty = losses.l2_penalty(model)
    assert penalty.item() == pytest.approx(0.5 * sum((w ** 2).sum() for w in weights))
    penalty.backward()
    np.testing.assert_array_equal(model[0].weight.grad, model[0].weight.data)
    assert model[0].bias.grad is None


def test_l2_penalty_of_explicit_tensors_is_the_lecture_regularizer():
    w = mn.tensor(3.0, requires_grad=True, dtype=np.float64)
    penalty = losses.l2_penalty([w])  # R = ½ w²
    penalty.backward()
    assert penalty.item() == 4.5 and w.grad == 3.0
    assert mn.gradcheck(lambda a, b: losses.l2_penalty([a, b]), mn.Tensor(RNG.normal(size=(2, 3)), requires_grad=True),
                        mn.Tensor(RNG.normal(size=3), requires_grad=True))


def test_losses_build_no_graph_under_no_grad():
    logits = mn.Tensor(RNG.normal(size=(3, 2)), requires_grad=True)
    with mn.no_grad():
        assert not losses.softmax_cross_entropy(logits, np.array([0, 1, 1])).requires_grad
        assert not losses.mse_loss(logits, np.zeros((3, 2))).requires_grad
