"""Write your own model: a residual MLP built from minnet layers, trained by hand.

The model is an ordinary Python class.  Its layers are attributes (a list works
too), and minnet finds their parameters; ``forward`` says how they connect.  Here
the hidden block adds its input back (a skip connection), something a plain
``Sequential`` cannot express.
"""

import numpy as np
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import minnet as mn
from minnet import losses, nn, optim


class ResidualMLP(nn.Module):
    def __init__(self, inputs: int, width: int, classes: int, blocks: int = 2):
        self.stem = nn.Linear(inputs, width)
        self.blocks = [nn.Linear(width, width) for _ in range(blocks)]
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        h = self.stem(x).tanh()
        for block in self.blocks:
            h = h + block(h).tanh()  # the skip connection
        return self.head(h)


def residual_mlp(n_inputs: int, n_outputs: int, width: int = 16, blocks: int = 2) -> ResidualMLP:
    """The factory ``configs/custom_model.toml`` names: train.py builds the model through it."""
    return ResidualMLP(n_inputs, width, n_outputs, blocks)


def main(seed: int = 0, epochs: int = 40, lam: float = 1e-4) -> float:
    X, y = make_moons(n_samples=1000, noise=0.2, random_state=seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = (scaler.transform(a).astype(np.float32) for a in (X_train, X_test))

    mn.manual_seed(seed)
    model = ResidualMLP(inputs=2, width=16, classes=2)
    print(model)
    opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    rng = np.random.default_rng(seed)

    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X_train))
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            logits = model(X_train[batch])
            loss = losses.softmax_cross_entropy(logits, y_train[batch]) + lam * losses.l2_penalty(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % 10 == 0:
            with mn.no_grad():
                accuracy = float((model(X_test).data.argmax(axis=1) == y_test).mean())
            print(f"epoch {epoch:3d}  last batch loss {loss.item():.4f}  test accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    accuracy = main()
    assert accuracy >= 0.95, f"test accuracy {accuracy:.3f} is below 0.95"
