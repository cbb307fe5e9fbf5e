"""What ``topline generate`` checks before it renders, and how it writes and explains after.

Kept apart from host_bridge/cli.py (which stays a thin parser): the output checks run before
any model time is spent, the take's two files are written all-or-none, and an error coming
back from the sidecar is told with the files it is about.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from host_bridge.core.errors import InputError, ToplineError

_QUOTED = re.compile(r'"([^"]*)"|\'([^\']{20,})\'')


def check_generate_outputs(out: Path, inputs: dict[str, str | Path | None]) -> Path:
    """Refuse, before rendering, a ``--out`` (or the sung MIDI beside it) that is a folder, is one
    of the inputs, would replace the guide MIDI, or lies in a folder that cannot be written.
    Returns the sung MIDI's path."""
    from host_bridge.core.inputs import check_outputs

    if out.suffix.lower() != ".wav":
        raise InputError(f"output {out} is not a .wav file", "name the output like take.wav")
    mid = out.with_suffix(".mid")
    melody = inputs.get("guide melody")
    if melody is not None and Path(melody).resolve() == mid.resolve():
        raise InputError(f"--out {out} would write the sung MIDI over the guide melody {melody}",
                         f"choose another --out name (the sung MIDI goes beside it as {out.stem}.mid)")
    check_outputs([out, mid], inputs)
    return mid


def write_take_files(take: Any, out: Path, mid: Path, subtype: str) -> None:
    """The stem (WAV) and the sung MIDI, both or neither: a failed write (a full disk) gives a
    one-line error naming the folder and leaves no file behind."""
    import soundfile as sf

    from host_bridge.core.fileio import atomic_write_files, folder_write_error
    from host_bridge.core.midi import score_midi_bytes

    buf = io.BytesIO()
    sf.write(buf, take.audio.T, take.sample_rate, subtype=subtype, format="WAV")
    try:
        atomic_write_files({out: buf.getvalue(), mid: score_midi_bytes(take.score)}, mode=0o644)
    except OSError as e:
        raise folder_write_error(out.parent, e) from None


def explain(err: ToplineError, lyrics: str | Path, melody: str | Path | None) -> ToplineError:
    """A sidecar's error about the lyrics or melody, told with the files it is about and with
    quoted lyric lines cut to their first words."""
    if err.code not in ("alignment", "bad_lyrics", "bad_language"):
        return err
    names = f"{lyrics}" + (f" with {melody}" if melody else "")
    msg = cut_quotes(err.message)
    if str(lyrics) not in msg:
        msg = f"{names}: {msg}"
    err.message, err.args = msg, (msg,)
    return err


def cut_quotes(text: str, words: int = 6) -> str:
    """Quoted passages of ``text`` cut to their first ``words`` words (a 500-syllable line is
    named, not printed)."""
    def cut(m: re.Match[str]) -> str:
        quote = '"' if m.group(1) is not None else "'"
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        ws = inner.split()
        short = " ".join(ws[:words])[:60]
        return f"{quote}{short}{' ...' if len(ws) > words or len(short) < len(' '.join(ws[:words])) else ''}{quote}"

    return _QUOTED.sub(cut, text)
