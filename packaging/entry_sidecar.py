"""Entry point of the standalone `topline-sidecar` program; see build.py.

The same options as ``python -m inference.server`` (the bridge's supervisor starts it with them)."""
import sys

from inference.server.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
