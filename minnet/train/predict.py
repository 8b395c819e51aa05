"""Use a trained run: load its model with the data scaling it was trained with, and predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from minnet.autograd.state import no_grad
from minnet.autograd.tensor import Tensor
from minnet.nn import Sequential
from minnet.train.checkpoint import load_checkpoint
from minnet.train.errors import CheckpointError
from minnet.train.models import build_mlp

__all__ = ["TrainedModel", "load_run"]


class TrainedModel:
    """A model loaded from a run folder, with the data scaling it was trained with.

    ``predict`` takes raw features (as in the dataset or CSV) and returns class labels
    (as their names when the data had names) or regression values in original units.
    """

    def __init__(self, model: Sequential, meta: dict[str, Any], state: dict[str, np.ndarray]):
        self.model = model
        self.task: str = meta["data"]["task"]
        self.class_names: list[str] | None = meta["data"]["class_names"]
        self.feature_names: list[str] = meta["data"]["feature_names"]
        self.epoch: int = meta["epoch"]
        self._x = (state.get("data/x_mean"), state.get("data/x_scale"))
        self._y = (state.get("data/y_mean"), state.get("data/y_scale"))

    def _forward(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)  # scaled in float64, cast once for the model
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(f"predict: expected an array of shape (n, {len(self.feature_names)}), got {X.shape}")
        mean, scale = self._x
        if mean is not None:
            X = (X - mean) / scale
        with no_grad():
            return self.model(Tensor(X.astype(next(self.model.parameters()).dtype))).data

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.task != "classification":
            raise ValueError("predict_proba: this model was trained for regression")
        z = self._forward(X)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        out = self._forward(X)
        if self.task == "classification":
            labels = out.argmax(axis=1)
            return np.asarray(self.class_names)[labels] if self.class_names else labels
        mean, scale = self._y
        if mean is not None:
            out = out * scale + mean
        return out[:, 0] if out.shape[1] == 1 else out


def load_run(run_dir: str | Path) -> TrainedModel:
    """The trained model of a run folder (its ``model.npz``), ready to predict."""
    checkpoint = load_checkpoint(Path(run_dir) / "model.npz")
    spec = checkpoint.meta.get("model", {})
    config = checkpoint.meta.get("config", {})
    try:
        model = build_mlp(spec["sizes"], spec["activation"], dtype=config.get("dtype", "float32"))
        model.load_state_dict(checkpoint.params)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{str(run_dir)!r}: checkpoint does not describe a minnet MLP: {exc}") from None
    return TrainedModel(model, checkpoint.meta, checkpoint.state)
