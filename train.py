"""Train an MLP from a config: ``python train.py configs/moons.toml`` (see --help)."""

import sys

from minnet.cli import main

if __name__ == "__main__":
    sys.exit(main())
