"""Train an MLP from a config: ``python train.py configs/moons.toml`` (see --help)."""

import signal
import sys

# Ctrl-C while minnet itself loads (nothing has been written yet) is held until the import
# is done: raised inside an extension module's import (numpy's), a KeyboardInterrupt can
# come out as an ImportError with a traceback.
try:
    _held: list[int] = []
    _holding = signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not if ignored or handled elsewhere
    if _holding:
        signal.signal(signal.SIGINT, lambda signum, frame: _held.append(signum))
    try:
        from minnet.cli import main
    finally:
        if _holding:
            signal.signal(signal.SIGINT, signal.default_int_handler)
except KeyboardInterrupt:  # in the instant before the handler above is in place
    _held = [signal.SIGINT]
if _held:
    print("error: interrupted", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main())
