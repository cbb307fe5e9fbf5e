"""The singing engines a sidecar may run, and what each can do: one line per engine.

Torch-free (the bridge, the CLI's choices and the preset validator read it); the sidecar imports
an engine through its ``factory`` (``module:callable``) only when a job needs it. A new engine
is a folder under ``inference/engines/`` with a ``build(**options)`` factory, and one line here.
"""
from __future__ import annotations

from dataclasses import dataclass

from host_bridge.core.errors import UnknownArtistError


@dataclass(frozen=True)
class EngineInfo:
    name: str
    factory: str
    """``module:callable`` returning the engine; called with ``threads``, ``vocoder`` and
    ``checkpoint`` (each engine takes what it uses)."""
    description: str
    needs_melody: bool
    """Sings a Score of notes (a guide melody, or the composer's): lyrics alone are not enough."""
    listens_to_instrumental: bool
    """Hears the instrumental while it sings (a request must carry it)."""
    streams: bool
    """Hands out phrases as they are ready."""
    in_standalone: bool
    """Runs in the torch-free standalone build."""
    needs_checkpoint: bool
    """Loads user-supplied weights from a checkpoint folder."""
    kokoro_voices: bool
    """Its presets name Kokoro voices (``voice``) or a style table (``embedding``)."""


ENGINES: dict[str, EngineInfo] = {e.name: e for e in (
    EngineInfo("kokoro", "inference.engines.kokoro:build", "Kokoro-82M made to sing a score (CPU or GPU)",
               needs_melody=True, listens_to_instrumental=False, streams=True, in_standalone=True,
               needs_checkpoint=False, kokoro_voices=True),
    EngineInfo("autosing", "inference.engines.autosing:build",
               "AutoSing-class transformer over SNAC codes: lyrics + instrumental, user checkpoints (GPU)",
               needs_melody=False, listens_to_instrumental=True, streams=True, in_standalone=False,
               needs_checkpoint=True, kokoro_voices=False),
)}
DEFAULT_ENGINE = "kokoro"


def engine_info(name: str) -> EngineInfo:
    """The engine called ``name``; :class:`UnknownArtistError` naming the known ones otherwise."""
    info = ENGINES.get(name)
    if info is None:
        raise UnknownArtistError(f"engine {str(name)[:40]!r} is not one Topline knows",
                                 f"use one of: {', '.join(ENGINES)} (see `topline artists`)")
    return info
