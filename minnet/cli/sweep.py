"""The sweep branch of ``train.py``: run (or resume) the sweep, plot, print its table, pick the exit code."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from minnet.train.compare import summary_table
from minnet.train.config import Config, config_from_dict, config_to_dict
from minnet.train.errors import TrainingInterrupted
from minnet.train.run import claim_run_dir
from minnet.train.sweep import SweepRun, parse_sweep, resume_sweep, run_sweep

__all__ = ["run", "resume"]

SHOWN_FAILURES = 10  # runs whose failure is printed one by one


def _with_command_line(config: Config, args: argparse.Namespace) -> Config:
    """--sweep, --repeats, --cv, --backend and --address on top of the config's [sweep]."""
    raw = config_to_dict(config)
    table = raw.setdefault("sweep", {})
    if args.sweep:
        table.update(parse_sweep(args.sweep))
    for option in ("repeats", "cv", "backend", "address"):
        if getattr(args, option) is not None:
            table[option] = getattr(args, option)
    return config_from_dict(raw)


def _report(config: Config, runs: list[SweepRun], out_dir: Path, plot: bool) -> int:
    if plot:
        from minnet.train.plots import plot_sweep

        plot_sweep(runs, config, out_dir)
    print(f"{config.name}: sweep of {len(runs)} runs -> {out_dir}")
    print(summary_table(runs, config))
    failed = [r for r in runs if r.status != "completed"]
    for failure in failed[:SHOWN_FAILURES]:
        print(f"{failure.run_dir.name}: {failure.message}")
    if len(failed) > SHOWN_FAILURES:
        print(f"... and {len(failed) - SHOWN_FAILURES} more")
    broken = [r for r in failed if r.status == "failed"]
    if broken:
        print(f"error: {len(broken)} of {len(runs)} runs failed; the first: {broken[0].message}", file=sys.stderr)
        return 2
    return 3 if failed else 0


def _interrupted(out_dir: Path) -> TrainingInterrupted:
    return TrainingInterrupted(
        f"sweep interrupted; finished runs are in {out_dir} (see summary.csv and runs.csv); "
        f"continue with: python train.py --resume {out_dir}"
    )


def run(config: Config, args: argparse.Namespace) -> int:
    config = _with_command_line(config, args)
    with nullcontext(Path(args.out)) if args.out else claim_run_dir(f"{config.name}-sweep") as out_dir:
        try:
            runs = run_sweep(config, out_dir, jobs=args.jobs, quiet=args.quiet, force=args.force)
        except KeyboardInterrupt:
            raise _interrupted(out_dir) from None
    return _report(config, runs, out_dir, args.plot)


def resume(out_dir: Path, args: argparse.Namespace) -> int:
    try:
        config, runs = resume_sweep(out_dir, jobs=args.jobs, quiet=args.quiet)
    except KeyboardInterrupt:
        raise _interrupted(out_dir) from None
    return _report(config, runs, out_dir, args.plot)
