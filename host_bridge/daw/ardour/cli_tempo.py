"""`topline ardour new` (a session from the song's files) and `topline ardour tempo` (a session's
tempo map from the guide MIDI's), and how a stored guide sits against the session (`info`).

Light to import (argparse only): the library loads when a command runs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register_tempo_commands(asub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """`new` (a session from the song's files) and `tempo` (a session's map from the guide's)."""
    w = asub.add_parser("new", help="a new session from the instrumental and the guide MIDI (or a tempo)",
                        description="Create an Ardour 7 session headless: the instrumental on a track feeding "
                                    "the bus 'Band' from sample 0, the session range over it, the guide MIDI's "
                                    "tempo map (every bar line within 1 ms), the guide stored as `setup` does.")
    w.add_argument("session", help="the new session's folder (its name is the session's)")
    w.add_argument("--instrumental", required=True, help="the instrumental (WAV, FLAC...)")
    w.add_argument("--melody", default=None, help="guide melody MIDI: its tempo map and meters become the session's")
    w.add_argument("--tempo", type=float, default=None, help="tempo in BPM (without a guide, or a guide without tempo)")
    w.add_argument("--meter", default=None, help="time signature with --tempo, e.g. 4/4 (default) or 6/8")
    w.add_argument("--rate", type=int, default=None, help="session sample rate (default: the instrumental's; "
                                                          "another rate resamples it)")
    w.add_argument("--lyrics", default=None, help="lyrics sheet, stored with the session as `setup` does")
    w.add_argument("--artist", default=None, help="who sings (see `topline artists`), stored likewise")
    w.set_defaults(func=cmd_new)

    m = asub.add_parser("tempo", help="replace the session's tempo map by the guide MIDI's (or a tempo)",
                        description="Write the guide MIDI's tempo map and meters (or --tempo/--meter) into the "
                                    "session, as Ardour 7.3 can hold it. Takes placed in beat time move with "
                                    "their bars and turn stale: `topline ardour resing` sings them again.")
    m.add_argument("session")
    m.add_argument("--melody", default=None, help="guide melody MIDI whose tempo map and meters to use")
    m.add_argument("--tempo", type=float, default=None, help="a constant tempo in BPM instead")
    m.add_argument("--meter", default=None, help="time signature with --tempo, e.g. 4/4 (default) or 6/8")
    m.set_defaults(func=cmd_tempo)


def cmd_new(args: argparse.Namespace) -> int:
    from host_bridge.daw.ardour.new_session import new_session
    from host_bridge.daw.ardour.tempo_maps import HOLD_MS

    r = new_session(args.session, args.instrumental, melody=args.melody, tempo=args.tempo, meter=args.meter,
                    rate=args.rate, lyrics=args.lyrics, artist=args.artist)
    rs = f" (resampled from {r.source_rate} Hz)" if r.source_rate != r.sample_rate else ""
    src = f"--tempo {args.tempo:g}" if r.tempo_source == "--tempo" else Path(r.tempo_source).name
    print(f"created {r.file} at {r.sample_rate} Hz{rs}: bars 1-{r.last_bar}, tempo map from {src} "
          f"({len(r.tempo_map.tempos)} tempo point(s), {len(r.written.tempos)} in Ardour), in {r.seconds:.1f} s")
    print(f"  every bar line within {r.max_bar_diff_ms:.3f} ms of {src}'s (largest at bar {r.worst_bar})")
    if not r.held:
        print(f"topline: warning: Ardour 7.3 cannot hold this tempo map within {HOLD_MS:g} ms (tempo points sit on "
              f"whole beats): bar {r.worst_bar} is {r.max_bar_diff_ms:.2f} ms off", file=sys.stderr)
    print(f"next: topline ardour sing {args.session}{'' if args.lyrics else ' --lyrics LYRICS.txt'} "
          f"--bars FIRST-LAST")
    return 0


def cmd_tempo(args: argparse.Namespace) -> int:
    from host_bridge.daw.ardour.new_session import retempo, source_tempo_map
    from host_bridge.daw.ardour.tempo_maps import HOLD_MS

    mel = Path(args.melody).expanduser().resolve() if args.melody else None
    if mel is not None and not mel.is_file():
        from host_bridge.core.errors import InputError

        raise InputError(f"guide melody {mel} is not a file", "pass the guide MIDI file with --melody")
    from host_bridge.daw.ardour.adapter import ArdourAdapter

    ad = ArdourAdapter(args.session)
    source, name = source_tempo_map(mel, args.tempo, args.meter, ad.session.tempo_map.meters)
    fitted, c = retempo(ad.session.dir, source)
    src = f"--tempo {args.tempo:g}" if name == "--tempo" else Path(name).name
    bar, ms = c.worst
    print(f"tempo map of {ad.session.name} now from {src} ({len(fitted.tempos)} tempo point(s) in Ardour): "
          f"bars 1-{c.last + 1} within {abs(ms):.3f} ms of {src}'s (largest at bar {bar})")
    if abs(ms) > HOLD_MS:
        print(f"topline: warning: Ardour 7.3 cannot hold this tempo map within {HOLD_MS:g} ms: bar {bar} is "
              f"{abs(ms):.2f} ms off", file=sys.stderr)
    stale = [x for x in ArdourAdapter(args.session).stale() if x.state in ("stale", "moved")]
    if stale:
        print(f"{len(stale)} take(s) no longer fit their bars: topline ardour resing {args.session}")
    return 0


def guide_line(ad: Any, st: Any) -> str:
    """How the stored guide MIDI's bar lines sit against the session's (empty: nothing to compare)."""
    from host_bridge.daw.ardour.adapter import MELODY_TRACK_PREFIX
    from host_bridge.daw.ardour.tempo_maps import MISMATCH_MS, compare_bar_lines, guide_tempo

    path = ad._resolve(st.melody) if st.melody and not st.melody.startswith(MELODY_TRACK_PREFIX) else None
    last = ad.session.last_bar()
    if path is None or not path.is_file() or last == 0:
        return ""
    g = guide_tempo(path, ad.session.tempo_map.meters)
    if g is None:
        return f"guide {path.name} has no tempo: its notes are placed by the session's map"
    first, end = st.bars or (1, last)
    bar, ms = compare_bar_lines(ad.session.tempo_map, g.tempo_map, first, end).worst
    verdict = "sing refuses it" if abs(ms) > MISMATCH_MS else "agrees"
    return f"guide {path.name} against the session, bars {first}-{end}: up to {abs(ms):.2f} ms (bar {bar}): {verdict}"
