"""`topline`: the command line. Thin: parse into a request, call the library, show progress.

The bridge must stay light: nothing here imports torch or the sidecar's models at import time.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from host_bridge.core.engines import ENGINES, engine_info
from host_bridge.core.errors import InputError, ToplineError
from host_bridge.core.artists import DEFAULT_ARTIST

log = logging.getLogger(__name__)

Command = Callable[[argparse.Namespace], int]


class ProgressBar:
    """A one-line progress bar on stderr for (stage, fraction) callbacks."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.t0 = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = ("", -1)

    def __call__(self, stage: str, frac: float) -> None:
        pct = int(round(100 * max(0.0, min(1.0, frac))))
        if (stage, pct) == self._last:
            return
        self._last = (stage, pct)
        fill = int(self.width * pct / 100)
        line = f"{stage:>8} [{'#' * fill}{'.' * (self.width - fill)}] {pct:3d}%  {time.perf_counter() - self.t0:5.1f}s"
        if self.tty:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _positive_tempo(v: str) -> float:
    from host_bridge.core.model.tempo import MAX_BPM, MIN_BPM

    try:
        f = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tempo {v!r} is not a number") from None
    if not MIN_BPM <= f <= MAX_BPM:
        raise argparse.ArgumentTypeError(f"tempo must be {MIN_BPM:g}-{MAX_BPM:g} BPM, got {v}")
    return f


def _midi_has_tempo(path: Path) -> bool:
    from host_bridge.jobfiles import midi_has_tempo

    return midi_has_tempo(path)


def cmd_generate(args: argparse.Namespace) -> int:
    from host_bridge.cli_checks import check_generate_outputs, explain, write_take_files

    out = Path(args.out)
    # Validate every input and output before any model loads, so a typo costs no time.
    mid = check_generate_outputs(out, {"instrumental": args.instrumental, "lyrics": args.lyrics,
                                       "guide melody": args.melody})
    from host_bridge.cli_sidecar import generate_via_sidecar
    from host_bridge.jobfiles import spec_from_files

    spec = spec_from_files(args.instrumental, args.lyrics, args.melody, artist=args.artist, seed=args.seed,
                           tempo=args.tempo, meter=args.meter, tempo_map_midi=args.tempo_map,
                           channels=args.channels, engine=args.engine or "",
                           checkpoint=_checkpoint_dir(args), language=args.language)
    bar = ProgressBar()
    t0 = time.perf_counter()
    try:
        take = generate_via_sidecar(spec, args, progress=bar)  # a warm sidecar, started for the call if none runs
    except ToplineError as e:
        raise explain(e, args.lyrics, args.melody) from None
    bar.close()
    write_take_files(take, out, mid, "FLOAT" if args.float else "PCM_24")
    for w in take.register.get("warnings", []):
        print(f"topline: warning: {w}", file=sys.stderr)
    dur = take.duration_s
    el = time.perf_counter() - t0
    pc = take.register.get("phrase_cache") or {}
    sung = f"; phrases rendered {pc.get('rendered', 0)}, reused {pc.get('reused', 0)}" if pc else ""
    print(f"wrote {out} ({dur:.2f} s, {take.sample_rate} Hz, {take.audio.shape[0]} ch) and {mid}; "
          f"artist {take.artist}, {el:.1f} s ({el / dur:.2f}x real time){sung}")
    return 0


def _checkpoint_dir(args: argparse.Namespace) -> str:
    if args.checkpoint is None:
        if args.engine and engine_info(args.engine).needs_checkpoint:
            raise InputError(f"--engine {args.engine} needs --checkpoint DIR",
                             "point --checkpoint at a folder of that engine's weights (autosing: one made by "
                             "`python -m inference.engines.autosing.train`)")
        return ""
    ck = Path(args.checkpoint)
    if not ck.is_dir():
        raise InputError(f"checkpoint folder {ck} does not exist", "check the path given to --checkpoint")
    return str(ck.resolve())


Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _sidecar_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from host_bridge.cli_sidecar import register

    register(sub)


EXTRA_COMMANDS: list[Registrar] = [_sidecar_commands]
"""Functions adding further subcommands (sidecar, compose, ardour...), each from its own module."""
from host_bridge.daw.ardour.cli import register as _ardour_commands  # noqa: E402 (argparse only)
EXTRA_COMMANDS.append(_ardour_commands)  # `topline ardour ...`
from host_bridge.cli_compose import register as _compose_commands  # noqa: E402 (argparse only)
EXTRA_COMMANDS.append(_compose_commands)  # `topline compose`, `topline analyze`
from host_bridge.cli_artists import register as _artist_commands  # noqa: E402 (argparse only)
EXTRA_COMMANDS.append(_artist_commands)  # `topline audition`, `topline artist create`, `artists` options
from host_bridge.cli_cluster import register as _cluster_commands  # noqa: E402 (argparse only)
EXTRA_COMMANDS.append(_cluster_commands)  # `topline cluster up | status | down`


def build_parser() -> argparse.ArgumentParser:
    from host_bridge.cli_language import add_language_argument

    p = argparse.ArgumentParser(prog="topline", description="Sing lyrics over your instrumental, on your session's grid.")
    from host_bridge.core.frozen import version_line

    p.add_argument("--version", action="version", version=version_line())
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="sing a lyrics sheet over an instrumental")
    g.add_argument("--instrumental", required=True, help="the instrumental (WAV/FLAC/AIFF/OGG, mono or stereo)")
    g.add_argument("--lyrics", required=True, help="lyrics sheet (plain text, [Verse]/[Chorus] headers allowed)")
    g.add_argument("--melody", default=None,
                   help="guide melody, a Standard MIDI File (without it a melody is composed over the instrumental)")
    g.add_argument("--artist", default=DEFAULT_ARTIST, help="who sings (see `topline artists`)")
    g.add_argument("--tempo", type=_positive_tempo, default=None, help="tempo in BPM, when the MIDI file has none")
    from host_bridge.cli_compose import _meter

    g.add_argument("--meter", type=_meter, default=None,
                   help="meter with --tempo when no melody is given, e.g. 3/4 or 6/8 (default 4/4)")
    g.add_argument("--tempo-map", default=None, metavar="MIDI",
                   help="the session's tempo map as a MIDI file, used exactly (when no melody is given)")
    g.add_argument("--seed", type=int, default=0, help="another seed gives another take")
    add_language_argument(g)
    g.add_argument("--engine", choices=tuple(ENGINES), default=None,
                   help="sing with this engine instead of the artist's own")
    g.add_argument("--checkpoint", default=None, help="checkpoint folder, for engines that load user weights")
    g.add_argument("--channels", type=int, choices=(1, 2), default=1, help="stem channels")
    g.add_argument("--float", action="store_true", help="write 32-bit float WAV instead of 24-bit")
    g.add_argument("--threads", type=int, default=2, help="CPU threads for the models")
    g.add_argument("--out", required=True, help="the stem to write (WAV); the sung MIDI goes beside it")
    from host_bridge.cli_sidecar import add_generate_options

    add_generate_options(g)
    g.set_defaults(func=cmd_generate)

    sub.add_parser("artists", help="list the artists (language, range, voice)")
    for reg in EXTRA_COMMANDS:
        reg(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return rc
    except BrokenPipeError:
        # the reader went away (`topline ardour info ... | head -1`): stop quietly, as `cat` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except ToplineError as e:
        print(f"topline: error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"topline: fix: {e.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("topline: interrupted; the job was cancelled and nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
