"""Train an MLP from a config: ``python train.py configs/moons.toml`` (see --help)."""

import sys

try:
    from minnet.cli import main
except KeyboardInterrupt:  # Ctrl-C while minnet itself loads: nothing has been written yet
    print("error: interrupted", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main())
