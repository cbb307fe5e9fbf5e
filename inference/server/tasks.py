"""The sidecar's tasks: the CLI's model work other than singing (``topline compose``, ``topline
analyze``, ``topline artist create``), run by the render worker like a job.

Each task reads its options from a :class:`host_bridge.core.protocol.TaskSpec` and returns a
:class:`host_bridge.core.protocol.TaskResult`: plain data the CLI prints, and the files it made (the
picture, the preset) as bytes, so the CLI writes them where the musician asked, on its machine.
What the CLI prints as JSON travels as JSON text (the header's keys are sorted; these keep their order).
"""
from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from host_bridge.core.errors import CancelledError, InputError
from host_bridge.core.model import LyricsSheet, Score, TempoMap
from host_bridge.core.protocol import TaskResult, TaskSpec

Progress = Callable[[str, float], None]


class Options:
    """Typed reads of a task's options; a missing or mistyped one is the caller's error."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self.d = spec.options

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        v = self.d.get(name, default)
        if v is not None and (not isinstance(v, kind) or isinstance(v, bool) and kind is not bool):
            raise InputError(f"{self.spec.kind}: option {name} is {type(v).__name__}",
                             f"send {name} as {getattr(kind, '__name__', kind)}")
        return v

    def tempo_map(self) -> TempoMap | None:
        d = self.get("tempo_map", dict)
        return TempoMap.from_dict(d) if d is not None else None

    def meter(self) -> tuple[int, int] | None:
        m = self.get("meter", list)
        if m is None:
            return None
        if len(m) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in m):
            raise InputError(f"{self.spec.kind}: meter is {m!r}", "send the meter as [numerator, denominator]")
        return int(m[0]), int(m[1])

    def sheet(self) -> LyricsSheet | None:
        text = self.get("lyrics_text", str)
        return LyricsSheet.parse(text, source=self.get("lyrics_source", str, "lyrics")) if text is not None else None

    def audio(self) -> Any:
        if self.spec.audio is None:
            raise InputError(f"{self.spec.kind}: no audio was sent", "send the recording in the 'audio' buffer")
        return self.spec.audio


def _picture(an: Any, score: Score | None, placements: Any, names: list[str]) -> bytes:
    from inference.compose.picture import draw

    with tempfile.TemporaryDirectory(prefix="topline-picture-") as d:
        return draw(an, score, Path(d) / "plan.png", placements=placements, names=names).read_bytes()


def section_names(sheet: LyricsSheet) -> list[str]:
    from inference.compose.composer import lyric_sections

    return [name for name, _, _ in lyric_sections(sheet)]


def compose_task(spec: TaskSpec, progress: Progress | None = None) -> TaskResult:
    """A melody for the lyrics over the instrumental (``topline compose``)."""
    from inference.compose.form import describe, plan_dict
    from inference.compose.stage import compose_over
    from inference.frontend.g2p import G2P

    o = Options(spec)
    sheet = o.sheet()
    if sheet is None:
        raise InputError("compose: no lyrics were sent", "send the lyrics sheet's text in lyrics_text")
    score, an, rep = compose_over(sheet, o.audio(), spec.sample_rate, o.get("low", int), o.get("high", int),
                                  tempo_map=o.tempo_map(), seed=o.get("seed", int, 0), meter=o.meter(),
                                  g2p=G2P(o.get("language", str, "")), progress=progress)
    names = section_names(sheet)
    result: dict[str, Any] = {
        "score": score.to_dict(), "warnings": list(rep.warnings), "key": an.key.name,
        "grid": {"bpm": an.grid.bpm, "numerator": an.grid.numerator, "denominator": an.grid.denominator},
        "plan": describe(rep.placements, names)}
    if o.get("json", bool, False):
        result["plan_json"] = json.dumps(plan_dict(an, score, rep.placements, names))
    files = {"picture": _picture(an, score, rep.placements, names)} if o.get("picture", bool, False) else {}
    return TaskResult(result, files)


def analyze_task(spec: TaskSpec, progress: Progress | None = None) -> TaskResult:
    """Tempo, key, chords per bar and sections of an instrumental (``topline analyze``), with the
    plan of a melody composed for the lyrics when they are sent."""
    from inference.analysis import analyze
    from inference.compose import ComposeReport, compose
    from inference.compose.form import plan_dict

    o = Options(spec)
    an = analyze(o.audio(), spec.sample_rate, tempo_map=o.tempo_map(), meter=o.meter(), progress=progress)
    sheet = o.sheet()
    score, placements, names = None, [], []
    if sheet is not None:
        rep = ComposeReport()
        score = compose(sheet, an, o.get("low", int), o.get("high", int), seed=o.get("seed", int, 0), report=rep)
        placements, names = rep.placements, section_names(sheet)
    g = an.grid
    result: dict[str, Any] = {
        "summary": json.dumps(an.summary()), "chords_per_bar": [[bar, labels] for bar, labels in an.chords_per_bar()],
        "grid": {"bpm": g.bpm, "numerator": g.numerator, "denominator": g.denominator, "source": g.source,
                 "confidence": g.confidence, "agreement": g.agreement},
        "key": {"name": an.key.name, "confidence": an.key.confidence},
        "duration_s": an.duration_s, "bars": an.bars, "loudness_db": an.loudness_db,
        "sections": [{"first_bar": s.first_bar, "last_bar": s.last_bar, "label": s.label, "role": s.role,
                      "energy_db": s.energy_db, "confidence": s.confidence} for s in an.sections],
        "warnings": list(an.warnings)}
    if score is not None:
        result["plan_json"] = json.dumps(plan_dict(an, score, placements, names))
    files = {"picture": _picture(an, score, placements, names)} if o.get("picture", bool, False) else {}
    return TaskResult(result, files)


def artist_create_task(pipeline: Any, spec: TaskSpec, progress: Progress | None = None) -> TaskResult:
    """An artist that sounds like the reference vocal (``topline artist create``). The preset is
    made in a scratch folder and sent back as files (``<name>.json``, and its embedding if any)."""
    from inference.artists.create import create_artist
    from inference.pipeline import GenerateRequest

    o = Options(spec)
    audio, sr = o.audio(), spec.sample_rate
    name, tempo, language = o.get("name", str), o.get("tempo", (int, float)), o.get("language", str, "en-us")
    sheet_text = o.get("lyrics_text", str)
    sung: Score | None = None
    lyrics: str | None = None
    if sheet_text is not None and spec.melody_midi is not None:
        sung = pipeline.score_for(GenerateRequest(
            sheet_text, sr, audio.shape[-1], melody_midi=spec.melody_midi,
            tempo_map=TempoMap.constant(tempo) if tempo else None, language=language,
            lyrics_source=o.get("lyrics_source", str, "lyrics"), melody_source=o.get("melody_source", str, "melody")))
    elif sheet_text is not None:
        lyrics = sheet_text
    with tempfile.TemporaryDirectory(prefix="topline-artist-") as d:
        res = create_artist(pipeline, audio, sr, name, source=o.get("source", str, "reference"), out_dir=Path(d),
                            tempo_bpm=tempo, exclude=list(o.get("exclude", list, [])),
                            max_renders=o.get("max_renders", int, 20), progress=progress, sung=sung, lyrics=lyrics,
                            language=language)
        files = {p.name: p.read_bytes() for p in sorted(Path(d).iterdir())}
    return TaskResult({"summary": res.summary(), "preset": f"{name}.json"}, files)


def run_task(pipeline: Any, spec: TaskSpec, progress: Progress | None = None,
             cancel: threading.Event | None = None) -> TaskResult:
    """Run the task ``spec`` names (on the worker thread, with its warm pipeline)."""
    if cancel is not None and cancel.is_set():
        raise CancelledError(f"the {spec.kind} job was cancelled", "start it again when ready")
    if spec.kind == "compose":
        return compose_task(spec, progress)
    if spec.kind == "analyze":
        return analyze_task(spec, progress)
    if spec.kind == "artist_create":
        return artist_create_task(pipeline, spec, progress)
    raise InputError(f"unknown task {spec.kind!r}", "send compose, analyze or artist_create")
