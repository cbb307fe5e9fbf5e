"""The Ardour round trip: capture a bus over bars, ask for a take, place it on a new track.

Every step that loads or writes the session runs while no Ardour has it open, checks its inputs
before it touches anything, and leaves the session file byte-identical when it fails:

1. read the session file: sample rate, tempo map, routes; check the bus, the bars, the lyrics,
   and the guide MIDI's bar lines against the session's (:mod:`.tempo_maps`: refused when more
   than 10 ms apart, unless the take is to be sung on the session's map anyway);
2. export the bus (soloed) over the bars with headless Ardour, without saving;
3. ask for a take (:func:`host_bridge.daw.take_source.ask_for_take`) with the session's tempo map;
4. add a track named after the artist and take number (headless Ardour, saved), then write the
   take's audio and a region at the capture start in beat time into the session file;
5. record the take (tempo map it was sung to) under ``<session>/topline/takes/``.

:meth:`ArdourAdapter.stale` lists takes whose captured bars no longer fall where they did
(a tempo or meter change); :meth:`ArdourAdapter.resing` sings them again in place.
"""
from __future__ import annotations

import logging
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from host_bridge.daw.ardour import runner as R
from host_bridge.daw.ardour.capture import Capture, capture_bus, capture_file, export_range
from host_bridge.daw.ardour.errors import ArdourRunError, BarRangeError, SessionBusyError, TakeRecordError
from host_bridge.daw.ardour.create import session_tempo_env
from host_bridge.daw.ardour.records import Settings, TakeRecord, TakeStore
from host_bridge.daw.ardour.staleness import StaleTake, staleness
from host_bridge.daw.ardour.session import ArdourSession
from host_bridge.daw.ardour.writer import PlacedAudio, SessionWriter, write_sources
from host_bridge.daw.take_source import TakeSource, ask_for_take, default_take_source
from host_bridge.core.errors import InputError
from host_bridge.core.model import LyricsSheet, Take, TempoMap
from host_bridge.core.protocol import JobSpec

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]
MASTER = "Master"
MELODY_TRACK_PREFIX = "track:"
"""A melody setting ``track:<name>`` reads the guide melody from that MIDI track of the session."""



@dataclass(frozen=True)
class SongInputs:
    """What a take is sung from, read and checked before anything runs."""

    bus: str
    bars: tuple[int, int]
    artist: str
    sheet: LyricsSheet
    lyrics: Path
    melody: bytes
    """The guide melody as a Standard MIDI File."""
    melody_source: str
    """Where it came from, for messages."""
    melody_setting: str
    """What to store in the take record to read it again (a path, or ``track:<name>``)."""


@dataclass(frozen=True)
class SingOptions:
    bus: str | None = None
    bars: tuple[int, int] | None = None
    artist: str | None = None
    seed: int = 0
    lyrics: str | None = None
    melody: str | None = None
    channels: int = 1
    use_session_tempo: bool = False
    """Sing on the session's tempo map even where the guide MIDI's puts the bars elsewhere."""
    language: str = ""
    """The lyrics' language ('' = the sheet's [Language: xx] line, else the artist's own)."""


class ArdourAdapter:
    """One Ardour session, handled while Ardour is closed."""

    def __init__(self, session: str | Path, runner: R.ArdourRunner | None = None,
                 take_source: TakeSource | None = None) -> None:
        self.session = ArdourSession(session)
        self._runner = runner
        self._take_source = take_source
        self.store = TakeStore(self.session.topline_dir)

    @property
    def runner(self) -> R.ArdourRunner:
        if self._runner is None:
            self._runner = R.ArdourRunner()
        return self._runner

    @property
    def take_source(self) -> TakeSource:
        if self._take_source is None:
            self._take_source = default_take_source()
        return self._take_source

    @property
    def settings(self) -> Settings:
        return Settings.load(self.session.topline_dir)

    # ------------------------------------------------------------------ checks
    def _resolve(self, p: str | None) -> Path | None:
        if not p:
            return None
        q = Path(p).expanduser()
        return q if q.is_absolute() else (self.session.dir / q)

    def check_capture(self, bus: str, bars: tuple[int, int]) -> None:
        """Everything a capture needs, checked before Ardour runs (nothing is written)."""
        R.find_ardour_lua()
        self.session.route(bus)
        self.session.check_bars(*bars)
        R.check_not_open(self.session.dir)

    def default_bars(self) -> tuple[int, int]:
        rng = self.session.session_range()
        tm, sr = self.session.tempo_map, self.session.sample_rate
        if rng is None or rng[1] <= rng[0]:
            raise BarRangeError("no bars were given and the session has no session range",
                                "pass --bars 5-12, or set the session range in Ardour")
        first = tm.bar_beat_at(tm.qn_at_sample(rng[0], sr) + 1e-6)[0]
        last = tm.bar_beat_at(tm.qn_at_sample(rng[1] - 1, sr))[0]
        return first, last

    # ------------------------------------------------------------------ session edits
    def place_audio(self, track: str, audio: np.ndarray, sample_rate: int, bar: int, name: str) -> str:
        """Put audio (float32 [C, T] at the session rate) on an existing track at ``bar`` in beat
        time. Returns the region id."""
        if sample_rate != self.session.sample_rate:
            raise InputError(f"{name} is at {sample_rate} Hz, the session at {self.session.sample_rate} Hz",
                             f"resample it to {self.session.sample_rate} Hz first")
        self.session.route(track)
        qn = self.session.tempo_map.qn_at_bar(bar)
        _, placed = self._edit_with_sources(audio, name, lambda w, fs: w.place(track, fs, audio.shape[1], qn, name))
        return placed.region_id

    def _edit_with_sources(self, audio: np.ndarray, name: str,
                           edit: Callable[[SessionWriter, tuple[Path, ...]], PlacedAudio]
                           ) -> tuple[tuple[Path, ...], PlacedAudio]:
        """Write ``audio`` as session sources, let ``edit`` change the session with them, save:
        all or nothing (on any failure the session file is restored and the sources removed)."""
        with self._all_or_nothing() as made, R.session_lock(self.session.dir):
            files = write_sources(self.session, audio, name)
            made.extend(files)
            w = SessionWriter(self.session)
            placed = edit(w, files)
            w.save()
        return files, placed

    @contextmanager
    def _all_or_nothing(self) -> Iterator[list[Path]]:
        """Session edits inside are all or nothing: on any failure the session file is restored
        and the files added to the yielded list (the new sources) are removed."""
        before = self.session.file.read_bytes()
        made: list[Path] = []
        try:
            yield made
        except BaseException:
            self.session.file.write_bytes(before)
            self.session.reload()
            for f in made:
                f.unlink(missing_ok=True)
            raise

    def set_tempo_map(self, tempo_map: TempoMap) -> None:
        """Replace the session's tempo and meter points at the positions ``tempo_map`` has (headless Ardour)."""
        with R.session_lock(self.session.dir):
            self.runner.run("set_tempo_map.lua", self.session.dir, self.session.snapshot, session_tempo_env(tempo_map))
        self.session.reload()

    # ------------------------------------------------------------------ export
    def export(self, start_sample: int, end_sample: int, out: str | Path, solo: str | None = None,
               report_bars: tuple[int, int] | None = None) -> tuple[Path, R.RunResult]:
        """Export the master over [start, end) samples (``solo``: only that bus/track) to ``out``."""
        return export_range(self.session, self.runner, start_sample, end_sample, out, solo, report_bars)

    def capture(self, bus: str, bars: tuple[int, int]) -> Capture:
        """What ``bus`` sends to the master over ``bars`` (inclusive), at the session rate."""
        self.check_capture(bus, bars)
        return capture_bus(self.session, self.export, bus, bars, MASTER)

    # ------------------------------------------------------------------ singing
    def _inputs(self, opts: SingOptions) -> "SongInputs":
        from host_bridge.core.artists import DEFAULT_ARTIST, get_artist

        st = self.settings
        lyrics_p = self._resolve(opts.lyrics or st.lyrics)
        if lyrics_p is None:
            raise InputError("no lyrics sheet is set for this session",
                             "pass --lyrics FILE once (`topline ardour setup SESSION --lyrics FILE`)")
        sheet = LyricsSheet.load(lyrics_p)
        bus = opts.bus or st.bus or MASTER
        bars = opts.bars or st.bars or self.default_bars()
        artist = get_artist(opts.artist or st.artist or DEFAULT_ARTIST).name
        melody = opts.melody or st.melody
        if melody and melody.startswith(MELODY_TRACK_PREFIX):
            from host_bridge.daw.ardour.midi_track import melody_from_track

            name = melody[len(MELODY_TRACK_PREFIX):]
            return SongInputs(bus, bars, artist, sheet, lyrics_p, melody_from_track(self.session, name),
                              f"MIDI track {name!r}", melody)
        melody_p = self._resolve(melody)
        if melody_p is None or not melody_p.is_file():
            raise InputError(f"guide melody {melody_p or '(none set)'} is not a file",
                             "pass --melody FILE.mid or --melody-track NAME (`topline ardour setup SESSION ...`)")
        return SongInputs(bus, bars, artist, sheet, lyrics_p, melody_p.read_bytes(), str(melody_p), str(melody_p))

    def check_tempo(self, inp: SongInputs, use_session_tempo: bool = False) -> dict[str, Any]:
        """The session's bar lines against the guide MIDI's over the bars to sing: raises
        TempoMismatchError when they disagree (unless ``use_session_tempo``); returns what the
        take record keeps about the map used (:func:`~.tempo_maps.check_guide_tempo`)."""
        from host_bridge.daw.ardour.tempo_maps import check_guide_tempo

        self.session.check_bars(*inp.bars)
        track = inp.melody_setting.startswith(MELODY_TRACK_PREFIX)
        return check_guide_tempo(self.session.tempo_map, None if track else Path(inp.melody_setting), inp.bars,
                                 use_session_tempo)

    def _sing(self, cap: Capture, inp: "SongInputs", seed: int, channels: int,
              progress: ProgressCallback | None, language: str = "") -> Take:
        spec = JobSpec(lyrics_text=inp.sheet.text_with_sections(), sample_rate=cap.sample_rate,
                       length_samples=cap.audio.shape[1], tempo_map=self.session.tempo_map, melody_midi=inp.melody,
                       instrumental=cap.audio, start_sample=cap.start_sample, artist=inp.artist, seed=seed,
                       bars=cap.bars, channels=channels, lyrics_source=str(inp.lyrics),
                       melody_source=inp.melody_source, language=language)
        return ask_for_take(spec, progress, self.take_source)

    def next_take_number(self, display: str) -> int:
        used = [r.number for r in self.store.all()]
        prefix = f"{display} take "
        for name in self.session.route_names():
            if name.startswith(prefix) and name[len(prefix):].isdigit():
                used.append(int(name[len(prefix):]))
        return max(used, default=0) + 1

    def sing(self, opts: SingOptions, progress: ProgressCallback | None = None,
             capture_file: str | Path | None = None, place: bool = True) -> TakeRecord:
        """Capture, sing and place a new take on a new track. Returns its record.

        ``capture_file``: the bus already exported over the bars (by the editor action, while
        Ardour has the session open) instead of a headless export. ``place`` False: deliver the
        take and its record only, without touching the session file (the editor action imports it
        itself, then calls :meth:`link`)."""
        from host_bridge.core.artists import get_artist

        inp = self._inputs(opts)
        tempo = self.check_tempo(inp, opts.use_session_tempo)
        digest = self.session.digest
        cap = (self.capture(inp.bus, inp.bars) if capture_file is None else
               self.capture_from_file(capture_file, inp.bus, inp.bars))
        take = self._sing(cap, inp, opts.seed, opts.channels, progress, opts.language)
        display = get_artist(inp.artist).display_name
        number = self.next_take_number(display)
        rec = TakeRecord(take_id=f"{inp.artist}-{number}-{uuid.uuid4().hex[:6]}", number=number,
                         track=f"{display} take {number}", region_id="", bus=inp.bus, bars=inp.bars,
                         sample_rate=cap.sample_rate, artist=inp.artist, seed=opts.seed, channels=opts.channels,
                         lyrics=str(inp.lyrics), melody=inp.melody_setting,
                         tempo_map=self.session.tempo_map.to_dict(), bar_samples=self._bar_samples(inp.bars),
                         sources=[], created=_now(), timings={**take.timings, "capture": cap.seconds},
                         tempo_check=tempo, language=opts.language)
        if place:
            self._place_new(rec, take, digest, inp.sheet.text_with_sections())
        else:
            self._save_take_files(rec, take, inp.sheet.text_with_sections())
        return rec

    def capture_from_file(self, path: str | Path, bus: str, bars: tuple[int, int]) -> Capture:
        """A capture exported elsewhere (Ardour's GUI): checked against the session's rate and bars."""
        return capture_file(self.session, path, bus, bars)

    def link(self, take_id: str) -> TakeRecord:
        """Attach a take delivered with ``place=False`` to the region the editor action imported:
        the region on the take's track that starts at the capture start."""
        rec = self.store.load(take_id)
        self.session.reload()
        want = rec.bar_samples[0]
        for reg in self.session.regions(rec.track):
            if abs(self.session.position_samples(reg.position) - want) <= 1:
                rec.region_id = reg.id
                self.store.save(rec)
                return rec
        raise TakeRecordError(f"track {rec.track!r} has no region at bar {rec.bars[0]}",
                              "save the session after the take was imported, then link it again")

    def _bar_samples(self, bars: tuple[int, int]) -> list[int]:
        return [self.session.bar_sample(b) for b in range(bars[0], bars[1] + 2)]

    def _guard_unchanged(self, digest: str) -> None:
        R.check_not_open(self.session.dir)
        self.session.reload()
        if self.session.digest != digest:
            raise SessionBusyError(f"{self.session.file.name} changed while the take was sung",
                                   "save and close the session in Ardour, then sing again")

    def _place_new(self, rec: TakeRecord, take: Take, digest: str, lyrics_text: str) -> None:
        t0 = time.monotonic()
        self._guard_unchanged(digest)
        with self._all_or_nothing() as made:
            with R.session_lock(self.session.dir):
                res = self.runner.run("add_tracks.lua", self.session.dir, self.session.snapshot,
                                      {"TOPLINE_TRACKS": f"{rec.track}\t{take.audio.shape[0]}"})
                if not res.values("track"):
                    raise ArdourRunError(f"Ardour did not add track {rec.track!r}", "run with -v and check the log")
                self.session.reload()
                files = write_sources(self.session, take.audio, f"topline-{rec.take_id}")
                made.extend(files)
                w = SessionWriter(self.session)
                qn = self.session.tempo_map.qn_at_bar(rec.bars[0])
                placed = w.place(rec.track, files, take.audio.shape[1], qn, rec.track)
                w.save()
            rec.region_id = placed.region_id
            rec.sources = [f.name for f in files]
            rec.timings["place"] = time.monotonic() - t0
            self._save_take_files(rec, take, lyrics_text)

    def _save_take_files(self, rec: TakeRecord, take: Take, lyrics_text: str = "") -> None:
        """Deliver the take (``Topline Takes/<take_id>-NNNN.wav`` with its BWF time reference,
        ``.mid`` and ``.json``: a re-sing gets the next number) and save its record."""
        from host_bridge.takes import TakeFolder, takes_folder_for

        folder = TakeFolder(takes_folder_for(self.session.dir), prefix=rec.take_id, subtype="FLOAT")
        delivered = folder.deliver(take, lyrics_text=lyrics_text, extra={"ardour_take": rec.take_id,
                                                                           "ardour_track": rec.track,
                                                                           "tempo_map_used": rec.tempo_check})
        rec.stem = str(delivered.wav.relative_to(self.session.dir))
        self.store.save(rec)

    # ------------------------------------------------------------------ tempo changes
    def stale(self) -> list[StaleTake]:
        """Every recorded take and whether the session's tempo map still matches the one it was sung to."""
        out = []
        for rec in self.store.all():
            out.append(staleness(self.session, rec))
        return out

    def resing(self, take_ids: list[str] | None = None, progress: ProgressCallback | None = None,
               include_moved: bool = False, use_session_tempo: bool = False) -> list[TakeRecord]:
        """Sing stale takes again to the current tempo map, in place (same track, same region,
        same bar). ``take_ids`` None: every stale take. Every take's guide is checked against the
        session's map before any is sung. Returns the updated records."""
        R.check_not_open(self.session.dir)  # Ardour's unsaved tempo edits would be missed
        self.session.reload()
        wanted = {"stale", "moved"} if include_moved else {"stale"}
        todo = []
        for st in self.stale():
            if take_ids is not None and st.record.take_id not in take_ids:
                continue
            if st.state == "missing":
                if take_ids is not None:
                    raise TakeRecordError(f"take {st.record.take_id} was deleted from the session",
                                          "sing a new take instead")
                continue
            if st.state in wanted or take_ids is not None:
                todo.append(st.record)
        if take_ids is not None:
            found = {r.take_id for r in todo}
            for t in take_ids:
                if t not in found:
                    self.store.load(t)  # raises for an unknown id
        checks = [self.check_tempo(self._inputs(_options_of(rec)), use_session_tempo) for rec in todo]
        return [self._resing_one(rec, progress, tempo) for rec, tempo in zip(todo, checks)]

    def _resing_one(self, rec: TakeRecord, progress: ProgressCallback | None, tempo: dict[str, Any]) -> TakeRecord:
        inp = self._inputs(_options_of(rec))
        digest = self.session.digest
        cap = self.capture(inp.bus, inp.bars)
        take = self._sing(cap, inp, rec.seed, rec.channels, progress)
        t0 = time.monotonic()
        self._guard_unchanged(digest)
        version = rec.versions + 1
        files, _ = self._edit_with_sources(
            take.audio, f"topline-{rec.take_id}-v{version}",
            lambda w, fs: w.replace_audio(rec.region_id, fs, take.audio.shape[1], rec.track))
        rec.versions = version
        rec.sources = [f.name for f in files]
        rec.tempo_map = self.session.tempo_map.to_dict()
        rec.bar_samples = self._bar_samples(rec.bars)
        rec.tempo_check = tempo
        rec.timings = {**take.timings, "capture": cap.seconds, "place": time.monotonic() - t0}
        self._save_take_files(rec, take, inp.sheet.text_with_sections())
        return rec


def _options_of(rec: TakeRecord) -> SingOptions:
    return SingOptions(bus=rec.bus, bars=rec.bars, artist=rec.artist, seed=rec.seed, lyrics=rec.lyrics,
                       melody=rec.melody, channels=rec.channels, language=rec.language)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
