"""`topline ardour new`: an Ardour 7 session from the song's files, ready to sing.

1. check every input before anything is created: the folder is new, the instrumental reads, the
   tempo comes from the guide MIDI (or ``--tempo``/``--meter``), the rate is one Ardour runs;
2. fit the tempo map to what Ardour 7.3 can hold (:func:`~.tempo_maps.fit_for_ardour`) and check
   every bar line of the fitted map against the source's (within :data:`~.tempo_maps.HOLD_MS`);
3. create the session headless at the rate: a stereo bus ``Band`` to the master and an
   ``Instrumental`` track feeding it;
4. write the instrumental (resampled to the session rate when it is at another) on the track at
   sample 0 in audio time, and the session range over it, into the session file;
5. let Ardour load and save it once, reporting where its own tempo map puts every bar line;
6. store what ``setup`` stores (guide melody, bus) beside the session.
"""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from host_bridge.daw.ardour import runner as R
from host_bridge.daw.ardour.create import create_session, session_tempo_env
from host_bridge.daw.ardour.records import Settings
from host_bridge.daw.ardour.session import ArdourSession
from host_bridge.daw.ardour.tempo_maps import (HOLD_MS, BarComparison, bar_seconds, compare_bar_lines, fit_for_ardour,
                                               guide_tempo)
from host_bridge.daw.ardour.writer import SessionWriter, write_sources
from host_bridge.core.errors import InputError, TempoError
from host_bridge.core.model import MeterChange, TempoChange, TempoMap

log = logging.getLogger(__name__)

INSTRUMENTAL_TRACK = "Instrumental"
BUS = "Band"


@dataclass(frozen=True)
class NewSession:
    file: Path
    sample_rate: int
    source_rate: int
    """The instrumental file's rate (resampled when it differs from ``sample_rate``)."""
    tempo_source: str
    """Where the tempo map came from: the guide MIDI's path, or ``--tempo``."""
    tempo_map: TempoMap
    """The source's map."""
    written: TempoMap
    """The map written into the session (tempo points on whole quarter notes)."""
    last_bar: int
    max_bar_diff_ms: float
    """Largest distance between a bar line of the session (as Ardour places it) and the source's."""
    worst_bar: int
    seconds: float

    @property
    def held(self) -> bool:
        return self.max_bar_diff_ms <= HOLD_MS


def parse_meter(text: str) -> tuple[int, int]:
    try:
        n, d = (int(x) for x in text.split("/"))
        MeterChange(1, n, d)
    except ValueError:
        raise InputError(f"meter {text!r} is not like 4/4", "give the meter as N/D, e.g. 4/4, 3/4 or 6/8") from None
    if n < 1 or d not in (1, 2, 4, 8, 16, 32):
        raise InputError(f"meter {text} is not a time signature", "give the meter as N/D, e.g. 4/4, 3/4 or 6/8")
    return n, d


def source_tempo_map(melody: Path | None, tempo: float | None, meter: str | None,
                     session_meters: tuple[MeterChange, ...] | None = None) -> tuple[TempoMap, str]:
    """The song's tempo map: the guide MIDI's, or a constant ``tempo`` in ``meter``. Without
    ``meter``, a guide without time signatures (or ``tempo``) keeps ``session_meters`` (else 4/4)."""
    num, den = parse_meter(meter) if meter else (4, 4)
    meters = (MeterChange(1, num, den),) if meter or not session_meters else session_meters
    if melody is not None:
        guide = guide_tempo(melody, meters)
        if guide is not None:
            if tempo is not None:
                raise InputError(f"{melody.name} has its own tempo map and --tempo {tempo:g} was given",
                                 "leave out --tempo (the guide's map is used), or pass a guide without tempo")
            if meter and guide.own_meter:
                raise InputError(f"{melody.name} has its own time signatures and --meter {meter} was given",
                                 "leave out --meter (the guide's are used)")
            return guide.tempo_map, str(melody)
        if tempo is None:
            raise TempoError(f"{melody.name} has no tempo event", "pass the song's tempo with --tempo BPM")
    if tempo is None:
        raise TempoError("no tempo for the session", "pass --melody guide.mid (its tempo map is used) or --tempo BPM")
    return TempoMap((TempoChange(0.0, float(tempo)),), meters), "--tempo"


def read_instrumental(path: Path, rate: int | None) -> tuple[np.ndarray, int, int]:
    """(float32 [C, T] at the session rate, session rate, file rate)."""
    from host_bridge.core.audio import check_sample_rate, read_audio

    audio, sr = read_audio(path)
    target = rate or sr
    check_sample_rate(target, "--rate")
    if target == sr:
        return audio, sr, sr
    try:
        import soxr
    except ImportError:
        raise InputError(f"{path.name} is at {sr} Hz and the session at {target} Hz, but soxr is not installed",
                         "pip install soxr, or leave out --rate to make the session at the file's rate") from None
    y = soxr.resample(audio.T, sr, target, quality="VHQ")
    return np.ascontiguousarray(np.asarray(y, np.float32).T), target, sr


def _settings(melody: Path | None, lyrics: str | Path | None, artist: str | None) -> Settings:
    """What ``setup`` would store, checked: the lyrics sheet reads, the artist exists."""
    lyr = None
    if lyrics is not None:
        from host_bridge.core.model import LyricsSheet

        lyr = Path(lyrics).expanduser().resolve()
        LyricsSheet.load(lyr)
    if artist is not None:
        from host_bridge.core.artists import get_artist

        artist = get_artist(artist).name
    return Settings(lyrics=str(lyr) if lyr else None, melody=str(melody) if melody else None, bus=BUS, artist=artist)


def new_session(folder: str | Path, instrumental: str | Path, melody: str | Path | None = None,
                tempo: float | None = None, meter: str | None = None, rate: int | None = None,
                lyrics: str | Path | None = None, artist: str | None = None,
                runner: R.ArdourRunner | None = None) -> NewSession:
    """Make a new Ardour session in ``folder`` (see the module doc); ``lyrics`` and ``artist``
    are stored with it as ``setup`` stores them. On any failure the folder is removed again."""
    t0 = time.monotonic()
    folder = Path(folder).expanduser().resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(f"{folder} already exists", "choose a new folder for the session (it is created)")
    mel = Path(melody).expanduser().resolve() if melody is not None else None
    if mel is not None and not mel.is_file():
        raise InputError(f"guide melody {mel} is not a file", "pass the guide MIDI file with --melody")
    tm, tsource = source_tempo_map(mel, tempo, meter)
    settings = _settings(mel, lyrics, artist)
    audio, sr, file_rate = read_instrumental(Path(instrumental).expanduser(), rate)
    run = runner or R.ArdourRunner()
    fitted = fit_for_ardour(tm)
    last_bar = tm.bar_beat_at(tm.qn_at_sample(audio.shape[1] - 1, sr))[0]
    pre = compare_bar_lines(fitted, tm, 1, last_bar)
    if pre.max_ms > HOLD_MS:
        log.warning("Ardour cannot hold %s's tempo map within %.0f ms: bar %d moves %.2f ms", tsource, HOLD_MS,
                    pre.worst[0], pre.worst[1])
    existed = folder.exists()
    try:
        create_session(folder, sr, fitted, tracks=[(INSTRUMENTAL_TRACK, audio.shape[0], BUS)], busses=[(BUS, 2)],
                       runner=run)
        session = ArdourSession(folder)
        with R.session_lock(session.dir):
            files = write_sources(session, audio, Path(instrumental).stem or "instrumental")
            w = SessionWriter(session)
            w.place(INSTRUMENTAL_TRACK, files, audio.shape[1], 0.0, INSTRUMENTAL_TRACK, at_sample=0)
            w.set_session_range(0, audio.shape[1])
            w.save()
            res = run.run("open_save.lua", session.dir, session.snapshot,
                          {"TOPLINE_REPORT_BARS": f"1\t{last_bar + 1}"})
        session.reload()
        settings.save(session.topline_dir)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # nothing half-made is left behind
        if existed:
            folder.mkdir()
        raise
    ardour = {int(b): int(s) / sr for b, s in res.values("bar")}
    source = bar_seconds(tm, 1, last_bar)
    diffs = {b: (ardour[b] - source[b - 1]) * 1000.0 for b in range(1, last_bar + 2) if b in ardour}
    if len(diffs) != last_bar + 1:
        raise R.ArdourRunError(f"Ardour reported {len(diffs)} of {last_bar + 1} bar lines",
                               "run with -v and check Ardour's log")
    worst = max(diffs, key=lambda b: abs(diffs[b]))
    return NewSession(session.file, sr, file_rate, tsource, tm, fitted, last_bar, abs(diffs[worst]), worst,
                      time.monotonic() - t0)


def retempo(session_dir: str | Path, source: TempoMap, runner: R.ArdourRunner | None = None
            ) -> tuple[TempoMap, BarComparison]:
    """Replace an existing session's tempo map by ``source`` (fitted for Ardour), headless: the
    old points are dropped from the file, then Ardour sets the new ones and saves. Regions in
    beat time (takes) move with their bars; audio-time ones (the instrumental) stay. Returns the
    map written and Ardour's bar lines against ``source`` over the session. On failure the session
    file is restored."""
    session = ArdourSession(session_dir)
    fitted = fit_for_ardour(source)
    run = runner or R.ArdourRunner()
    before = session.file.read_bytes()
    try:
        with R.session_lock(session.dir):
            w = SessionWriter(session)
            w.clear_tempo_map()
            w.save()
            run.run("set_tempo_map.lua", session.dir, session.snapshot, session_tempo_env(fitted))
        session.reload()
    except BaseException:
        session.file.write_bytes(before)
        raise
    last = max(1, session.last_bar())
    return fitted, compare_bar_lines(session.tempo_map, source, 1, last)
