"""Topline's ground floor, torch-free, imported by everything (the bridge, the sidecar, the CLI):

- :mod:`.model`: the session's data (TempoMap, LyricsSheet, Score, Take, languages);
- :mod:`.errors`: every error a user can see, each saying what to fix;
- :mod:`.protocol`: the wire format between bridge and sidecar (with :mod:`.wire_limits`,
  :mod:`.connection` and the shared-memory transport :mod:`.shm`);
- :mod:`.midi`, :mod:`.audio`, :mod:`.inputs`, :mod:`.fileio`, :mod:`.reel`: MIDI and audio I/O;
- :mod:`.artists`: the artist preset schema and loader; :mod:`.engines`: the engine registry;
- :mod:`.programs`, :mod:`.sidecar_args`, :mod:`.frozen`: what the programs share.

Nothing in here imports from the rest of ``host_bridge``, from ``inference`` or from torch
(tests/test_import_isolation.py holds it to that).
"""
__version__ = "0.1.0"
