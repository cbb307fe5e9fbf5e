"""`topline ardour ...`: the Ardour round trip from a shell, while the session is closed.

Light to import (argparse only): the adapter loads when a command runs.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from host_bridge.cli_language import add_language_argument
from host_bridge.daw.ardour.cli_tempo import guide_line, register_tempo_commands

SUBCOMMANDS = ("new", "tempo", "info", "setup", "sing", "export", "stale", "resing", "link", "install")


def _bars(v: str) -> tuple[int, int]:
    try:
        a, _, b = v.partition("-")
        first = int(a)
        last = int(b) if b else first
    except ValueError:
        raise argparse.ArgumentTypeError(f"bars {v!r}: write them like 5-12 (or 5 for one bar)") from None
    return first, last


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("ardour", help="sing into an Ardour 7 session (run while the session is closed)",
                       description="Capture a bus over bars, sing, and place the take on a new track of an "
                                   "Ardour 7 session, headless. Close the session in Ardour first.")
    asub = p.add_subparsers(dest="ardour_command", required=True)

    register_tempo_commands(asub)

    i = asub.add_parser("info", help="the session's rate, tempo map, routes, settings and takes")
    i.add_argument("session", help="session folder or .ardour file")
    i.set_defaults(func=cmd_info)

    s = asub.add_parser("setup", help="store what to sing with the session (lyrics, melody, bus, bars, artist)")
    s.add_argument("session")
    _sing_inputs(s)
    _tempo_flag(s)
    s.set_defaults(func=cmd_setup)

    g = asub.add_parser("sing", help="capture the bus over the bars, sing, place the take on a new track")
    g.add_argument("session")
    _sing_inputs(g)
    g.add_argument("--seed", type=int, default=0, help="another seed gives another take")
    g.add_argument("--channels", type=int, choices=(1, 2), default=1)
    g.add_argument("--capture", type=Path, default=None,
                   help="use this export of the bus over the bars instead of exporting it headless")
    g.add_argument("--no-place", action="store_true",
                   help="deliver the take and its record only; leave the session file alone")
    g.add_argument("--json", action="store_true", help="print the take record as JSON")
    _tempo_flag(g)
    _source_options(g)
    g.set_defaults(func=cmd_sing)

    e = asub.add_parser("export", help="export the master (or one bus/track) over bars to a WAV")
    e.add_argument("session")
    e.add_argument("--bus", default=None, help="solo this bus or track (default: the whole mix)")
    e.add_argument("--bars", type=_bars, default=None, help="e.g. 5-12 (default: the whole session)")
    e.add_argument("--out", type=Path, required=True)
    e.set_defaults(func=cmd_export)

    t = asub.add_parser("stale", help="list takes made stale by a tempo or meter change")
    t.add_argument("session")
    t.set_defaults(func=cmd_stale)

    r = asub.add_parser("resing", help="sing stale takes again to the current tempo map, in place")
    r.add_argument("session")
    r.add_argument("--take", action="append", default=None, help="only this take id (repeatable)")
    r.add_argument("--include-moved", action="store_true", help="also takes whose bars only moved")
    _tempo_flag(r)
    _source_options(r)
    r.set_defaults(func=cmd_resing)

    k = asub.add_parser("link", help="attach a take the editor action imported to its record")
    k.add_argument("session")
    k.add_argument("--take", required=True)
    k.set_defaults(func=cmd_link)

    n = asub.add_parser("install", help="install the editor action (Lua) and the export preset into Ardour 7")
    n.add_argument("--config-dir", type=Path, default=None, help="Ardour's user config folder (default ~/.config/ardour7)")
    n.set_defaults(func=cmd_install)


def _sing_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bus", default=None, help="the bus or track to sing over (default: stored, else Master)")
    p.add_argument("--bars", type=_bars, default=None, help="bars to sing, e.g. 5-12 (default: stored, else the "
                                                              "session range)")
    p.add_argument("--lyrics", default=None, help="lyrics sheet (stored with the session once given)")
    p.add_argument("--melody", default=None, help="guide melody, a MIDI file")
    p.add_argument("--melody-track", default=None, help="guide melody from this MIDI track of the session")
    p.add_argument("--artist", default=None, help="who sings (see `topline artists`)")
    add_language_argument(p)


def _tempo_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--use-session-tempo", action="store_true",
                   help="sing on the session's tempo map even where the guide MIDI's puts the bars more than "
                        "10 ms elsewhere (without it, that is refused)")


def _source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--in-process", action="store_true",
                   help="sing on a sidecar of this command's own (stopped when it ends), not the user's warm one")
    p.add_argument("--connection-file", type=Path, default=None, help="the sidecar to use (default: the user's)")
    p.add_argument("--sidecar-pipeline", default=None, help="pipeline factory (module:callable) for a new sidecar")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for the models")


def _adapter(args: argparse.Namespace, needs_source: bool = False) -> Any:
    from host_bridge.daw.ardour.adapter import ArdourAdapter
    from host_bridge.daw.take_source import SidecarTakeSource

    source = None
    if needs_source:
        source = (_private_source(args) if args.in_process else
                  SidecarTakeSource(args.connection_file, args.sidecar_pipeline, threads=args.threads))
    return ArdourAdapter(args.session, take_source=source)


def _private_source(args: argparse.Namespace) -> Any:
    """A sidecar of this command's own (its connection file in a temporary folder), stopped when
    the command ends: not the user's warm sidecar, nothing left running."""
    import atexit
    import tempfile

    from host_bridge.daw.take_source import SidecarTakeSource

    folder = tempfile.TemporaryDirectory(prefix="topline-sidecar-")
    source = SidecarTakeSource(Path(folder.name) / "sidecar.json", args.sidecar_pipeline, threads=args.threads,
                               detach=False)
    atexit.register(folder.cleanup)  # the source itself is closed (its sidecar stopped) by _close
    return source


def _progress() -> Any:
    from host_bridge.cli import ProgressBar

    return ProgressBar()


def _melody(args: argparse.Namespace) -> str | None:
    from host_bridge.daw.ardour.adapter import MELODY_TRACK_PREFIX

    if args.melody and args.melody_track:
        from host_bridge.core.errors import InputError

        raise InputError("both --melody and --melody-track were given", "give one guide melody")
    return MELODY_TRACK_PREFIX + args.melody_track if args.melody_track else args.melody


def _opts(args: argparse.Namespace) -> Any:
    from host_bridge.cli_language import check_language_option
    from host_bridge.daw.ardour.adapter import SingOptions

    return SingOptions(bus=args.bus, bars=args.bars, artist=args.artist, seed=getattr(args, "seed", 0),
                       lyrics=args.lyrics, melody=_melody(args), channels=getattr(args, "channels", 1),
                       use_session_tempo=args.use_session_tempo,
                       language=check_language_option(getattr(args, "language", "")))


def cmd_info(args: argparse.Namespace) -> int:
    ad = _adapter(args)
    s = ad.session
    print(f"session {s.name} ({s.file}), {s.sample_rate} Hz")
    for t in s.tempo_map.tempos:
        bar, beat = s.tempo_map.bar_beat_at(t.qn)
        print(f"  tempo {t.bpm:.3f} qn/min from bar {bar} beat {beat:g}")
    for m in s.tempo_map.meters:
        print(f"  meter {m.numerator}/{m.denominator} from bar {m.bar}")
    print(f"  last bar {s.last_bar()}")
    for r in s.routes():
        kind = "master" if r.is_master else ("track" if r.is_track else "bus")
        print(f"  {kind:<6} {r.name}")
    st = ad.settings
    print(f"  settings: lyrics={st.lyrics} melody={st.melody} bus={st.bus} bars={st.bars} artist={st.artist}")
    guide = guide_line(ad, st)
    if guide:
        print(f"  {guide}")
    for x in ad.stale():
        forced = ", sung on the session's map against its guide's" if x.record.tempo_check.get("forced") else ""
        print(f"  take {x.record.take_id}: {x.record.track!r} bars {x.record.bars[0]}-{x.record.bars[1]} "
              f"({x.state}{forced})")
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from host_bridge.daw.ardour.records import Settings

    ad = _adapter(args)
    st = ad.settings
    if args.lyrics is not None:
        st.lyrics = str(Path(args.lyrics).expanduser().resolve())
    melody = _melody(args)
    if melody is not None:
        if args.melody_track:
            from host_bridge.daw.ardour.midi_track import midi_track_notes

            midi_track_notes(ad.session, args.melody_track)  # a MIDI track with notes, or a clear error
            st.melody = melody
        else:
            st.melody = str(Path(melody).expanduser().resolve())
    if args.bus is not None:
        ad.session.route(args.bus)
        st.bus = args.bus
    if args.bars is not None:
        ad.session.check_bars(*args.bars)
        st.bars = args.bars
    if args.artist is not None:
        from host_bridge.core.artists import get_artist

        st.artist = get_artist(args.artist).name
    _check_setup_tempo(ad, st, args.use_session_tempo)
    Settings.save(st, ad.session.topline_dir)
    print(f"stored in {ad.session.topline_dir}: lyrics={st.lyrics} melody={st.melody} bus={st.bus} "
          f"bars={st.bars} artist={st.artist}")
    return 0


def _check_setup_tempo(ad: Any, st: Any, use_session_tempo: bool) -> None:
    """The stored guide MIDI's bar lines against the session's over the bars to sing (or the
    whole session): refused before anything is stored when they disagree."""
    from host_bridge.daw.ardour.adapter import MELODY_TRACK_PREFIX
    from host_bridge.daw.ardour.tempo_maps import check_guide_tempo

    if not st.melody or st.melody.startswith(MELODY_TRACK_PREFIX) or ad.session.last_bar() == 0:
        return
    path = ad._resolve(st.melody)
    if not path.is_file():
        return
    bars = st.bars or (ad.default_bars() if ad.session.session_range() else (1, ad.session.last_bar()))
    rec = check_guide_tempo(ad.session.tempo_map, path, bars, use_session_tempo)
    if rec.get("forced"):
        print(f"topline: warning: {rec['note']} (--use-session-tempo)", file=sys.stderr)


def _print_record(rec: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(rec.to_dict(), sort_keys=True))
        return
    t = rec.timings
    print(f"take {rec.take_id} on track {rec.track!r}, bars {rec.bars[0]}-{rec.bars[1]} of {rec.bus!r} "
          f"(capture {t.get('capture', 0):.1f} s, render {t.get('render', 0):.1f} s, place {t.get('place', 0):.1f} s)")
    tc = rec.tempo_check or {}
    if tc.get("forced"):
        print(f"  {tc['note']} (--use-session-tempo)")
    elif tc.get("checked"):
        print(f"  sung on the session's tempo map: bar lines within {tc['max_bar_diff_ms']:.2f} ms of "
              f"{Path(tc['guide']).name}'s")


def cmd_sing(args: argparse.Namespace) -> int:
    ad = _adapter(args, needs_source=True)
    bar = _progress()
    try:
        rec = ad.sing(_opts(args), progress=bar, capture_file=args.capture, place=not args.no_place)
    finally:
        bar.close()
        _close(ad)
    _print_record(rec, args.json)
    return 0


def _close(ad: Any) -> None:
    close = getattr(ad.take_source, "close", None) if ad._take_source is not None else None
    if close is not None:
        close()


def cmd_export(args: argparse.Namespace) -> int:
    ad = _adapter(args)
    s = ad.session
    if args.bars:
        s.check_bars(*args.bars)
        a, b = s.bar_sample(args.bars[0]), s.bar_sample(args.bars[1] + 1)
    else:
        a, b = 0, s.end_sample()
    if args.bus:
        s.route(args.bus)
    path, res = ad.export(a, b, args.out, solo=None if args.bus in (None, "Master") else args.bus)
    print(f"wrote {path} ({(b - a) / s.sample_rate:.2f} s at {s.sample_rate} Hz) in {res.seconds:.1f} s")
    return 0


def cmd_stale(args: argparse.Namespace) -> int:
    ad = _adapter(args)
    rows = ad.stale()
    for x in rows:
        print(f"{x.state:<8} {x.record.take_id}  {x.record.track!r} bars {x.record.bars[0]}-{x.record.bars[1]}"
              + (f"  (bar lines moved up to {x.max_shift_ms:.1f} ms)" if x.state in ("stale", "moved") else ""))
    if not rows:
        print("no takes in this session")
    return 0


def cmd_resing(args: argparse.Namespace) -> int:
    ad = _adapter(args, needs_source=True)
    bar = _progress()
    try:
        done = ad.resing(args.take, progress=bar, include_moved=args.include_moved,
                         use_session_tempo=args.use_session_tempo)
    finally:
        bar.close()
        _close(ad)
    for rec in done:
        _print_record(rec, False)
    if not done:
        print("no stale takes: nothing to sing again")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    rec = _adapter(args).link(args.take)
    print(f"take {rec.take_id} is region {rec.region_id} on {rec.track!r}")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from host_bridge.daw.ardour import runner as R

    cfg = args.config_dir or R.ardour_config_dir()
    scripts = cfg / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    src = R.plugin_dir() / "topline_sing.lua"
    shutil.copyfile(src, scripts / src.name)
    export = cfg / "export"
    export.mkdir(parents=True, exist_ok=True)
    for name in ("topline-float.preset", "topline-float.format"):
        shutil.copyfile(R.plugin_dir() / "export" / name, export / name)
    from host_bridge.core.frozen import is_frozen

    # a standalone build is the program itself (regression: it printed "<program> -m host_bridge.cli")
    topline = shutil.which("topline") or (sys.executable if is_frozen() else f"{sys.executable} -m host_bridge.cli")
    print(f"installed {scripts / src.name} and the export preset in {export}\n"
          f"In Ardour: Edit > Lua Scripts > Script Manager > Action Scripts: pick an empty slot, add "
          f"'Topline: sing the selection', then bind it to a key (Window > Keyboard Shortcuts).\n"
          f"The action runs: {topline}")
    return 0
