"""``python -m minnet``: the same program as ``python train.py``."""

import sys

from minnet.cli import main

sys.exit(main())
