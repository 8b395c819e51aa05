"""Scores reported after each epoch: accuracy for classification, R² and RMSE for regression."""

from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "r2_score", "rmse", "METRICS"]


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest logit is the true class."""
    return float(np.mean(logits.argmax(axis=1) == labels))


def r2_score(pred: np.ndarray, target: np.ndarray) -> float:
    """1 − SS_res / SS_tot, averaged over outputs (scikit-learn's uniform average)."""
    target = target.reshape(pred.shape)
    ss_res = ((target - pred) ** 2).sum(axis=0)
    ss_tot = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    return float(np.mean(1.0 - ss_res / np.where(ss_tot == 0, 1.0, ss_tot)))


def rmse(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - target.reshape(pred.shape)) ** 2)))


# The metric in history.csv's metric columns, by task.
METRICS = {"classification": ("accuracy", accuracy), "regression": ("r2", r2_score)}
