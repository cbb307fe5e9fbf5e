"""Topline's DAW-facing side: session model, protocol, sidecar client, stem writers, CLI. Torch-free."""
__version__ = "0.1.0"
