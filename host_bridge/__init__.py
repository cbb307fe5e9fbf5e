"""Topline's DAW-facing side: sidecar client and supervisor, DAW adapters, stems and MIDI, the CLI.
Torch-free. Its ground floor, :mod:`host_bridge.core`, is what the sidecar and the presets share."""
from host_bridge.core import __version__

__all__ = ["__version__"]
