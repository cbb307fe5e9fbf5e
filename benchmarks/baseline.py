"""Baseline for the benchmarks: plain Kokoro-82M speech, the unedited model from the PyPI parts.

The same model file the engine edits, run as it was published (tokens, style, speed -> audio),
speaking the lyrics line by line. speed.py compares the singing engine's real-time factor with
it; quality.py can transcribe it to show the WER meter's floor on clean speech of the same words.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np


_ESPEAK_TO_MISAKI = (("aɪ", "I"), ("aʊ", "W"), ("dz", "ʣ"), ("dʒ", "ʤ"), ("eɪ", "A"), ("oʊ", "O"), ("əʊ", "Q"),
                     ("ts", "ʦ"), ("tʃ", "ʧ"), ("ɔɪ", "Y"))
"""Other languages' espeak phones as misaki writes them for Kokoro (ties to single symbols)."""


class KokoroSpeech:
    """The unedited Kokoro ONNX model on onnxruntime (CPU)."""

    sample_rate = 24_000

    def __init__(self, threads: int = 2, voice: dict[str, float] | None = None, language: str = "en-us") -> None:
        """``language``: what the lines are phonemized as (espeak-ng, mapped to Kokoro's symbols
        as the singing engine maps them)."""
        import onnxruntime as ort

        from inference.engines.kokoro import model as km
        from inference.engines.kokoro.voice_tables import voice_bank
        from inference.frontend.g2p import G2P

        t0 = time.perf_counter()
        src, _ = km.read_source_model()
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.session = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.vocab = km.load_vocab()
        self.voices = voice_bank()
        self.voice = voice or {"jf_alpha": 1.0}
        self.g2p = G2P(language)
        self.language = self.g2p.language
        self.load_s = time.perf_counter() - t0

    def ids(self, text: str) -> np.ndarray:
        words = self.g2p.line(text)
        ipa = " ".join("".join(w) for w in words)
        if not self.language.startswith("en"):  # misaki's espeak symbols, as Kokoro was trained on them
            for a, b in _ESPEAK_TO_MISAKI:
                ipa = ipa.replace(a, b)
        ids = [self.vocab[c] for c in ipa if c in self.vocab]
        return np.array([[0, *ids[:508], 0]], np.int64)

    def speak(self, text: str, speed: float = 1.0) -> np.ndarray:
        """One line of speech: float32 [T] at 24 kHz."""
        ids = self.ids(text)
        style = self.voices.style(self.voice, ids.shape[1] - 2)
        feed: dict[str, Any] = {}
        for name in self.inputs:
            if name in ("tokens", "input_ids"):
                feed[name] = ids
            elif name == "style":
                feed[name] = style
            elif name == "speed":
                feed[name] = np.array([speed], np.float32)
        out = self.session.run(None, feed)[0]
        return np.asarray(out, np.float32).ravel()

    def speak_lines(self, lines: list[str], gap_s: float = 0.3) -> tuple[np.ndarray, list[tuple[float, float]]]:
        """Lines spoken one after another with ``gap_s`` of silence. Returns (float32 [T] at 24 kHz,
        (start, end) seconds of each line)."""
        parts, spans, t = [], [], 0.0
        gap = np.zeros(int(gap_s * self.sample_rate), np.float32)
        for ln in lines:
            a = self.speak(ln)
            spans.append((t, t + len(a) / self.sample_rate))
            parts += [a, gap]
            t += (len(a) + len(gap)) / self.sample_rate
        return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), spans
