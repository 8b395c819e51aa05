"""The ``--sweep`` branch of ``train.py``: run the sweep, plot, print its table, pick the exit code."""

from __future__ import annotations

import argparse
from pathlib import Path

from minnet.train.config import Config, config_from_dict, config_to_dict
from minnet.train.errors import TrainingInterrupted
from minnet.train.run import new_run_dir
from minnet.train.sweep import parse_sweep, run_sweep, summary_table

__all__ = ["run"]


def run(config: Config, args: argparse.Namespace) -> int:
    if args.sweep:
        raw = config_to_dict(config)
        raw["sweep"] = parse_sweep(args.sweep)
        config = config_from_dict(raw)
    out_dir = Path(args.out) if args.out else new_run_dir(f"{config.name}-sweep")
    try:
        runs = run_sweep(config, out_dir, jobs=args.jobs, quiet=args.quiet)
    except KeyboardInterrupt:
        raise TrainingInterrupted(f"sweep interrupted; finished runs are in {out_dir} (see summary.csv)") from None
    if args.plot:
        from minnet.train.plots import plot_sweep

        plot_sweep(runs, out_dir)
    print(f"{config.name}: sweep of {len(runs)} runs -> {out_dir}")
    print(summary_table(runs))
    failed = [r for r in runs if r.status != "completed"]
    for failure in failed:
        print(f"{failure.run_dir.name}: {failure.message}")
    if any(r.status == "failed" for r in failed):
        return 2
    return 3 if failed else 0
