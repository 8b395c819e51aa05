"""Layer 4, experiments: configs, datasets, the one training loop, runs, checkpoints,
history, prediction, sweeps, reports and plots.

Imports layers 1-3, scikit-learn, tqdm and joblib; matplotlib only inside ``plots``.
"""

from minnet.train.config import Config, load_config
from minnet.train.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DivergedError,
    MinnetError,
    TrainingInterrupted,
)
from minnet.train.history import read_history
from minnet.train.loop import batch_loss, train_epoch
from minnet.train.predict import TrainedModel, load_run
from minnet.train.run import TrainResult, new_run_dir, resume, start_run, train
from minnet.train.sweep import SweepRun, run_sweep

__all__ = [
    "Config", "load_config", "train", "resume", "start_run", "new_run_dir", "TrainResult",
    "train_epoch", "batch_loss", "load_run", "TrainedModel", "read_history", "run_sweep", "SweepRun",
    "MinnetError", "ConfigError", "DataError", "CheckpointError", "DivergedError", "TrainingInterrupted",
]
