"""Layer 5, the command line: ``python train.py`` / ``python -m minnet`` (see ``main``)."""

from minnet.cli.main import main

__all__ = ["main"]
