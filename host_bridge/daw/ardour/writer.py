"""Placing audio on an Ardour 7 track by writing the session file while Ardour is closed.

Ardour 7.3's Lua API cannot import audio, so this does what Ardour's importer does: one mono
32-bit float WAV per channel in ``interchange/<session>/audiofiles/``, a ``<Source>`` per file, a
whole-file ``<Region>`` in the region list, and a ``<Region>`` in the track's playlist whose
position is in beat time (``b<ticks>``) so it stays on its bar if the tempo map changes. The id
counter is bumped past every new id. The file is replaced atomically.
"""
from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from host_bridge.daw.ardour.errors import SessionFileError
from host_bridge.core.fileio import atomic_write
from host_bridge.daw.ardour.session import TICKS_PER_QN, ArdourSession

log = logging.getLogger(__name__)

_REGION_DEFAULTS = {
    "muted": "0", "opaque": "1", "locked": "0", "video-locked": "0", "automatic": "0", "import": "1",
    "external": "0", "sync-marked": "0", "left-of-split": "0", "right-of-split": "0", "hidden": "0",
    "position-locked": "0", "valid-transients": "0", "start": "a0", "sync-position": "a0",
    "ancestral-start": "a0", "ancestral-length": "a0@a0", "stretch": "1", "shift": "1", "layering-index": "0",
    "tags": "(topline)", "contents": "0", "envelope-active": "0", "default-fade-in": "0", "default-fade-out": "0",
    "fade-in-active": "1", "fade-out-active": "1", "scale-amplitude": "1", "type": "audio", "first-edit": "nothing",
}


@dataclass(frozen=True)
class PlacedAudio:
    region_id: str
    source_ids: tuple[str, ...]
    files: tuple[Path, ...]
    frames: int


def write_sources(session: ArdourSession, audio: np.ndarray, base: str) -> tuple[Path, ...]:
    """Write float32 [C, T] (at the session rate) as one mono float WAV per channel in the
    session's audiofiles folder, named as Ardour names them (``base%L.wav``/``base%R.wav``)."""
    a = np.asarray(audio, np.float32)
    assert a.ndim == 2, "audio must be [channels, samples]"
    names = [f"{base}.wav"] if a.shape[0] == 1 else (
        [f"{base}%L.wav", f"{base}%R.wav"] if a.shape[0] == 2 else [f"{base}%{c + 1}.wav" for c in range(a.shape[0])])
    d = session.audiofiles_dir
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for c, n in enumerate(names):
        p = d / n
        if p.exists():
            raise SessionFileError(f"{p} already exists", "a take with this name is in the session; sing a new take")
        sf.write(str(p), a[c], session.sample_rate, subtype="FLOAT", format="WAV")
        out.append(p)
    return tuple(out)


class SessionWriter:
    """Edits one parsed session file; :meth:`save` writes it back atomically."""

    def __init__(self, session: ArdourSession) -> None:
        self.session = session
        self.root = session.root
        self._counter = int(self.root.get("id-counter", "0"))

    def new_id(self) -> str:
        self._counter += 1
        return str(self._counter)

    def _add_sources(self, files: tuple[Path, ...]) -> list[str]:
        sources = self.root.find("Sources")
        if sources is None:
            sources = ET.SubElement(self.root, "Sources")
        ids = []
        for f in files:
            sid = self.new_id()
            ET.SubElement(sources, "Source", {
                "name": f.name, "take-id": "", "type": "audio", "flags": "", "id": sid, "natural-position": "a0",
                "captured-for": "", "channel": "0", "origin": "", "gain": "1"})
            ids.append(sid)
        return ids

    @staticmethod
    def _source_attrs(ids: list[str]) -> dict[str, str]:
        d = {"channels": str(len(ids))}
        for i, sid in enumerate(ids):
            d[f"source-{i}"] = sid
            d[f"master-source-{i}"] = sid
        return d

    def place(self, track: str, files: tuple[Path, ...], frames: int, position_qn: float, name: str,
              at_sample: int | None = None) -> PlacedAudio:
        """Put the audio in ``files`` (already written, ``frames`` long) on ``track`` at
        ``position_qn`` (quarter notes from bar 1) in beat time, or at session sample
        ``at_sample`` in audio time (an instrumental: it must not move with a tempo change)."""
        route = self.session.route(track)
        if route.playlist_id is None:
            raise SessionFileError(f"{track!r} is a bus", "place takes on an audio track")
        pl = self.session.playlist(route.playlist_id)
        sids = self._add_sources(files)
        length_sc = self.session.samples_to_superclock(frames)
        regions = self.root.find("Regions")
        if regions is None:
            regions = ET.SubElement(self.root, "Regions")
        ET.SubElement(regions, "Region", dict(_REGION_DEFAULTS, name=name, id=self.new_id(), **{
            "whole-file": "1", "length": f"a{length_sc}@a0"}, **self._source_attrs(sids)))
        rid = self.new_id()
        pos = (f"b{int(round(position_qn * TICKS_PER_QN))}" if at_sample is None else
               f"a{self.session.samples_to_superclock(at_sample)}")
        ET.SubElement(pl, "Region", dict(_REGION_DEFAULTS, name=name, id=rid, **{
            "whole-file": "0", "length": f"a{length_sc}@{pos}"}, **self._source_attrs(sids)))
        return PlacedAudio(rid, tuple(sids), files, frames)

    def replace_audio(self, region_id: str, files: tuple[Path, ...], frames: int, name: str) -> PlacedAudio:
        """Swap the audio under a playlist region (a re-sung take), keeping its track and its
        position in beat time. The old whole-file region and sources are dropped when nothing
        else uses them."""
        el = None
        for pl in self.root.findall("Playlists/Playlist"):
            for r in pl.findall("Region"):
                if r.get("id") == region_id:
                    el = r
        if el is None:
            raise SessionFileError(f"region {region_id} is no longer in the session",
                                   "the take was deleted in Ardour; sing a new take instead")
        old = [v for k, v in el.attrib.items() if k.startswith("source-")]
        for k in [k for k in el.attrib if k.startswith(("source-", "master-source-"))]:
            del el.attrib[k]
        sids = self._add_sources(files)
        length_sc = self.session.samples_to_superclock(frames)
        pos = el.get("length", "a0@a0").partition("@")[2] or "a0"
        el.attrib.update({"name": name, "length": f"a{length_sc}@{pos}", "start": "a0",
                          **self._source_attrs(sids)})
        regions = self.root.find("Regions")
        if regions is None:
            regions = ET.SubElement(self.root, "Regions")
        ET.SubElement(regions, "Region", dict(_REGION_DEFAULTS, name=name, id=self.new_id(), **{
            "whole-file": "1", "length": f"a{length_sc}@a0"}, **self._source_attrs(sids)))
        self._drop_unused_sources(old)
        return PlacedAudio(region_id, tuple(sids), files, frames)

    def _drop_unused_sources(self, ids: list[str]) -> None:
        used: set[str] = set()
        for pl in self.root.findall("Playlists/Playlist"):
            for r in pl.findall("Region"):
                used.update(v for k, v in r.attrib.items() if k.startswith(("source-", "master-source-")))
        drop = {i for i in ids if i not in used}
        if not drop:
            return
        regions = self.root.find("Regions")
        if regions is not None:
            for r in list(regions):
                if r.get("source-0") in drop:
                    regions.remove(r)
        sources = self.root.find("Sources")
        if sources is not None:
            for s in list(sources):
                if s.get("id") in drop:
                    sources.remove(s)

    def set_session_range(self, start_sample: int, end_sample: int) -> None:
        """Set the session range (what Ardour's export and ``ardour7-export`` render) in audio time."""
        locs = self.root.find("Locations")
        if locs is None:
            locs = ET.SubElement(self.root, "Locations")
        for loc in list(locs):
            if "IsSessionRange" in loc.get("flags", ""):
                locs.remove(loc)
        sc = self.session.samples_to_superclock
        ET.SubElement(locs, "Location", {"id": self.new_id(), "name": "session", "start": f"a{sc(start_sample)}",
                                         "end": f"a{sc(end_sample)}", "flags": "IsSessionRange", "locked": "0",
                                         "timestamp": str(int(time.time())), "cue": "0"})

    def clear_tempo_map(self) -> int:
        """Drop every tempo and meter point but the first of each (Ardour 7.3's Lua can add points
        but not remove them); returns how many were dropped. The next headless run sets the rest."""
        tm = self.root.find("TempoMap")
        if tm is None:
            raise SessionFileError(f"{self.session.file.name} has no tempo map",
                                   "open the session in Ardour 7 and save it once")
        dropped = 0
        for tag in ("Tempos", "Meters"):
            group = tm.find(tag)
            if group is None:
                continue
            for el in list(group)[1:]:
                group.remove(el)
                dropped += 1
        return dropped

    def save(self) -> None:
        """Write the session file atomically (temporary file in its folder, then rename)."""
        self.root.set("id-counter", str(self._counter + 1))
        path = self.session.file
        atomic_write(path, lambda tmp: ET.ElementTree(self.root).write(tmp, encoding="UTF-8", xml_declaration=True),
                     mode=path.stat().st_mode & 0o777)
        self.session.reload()
