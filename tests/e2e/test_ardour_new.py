"""`topline ardour new` end to end with the real Ardour 7 (ardour7-lua, headless, Dummy backend).

One session from a 48 kHz instrumental and a guide MIDI with a ritardando in half-beat tempo
steps and a 6/8 section: Ardour's own bar lines against the MIDI's (read from the tempo list,
not through Topline), the instrumental exported back by Ardour at lag 0, a take sung over the
ritardando whose notes start where the MIDI puts them. A second session at 120 BPM (44.1 kHz,
resampled from the same file) against a 72 BPM guide: refused with the file untouched, then sung
on the session's map with the flag. Takes come from the fast noise-burst engine behind the real
pipeline (ardour_noise_engine.py): onsets need sharp edges, not a voice.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ardour_songs import (RIT_BARS, bar_qn, constant_guide, instrumental, rit_guide, rit_notes,  # noqa: E402
                          rit_tempos, seconds_at)

from host_bridge.cli import main  # noqa: E402
from host_bridge.daw.ardour import ArdourAdapter, SingOptions  # noqa: E402
from host_bridge.daw.ardour import runner as R  # noqa: E402
from host_bridge.daw.ardour.records import Settings  # noqa: E402
from inference.take_source import InProcessTakeSource  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not any(shutil.which(b) for b in R.LUA_BINARIES),
                       reason="Ardour 7 headless (ardour7-lua) is not installed: apt-get install ardour"),
]
MEASURED: dict[str, float] = {}


def noise_source() -> InProcessTakeSource:
    from ardour_noise_engine import NoiseBurstPipeline

    return InProcessTakeSource(NoiseBurstPipeline(threads=1))


@pytest.fixture(scope="module", autouse=True)
def report() -> Any:
    yield
    if MEASURED:
        print("\nardour new (ms): " + ", ".join(f"{k}: {v:.3f}" for k, v in MEASURED.items()))


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ardour_new")
    seconds = seconds_at(rit_tempos(), bar_qn(13)) + 0.4  # bars 1-12 and a little of bar 13
    instrumental(root / "mix.wav", 48000, seconds)
    lines = ["la " * 8] * 4  # one "la" per note: 32 notes over bars 5-8
    (root / "lyrics.txt").write_text("[Verse]\n" + "\n".join(x.strip() for x in lines) + "\n")
    return {"root": root, "mix": root / "mix.wav", "guide": rit_guide(root / "rit.mid"),
            "lyrics": root / "lyrics.txt"}


@pytest.fixture(scope="module")
def rit_session(song: dict[str, Path]) -> ArdourAdapter:
    d = song["root"] / "ritsong"
    assert main(["ardour", "new", str(d), "--instrumental", str(song["mix"]), "--melody", str(song["guide"]),
                 "--lyrics", str(song["lyrics"])]) == 0
    return ArdourAdapter(d, take_source=noise_source())


def test_new_holds_every_bar_line_of_a_half_beat_ritardando_and_6_8(rit_session: ArdourAdapter,
                                                                     song: dict[str, Path], tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    ad = rit_session
    s = ad.session
    n = sf.info(str(song["mix"])).frames
    assert s.sample_rate == 48000 and s.session_range() == (0, n)
    assert all(t.qn == int(t.qn) for t in s.tempo_map.tempos)
    assert s.tempo_map.meter_at_bar(9).numerator == 6 and s.tempo_map.meter_at_bar(8).numerator == 4
    st = Settings.load(s.topline_dir)
    assert st.melody == str(song["guide"]) and st.bus == "Band" and st.lyrics == str(song["lyrics"])
    assert main(["ardour", "info", str(s.dir)]) == 0
    assert "guide rit.mid against the session, bars 1-13: up to 0.0" in capsys.readouterr().out
    last = s.last_bar()
    assert last == 13
    path, res = ad.export(0, n, tmp_path / "back.wav", solo="Band", report_bars=(1, last + 1))
    ardour = {int(b): int(x) / s.sample_rate for b, x in res.values("bar")}
    assert sorted(ardour) == list(range(1, last + 2))
    diffs = [abs(ardour[b] - seconds_at(rit_tempos(), bar_qn(b))) * 1000 for b in ardour]
    MEASURED["bar lines vs MIDI, max"] = max(diffs)
    assert max(diffs) < 1.0, diffs  # every bar line of the session within 1 ms of the MIDI's
    # the instrumental, exported back through the bus by Ardour, is the file at lag 0
    back, sr = sf.read(str(path), dtype="float32", always_2d=True)
    src, _ = sf.read(str(song["mix"]), dtype="float32", always_2d=True)
    assert sr == 48000 and back.shape[0] == n
    a, b = src[:, 0], back[:, 0]
    lags = list(range(-48, 49))
    corr = [float(np.dot(a[max(0, -k):n - max(0, k)], b[max(0, k):n - max(0, -k)])) for k in lags]
    assert lags[int(np.argmax(corr))] == 0
    assert np.corrcoef(a, b)[0, 1] > 0.999


def onsets(x: np.ndarray, sr: int, expected: list[float], search_s: float = 0.06) -> list[float]:
    """Where each burst starts near its expected time: the 1 ms frame with the sharpest rise of
    energy (10 ms after over 10 ms before)."""
    hop = sr // 1000
    e = np.convolve(x.astype(np.float64) ** 2, np.ones(hop), "same")[::hop]
    c = np.concatenate([[0.0], np.cumsum(e)])
    out = []
    for t in expected:
        lo, hi = max(10, int((t - search_s) * 1000)), min(len(e) - 10, int((t + search_s) * 1000))
        i = np.arange(lo, hi)
        ratio = (c[i + 10] - c[i] + 1e-12) / (c[i] - c[i - 10] + 1e-12)
        out.append(float(i[int(np.argmax(ratio))]) / 1000.0)
    return out


def test_sing_over_the_ritardando_lands_the_notes_on_the_midis_times(rit_session: ArdourAdapter,
                                                                    song: dict[str, Path]) -> None:
    ad = rit_session
    rec = ad.sing(SingOptions(bars=RIT_BARS))  # lyrics and guide as `new` stored them
    tc = rec.tempo_check
    assert tc["checked"] and not tc["forced"] and tc["max_bar_diff_ms"] < 1.0
    assert tc["guide_tempo"] == "76-99.25 BPM"
    stem = ad.session.dir / rec.stem
    take, sr = sf.read(str(stem), dtype="float32", always_2d=True)
    start = seconds_at(rit_tempos(), bar_qn(RIT_BARS[0]))
    assert abs(rec.bar_samples[0] / sr - start) < 0.001
    want = [seconds_at(rit_tempos(), on) - start for on, _, _ in rit_notes()]
    got = onsets(take[:, 0], sr, want)
    err_ms = np.abs(np.array(got) - np.array(want)) * 1000
    MEASURED["take onsets vs MIDI, median"] = float(np.median(err_ms))
    MEASURED["take onsets vs MIDI, max"] = float(err_ms.max())
    assert np.median(err_ms) < 20.0, err_ms
    meta = json.loads(stem.with_suffix(".json").read_text())
    assert meta["tempo_map_used"]["map"] == "session" and meta["tempo_map_used"]["checked"]


@pytest.fixture(scope="module")
def session_120(song: dict[str, Path]) -> ArdourAdapter:
    d = song["root"] / "at120"
    assert main(["ardour", "new", str(d), "--instrumental", str(song["mix"]), "--tempo", "120",
                 "--rate", "44100"]) == 0
    return ArdourAdapter(d, take_source=noise_source())


def test_new_at_another_rate_resamples_the_instrumental(session_120: ArdourAdapter, song: dict[str, Path]) -> None:
    s = session_120.session
    n48 = sf.info(str(song["mix"])).frames
    files = sorted(s.audiofiles_dir.glob("*.wav"))
    assert len(files) == 2 and s.sample_rate == 44100
    info = sf.info(str(files[0]))
    assert info.samplerate == 44100 and abs(info.frames - n48 * 44100 / 48000) <= 1
    assert [round(t.bpm, 6) for t in s.tempo_map.tempos] == [120.0]


def test_a_failing_session_edit_restores_the_file_and_removes_the_new_sources(session_120: ArdourAdapter) -> None:
    """Placing audio is all or nothing: an edit that fails after the sources were written leaves
    the session file byte-identical and no source file behind (one rollback serves place_audio
    and the placing of a new take)."""
    ad = session_120
    before = ad.session.file.read_bytes()
    files_before = sorted(p for p in ad.session.dir.rglob("*") if p.is_file())
    written: list[Path] = []

    def edit_then_fail(w: Any, files: tuple[Path, ...]) -> Any:
        written.extend(files)
        assert files and all(f.is_file() for f in files)
        w.save()  # the session file is rewritten, then the edit fails
        raise OSError("the disk went away mid-edit")

    with pytest.raises(OSError, match="mid-edit"):
        ad._edit_with_sources(np.zeros((1, 4410), np.float32), "doomed", edit_then_fail)
    assert written and not any(f.exists() for f in written)
    assert ad.session.file.read_bytes() == before
    assert sorted(p for p in ad.session.dir.rglob("*") if p.is_file()) == files_before


def test_a_72_bpm_guide_is_refused_on_a_120_bpm_session_and_sung_on_its_map_with_the_flag(
        session_120: ArdourAdapter, song: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    ad = session_120
    root = song["root"]
    slow = constant_guide(root / "slow72.mid", 72.0, [(4.0 + i, 0.8, 60 + i) for i in range(8)])  # bars 2-3
    (root / "lyrics8.txt").write_text("[Verse]\nla la la la\nla la la la\n")
    before = ad.session.file.read_bytes()
    args = [str(ad.session.dir), "--melody", str(slow), "--lyrics", str(root / "lyrics8.txt"), "--bars", "2-3"]
    assert main(["ardour", "sing", *args, "--in-process"]) == 2
    err = capsys.readouterr().err
    assert "120 BPM" in err and "72 BPM" in err and "--use-session-tempo" in err
    assert main(["ardour", "setup", *args]) == 2
    assert "72 BPM" in capsys.readouterr().err and Settings.load(ad.session.topline_dir).melody is None
    assert ad.session.file.read_bytes() == before  # byte-identical

    rec = ad.sing(SingOptions(bars=(2, 3), melody=str(slow), lyrics=str(root / "lyrics8.txt"),
                              use_session_tempo=True))
    tc = rec.tempo_check
    assert tc["forced"] and tc["map"] == "session" and tc["max_bar_diff_ms"] > 1000
    from host_bridge.daw.ardour.cli import _print_record

    _print_record(rec, False)
    out = capsys.readouterr().out
    assert "sung on the session's tempo map (120 BPM)" in out and "72 BPM" in out
    meta = json.loads((ad.session.dir / rec.stem).with_suffix(".json").read_text())
    assert meta["tempo_map_used"]["forced"] is True
    # on the session's map: the first note (quarter note 4) starts at bar 2 of 120 BPM, 2.0 s
    assert rec.bar_samples[0] == 88200


def test_resing_checks_the_guide_against_the_new_tempo_map_too(session_120: ArdourAdapter) -> None:
    from host_bridge.daw.ardour.errors import TempoMismatchError
    from host_bridge.core.model import TempoMap

    ad = session_120
    recs = ad.store.all()
    if not recs:
        pytest.skip("needs the take of the previous test")
    ad.set_tempo_map(TempoMap.constant(100))  # the take is stale; its guide (72 BPM) still disagrees
    assert [s.state for s in ad.stale()] == ["stale"]
    before = ad.session.file.read_bytes()
    with pytest.raises(TempoMismatchError, match="100 BPM.*72 BPM"):
        ad.resing()
    assert ad.session.file.read_bytes() == before
    (again,) = ad.resing(use_session_tempo=True)
    assert again.versions == 2 and again.tempo_check["forced"] and again.tempo_check["session_tempo"] == "100 BPM"
    assert again.bar_samples[0] == 105840  # bar 2 at 100 BPM, 44.1 kHz


def test_tempo_replaces_a_sessions_map_by_the_guides(session_120: ArdourAdapter, rit_session: ArdourAdapter,
                                                     song: dict[str, Path], capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    from host_bridge.daw.ardour.tempo_maps import check_guide_tempo

    slow = song["root"] / "slow72.mid"
    if not slow.is_file():
        pytest.skip("needs the guide of the 72 BPM test")
    ad = session_120
    assert main(["ardour", "tempo", str(ad.session.dir), "--melody", str(slow)]) == 0
    assert "within 0.0" in capsys.readouterr().out
    ad.session.reload()
    assert [round(t.bpm, 3) for t in ad.session.tempo_map.tempos] == [72.0]  # (MIDI: whole µs per beat)
    assert check_guide_tempo(ad.session.tempo_map, slow, (2, 3))["max_bar_diff_ms"] < 1.0  # sing is no longer refused
    # the 18 tempo points of the ritardando session give way to one; its 6/8 from bar 9 stays
    rit = rit_session
    inst = rit.session.regions("Instrumental")
    assert main(["ardour", "tempo", str(rit.session.dir), "--tempo", "72"]) == 0
    out = capsys.readouterr().out
    rit.session.reload()
    assert [round(t.bpm, 6) for t in rit.session.tempo_map.tempos] == [72.0]
    assert rit.session.tempo_map.meter_at_bar(9).numerator == 6
    assert rit.session.regions("Instrumental") == inst  # audio time: the instrumental stays at sample 0
    assert "take(s) no longer fit their bars" in out and [s.state for s in rit.stale()] == ["stale"]
