"""Scores reported after each epoch: accuracy for classification, R² and RMSE for regression."""

from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "r2_score", "rmse", "METRICS"]


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest logit is the true class."""
    return float(np.mean(logits.argmax(axis=1) == labels))


def r2_score(pred: np.ndarray, target: np.ndarray) -> float:
    """1 − SS_res / SS_tot, averaged over outputs (scikit-learn's uniform average).

    A constant target (SS_tot = 0) scores 1 if predicted exactly, else 0, as
    scikit-learn's ``r2_score`` does (``force_finite``)."""
    target = target.reshape(pred.shape)
    ss_res = ((target - pred) ** 2).sum(axis=0)
    ss_tot = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    constant = ss_tot == 0
    scores = np.where(constant, (ss_res == 0).astype(float), 1.0 - ss_res / np.where(constant, 1.0, ss_tot))
    return float(np.mean(scores))


def rmse(pred: np.ndarray, target: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - target.reshape(pred.shape)) ** 2)))


# The metric in history.csv's metric columns, by task.
METRICS = {"classification": ("accuracy", accuracy), "regression": ("r2", r2_score)}
