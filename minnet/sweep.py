"""Old import path (``minnet.sweep``), kept for one release: use ``minnet.train.sweep``."""

from minnet.train.compare import summary_table
from minnet.train.sweep import SweepRun, parse_sweep, run_sweep, sweep_grid

__all__ = ["run_sweep", "parse_sweep", "sweep_grid", "summary_table", "SweepRun"]
