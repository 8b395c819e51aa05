"""``python -m minnet graph [CONFIG] -o graph.svg [--html] [--quiz]``: draw one training step's loss graph.

Builds the config's data and model exactly as training would, computes the loss of
the first minibatch (with the L2 term when ``loss.l2`` > 0), runs ``backward()``,
and renders the graph with parameter names and gradients; ``--html`` also writes the
step-through page beside the picture, ``--quiz`` makes that page a quiz.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from minnet import graph, losses
from minnet.cli.parsing import DEFAULT_CONFIG, Parser, config_path, make_folder, output_file
from minnet.train.config import load_config
from minnet.train.data import minibatches
from minnet.train.files import atomic_write
from minnet.train.loop import batch_loss
from minnet.train.run import start_run

__all__ = ["main"]

# What -o may end in: a picture (drawn by Graphviz), the DOT source, or the step-through page alone.
SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".html")


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m minnet graph", description="Draw the loss graph of a config's model for one minibatch.")
    p.add_argument("config", nargs="?", help=f"TOML config file (default: {DEFAULT_CONFIG})")
    p.add_argument("-o", "--output", default="graph.svg",
                   help="file to write: .svg, .png, .pdf, .dot, or .html for the page alone (default graph.svg); "
                        "missing folders are created")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--explain", action="store_true", help="also print the backward pass as a table")
    p.add_argument("--html", action="store_true", help="also write the step-through page: OUTPUT with an .html suffix")
    p.add_argument("--quiz", action="store_true", help="write the page as a quiz: the learner fills in the backward pass")
    return p


def _atomically(path: Path, data: bytes) -> None:
    """The graph's files through the one atomic writer: a failed write keeps the old file."""
    atomic_write(path, lambda f: f.write(data))


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    output = output_file(args.output, "-o", SUFFIXES)  # before the work, so a typo costs nothing
    config = load_config(config_path(args.config), args.set)
    run = start_run(config)
    for name, param in run.model.named_parameters():
        param.name = name
    index = next(minibatches(len(run.dataset.X_train), config.train.batch_size, config.train.shuffle, run.rng))
    loss = batch_loss(run.model, run.loss_fn, run.dataset.X_train, run.targets["train"], index,
                      config.loss.l2, losses.weight_matrices(run.model))
    loss.name = "loss"
    loss.backward()
    make_folder(output, "-o")
    page = output.suffix.lower() == ".html"
    if not page:
        print(f"wrote {graph.render(loss, output, write=_atomically)}")
    if page or args.html or args.quiz:
        print(f"wrote {graph.html(loss, output.with_suffix('.html'), quiz=args.quiz, write=_atomically)}")
    if args.explain:
        print(graph.explain(loss))
    return 0
