"""scikit-learn's MLP as a reference implementation of one SGD step.

From the same initial weights and one full batch of n samples, scikit-learn minimises
L + (alpha / n)·½Σ‖W‖² with plain SGD; minnet must give the same loss and the same
updated weights when the loss is written L + (alpha / n) * l2_penalty(model).
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

import minnet as mn
from minnet import losses, nn, optim

N, FEATURES, HIDDEN = 40, 5, 7
LR, ALPHA = 0.3, 0.7


def _sklearn_step(estimator, X, y, model):
    """Initialise scikit-learn's MLP, overwrite its weights with minnet's, take one step."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first_call = {"classes": np.unique(y)} if isinstance(estimator, MLPClassifier) else {}
        estimator.partial_fit(X, y, **first_call)
        first, second = model[0], model[2]
        estimator.coefs_ = [first.weight.data.T.copy(), second.weight.data.T.copy()]
        estimator.intercepts_ = [first.bias.data.copy(), second.bias.data.copy()]
        estimator.partial_fit(X, y)
    return estimator


def _minnet_step(model, X, target, loss_fn):
    opt = optim.SGD(model.parameters(), lr=LR)
    loss = loss_fn(model(mn.Tensor(X)), target) + (ALPHA / len(X)) * losses.l2_penalty(model)
    loss.backward()
    opt.step()
    return loss.item()


def _model(out_features, seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Linear(FEATURES, HIDDEN, rng=rng, dtype=np.float64),
        nn.Sigmoid(),
        nn.Linear(HIDDEN, out_features, rng=rng, dtype=np.float64),
    )


def _assert_same_weights(model, estimator):
    first, second = model[0], model[2]
    np.testing.assert_allclose(first.weight.data.T, estimator.coefs_[0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(second.weight.data.T, estimator.coefs_[1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(first.bias.data, estimator.intercepts_[0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(second.bias.data, estimator.intercepts_[1], rtol=0, atol=1e-10)


def _nonzero_biases(model, seed):
    rng = np.random.default_rng(seed + 100)
    for layer in (model[0], model[2]):
        layer.bias.data[...] = rng.normal(size=layer.bias.shape)


@pytest.mark.parametrize("seed", [0, 1])
def test_one_sgd_step_matches_mlp_classifier(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, FEATURES))
    y = rng.integers(0, 3, size=N)
    model = _model(3, seed)
    _nonzero_biases(model, seed)
    sk = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,), activation="logistic", solver="sgd", alpha=ALPHA,
        batch_size=N, learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, shuffle=False,
    )
    _sklearn_step(sk, X, y, model)
    loss = _minnet_step(model, X, y, losses.softmax_cross_entropy)
    assert loss == pytest.approx(sk.loss_curve_[-1], abs=1e-10)
    _assert_same_weights(model, sk)


@pytest.mark.parametrize("seed", [0, 1])
def test_one_sgd_step_matches_mlp_regressor(seed):
    # One output only: with k > 1 outputs scikit-learn reports ½·mean over all N·k
    # elements as the loss but steps along the gradient of ½·Σ/N, k times larger.
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, FEATURES))
    y = rng.normal(size=N)
    model = _model(1, seed)
    _nonzero_biases(model, seed)
    sk = MLPRegressor(
        hidden_layer_sizes=(HIDDEN,), activation="logistic", solver="sgd", alpha=ALPHA,
        batch_size=N, learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, shuffle=False,
    )
    _sklearn_step(sk, X, y, model)
    loss = _minnet_step(model, X, y, losses.mse_loss)
    assert loss == pytest.approx(sk.loss_curve_[-1], abs=1e-10)
    _assert_same_weights(model, sk)
