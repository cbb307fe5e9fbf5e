"""Entry point of the standalone `topline` program (bridge + CLI); see build.py."""
import sys

from host_bridge.cli import main

if __name__ == "__main__":
    sys.exit(main())
