"""``topline artists`` (options), ``topline audition`` and ``topline artist create``.

Auditions and artist creation run on the sidecar (an ``audition`` job; the ``artist_create``
task of :mod:`host_bridge.core.protocol.tasks`): this side checks the files, writes the clips, the
A/B reel and the preset, and prints. Kept apart from host_bridge/cli.py; :func:`register` adds
the subcommands to its parser.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from host_bridge.core.errors import InputError

if TYPE_CHECKING:
    from host_bridge.core.model import LyricsSheet

NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_BARS = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def note_name(n: int) -> str:
    return NOTE_NAMES[n % 12] + str(n // 12 - 1)


def bars_arg(v: str) -> tuple[int, int]:
    m = _BARS.match(v)
    if not m:
        raise argparse.ArgumentTypeError(f"bars {v!r}: write them like 9-16 (or 9 for one bar)")
    a, b = int(m.group(1)), int(m.group(2) or m.group(1))
    if a < 1 or b < a:
        raise argparse.ArgumentTypeError(f"bars {v!r}: the first bar is 1 and the range must not run backwards")
    return a, b


def lyrics_sheet(v: str) -> "LyricsSheet":
    """``--lyrics`` of ``artist create``: a lyrics file, or the words themselves."""
    from host_bridge.core.model import LyricsSheet

    p = Path(v)
    if p.is_file():
        return LyricsSheet.load(p)
    if p.suffix.lower() in (".txt", ".lrc", ".lyrics") or "/" in v or "\\" in v:
        raise InputError(f"lyrics file {v} does not exist",
                         "check the path, or give the words themselves in quotes: --lyrics 'hold the light'")
    return LyricsSheet.parse(v, source="--lyrics")


def artists_arg(v: str) -> list[str]:
    names = [s.strip() for s in v.split(",") if s.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one artist, e.g. alpha,dusk,kumo")
    return names


# ------------------------------------------------------------------------------------ artists
def cmd_artists(args: argparse.Namespace) -> int:
    from host_bridge.core.artists import load_artists, load_preset
    from host_bridge.core.artists.schema import SCHEMA_DOC

    if args.schema:
        print(SCHEMA_DOC, end="")
        return 0
    if args.check:
        for f in args.check:
            a = load_preset(Path(f))
            print(f"{f}: ok ({a.name}, {a.engine}, {note_name(a.low)}-{note_name(a.high)})")
        return 0
    artists = load_artists()
    if args.json:
        print(json.dumps([a.to_dict() for a in artists.values()], indent=2))
        return 0
    for a in artists.values():
        blend = " + ".join(f"{w / sum(a.voice.values()):.0%} {k}" for k, w in a.voice.items()) or a.embedding_file
        shift = "".join([f" transpose {a.transpose:+d}" if a.transpose else "",
                         f" formants {a.formant_shift:+.1f}" if a.formant_shift else ""])
        print(f"{a.name:<12} {a.language:<6} {note_name(a.low)}-{note_name(a.high):<4} {a.description}")
        print(f"{'':<12} {'':<6} {'':<8} voice: {blend}{shift}; engine {a.engine}")
    return 0


# ------------------------------------------------------------------------------------ audition
def audition_timing(args: argparse.Namespace) -> tuple[Any, bytes | None]:
    """The audition's tempo map and guide MIDI from --tempo, --meter, --tempo-map and --melody
    (each combination checked): (TempoMap or None, the MIDI file's bytes or None)."""
    from host_bridge.cli import _midi_has_tempo
    from host_bridge.core.midi import read_melody
    from host_bridge.core.model import TempoMap

    if args.meter is not None and (args.tempo is None or args.melody is not None):
        raise InputError("--meter was given without --tempo, or with a guide melody",
                         "give --meter together with --tempo when no guide melody is given")
    tempo_map = TempoMap.constant(args.tempo, *(args.meter or (4, 4))) if args.tempo is not None else None
    if args.tempo_map is not None:
        if args.tempo is not None or args.meter is not None or args.melody is not None:
            raise InputError("--tempo-map was given with --tempo, --meter or a guide melody",
                             "give the session's tempo map alone")
        from host_bridge.core.midi import read_tempo_map

        tempo_map = read_tempo_map(args.tempo_map)
    melody_bytes = None
    if args.melody is not None:
        mp = Path(args.melody)
        if not mp.is_file():
            raise InputError(f"melody file {mp} does not exist", "check the path to the guide MIDI file")
        melody = read_melody(mp, tempo_bpm=args.tempo)
        if args.tempo is not None and not _midi_has_tempo(mp):
            tempo_map = TempoMap.constant(args.tempo).with_meter_changes(melody.tempo_map.meters)
        elif args.tempo is not None:
            tempo_map = None
        melody_bytes = mp.read_bytes()
    return tempo_map, melody_bytes


def cmd_audition(args: argparse.Namespace) -> int:
    from host_bridge.core.audio import read_audio, write_wav
    from host_bridge.cli_language import check_language_option, take_language
    from host_bridge.core.model import LyricsSheet
    from host_bridge.core.artists import get_artist

    out_dir = Path(args.out_dir)
    cast = [get_artist(a) for a in args.artists]  # every name checked before any model loads
    if len({a.name for a in cast}) != len(cast):
        raise InputError(f"an artist is named twice in {','.join(args.artists)}", "name each artist once")
    audio, sr = read_audio(args.instrumental)
    sheet = LyricsSheet.load(args.lyrics)
    language = check_language_option(args.language)
    take_language(language, sheet.language, cast[0].language, sheet.text(), str(args.lyrics))
    tempo_map, melody_bytes = audition_timing(args)
    from host_bridge.cli_sidecar import job_via_sidecar
    from host_bridge.core.protocol import JobSpec
    from host_bridge.core.reel import Clip, ClipPart, ab_reel

    spec = JobSpec(lyrics_text=sheet.text_with_sections(), sample_rate=sr, length_samples=audio.shape[1],
                   tempo_map=tempo_map, melody_midi=melody_bytes, instrumental=audio, artist=cast[0].name,
                   seed=args.seed, bars=args.bars, channels=audio.shape[0], language=language,
                   lyrics_source=str(args.lyrics), melody_source=str(args.melody or "composed"),
                   artists=tuple(a.name for a in cast), workers=args.workers or 0, stream_clips=True)
    t0 = time.perf_counter()
    clips: list[Clip] = []
    heard: list[float] = []

    def on_part(part: ClipPart) -> None:
        if not heard:  # the first phrase of the first clip: where a player would start
            heard.append(time.perf_counter() - t0)
            print(f"first audio ({part.artist}'s first phrase) at {heard[0]:6.1f} s", flush=True)

    def on_clip(c: Clip) -> None:
        p = write_wav(out_dir / f"{c.index + 1:02d}-{c.artist}.wav", c.mix(), c.take.sample_rate)
        clips.append(c)
        print(f"clip {c.index + 1}/{len(cast)} {c.artist:<12} ready at {time.perf_counter() - t0:6.1f} s -> {p}",
              flush=True)

    job_via_sidecar(spec, args, kind="audition", on_clip=on_clip, on_part=on_part)
    clips.sort(key=lambda c: c.index)
    reel, marks = ab_reel(clips, audio, spec.start_sample)
    ab = write_wav(out_dir / "ab.wav", reel, sr)
    (out_dir / "ab.txt").write_text("".join(f"{t:8.2f} s  {name}\n" for name, t in marks), encoding="utf-8")
    total = time.perf_counter() - t0
    section = clips[0].take.duration_s
    print(f"wrote {len(clips)} clips and {ab} ({reel.shape[1] / sr:.1f} s; order in {out_dir / 'ab.txt'}); "
          f"first clip at {min(c.ready_s for c in clips):.1f} s, all {len(clips)} in {total:.1f} s "
          f"({total / (section * len(clips)):.2f}x real time)")
    return 0


# ------------------------------------------------------------------------------------ artist create
def cmd_artist_create(args: argparse.Namespace) -> int:
    from host_bridge.core.audio import read_audio
    from host_bridge.core.artists import load_artists, user_preset_dir
    from host_bridge.core.artists.schema import valid_name

    if not valid_name(args.name):
        raise InputError(f"artist name {args.name!r} is not usable", "use lowercase letters, digits, '-' or '_'")
    existing = load_artists()
    if args.name in existing and not args.force:
        raise InputError(f"an artist named {args.name!r} exists ({existing[args.name].source})",
                         "choose another --name, or pass --force to replace your own preset")
    for e in args.exclude:
        if e not in existing:
            raise InputError(f"--exclude names unknown artist {e!r}", "see `topline artists`")
    audio, sr = read_audio(getattr(args, "from"))
    out_dir = Path(args.out_dir) if args.out_dir else user_preset_dir()
    if args.melody is not None and args.lyrics is None:
        raise InputError("--melody needs --lyrics", "give the words sung on those notes with --lyrics, or leave "
                         "both out (the words are then recognised in the recording)")
    sheet = lyrics_sheet(args.lyrics) if args.lyrics is not None else None
    from host_bridge.cli_language import check_language_option, take_language

    language = take_language(check_language_option(args.language), sheet.language if sheet else "", "en-us",
                             sheet.text() if sheet else "", str(args.lyrics)).code
    if args.melody is not None:
        mp = Path(args.melody)
        if not mp.is_file():
            raise InputError(f"melody file {mp} does not exist", "check the path to the MIDI of what was sung")

    from host_bridge.cli import ProgressBar
    from host_bridge.cli_sidecar import job_via_sidecar
    from host_bridge.core.fileio import atomic_write_bytes
    from host_bridge.core.protocol import TaskSpec
    from host_bridge.core.artists import load_preset

    options: dict[str, Any] = {"name": args.name, "source": str(getattr(args, "from")), "tempo": args.tempo,
                               "exclude": list(args.exclude), "max_renders": args.max_renders, "language": language}
    if sheet is not None:  # with --melody its words on those notes, else the words placed on the reference
        options.update(lyrics_text=sheet.text_with_sections(), lyrics_source=str(args.lyrics))
    melody = None
    if args.melody is not None:
        melody = mp.read_bytes()
        options["melody_source"] = str(mp)
    bar = ProgressBar()
    res = job_via_sidecar(TaskSpec("artist_create", options, audio, sr, melody), args, progress=bar).result
    bar.close()
    for name, data in res.files.items():
        atomic_write_bytes(out_dir / name, data)
    path = out_dir / res.result["preset"]
    load_preset(path)  # what we write must load
    print(f"wrote {path}")
    print(res.result["summary"])
    return 0


def register(sub: Any) -> None:
    """Add ``audition`` and ``artist`` (and options of ``artists``) to the ``topline`` parser."""
    from host_bridge.cli_language import add_language_argument
    from host_bridge.cli_sidecar import add_generate_options

    a = sub.choices.get("artists") or sub.add_parser("artists", help="list the artists")
    a.add_argument("--json", action="store_true", help="print every artist as JSON")
    a.add_argument("--schema", action="store_true", help="print the preset format")
    a.add_argument("--check", nargs="+", default=None, metavar="PRESET", help="validate preset files")
    a.set_defaults(func=cmd_artists)

    au = sub.add_parser("audition", help="sing the same bars with several artists: one clip each plus an A/B reel")
    au.add_argument("--instrumental", required=True, help="the instrumental (WAV/FLAC/AIFF/OGG)")
    au.add_argument("--lyrics", required=True, help="lyrics sheet (plain text)")
    au.add_argument("--melody", default=None, help="guide melody (.mid); without it one is composed")
    au.add_argument("--bars", required=True, type=bars_arg, help="the section to audition, e.g. 9-16")
    au.add_argument("--artists", required=True, type=artists_arg, help="comma-separated, e.g. alpha,dusk,kumo")
    au.add_argument("--tempo", type=float, default=None, help="tempo in BPM, when the MIDI file has none")
    from host_bridge.cli_compose import _meter

    au.add_argument("--meter", type=_meter, default=None,
                    help="meter with --tempo when no melody is given, e.g. 3/4 or 6/8 (default 4/4)")
    au.add_argument("--tempo-map", default=None, metavar="MIDI",
                    help="the session's tempo map as a MIDI file, used exactly (when no melody is given)")
    au.add_argument("--seed", type=int, default=0)
    add_language_argument(au)
    au.add_argument("--threads", type=int, default=2, help="CPU threads per render")
    au.add_argument("--workers", type=int, default=None,
                    help="artists rendered in parallel (default: what the cores allow; 1 on 2 cores)")
    au.add_argument("--out-dir", default="audition", help="folder for the clips, ab.wav and ab.txt")
    add_generate_options(au)
    au.set_defaults(func=cmd_audition)

    ar = sub.add_parser("artist", help="make artists")
    asub = ar.add_subparsers(dest="artist_command", required=True)
    c = asub.add_parser("create", help="a new artist that sounds like a reference vocal recording")
    c.add_argument("--from", required=True, metavar="VOCAL", help="a solo vocal recording (WAV/FLAC/OGG), 5-30 s")
    c.add_argument("--name", required=True, help="the new artist's name (lowercase, digits, - or _)")
    c.add_argument("--out-dir", default=None, help="where to write the preset (default: your artists folder)")
    c.add_argument("--tempo", type=float, default=None, help="the recording's tempo, to read ahead/behind timing")
    c.add_argument("--exclude", type=artists_arg, default=[], help="artists whose voices the search leaves out")
    c.add_argument("--lyrics", default=None, metavar="TEXT_OR_FILE",
                   help="what the reference sings (the words, or a lyrics file); without it the words are recognised "
                   "in the recording. Candidates sing the same words on the reference's notes: a sharper comparison")
    c.add_argument("--melody", default=None, help="the reference's notes (.mid), with --lyrics (else they are read "
                   "from its pitch)")
    c.add_argument("--max-renders", type=int, default=20, help="renders the blend search may spend")
    add_language_argument(c)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--force", action="store_true", help="replace an existing preset of yours with that name")
    add_generate_options(c)
    c.set_defaults(func=cmd_artist_create)
