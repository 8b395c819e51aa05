"""Old import path (``minnet.training``), kept for one release: use ``minnet.train``."""

from minnet.train import TrainedModel, TrainingInterrupted, TrainResult, load_run, read_history, resume, train

__all__ = ["train", "resume", "load_run", "TrainResult", "TrainedModel", "TrainingInterrupted", "read_history"]
