"""Files a musician hands over (instrumental, lyrics sheet, guide MIDI) -> a validated JobSpec.

Everything is checked here, on the bridge side, before anything is sent, so a typo costs no
model time and the error names the file and the fix. Used by ``topline generate`` and the OSC
surface alike.
"""
from __future__ import annotations

from pathlib import Path

import mido

from host_bridge.core.artists import DEFAULT_ARTIST
from host_bridge.core.errors import InputError
from host_bridge.core.protocol import JobSpec


def midi_has_tempo(path: Path) -> bool:
    try:
        mf = mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError, KeyError, IndexError):
        return True  # let the MIDI reader report the real problem
    return any(m.type == "set_tempo" for tr in mf.tracks for m in tr)


def spec_from_files(instrumental: str | Path, lyrics: str | Path, melody: str | Path | None, *,
                    artist: str = DEFAULT_ARTIST, seed: int = 0, tempo: float | None = None, channels: int = 1,
                    start_sample: int = 0, bars: tuple[int, int] | None = None, engine: str = "",
                    checkpoint: str = "", language: str = "", meter: tuple[int, int] | None = None,
                    tempo_map_midi: str | Path | None = None) -> JobSpec:
    """Validate the files and settings of a job and pack them into a JobSpec. ``melody`` None
    lets the sidecar's composer write the melody over the instrumental."""
    from host_bridge.core.audio import read_audio
    from host_bridge.cli_language import check_language_option, take_language
    from host_bridge.core.errors import AudioInputError, MidiError
    from host_bridge.core.inputs import check_melody_fits, check_regular, read_lyrics, read_regular
    from host_bridge.core.midi import MAX_MIDI_BYTES, read_melody
    from host_bridge.core.model import TempoMap
    from host_bridge.core.artists import get_artist

    a = get_artist(artist)
    language = check_language_option(language)
    check_regular(instrumental, "instrumental", AudioInputError)
    audio, sr = read_audio(instrumental)
    sheet = read_lyrics(lyrics)
    take_language(language, sheet.language, a.language, sheet.text(), str(lyrics))
    tempo_map = None
    melody_bytes: bytes | None = None
    melody_path = Path(melody) if melody is not None else Path("composed")
    if tempo_map_midi is not None and (tempo is not None or meter is not None or melody is not None):
        raise InputError("--tempo-map was given with --tempo, --meter or a guide melody",
                         "give the session's tempo map alone (a guide melody's MIDI file carries its own)")
    if meter is not None and (tempo is None or melody is not None):
        raise InputError("--meter was given without --tempo, or with a guide melody",
                         "give --meter together with --tempo when no guide melody is given (a melody's MIDI "
                         "file carries its own meter)")
    if melody is None:
        if tempo_map_midi is not None:
            from host_bridge.core.midi import read_tempo_map

            tempo_map = read_tempo_map(tempo_map_midi)
        elif tempo is not None:
            tempo_map = TempoMap.constant(tempo, *(meter or (4, 4)))
    else:
        check_regular(melody_path, "melody file", MidiError)
        guide = read_melody(melody_path, tempo_bpm=tempo)
        if tempo is not None and not midi_has_tempo(melody_path):
            tempo_map = TempoMap.constant(tempo).with_meter_changes(guide.tempo_map.meters)
        check_melody_fits(guide, audio.shape[1] / sr, start_sample / sr)
        melody_bytes = read_regular(melody_path, MAX_MIDI_BYTES, "melody file", MidiError)
    if channels not in (1, 2):
        raise InputError(f"{channels} output channels asked for", "ask for a mono (1) or stereo (2) stem")
    if start_sample < 0:
        raise InputError(f"start sample {start_sample} is before the session start", "give a position >= 0")
    return JobSpec(lyrics_text=sheet.text_with_sections(), sample_rate=sr, length_samples=audio.shape[1],
                   tempo_map=tempo_map, melody_midi=melody_bytes, instrumental=audio,
                   start_sample=start_sample, artist=a.name, seed=seed, bars=bars, channels=channels,
                   lyrics_source=str(lyrics), melody_source=str(melody_path), engine=engine, checkpoint=checkpoint,
                   language=language)
