"""``python -m inference.serve``: the cluster gateway in the foreground (what ``topline cluster up`` runs)."""
from __future__ import annotations

import sys

from host_bridge.cli_cluster import main

if __name__ == "__main__":
    sys.exit(main())
