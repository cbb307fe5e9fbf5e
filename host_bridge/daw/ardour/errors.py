"""Errors of the Ardour adapter: one family, each with a hint saying how to fix the problem."""
from __future__ import annotations

from host_bridge.core.errors import ToplineError


class ArdourError(ToplineError):
    """Base of every error the Ardour adapter raises on purpose."""

    code = "ardour"


class ArdourMissingError(ArdourError):
    code = "ardour_missing"


class SessionFileError(ArdourError):
    """The session file cannot be read, or holds something the adapter does not support."""

    code = "ardour_session"


class SessionBusyError(ArdourError):
    """The session is open in a running Ardour (or the file changed under us)."""

    code = "ardour_session_busy"


class RouteNotFoundError(ArdourError):
    code = "ardour_no_route"


class BarRangeError(ArdourError):
    code = "ardour_bars"


class ArdourRunError(ArdourError):
    """A headless Ardour run failed or timed out."""

    code = "ardour_run"


class ArdourCrashError(ArdourRunError):
    """Ardour died from a signal before it saved anything (nothing was changed)."""


class TakeRecordError(ArdourError):
    code = "ardour_take"


class TempoMismatchError(ArdourError):
    """The session's tempo map and the guide melody's put the bars being sung at different times."""

    code = "ardour_tempo_mismatch"
