"""Quick development meter for the kokoro engine: render a few songs, measure pitch, voicing,
vowel arrival, real-time factor (and optionally Whisper WER).

    nice -n 10 .venv/bin/python -m benchmarks.dev_kokoro [--songs fast,waltz] [--wer] [--no-correct] [--out out/dev]

Songs are built here with phonemizer directly (a tiny maximal-onset syllabifier), so the script
does not depend on the front end. Pitch uses benchmarks.meters (torchcrepe) when it imports,
else pyworld harvest. Not part of the test run.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from host_bridge.core.model import MeterChange, Note, Phonemes, Score, TempoChange, TempoMap
from host_bridge.core.artists import Artist, Style, get_artist

VOWEL_CHARS = set("aeiouæɑɒɔəɛɜɪʊʌɐɚɝᵻᵊ")
LEGAL_ONSETS = {"pl", "bl", "kl", "ɡl", "fl", "sl", "pɹ", "bɹ", "tɹ", "dɹ", "kɹ", "ɡɹ", "fɹ", "θɹ", "ʃɹ", "tw",
                "dw", "kw", "sw", "ɡw", "sp", "st", "sk", "sm", "sn", "spl", "spɹ", "stɹ", "skɹ", "skw", "pj",
                "bj", "kj", "fj", "mj", "hj", "vj", "nj", "lj"}

# (lyrics line with hyphenated syllables, [(midi, beats), ...]); '_' = melisma note
SONGS: dict[str, dict] = {
    "twinkle_alt": dict(bpm=100, meter=(4, 4), lines=[
        ("pur-ple lem-ons dance at night", [(60, 1), (60, 1), (67, 1), (67, 1), (69, 1), (69, 1), (67, 2)]),
        ("qui-et riv-ers hold the light", [(65, 1), (65, 1), (64, 1), (64, 1), (62, 1), (62, 1), (60, 2)]),
    ]),
    "fast_folk": dict(bpm=132, meter=(6, 8), lines=[
        ("cop-per ket-tles rat-tle in the barn to-night",
         [(62, .5), (64, .5), (66, .5), (67, .5), (69, .5), (71, .5), (72, .5), (71, .5), (69, .5), (67, 1), (66, 1.5)]),
        ("bright green pep-pers jump a-cross my win-dow sill",
         [(74, .5), (72, .5), (71, .5), (69, .5), (67, .5), (66, .5), (64, .5), (62, .5), (64, .5), (66, .5), (67, 1.5)]),
    ]),
    "waltz_high": dict(bpm=96, meter=(3, 4), lines=[
        ("ev-ery gar-den keeps a sil-ver _ spoon",
         [(64, 1), (67, 1), (72, 1), (76, 2), (74, 1), (72, 1), (71, 1), (69, 0.5), (71, 0.5), (72, 3)]),
        ("yel-low lan-terns float a-bove the dune",
         [(72, 1), (71, 1), (69, 1), (67, 2), (65, 1), (64, 1), (62, 1), (64, 1), (60, 3)]),
    ]),
    "reel_140": dict(bpm=140, meter=(4, 4), lines=[
        ("sil-ver buck-ets tum-ble down the mar-ble stairs",
         [(67, .5), (69, .5), (71, .5), (72, .5), (74, .5), (72, .5), (71, .5), (69, .5), (67, .5), (66, .5), (67, 1)]),
        ("fif-ty but-tons hid-den in a pock-et full of pears",
         [(62, .5), (64, .5), (66, .5), (67, .5), (69, .5), (71, .5), (72, .5), (71, .5), (69, .5), (67, .5), (66, .5),
          (64, .5), (62, 1)]),
    ]),
    "hymn_slow": dict(bpm=70, meter=(4, 4), lines=[
        ("sev-en stub-born hors-es sleep", [(57, 1), (59, 1), (60, 1.5), (62, .5), (64, 1), (62, 1), (60, 2)]),
        ("un-der blank-ets made of wheat", [(60, 1), (62, 1), (64, 1.5), (65, .5), (67, 1), (64, 1), (60, 2)]),
    ]),
}


def _is_vowel(p: str) -> bool:
    return any(c in VOWEL_CHARS for c in p)


def syllabify(phones: list[str], n: int) -> list[Phonemes]:
    stress = [2 if "ˈ" in p else 1 if "ˌ" in p else 0 for p in phones]
    bare = [p.replace("ˈ", "").replace("ˌ", "") for p in phones]
    vid = [i for i, p in enumerate(bare) if _is_vowel(p)]
    if len(vid) != n or n == 0:
        return [Phonemes((), tuple(bare) or ("ə",), (), 2)] + [Phonemes((), ("ə",), (), 0)] * (n - 1)
    bounds = [0]
    for a, b in zip(vid[:-1], vid[1:]):
        cons = bare[a + 1:b]
        k = 0
        for j in range(len(cons) + 1):
            tail = "".join(cons[len(cons) - j:])
            if j == 0 or (j == 1 and cons[-1] != "ŋ") or tail in LEGAL_ONSETS:
                k = j
        bounds.append(b - k)
    bounds.append(len(bare))
    return [Phonemes(tuple(bare[s:v]), (bare[v],), tuple(bare[v + 1:e]), stress[v])
            for s, e, v in zip(bounds[:-1], bounds[1:], vid)]


_backend = None


def phonemize_words(words: list[str]) -> list[list[str]]:
    global _backend
    from phonemizer.backend import EspeakBackend
    from phonemizer.separator import Separator
    if _backend is None:
        _backend = EspeakBackend("en-us", with_stress=True, language_switch="remove-flags")
    line = _backend.phonemize([" ".join(words)], separator=Separator(phone=" ", word=" | "), strip=True)[0]
    ws = [w.split() for w in line.split(" | ")]
    if len(ws) != len(words):
        ws = [_backend.phonemize([w], separator=Separator(phone=" ", word=""), strip=True)[0].split() for w in words]
    return ws


def build_score(song: dict, transpose: float = 0.0, lead_qn: float = 1.0) -> tuple[Score, list[str]]:
    notes: list[Note] = []
    qn = lead_qn
    word_idx = 0
    texts = []
    for li, (text, mel) in enumerate(song["lines"]):
        toks = text.split()
        words = [t for t in toks if t != "_"]
        texts.append(" ".join(w.replace("-", "") for w in words))
        phon = phonemize_words([w.replace("-", "") for w in words])
        sylls: list[tuple[str, Phonemes | None, int]] = []
        wi = 0
        for t in toks:
            if t == "_":
                sylls.append(("", None, word_idx - 1))
                continue
            parts = t.split("-")
            for s, ph in zip(parts, syllabify(phon[wi], len(parts))):
                sylls.append((s, ph, word_idx))
            wi += 1
            word_idx += 1
        assert len(sylls) == len(mel), (text, len(sylls), len(mel))
        for (syl, ph, w), (p, beats) in zip(sylls, mel):
            notes.append(Note(qn, beats, p + transpose, syl, ph, w, li))
            qn += beats
        qn += 1.0  # a breath between lines
    tm = TempoMap((TempoChange(0.0, song["bpm"]),), (MeterChange(1, *song["meter"]),))
    return Score(tuple(notes), tm, tuple(texts)), texts


def pitch_figures(audio: np.ndarray, sr: int, score: Score, sung_offsets: dict[float, float]) -> dict:
    try:
        from benchmarks import meters
        refs = [meters.NoteRef(*score.note_seconds(n), float(n.pitch), n.syllable, n.line,
                               float(n.pitch) + sung_offsets.get(n.onset, 0.0)) for n in score.notes]
        summary, _ = meters.measure_pitch(audio, sr, refs)
        summary["meter"] = "crepe-tiny"
        return summary
    except Exception as e:  # noqa: BLE001 - dev fallback
        logging.getLogger(__name__).warning("crepe meter unavailable (%s); using harvest", e)
        import pyworld as pw
        x = audio.astype(np.float64)
        f0, t = pw.harvest(x, sr, f0_floor=60, f0_ceil=1000, frame_period=10)
        errs, within, voiced_t, tot = [], [], 0.0, 0.0
        for n in score.notes:
            a, b = score.note_seconds(n)
            d = b - a
            m = (t >= a + .2 * d) & (t < a + .8 * d) & (f0 > 0)
            whole = (t >= a) & (t < b)
            voiced_t += d * float(np.mean(f0[whole] > 0)) if whole.any() else 0
            tot += d
            if m.any():
                c = 1200 * np.log2(f0[m] / (440 * 2 ** ((n.pitch - 69) / 12)))
                c -= 1200 * round(float(np.median(c)) / 1200)
                errs += list(np.abs(c))
                within.append(abs(np.median(c)) <= 50)
            else:
                within.append(False)
        e = np.array(errs)
        return {"meter": "harvest", "median_abs_cents": round(float(np.median(e)), 1),
                "pct_frames_within_50c": round(100 * float(np.mean(e <= 50)), 1),
                "pct_notes_within_50c": round(100 * float(np.mean(within)), 1),
                "pct_note_time_voiced": round(100 * voiced_t / tot, 1)}


def wer_figure(audio: np.ndarray, sr: int, texts: list[str]) -> dict:
    from benchmarks import meters
    from faster_whisper import WhisperModel
    import soxr
    m = WhisperModel(str(meters.whisper_model_dir()), device="cpu", compute_type="int8", cpu_threads=2)
    x = soxr.resample(audio, sr, 16000).astype(np.float32)
    segs, _ = m.transcribe(x, language="en", beam_size=5, temperature=0.0, condition_on_previous_text=False)
    hyp = " ".join(s.text for s in segs)
    ref = meters.normalise_words(" ".join(texts))
    return {"wer": round(meters.wer(ref, meters.normalise_words(hyp)), 1), "hyp": hyp}


def render_song(engine, key: str, artist: Artist, transpose: float = 0.0):
    score, texts = build_score(SONGS[key], transpose)
    sr = engine.sample_rate
    end = score.tempo_map.seconds_at(score.end_qn) + 1.0
    buf = np.zeros(int(end * sr), np.float32)
    t0 = time.perf_counter()
    c0 = time.process_time()
    infos, offsets = [], {}
    for ph in engine.render(score, artist):
        i = int(round(ph.start_s * sr))
        a = ph.audio[0]
        if i < 0:
            a, i = a[-i:], 0
        n = min(len(a), len(buf) - i)
        buf[i:i + n] += a[:n]
        infos.append({k: v for k, v in ph.info.items() if k not in ("voice",)})
        for orig, sung in zip([n for n in score.notes if n.onset in {x.onset for x in ph.notes}], ph.notes):
            offsets[orig.onset] = sung.pitch - orig.pitch
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    dur = score.tempo_map.seconds_at(score.end_qn) - score.tempo_map.seconds_at(score.start_qn)
    return score, texts, buf, dict(rtf_wall=round(wall / dur, 3), rtf_cpu_per_core=round(cpu / 2 / dur, 3),
                                   audio_s=round(dur, 2), phrases=infos), offsets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--songs", default=",".join(SONGS))
    ap.add_argument("--artist", default="alpha")
    ap.add_argument("--wer", action="store_true")
    ap.add_argument("--no-correct", action="store_true")
    ap.add_argument("--out", default="out/dev_kokoro")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("phonemizer").setLevel(logging.ERROR)
    from inference.engines.kokoro import KokoroEngine
    eng = KokoroEngine(threads=2, correct_pitch=not args.no_correct)
    t = time.perf_counter()
    eng.warm_up()
    print(f"warm_up {time.perf_counter() - t:.2f}s")
    artist = get_artist(args.artist)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import soundfile as sf
    for key in args.songs.split(","):
        score, texts, buf, timing, offs = render_song(eng, key, artist)
        sf.write(out / f"{key}_{args.artist}.wav", buf, eng.sample_rate)
        res = {"song": key, **{k: v for k, v in timing.items() if k != "phrases"}}
        res["octave"] = timing["phrases"][0]["octave_shift"]
        res["max_shift"] = max(p["pitch_shift_semitones"] for p in timing["phrases"])
        res.update(pitch_figures(buf, eng.sample_rate, score, offs))
        if args.wer:
            res.update(wer_figure(buf, eng.sample_rate, texts))
        print(json.dumps(res))


if __name__ == "__main__":
    main()
