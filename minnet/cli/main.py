"""The command line: ``python train.py [CONFIG] [options]`` (same as ``python -m minnet``).

Exit codes: 0 success; 2 bad config, data or usage, or a file that cannot be written
(one ``error:`` line, no traceback); 3 training diverged; 130 interrupted by Ctrl-C or
SIGTERM (what finished is saved).

``main`` catches the stop signals first and imports the rest of minnet (scikit-learn
takes a second to load) only then, so Ctrl-C at any moment of start-up is one line too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from types import FrameType

from minnet import __version__

__all__ = ["main"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stop:
    """A stop signal's handler: KeyboardInterrupt the first time, nothing after, so a
    second Ctrl-C (or a kill after it) never cuts short the saving the first one started."""

    def __init__(self) -> None:
        self.stopping = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping = True
            raise KeyboardInterrupt


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGINT and SIGTERM through one ``_Stop`` while ``main`` runs; the old handlers after.

    A signal ignored when the program started (``nohup``, a background job) stays ignored,
    as Python itself does for SIGINT; only the main thread can catch signals.
    """
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        stop = _Stop()
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) in (signal.default_int_handler, signal.SIG_DFL):
                previous[signum] = signal.signal(signum, stop)
    try:
        yield
    finally:
        for held, handler in previous.items():
            signal.signal(held, handler)  # type: ignore[arg-type]  # what signal.signal returned


def _parser() -> argparse.ArgumentParser:
    from minnet.cli.parsing import DEFAULT_CONFIG, Parser

    p = Parser(
        prog="python train.py",
        description="Train an MLP with minnet from a TOML config.",
        epilog="Exit codes: 0 ok, 2 bad config/data/usage or a file that cannot be written, 3 diverged, "
               "130 interrupted (Ctrl-C, SIGTERM). "
               "To draw one training step's graph: python -m minnet graph [CONFIG] -o graph.svg; "
               "to use a trained run: python -m minnet predict|evaluate RUN_DIR DATA.csv",
    )
    p.add_argument("config", nargs="?", help=f"TOML config file (default: {DEFAULT_CONFIG})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.lr=0.1 (repeatable)")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="train once per value, e.g. --sweep loss.l2=0,1e-3,1e-2 (two keys: their grid)")
    p.add_argument("--repeats", type=int, metavar="N",
                   help="sweep: train each grid point N times with different init/shuffle seeds (sweep.repeats)")
    p.add_argument("--cv", type=int, metavar="K",
                   help="sweep: K-fold cross-validation on the training split instead of data.val_size (sweep.cv)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel runs in a sweep (default 1)")
    p.add_argument("--backend", choices=["loky", "dask"], help="sweep: where runs go (sweep.backend; default loky)")
    p.add_argument("--address", metavar="URL", help="sweep: the Dask scheduler, e.g. tcp://HOST:8786 (sweep.address)")
    p.add_argument("--out", metavar="DIR", help="run folder (default: runs/<name>, numbered if it exists)")
    p.add_argument("--force", action="store_true", help="replace the run (or sweep) an existing --out folder holds")
    p.add_argument("--plot", action="store_true", help="also write PNG plots (needs minnet[plot])")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run (or sweep folder) from its checkpoints")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--version", action="version", version=f"minnet {__version__}")
    return p


def _require_matplotlib() -> None:
    from minnet.train.errors import ConfigError

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("--plot needs matplotlib: pip install 'minnet[plot]' (or pip install matplotlib)") from None


def _train(args: argparse.Namespace) -> int:
    from minnet.cli.parsing import config_path
    from minnet.train import run
    from minnet.train.config import SweepOptions, load_config, parse_assignment
    from minnet.train.errors import ConfigError
    from minnet.train.report import run_table

    if args.plot:
        _require_matplotlib()
    if args.resume:
        if args.config or args.sweep or args.out:
            raise ConfigError("--resume takes only a run folder (and --set train.epochs=N); drop CONFIG/--sweep/--out")
        from minnet.train.sweep import SWEEP_FILE

        if (Path(args.resume) / SWEEP_FILE).is_file():
            from minnet.cli import sweep

            if args.set:
                raise ConfigError("--resume of a sweep continues it as configured; drop --set")
            return sweep.resume(Path(args.resume), args)
        overrides = [parse_assignment(item, "--set") for item in args.set]
        result = run.resume(args.resume, overrides, quiet=args.quiet)
    else:
        config = load_config(config_path(args.config), args.set)
        if args.sweep or config.sweep or args.repeats or args.cv or config.sweep_options != SweepOptions():
            # (sweep options with no grid are the sweep's error, not a single run)
            from minnet.cli import sweep

            return sweep.run(config, args)
        with nullcontext(Path(args.out)) if args.out else run.claim_run_dir(config.name) as run_dir:
            result = run.train(config, run_dir, quiet=args.quiet, force=args.force)
    if args.plot:
        from minnet.train.plots import plot_run

        plot_run(result)
    print(run_table(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    with _stop_signals():  # first: everything below may take a while
        try:
            return _main(list(sys.argv[1:] if argv is None else argv))
        except KeyboardInterrupt:  # before a run began (start-up), or after its files were written
            print("error: interrupted", file=sys.stderr)
            return 130


def _main(argv: list[str]) -> int:
    from minnet.train.errors import MinnetError

    try:
        try:
            code = _dispatch(argv)
        except SystemExit as exc:  # --help or --version printed: flushed below like any output
            if exc.code not in (0, None):
                raise
            code = 0
        if sys.stdout is not None:
            sys.stdout.flush()  # a full disk behind standard output shows here, while we can still say so
        return code
    except MinnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # the reader went away (``| head``): the results are on disk already
        _silence_stdout()
        return 0
    except OSError as exc:  # the system failing under us: standard output on /dev/full, ...
        where = f"{exc.filename!r}" if exc.filename else "cannot write to standard output"
        print(f"error: {where}: {exc.strerror or exc}; files already on disk are kept", file=sys.stderr)
        if not exc.filename:
            _silence_stdout()
        return 2


def _dispatch(argv: list[str]) -> int:
    from minnet.train.errors import ConfigError

    if argv[:1] == ["graph"]:
        from minnet.cli import graph

        return graph.main(argv[1:])
    if argv[:1] in (["predict"], ["evaluate"]):
        from minnet.cli import predict

        return predict.main(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be an integer >= 1, got {args.jobs}")
    return _train(args)


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so Python's exit-time flush raises nothing either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
