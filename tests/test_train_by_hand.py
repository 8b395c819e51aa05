"""Layers, loss, penalty and SGD together: a plain loop learns make_moons."""

import numpy as np
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import minnet as mn
from minnet import losses, nn, optim


def test_sigmoid_mlp_learns_moons_to_95_percent():
    X, y = make_moons(n_samples=800, noise=0.2, random_state=1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=1, stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = (scaler.transform(a).astype(np.float32) for a in (X_train, X_test))

    mn.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 16), nn.Sigmoid(), nn.Linear(16, 2))
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    rng = np.random.default_rng(1)
    for _ in range(40):
        order = rng.permutation(len(X_train))
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            loss = losses.softmax_cross_entropy(model(X_train[batch]), y_train[batch]) \
                + 1e-4 * losses.l2_penalty(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with mn.no_grad():
        predictions = model(X_test).data.argmax(axis=1)
    assert (predictions == y_test).mean() >= 0.95
    assert model[0].weight.dtype == np.float32
