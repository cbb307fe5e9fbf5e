"""Ardour 7 adapter: read the session file, export a bus headless, place takes in beat time.

See :mod:`host_bridge.daw.ardour.adapter` for the round trip and ``data/`` (package data) for the
Lua scripts (headless variants and the editor action) and the export preset.
"""
from host_bridge.daw.ardour.adapter import ArdourAdapter, Capture, SingOptions
from host_bridge.daw.ardour.create import create_session
from host_bridge.daw.ardour.errors import (ArdourError, ArdourMissingError, ArdourRunError, BarRangeError,
                                           RouteNotFoundError, SessionBusyError, SessionFileError, TempoMismatchError)
from host_bridge.daw.ardour.new_session import NewSession, new_session
from host_bridge.daw.ardour.session import ArdourSession
from host_bridge.daw.ardour.staleness import StaleTake

__all__ = ["ArdourAdapter", "Capture", "SingOptions", "StaleTake", "create_session", "ArdourError",
           "ArdourMissingError", "ArdourRunError", "BarRangeError", "RouteNotFoundError", "SessionBusyError",
           "SessionFileError", "TempoMismatchError", "ArdourSession", "NewSession", "new_session"]
