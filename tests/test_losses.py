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
        assert not losses.l2_regularized(losses.mse_loss(logits, np.zeros((3, 2))), [logits], 0.1).requires_grad


def _two_layer_model(dtype):
    rng = np.random.default_rng(2)
    return nn.Sequential(nn.Linear(3, 5, rng=rng, dtype=dtype), nn.Tanh(), nn.Linear(5, 4, rng=rng, dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l2_regularized_is_loss_plus_lam_times_penalty_exactly(dtype):
    """One node, but the same numbers as the three-node expression, bit for bit."""
    X, y, lam = RNG.normal(size=(6, 3)).astype(dtype), np.array([0, 1, 2, 3, 0, 1]), 0.03
    results = []
    for fused in (True, False):
        model = _two_layer_model(dtype)
        weights = losses.weight_matrices(model)
        ce = losses.softmax_cross_entropy(model(X), y)
        loss = losses.l2_regularized(ce, weights, lam) if fused else ce + lam * losses.l2_penalty(weights)
        loss.backward()
        results.append((loss.data, [p.grad for p in model.parameters()], loss.op))
    (fused_value, fused_grads, op), (value, grads, _) = results
    assert op == "l2_regularized" and fused_value.dtype == dtype and fused_value.shape == ()
    np.testing.assert_array_equal(fused_value, value)
    for a, b in zip(fused_grads, grads, strict=True):
        np.testing.assert_array_equal(a, b)


def test_l2_regularized_gradcheck_with_a_weight_used_twice():
    """The loss depends on the weights too, and one weight is listed twice."""
    w = mn.Tensor(RNG.normal(size=(2, 3)), requires_grad=True)
    v = mn.Tensor(RNG.normal(size=3), requires_grad=True)
    x = mn.Tensor(RNG.normal(size=(4, 3)), requires_grad=True)
    assert mn.gradcheck(lambda w, v, x: losses.l2_regularized(((x @ w.T) ** 2).sum() + (x * v).sum(), [w, v, w], 0.7),
                        w, v, x)


def test_l2_regularized_keeps_a_one_element_loss_shape():
    w = mn.Tensor(RNG.normal(size=(2, 2)), requires_grad=True)
    assert mn.gradcheck(lambda w: losses.l2_regularized((w * w).sum().reshape(1), [w], 0.5), w)
    assert losses.l2_regularized(mn.Tensor(np.ones(1)), [w], 0.5).shape == (1,)


def test_l2_regularized_of_a_model_covers_its_weight_matrices_only():
    model = _two_layer_model(np.float64)
    loss = losses.l2_regularized(mn.tensor(1.0, dtype=np.float64), model, 0.25)
    loss.backward()
    assert loss.item() == pytest.approx(1.0 + 0.25 * losses.l2_penalty(model).item())
    np.testing.assert_array_equal(model[0].weight.grad, 0.25 * model[0].weight.data)
    assert model[0].bias.grad is None


@pytest.mark.parametrize("lam", [-0.1, float("nan"), float("inf"), "0.1", None])
def test_l2_regularized_rejects_a_bad_strength(lam):
    with pytest.raises(ValueError, match="lam: expected a number >= 0"):
        losses.l2_regularized(mn.tensor(1.0), [mn.Tensor(np.ones((2, 2)), requires_grad=True)], lam)


def test_l2_regularized_rejects_a_loss_that_is_not_one_number_and_no_weights():
    w = mn.Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(ValueError, match=r"loss must be a single number, got shape \(2,\)"):
        losses.l2_regularized(mn.Tensor(np.ones(2)), [w], 0.1)
    with pytest.raises(ValueError, match="l2_regularized: no weights to penalise"):
        losses.l2_regularized(mn.tensor(1.0), [], 0.1)


def test_l2_regularized_explains_its_rule_for_every_input():
    w1 = mn.Tensor(np.ones((2, 2)), requires_grad=True, name="W1")
    w2 = mn.Tensor(np.ones((2, 3)), requires_grad=True, name="W2")
    loss = losses.l2_regularized((w1 * 2).sum(), [w1, w2], 0.5)
    loss.backward()
    loss.name = "L"
    formulas = [row.formula for row in mn.graph.explain_rows(loss) if row.op == "l2_regularized"]
    assert formulas[1:] == ["∂L/∂W1 = λ·∂L/∂L·W1", "∂L/∂W2 = λ·∂L/∂L·W2"]
    assert len(formulas) == 3 and "λ" not in formulas[0]
