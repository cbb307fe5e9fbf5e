"""The shipped artists: one JSON preset per artist (and any embedding file beside it).

Data only. The schema and the loader live on the ground floor, :mod:`host_bridge.core.artists`,
which reads this folder through :data:`PRESET_DIR`; nothing here imports anything of Topline.
"""
from pathlib import Path

PRESET_DIR = Path(__file__).resolve().parent
