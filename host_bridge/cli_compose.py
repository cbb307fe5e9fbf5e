"""``topline compose`` and ``topline analyze``: the composer and the instrumental analysis from
the command line. Both run on the sidecar (the ``compose`` and ``analyze`` tasks of
:mod:`host_bridge.core.protocol.tasks`); this side reads and checks the files, writes the MIDI and
the picture, and prints.

Kept apart from host_bridge/cli.py; :func:`register` adds the subcommands to its parser.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from host_bridge.core.artists import DEFAULT_ARTIST
from host_bridge.core.errors import InputError, TempoError

_METER = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")


def _meter(v: str) -> tuple[int, int]:
    m = _METER.match(v)
    if not m or int(m.group(2)) not in (2, 4, 8, 16) or int(m.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"meter {v!r} is not like 4/4, 3/4 or 6/8")
    return int(m.group(1)), int(m.group(2))


def _tempo(v: str) -> float:
    try:
        f = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tempo {v!r} is not a number") from None
    if not (20.0 <= f <= 400.0):
        raise argparse.ArgumentTypeError(f"tempo {f} BPM is outside 20-400")
    return f


def _tempo_map(args: argparse.Namespace) -> Any:
    from host_bridge.core.model import TempoMap

    if getattr(args, "tempo_map", None):
        if args.tempo is not None or args.meter is not None:
            raise InputError("--tempo-map was given with --tempo or --meter",
                             "give the tempo map alone (its tempo and meter are used as they are)")
        from host_bridge.core.midi import read_tempo_map

        return read_tempo_map(args.tempo_map)
    if args.tempo is None:
        return None
    num, den = args.meter or (4, 4)
    try:
        return TempoMap.constant(args.tempo, num, den, offset_s=args.offset)
    except TempoError:
        raise
    except ValueError as e:
        raise InputError(f"tempo map cannot be built: {e}", "check --tempo, --meter and --offset") from e


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tempo", type=_tempo, default=None,
                   help="the session tempo in BPM (quarter notes); without it the tempo is estimated")
    p.add_argument("--meter", type=_meter, default=None, help="the session meter, e.g. 4/4, 3/4, 6/8")
    p.add_argument("--offset", type=float, default=0.0, help="where bar 1 starts in the file, seconds (with --tempo)")
    p.add_argument("--tempo-map", default=None, metavar="MIDI",
                   help="the session's tempo map as a MIDI file (tempo and meter changes), used exactly")


def _task(kind: str, options: dict[str, Any], audio: Any, sr: int, args: argparse.Namespace) -> Any:
    """Run a task on the sidecar (the user's warm one, started when none answers): its TaskResult."""
    from host_bridge.cli_sidecar import job_via_sidecar
    from host_bridge.core.protocol import TaskSpec

    return job_via_sidecar(TaskSpec(kind, options, audio, sr), args).result


def _sheet_options(sheet: Any, source: str, artist: Any, seed: int) -> dict[str, Any]:
    return {"lyrics_text": sheet.text_with_sections(), "lyrics_source": source, "low": artist.low,
            "high": artist.high, "seed": seed}


def _grid_options(args: argparse.Namespace) -> dict[str, Any]:
    tm = _tempo_map(args)
    return {"tempo_map": tm.to_dict() if tm is not None else None, "meter": list(args.meter) if args.meter else None}


def _write_picture(res: Any, path: str) -> Path:
    from host_bridge.core.fileio import atomic_write_bytes

    return atomic_write_bytes(path, res.files["picture"])


def cmd_compose(args: argparse.Namespace) -> int:
    from host_bridge.core.audio import read_audio
    from host_bridge.cli_language import check_language_option, take_language
    from host_bridge.core.midi import write_score_midi
    from host_bridge.core.model import LyricsSheet, Score
    from host_bridge.core.artists import get_artist

    out = Path(args.out)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise InputError(f"output {out} is not a .mid file", "name the output like melody.mid")
    artist = get_artist(args.artist)
    audio, sr = read_audio(args.instrumental)
    sheet = LyricsSheet.load(args.lyrics)
    lang = take_language(check_language_option(args.language), sheet.language, artist.language, sheet.text(),
                         str(args.lyrics))
    options = {**_sheet_options(sheet, str(args.lyrics), artist, args.seed), **_grid_options(args),
               "language": lang.code, "json": bool(args.json), "picture": bool(args.picture)}
    res = _task("compose", options, audio, sr, args)
    r = res.result
    score = Score.from_dict(r["score"])
    write_score_midi(score, out)
    for w in r["warnings"]:
        print(f"topline: warning: {w}")
    lo, hi = score.pitch_range()
    g = r["grid"]
    print(f"wrote {out}: {len(score.notes)} notes over {len(score.lines)} lines, {r['key']}, "
          f"{g['bpm']:.1f} BPM {g['numerator']}/{g['denominator']}, pitches {int(lo)}-{int(hi)}, "
          f"seed {args.seed}")
    for line in r["plan"]:
        print(f"  {line}")
    if args.json:
        print(json.dumps(json.loads(r["plan_json"]), indent=2))
    if args.picture:
        print(f"wrote {_write_picture(res, args.picture)}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from host_bridge.core.audio import read_audio

    audio, sr = read_audio(args.file)
    options: dict[str, Any] = {**_grid_options(args), "picture": bool(args.picture)}
    if args.lyrics:
        from host_bridge.core.model import LyricsSheet
        from host_bridge.core.artists import get_artist

        options.update(_sheet_options(LyricsSheet.load(args.lyrics), str(args.lyrics), get_artist(args.artist),
                                      args.seed))
    res = _task("analyze", options, audio, sr, args)
    r = res.result
    if args.json:
        d = {**json.loads(r["summary"]), "chords_per_bar": r["chords_per_bar"]}
        if "plan_json" in r:
            d["plan"] = json.loads(r["plan_json"])
        print(json.dumps(d, indent=2))
    else:
        print_analysis(r)
    if args.picture:
        print(f"wrote {_write_picture(res, args.picture)}")
    return 0


def print_analysis(r: dict[str, Any]) -> None:
    """``topline analyze`` without --json: the analysis task's result as text."""
    g, key = r["grid"], r["key"]
    print(f"tempo   {g['bpm']:.1f} BPM (quarter notes), {g['numerator']}/{g['denominator']}, "
          f"{'from the tempo map' if g['source'] == 'tempo_map' else 'estimated'} "
          f"(confidence {g['confidence']:.2f}, onsets on the grid {g['agreement']:.0%})")
    print(f"key     {key['name']} (confidence {key['confidence']:.2f})")
    print(f"length  {r['duration_s']:.1f} s, {r['bars']} bars, loudness {r['loudness_db']:.1f} dBFS")
    print("sections")
    for s in r["sections"]:
        print(f"  bars {s['first_bar']:>3}-{s['last_bar']:<3} {s['label']} {s['role']:<7} {s['energy_db']:6.1f} dB "
              f"(confidence {s['confidence']:.2f})")
    print("chords per bar")
    for bar, labels in r["chords_per_bar"]:
        print(f"  {bar:>3}  {' '.join(labels)}")
    for w in r["warnings"]:
        print(f"topline: warning: {w}")


def register(sub: Any) -> None:
    """Add ``compose`` and ``analyze`` to the ``topline`` parser (see host_bridge.cli.EXTRA_COMMANDS)."""
    from host_bridge.cli_language import add_language_argument
    from host_bridge.cli_sidecar import add_generate_options

    c = sub.add_parser("compose", help="write a melody for the lyrics over an instrumental (MIDI)")
    c.add_argument("--instrumental", required=True, help="the instrumental (WAV/FLAC/AIFF/OGG)")
    c.add_argument("--lyrics", required=True, help="lyrics sheet (plain text, [Verse]/[Chorus] headers allowed)")
    c.add_argument("--artist", default=DEFAULT_ARTIST, help="whose range the melody fits (see `topline artists`)")
    c.add_argument("--seed", type=int, default=0, help="another seed gives another melody")
    add_language_argument(c)
    c.add_argument("--out", required=True, help="the melody to write (.mid, with lyric events)")
    c.add_argument("--picture", default=None,
                   help="also draw the plan to this PNG: sections, lyric sections on them, melody over the chords")
    c.add_argument("--json", action="store_true", help="also print the plan (sections, lines placed) as JSON")
    _add_common(c)
    add_generate_options(c)
    c.set_defaults(func=cmd_compose)
    a = sub.add_parser("analyze", help="tempo, key, chords per bar and sections of an instrumental")
    a.add_argument("file", help="the instrumental (WAV/FLAC/AIFF/OGG)")
    a.add_argument("--picture", default=None, help="draw chords and sections (and a composed melody) to this PNG")
    a.add_argument("--lyrics", default=None, help="compose a melody for these lyrics into the picture")
    a.add_argument("--artist", default=DEFAULT_ARTIST, help="whose range the melody fits")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--json", action="store_true", help="print the analysis as JSON")
    _add_common(a)
    add_generate_options(a)
    a.set_defaults(func=cmd_analyze)
