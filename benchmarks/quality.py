"""Quality benchmark: sing every benchmark song through the real pipeline and meter the stems.

    nice -n 10 .venv/bin/python benchmarks/quality.py [--songs a,b] [--artists heart,michael] [--speech-floor]

Each song (benchmarks/songs.py) is written to a folder as the CLI reads it (instrumental WAV at
the song's rate, lyrics sheet, guide MIDI with tempo and meter), read back with the CLI's own
readers, and sung with ``Pipeline().generate(GenerateRequest(...))``. The dry stem is then
metered against the song's notes (benchmarks/meters.py): pitch on the steady part of notes,
voicing, vowel arrival, Whisper-base WER in the song's language (beside the same voice speaking
the same lyrics: the speech floor), the register used, stem length/rate, real-time factor.
Per-song lines per artist, then the figures pooled over the set with PASS/FAIL against the
targets; the songs written after the singing rules were tuned (``held_out``) are pooled apart.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import meters as M  # noqa: E402
from benchmarks.songs import SONGS, Song, write_song  # noqa: E402
from host_bridge.core.model.language import is_english  # noqa: E402

log = logging.getLogger("benchmarks.quality")

TARGETS: list[tuple[str, str, float, str]] = [
    # key in the overall dict, comparison, threshold, label
    ("median_abs_cents", "<=", 15.0, "median |cents| on steady frames"),
    ("pct_frames_within_50c", ">=", 95.0, "% steady frames within 50 cents"),
    ("pct_notes_within_50c", ">=", 97.0, "% notes within 50 cents"),
    ("pct_note_time_voiced", ">=", 88.0, "% note time voiced"),
    ("arrival_median_abs_ms", "<=", 20.0, "median |vowel arrival| (ms, calibrated)"),
    ("wer_unguessable", "<=", 20.0, "WER % on unguessable English lyrics"),
    ("wer_guessable", "<=", 10.0, "WER % on guessable English lyrics"),
    ("sung_over_spoken", "<=", 2.5, "sung / spoken WER, English (needs --speech-floor)"),
    ("other_languages_over_spoken", "<=", 2.5, "sung / spoken WER, worst other language (needs --speech-floor)"),
    ("length_rate_exact", "==", 1.0, "stem length and rate exact on every song"),
]


def _passes(v: Any, op: str, thr: float) -> bool:
    if v is None:
        return False
    v = float(v)
    return v <= thr if op == "<=" else v >= thr if op == ">=" else v == thr


def sung_pitches(take: Any) -> list[tuple[float, float]]:
    """(onset seconds, sung MIDI pitch) of the take's score (after register placement)."""
    tm = take.score.tempo_map
    return [(tm.seconds_at(n.onset), float(n.pitch)) for n in take.score.notes]


def reference_notes(song: Song, sung: list[tuple[float, float]] | None) -> list[M.NoteRef]:
    tm = song.tempo_map
    onsets = np.array([t for t, _ in sung]) if sung else np.zeros(0)
    out = []
    for n in song.notes():
        a, b = tm.seconds_at(n.onset), tm.seconds_at(n.onset + n.duration)
        sm = None
        if len(onsets):
            i = int(np.argmin(np.abs(onsets - a)))
            if abs(onsets[i] - a) < 0.01:
                sm = sung[i][1]  # type: ignore[index]
        out.append(M.NoteRef(a, b, float(n.pitch), n.syllable, n.line, sm))
    return out


def line_words(song: Song) -> dict[int, list[str]]:
    return {i: M.lyrics_words(ln.lyrics) for i, ln in enumerate(song.lines)}


def run_song(song: Song, artist: str, seed: int, pipe: Any, folder: Path, args: argparse.Namespace,
             transcriber: M.Transcriber | None) -> tuple[dict[str, Any], list[M.NoteResult]]:
    from host_bridge.core.audio import read_audio
    from host_bridge.core.model import LyricsSheet
    from inference.pipeline import GenerateRequest

    paths = write_song(song, folder, lyric_events=args.lyric_events)
    audio, sr = read_audio(paths["instrumental"])
    sheet = LyricsSheet.load(paths["lyrics"])
    req = GenerateRequest(lyrics_text=sheet.text_with_sections(), sample_rate=sr, length_samples=audio.shape[1],
                          tempo_map=None, melody_midi=paths["melody"].read_bytes(), instrumental=audio,
                          artist=artist, seed=seed, channels=1,
                          lyrics_source=str(paths["lyrics"]), melody_source=str(paths["melody"]))
    t0 = time.perf_counter()
    take = pipe.generate(req)
    gen_s = time.perf_counter() - t0
    if args.keep:
        import soundfile as sf

        sf.write(str(folder / "take.wav"), take.audio.T, take.sample_rate, subtype="FLOAT")
        mix = take.audio.mean(0) * 0.8 + audio.mean(0) * 0.5
        sf.write(str(folder / "mix.wav"), mix, sr, subtype="PCM_16")
    notes = reference_notes(song, sung_pitches(take))
    t1 = time.perf_counter()
    summ, per_note = M.measure_pitch(take.audio, take.sample_rate, notes, model=args.crepe)
    crepe_s = time.perf_counter() - t1
    res: dict[str, Any] = {"song": song.name, "artist": artist, "sample_rate": sr,
                           "duration_s": round(song.duration_s, 2), "unguessable": song.unguessable,
                           "language": song.language, "held_out": song.held_out, **summ}
    res.update(M.length_rate_match(take.audio, take.sample_rate, audio, sr))
    res["rtf"] = round(gen_s / song.duration_s, 3)
    res["rtf_render"] = round(take.timings.get("render", float("nan")) / song.duration_s, 3)
    res["generate_s"] = round(gen_s, 2)
    res["crepe_s"] = round(crepe_s, 2)
    res["register"] = take.register
    phrases = take.register.get("phrases", [])
    res["octave"] = max((p.get("octave_shift", 0) for p in phrases), key=abs, default=0)
    res["shifted_st"] = round(max((p.get("pitch_shift_semitones", 0.0) for p in phrases), default=0.0), 1)
    if transcriber is not None:
        chunks = M.chunk_lines(notes, line_words(song), audio_end_s=take.audio.shape[1] / take.sample_rate)
        w = transcriber.score(take.audio, take.sample_rate, chunks, language=song.language.split("-")[0])
        res.update({"wer": w["wer"], "wer_errors": w["errors"], "wer_ref_words": w["ref_words"],
                    "hyp": w["hyp"], "chunks": w["chunks"]})
    if transcriber is not None and args.speech_floor:
        res.update(speech_floor(song, artist, transcriber, args))
    return res, per_note


_speech: dict[str, Any] = {}
_floors: dict[tuple[str, str], dict[str, Any]] = {}
"""Speech floors measured in this run, by (song, artist): the same for every seed of a song."""


def speech_floor(song: Song, artist: str, transcriber: M.Transcriber, args: argparse.Namespace) -> dict[str, Any]:
    """WER of plain (unedited) Kokoro speech of the same lyrics, same voice, same language, same
    meter: what the WER meter gives on clean speech, the floor a sung take can hope for (measured
    once per song and artist in a run; the seed changes only the singing)."""
    key = (song.name, artist)
    if key not in _floors:
        _floors[key] = _measure_speech_floor(song, artist, transcriber, args)
    return dict(_floors[key])


def _measure_speech_floor(song: Song, artist: str, transcriber: M.Transcriber,
                          args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.baseline import KokoroSpeech
    from host_bridge.core.artists import get_artist

    if song.language not in _speech:
        _speech[song.language] = KokoroSpeech(threads=args.threads, language=song.language)
    sp = _speech[song.language]
    sp.voice = dict(get_artist(artist).voice)
    y, spans = sp.speak_lines([ln.lyrics.replace("-", "") for ln in song.lines])
    words = line_words(song)
    notes = [M.NoteRef(a, b, 60.0, line=i) for i, (a, b) in enumerate(spans)]
    w = transcriber.score(y[None], sp.sample_rate, M.chunk_lines(notes, words, pad_s=(0.1, 0.1)),
                          language=song.language.split("-")[0])
    return {"speech_wer": w["wer"], "speech_wer_errors": w["errors"], "speech_hyp": w["hyp"]}


def overall(results: list[dict[str, Any]], per_note: list[M.NoteResult], offset_s: float) -> dict[str, Any]:
    o = M.summarise(per_note, offset_s)
    o["songs"] = len(results)
    o["length_rate_exact"] = float(all(r["rate_match"] and r["length_match"] for r in results))
    english = [r for r in results if is_english(r["language"])]
    for key, sel in (("wer_all", lambda r: r in english), ("wer_unguessable", lambda r: r["unguessable"] and r in english),
                     ("wer_guessable", lambda r: not r["unguessable"] and r in english)):
        rs = [r for r in results if "wer" in r and sel(r)]
        ref = sum(r["wer_ref_words"] for r in rs)
        o[key] = round(100.0 * sum(r["wer_errors"] for r in rs) / ref, 1) if ref else None
        sp = [r for r in rs if "speech_wer" in r]
        if sp:
            o["speech_" + key] = round(100.0 * sum(r["speech_wer_errors"] for r in sp)
                                       / sum(r["wer_ref_words"] for r in sp), 1)
    if o.get("speech_wer_all"):
        o["sung_over_spoken"] = round(o["wer_all"] / max(o["speech_wer_all"], 2.0), 2)
    ratios = {}
    for lang in sorted({r["language"] for r in results if not is_english(r["language"])}):
        rs = [r for r in results if r["language"] == lang and "wer" in r and "speech_wer" in r]
        if rs:
            sung = sum(r["wer_errors"] for r in rs) / sum(r["wer_ref_words"] for r in rs)
            spoken = sum(r["speech_wer_errors"] for r in rs) / sum(r["wer_ref_words"] for r in rs)
            ratios[lang] = round(sung / max(spoken, 0.02), 2)
            o[f"wer_{lang}"] = round(100 * sung, 1)
            o[f"speech_wer_{lang}"] = round(100 * spoken, 1)
    if ratios:
        o["other_languages_over_spoken"] = max(ratios.values())
    dur = sum(r["duration_s"] for r in results)
    o["rtf"] = round(sum(r["rtf"] * r["duration_s"] for r in results) / dur, 3) if dur else None
    o["rtf_render"] = round(sum(r["rtf_render"] * r["duration_s"] for r in results) / dur, 3) if dur else None
    return o


COLS = [("song", "song", 14), ("language", "lang", 5), ("sample_rate", "rate", 6), ("median_abs_cents", "|c|", 5),
        ("pct_frames_within_50c", "fr50%", 6), ("pct_notes_within_50c", "nt50%", 6),
        ("notes_octave_placed", "8va", 4), ("notes_octave_slipped", "slip", 4),
        ("pct_note_time_voiced", "voic%", 6), ("arrival_median_ms", "arr", 6),
        ("arrival_median_abs_ms", "|arr|", 6), ("octave", "oct", 4), ("shifted_st", "shift", 5),
        ("wer", "WER%", 6), ("speech_wer", "spk%", 6), ("length_match", "len", 4),
        ("rate_match", "rate", 4), ("rtf", "RTF", 6)]


def print_row(r: dict[str, Any]) -> None:
    print(" ".join(f"{M.fmt(r.get(k)):>{w}}" if k != "song" else f"{str(r.get(k)):<{w}}" for k, _, w in COLS),
          flush=True)


def seed_list(args: argparse.Namespace) -> list[int]:
    """The seeds every song is sung with: ``--seeds 0,1`` (each song once per seed, pooled), else ``--seed``."""
    return [int(x) for x in args.seeds.split(",") if x.strip()] if args.seeds else [args.seed]


def run_artist(artist: str, names: list[str], pipe: Any, transcriber: M.Transcriber | None, offset: float,
               base: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Every song sung by ``artist``: per-song lines, then the pooled figures (all songs, and the
    held-out songs apart) with the targets' verdicts."""
    print(f"## artist {artist}", flush=True)
    print(" ".join(f"{h:<{w}}" if k == "song" else f"{h:>{w}}" for k, h, w in COLS))
    results: list[dict[str, Any]] = []
    notes_of: dict[str, list[M.NoteResult]] = {}
    seeds = seed_list(args)
    for name, seed in ((n, s) for n in names for s in seeds):
        label = name if len(seeds) == 1 else f"{name} s{seed}"
        try:
            r, per_note = run_song(SONGS[name], artist, seed, pipe, base / artist / label.replace(" ", "_"), args,
                                   transcriber)
        except Exception as e:  # one broken song must not hide the others' figures
            log.exception("song %s failed", label)
            results.append({"song": label, "error": f"{type(e).__name__}: {e}"})
            print(f"{label:<14} FAILED: {type(e).__name__}: {e}", flush=True)
            continue
        r.update(song=label, seed=seed)
        results.append(r)
        notes_of[label] = per_note
        print_row(r)
        if "hyp" in r:
            print(f"{'':14}   heard: {r['hyp']}", flush=True)
        if "speech_wer" in r:
            print(f"{'':14}   plain speech WER {r['speech_wer']:.1f} %: {r['speech_hyp']}", flush=True)
    ok = [r for r in results if "error" not in r]
    pools = {"all": ok, "held_out": [r for r in ok if r["held_out"]], "tuned": [r for r in ok if not r["held_out"]]}
    out: dict[str, Any] = {"artist": artist, "songs": results}
    for pool, rs in pools.items():
        if not rs:
            continue
        o = overall(rs, [n for r in rs for n in notes_of[r["song"]]], offset)
        o.update(song=f"[{pool}]", language="-", sample_rate="-", wer=o["wer_all"],
                 length_match=all(r["length_match"] for r in rs), rate_match=all(r["rate_match"] for r in rs))
        o["speech_wer"] = o.get("speech_wer_all")
        print_row(o)
        out[pool] = o
    o = out.get("all", {})
    print(f"# WER (English): unguessable {M.fmt(o.get('wer_unguessable'))} %, guessable "
          f"{M.fmt(o.get('wer_guessable'))} %, speech floor {M.fmt(o.get('speech_wer_all'))} %; other languages "
          + ", ".join(f"{k[4:]} {o[k]} % (spoken {o.get('speech_' + k)} %)" for k in o
                      if k.startswith("wer_") and k[4:] not in ("all", "unguessable", "guessable")))
    failed = [r["song"] for r in results if "error" in r]
    verdicts = []
    for key, op, thr, label in TARGETS:
        p = _passes(o.get(key), op, thr) and not failed
        verdicts.append({"target": label, "value": o.get(key), "op": op, "threshold": thr, "pass": p})
        print(f"{'PASS' if p else 'FAIL'}  {label}: {M.fmt(o.get(key))} (target {op} {thr:g})", flush=True)
    if failed:
        print(f"FAIL  songs that did not render: {', '.join(failed)}")
    out["targets"] = verdicts
    return out


def results_table(runs: list[dict[str, Any]]) -> str:
    """Markdown for benchmarks/RESULTS.md: per artist and song, then the pooled lines."""
    head = ("| artist | song | lang | notes in 50c % | voiced % | arrival ms | octave | shift st | WER % | "
            "spoken WER % |\n|---|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for run in runs:
        for r in run["songs"] + [run[k] for k in ("tuned", "held_out", "all") if k in run]:
            if "error" in r:
                rows.append(f"| {run['artist']} | {r['song']} | failed: {r['error'][:60]} |||||||")
                continue
            rows.append(f"| {run['artist']} | {r['song']} | {r.get('language', '-')} | "
                        f"{M.fmt(r.get('pct_notes_within_50c'))} | {M.fmt(r.get('pct_note_time_voiced'))} | "
                        f"{M.fmt(r.get('arrival_median_abs_ms'))} | {r.get('octave', '-')} | "
                        f"{M.fmt(r.get('shifted_st'))} | {M.fmt(r.get('wer'))} | {M.fmt(r.get('speech_wer'))} |")
    verdicts = [f"- {run['artist']}: " + "; ".join(f"{'PASS' if v['pass'] else 'FAIL'} {v['target']} "
                                                   f"{M.fmt(v['value'])}" for v in run["targets"]) for run in runs]
    return "\n".join(rows) + "\n\n" + "\n".join(verdicts)


NATIVE = {"en-us": "heart", "en-gb": "emma", "de": "greta", "es": "marisol", "fr": "siwis", "it": "sara",
          "pt-br": "flor"}
"""Who sings a song of each language under ``--artists native``."""


def _native(language: str) -> str:
    return NATIVE.get(language, "heart")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--songs", default="", help=f"comma-separated, from: {', '.join(SONGS)}")
    ap.add_argument("--artists", default=None,
                    help="comma-separated artist presets (default: the project's default); 'native': each song "
                         "sung by its language's artist (" + ", ".join(f"{k} {v}" for k, v in NATIVE.items()) + ")")
    ap.add_argument("--json", type=Path, help="write every figure to this JSON file")
    ap.add_argument("--crepe", default="tiny", choices=("tiny", "full"), help="CREPE model for the pitch meter")
    ap.add_argument("--no-wer", action="store_true", help="skip Whisper")
    ap.add_argument("--lyric-events", action="store_true", help="put the syllables into the guide MIDI as lyric events")
    ap.add_argument("--speech-floor", action="store_true",
                    help="also transcribe plain Kokoro speech of each song's lyrics (the WER meter's floor)")
    ap.add_argument("--keep", type=Path, help="keep each song's files, take.wav and mix.wav under this folder")
    ap.add_argument("--no-record", action="store_true", help="do not write benchmarks/RESULTS.md")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", default=None,
                    help="comma-separated: sing every song once per seed and pool them (Whisper's reading of one "
                         "take swings by +-10 points on a 40-word song)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from benchmarks.results import machine_line, record
    from inference.pipeline import Pipeline
    from host_bridge.core.artists import DEFAULT_ARTIST

    names = [s for s in args.songs.split(",") if s] or list(SONGS)
    unknown = [n for n in names if n not in SONGS]
    if unknown:
        ap.error(f"unknown song(s) {unknown}; choose from {', '.join(SONGS)}")
    native = args.artists == "native"
    artists = ([a for a in dict.fromkeys(_native(SONGS[n].language) for n in names)] if native
               else [a for a in (args.artists or DEFAULT_ARTIST).split(",") if a])

    print(f"# quality benchmark: artists {', '.join(artists)}, crepe {args.crepe}, {len(names)} songs; "
          f"{machine_line()}, load {os.getloadavg()[0]:.1f}", flush=True)
    t0 = time.perf_counter()
    pipe = Pipeline(threads=args.threads)
    pipe.warm_up()
    warm_s = time.perf_counter() - t0
    offset = M.arrival_offset_s(args.crepe)
    transcriber = None if args.no_wer else M.Transcriber(threads=args.threads, seed=args.seed)
    print(f"# pipeline warm-up {warm_s:.1f} s; arrival meter offset (ideal tone) {1000 * offset:.1f} ms, subtracted",
          flush=True)
    with tempfile.TemporaryDirectory() as td:
        runs = [run_artist(a, [n for n in names if not native or _native(SONGS[n].language) == a], pipe,
                           transcriber, offset, args.keep or Path(td), args) for a in artists]
    if args.json:
        args.json.write_text(json.dumps({"crepe": args.crepe, "warm_up_s": round(warm_s, 2),
                                         "arrival_offset_ms": round(1000 * offset, 1), "runs": runs},
                                        indent=1, default=str))
    if not args.no_record:
        record("quality.py" + (" --artists native" if native else ""), f"`quality.py --songs {','.join(names)} --artists {','.join(artists)}"
               f"{' --seeds ' + args.seeds if args.seeds else ''}{' --speech-floor' if args.speech_floor else ''}`"
               "\n\n" + results_table(runs))
    return 0 if all(v["pass"] for run in runs for v in run["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
