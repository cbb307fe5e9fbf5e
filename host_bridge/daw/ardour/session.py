"""Reading an Ardour 7 session file (``<snapshot>.ardour``, XML) without running Ardour.

What Topline needs from it: the sample rate, the tempo map and meters (as a
:class:`~host_bridge.core.model.TempoMap`), the routes (tracks and busses) with their playlists, the
regions on a track, and the session range.

Ardour 7 time values (``Temporal::timepos_t`` as written in the file):

* ``a<n>``: audio time, ``n`` superclock ticks (``superclocks-per-second`` on ``<TempoMap>``,
  282240000 in 7.x);
* ``b<n>``: musical time, ``n`` ticks of 1920 per quarter note, counted from bar 1;
* a region's ``length`` is ``<duration>@<position>``: the region position is the part after ``@``.

Quarters in the tempo map are ``"<beats>:<ticks>"``; a meter's ``bbt`` is ``"bar|beat|ticks"``.
"""
from __future__ import annotations

import hashlib
import logging
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from host_bridge.daw.ardour.errors import BarRangeError, RouteNotFoundError, SessionFileError
from host_bridge.core.errors import TempoError
from host_bridge.core.model import MeterChange, TempoChange, TempoMap

log = logging.getLogger(__name__)

TICKS_PER_QN = 1920
"""Temporal::ticks_per_beat: ticks per quarter note in ``b<ticks>`` positions."""
MIN_SESSION_VERSION = 7000
RAMP_STEPS_PER_QN = 16
"""A ramped tempo segment is approximated by this many constant steps per quarter note. Ardour 7's
ramps are linear in quarter notes (tempo = start * (1 + omega * superclocks-per-quarter * dq)), so
steps at each step's middle tempo, fitted to Ardour's end point, stay within a sample of it."""


@dataclass(frozen=True)
class TimePos:
    """A ``timepos_t`` from the session file: either beats (``ticks``) or audio (``superclock``)."""

    beats: bool
    value: int

    @classmethod
    def parse(cls, text: str, where: str) -> "TimePos":
        t = (text or "").strip()
        try:
            if t[:1] == "a":
                return cls(False, int(t[1:]))
            if t[:1] == "b":
                return cls(True, int(t[1:]))
            return cls(False, int(t))  # bare number: superclock (as Ardour 7 reads it)
        except ValueError:
            raise SessionFileError(f"{where}: time value {text!r} is not an Ardour 7 position",
                                   "open the session in Ardour 7 and save it once") from None

    def __str__(self) -> str:
        return f"{'b' if self.beats else 'a'}{self.value}"


@dataclass(frozen=True)
class Route:
    id: str
    name: str
    is_track: bool
    is_master: bool
    playlist_id: str | None
    """The audio playlist of a track; None for a bus."""
    n_inputs: int


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    playlist_id: str
    position: TimePos
    length_sc: int
    """Length in superclock ticks (audio time)."""
    start_sc: int
    source_ids: tuple[str, ...]


def _quarters(text: str | None, where: str) -> float:
    try:
        b, t = (int(x) for x in (text or "").split(":"))
    except ValueError:
        raise SessionFileError(f"{where}: quarters value {text!r} is not 'beats:ticks'",
                               "open the session in Ardour 7 and save it once") from None
    return b + t / TICKS_PER_QN


def find_session_file(path: str | Path) -> Path:
    """The ``.ardour`` file of a session given as its folder or as the file itself."""
    p = Path(path).expanduser()
    if p.is_file() and p.suffix == ".ardour":
        return p.resolve()
    if p.is_dir():
        own = p / f"{p.name}.ardour"
        if own.is_file():
            return own.resolve()
        found = sorted(x for x in p.glob("*.ardour") if x.is_file())
        if len(found) == 1:
            return found[0].resolve()
        if found:
            raise SessionFileError(f"{p} holds several snapshots ({', '.join(f.name for f in found)})",
                                   "pass the .ardour file of the snapshot to use")
    raise SessionFileError(f"no Ardour session at {p}",
                           "pass the session folder (the one holding <name>.ardour) or the .ardour file")


class ArdourSession:
    """One snapshot of an Ardour 7 session, parsed from disk (re-read with :meth:`reload`)."""

    def __init__(self, path: str | Path) -> None:
        self.file = find_session_file(path)
        self.dir = self.file.parent
        self.snapshot = self.file.stem
        self.reload()

    def reload(self) -> None:
        data = self.file.read_bytes()
        self.digest = hashlib.sha256(data).hexdigest()
        try:
            self.root = ET.fromstring(data)
        except ET.ParseError as e:
            raise SessionFileError(f"{self.file} is not a readable session file: {e}",
                                   "restore it from <name>.ardour.bak or a snapshot") from e
        if self.root.tag != "Session":
            raise SessionFileError(f"{self.file} is not an Ardour session file", "pass the session's .ardour file")
        try:
            version = int(self.root.get("version", "0"))
        except ValueError:
            version = 0
        if version < MIN_SESSION_VERSION:
            raise SessionFileError(f"{self.file} was saved by an Ardour older than 7 (format {version})",
                                   "open it in Ardour 7 and save it once")
        self.name = self.root.get("name") or self.snapshot
        try:
            self.sample_rate = int(self.root.get("sample-rate", ""))
        except ValueError:
            raise SessionFileError(f"{self.file} has no sample rate", "open the session in Ardour and save it") from None
        tm = self.root.find("TempoMap")
        if tm is None:
            raise SessionFileError(f"{self.file} has no tempo map", "open the session in Ardour 7 and save it once")
        self.superclock_rate = int(tm.get("superclocks-per-second", "282240000"))
        self.tempo_map = self._read_tempo_map(tm)

    # ------------------------------------------------------------------ paths
    @property
    def audiofiles_dir(self) -> Path:
        return self.dir / "interchange" / self.name / "audiofiles"

    @property
    def topline_dir(self) -> Path:
        """Where Topline keeps its files beside the session (take records, settings)."""
        return self.dir / "topline"

    # ------------------------------------------------------------------ time
    def superclock_to_samples(self, sc: int) -> int:
        return int(round(sc * self.sample_rate / self.superclock_rate))

    def samples_to_superclock(self, samples: int) -> int:
        return int(round(samples * self.superclock_rate / self.sample_rate))

    def position_samples(self, pos: TimePos) -> int:
        if pos.beats:
            return self.tempo_map.sample_at(pos.value / TICKS_PER_QN, self.sample_rate)
        return self.superclock_to_samples(pos.value)

    def bar_sample(self, bar: int) -> int:
        return self.tempo_map.sample_at(self.tempo_map.qn_at_bar(bar), self.sample_rate)

    # ------------------------------------------------------------------ tempo map
    def _read_tempo_map(self, tm: ET.Element) -> TempoMap:
        where = f"{self.file.name} <TempoMap>"
        if len(tm.find("MusicTimes") or []) > 0:
            raise SessionFileError(f"{where} holds BBT markers (music time points), which Topline cannot read yet",
                                   "remove the BBT markers from the tempo ruler, or sing from a session without them")
        points = []
        for el in tm.findall("Tempos/Tempo"):
            if el.get("active", "1") != "1":
                continue
            note = int(el.get("note-type", "4"))
            qn = _quarters(el.get("quarters"), where)
            qpm = float(el.get("npm", "120")) * 4.0 / note
            end_qpm = float(el.get("enpm", el.get("npm", "120"))) * 4.0 / note
            if float(el.get("omega", "0") or 0) == 0.0:
                end_qpm = qpm  # a "ramp" Ardour has not computed plays at its start tempo (7.3)
            points.append((qn, qpm, end_qpm, int(el.get("sclock", "0"))))
        if not points:
            raise SessionFileError(f"{where} has no tempo", "open the session in Ardour 7 and save it once")
        points.sort()
        tempos: list[TempoChange] = []
        for i, (qn, qpm, end_qpm, sc) in enumerate(points):
            nxt = points[i + 1] if i + 1 < len(points) else None
            if nxt is None or math.isclose(qpm, end_qpm, rel_tol=1e-9):
                tempos.append(TempoChange(qn, qpm))
                continue
            tempos.extend(_ramp_steps(qn, qpm, end_qpm, nxt[0], (nxt[3] - sc) / self.superclock_rate))
        meters: list[MeterChange] = []
        for el in tm.findall("Meters/Meter"):
            try:
                bar, beat, ticks = (int(x) for x in el.get("bbt", "").split("|"))
                num = int(round(float(el.get("divisions-per-bar", "4"))))
                den = int(el.get("note-value", "4"))
            except ValueError:
                raise SessionFileError(f"{where}: a meter has no readable bar position",
                                       "open the session in Ardour 7 and save it once") from None
            if beat != 1 or ticks != 0:
                raise SessionFileError(f"{where}: the meter at {bar}|{beat}|{ticks} does not start a bar",
                                       "move the time signature to the first beat of a bar")
            meters.append(MeterChange(bar, num, den))
        try:
            tmap = TempoMap(tuple(tempos), tuple(meters))
        except TempoError as e:
            raise SessionFileError(f"{where}: {e.message}", e.hint) from e
        self._check_tempo_points(tmap, points, where)
        return tmap

    def _check_tempo_points(self, tmap: TempoMap, points: list[tuple[float, float, float, int]], where: str) -> None:
        """Our tempo map must put every tempo point where Ardour says it is (its ``sclock``)."""
        for qn, _, _, sc in points:
            ours = tmap.seconds_at(qn)
            theirs = sc / self.superclock_rate
            if abs(ours - theirs) > 0.0005:
                raise SessionFileError(f"{where}: the tempo point at {qn:.3f} quarter notes sits at {theirs:.4f} s in "
                                       f"Ardour but at {ours:.4f} s by its tempo (unsupported tempo map)",
                                       "use constant tempo sections, or tell the Topline team which map this is")

    # ------------------------------------------------------------------ routes and regions
    def routes(self) -> list[Route]:
        out = []
        for el in self.root.findall("Routes/Route"):
            pinfo = el.find("PresentationInfo")
            flags = pinfo.get("flags", "") if pinfo is not None else ""
            n_in = 0
            for io in el.findall("IO"):
                if io.get("direction") == "Input":
                    n_in = len(io.findall("Port"))
            out.append(Route(id=el.get("id", ""), name=el.get("name", ""),
                             is_track=el.get("audio-playlist") is not None or el.get("midi-playlist") is not None,
                             is_master="MasterOut" in flags, playlist_id=el.get("audio-playlist"), n_inputs=n_in))
        return out

    def route(self, name: str) -> Route:
        for r in self.routes():
            if r.name == name:
                return r
        names = ", ".join(repr(r.name) for r in self.routes() if not r.is_master)
        raise RouteNotFoundError(f"session {self.name!r} has no bus or track named {name!r}",
                                 f"use one of: {names or '(none)'} (or 'Master')")

    def route_names(self) -> list[str]:
        return [r.name for r in self.routes()]

    def playlist(self, playlist_id: str) -> ET.Element:
        for pl in self.root.findall("Playlists/Playlist"):
            if pl.get("id") == playlist_id:
                return pl
        raise SessionFileError(f"{self.file.name}: playlist {playlist_id} is missing",
                               "open the session in Ardour 7 and save it once")

    def regions(self, track: str) -> list[Region]:
        r = self.route(track)
        if r.playlist_id is None:
            return []
        return [self._region(el, r.playlist_id) for el in self.playlist(r.playlist_id).findall("Region")]

    def _region(self, el: ET.Element, playlist_id: str) -> Region:
        where = f"{self.file.name} region {el.get('name')!r}"
        length = el.get("length", "a0@a0")
        dur, _, pos = length.partition("@")
        d = TimePos.parse(dur, where)
        if d.beats:
            raise SessionFileError(f"{where} has a length in beats", "Topline reads audio regions only")
        srcs = []
        i = 0
        while el.get(f"source-{i}") is not None:
            srcs.append(el.get(f"source-{i}", ""))
            i += 1
        start = TimePos.parse(el.get("start", "a0"), where)
        return Region(id=el.get("id", ""), name=el.get("name", ""), playlist_id=playlist_id,
                      position=TimePos.parse(pos or "a0", where), length_sc=d.value,
                      start_sc=start.value if not start.beats else 0, source_ids=tuple(srcs))

    def region_by_id(self, region_id: str) -> tuple[Route, Region] | None:
        for r in self.routes():
            if r.playlist_id is None:
                continue
            for el in self.playlist(r.playlist_id).findall("Region"):
                if el.get("id") == region_id:
                    return r, self._region(el, r.playlist_id)
        return None

    def session_range(self) -> tuple[int, int] | None:
        """(start, end) samples of the session range, or None when it is not set."""
        for loc in self.root.findall("Locations/Location"):
            if "IsSessionRange" in loc.get("flags", ""):
                where = f"{self.file.name} session range"
                return (self.position_samples(TimePos.parse(loc.get("start", "a0"), where)),
                        self.position_samples(TimePos.parse(loc.get("end", "a0"), where)))
        return None

    def content_end_sample(self) -> int:
        """End of the last region on any track (0 when the session holds no regions)."""
        end = 0
        for r in self.routes():
            if r.playlist_id is None:
                continue
            for el in self.playlist(r.playlist_id).findall("Region"):
                reg = self._region(el, r.playlist_id)
                end = max(end, self.position_samples(reg.position) + self.superclock_to_samples(reg.length_sc))
        return end

    def end_sample(self) -> int:
        """Where the session ends: the session range end, or the end of its last region."""
        rng = self.session_range()
        return max(rng[1] if rng else 0, self.content_end_sample())

    def last_bar(self) -> int:
        """The last bar that starts before the session ends."""
        end = self.end_sample()
        if end <= 0:
            return 0
        qn = self.tempo_map.qn_at_sample(end - 1, self.sample_rate)
        return self.tempo_map.bar_beat_at(qn)[0]

    def check_bars(self, first: int, last: int) -> None:
        if first < 1 or last < first:
            raise BarRangeError(f"bars {first}-{last} are not a range", "give bars like 5-12 (first <= last, from bar 1)")
        end_bar = self.last_bar()
        if end_bar == 0:
            raise BarRangeError(f"session {self.name!r} is empty: there is nothing to sing over",
                                "put the instrumental on a track first (or set the session range)")
        if last > end_bar:
            raise BarRangeError(f"bars {first}-{last} run past the end of session {self.name!r} (its last bar is {end_bar})",
                                f"choose bars between 1 and {end_bar}, or extend the session range")


def _ramp_steps(qn0: float, qpm0: float, qpm1: float, qn1: float, seconds: float) -> list[TempoChange]:
    """A ramp from ``qpm0`` to ``qpm1`` over [qn0, qn1] as constant steps, scaled so the whole
    segment lasts exactly ``seconds`` (Ardour's own length for it)."""
    n = max(1, int(math.ceil((qn1 - qn0) * RAMP_STEPS_PER_QN)))
    width = (qn1 - qn0) / n
    qpms = [qpm0 + (qpm1 - qpm0) * (i + 0.5) / n for i in range(n)]
    natural = sum(width * 60.0 / q for q in qpms)
    scale = natural / seconds if seconds > 0 else 1.0
    return [TempoChange(qn0 + i * width, q * scale) for i, q in enumerate(qpms)]
