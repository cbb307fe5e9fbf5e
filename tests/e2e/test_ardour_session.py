"""Reading Ardour 7 session files and telling stale takes apart, without running Ardour (fast).

The session XML here is the shape Ardour 7.3 writes (trimmed to what Topline reads); the end-to-end
tests in test_ardour.py check the same reader against files written by the real Ardour.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from host_bridge.daw.ardour import ArdourAdapter, ArdourSession, BarRangeError, RouteNotFoundError, SessionFileError
from host_bridge.daw.ardour.cli import _bars
from host_bridge.daw.ardour.records import TakeRecord
from host_bridge.daw.ardour.session import TimePos
from host_bridge.core.model import TempoMap

SCPS = 282240000


def session_xml(tempos: str, meters: str, regions: str = "", music_times: str = "", rate: int = 48000) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Session version="7002" name="s" sample-rate="{rate}" id-counter="300">
  <Sources/>
  <Regions/>
  <Locations/>
  <Routes>
    <Route version="7002" id="28" name="Master" default-type="audio">
      <PresentationInfo order="0" flags="MasterOut,OrderSet" color="0"/>
    </Route>
    <Route version="7002" id="40" name="Band" default-type="audio">
      <PresentationInfo order="1" flags="AudioBus,OrderSet" color="0"/>
    </Route>
    <Route version="7002" id="122" name="Instrumental" default-type="audio" audio-playlist="184">
      <PresentationInfo order="2" flags="AudioTrack,OrderSet" color="0"/>
    </Route>
    <Route version="7002" id="192" name="Alpha take 1" default-type="audio" audio-playlist="254">
      <PresentationInfo order="3" flags="AudioTrack,OrderSet" color="0"/>
    </Route>
  </Routes>
  <Playlists>
    <Playlist id="184" name="Instrumental" type="audio" orig-track-id="122">{regions}</Playlist>
    <Playlist id="254" name="Alpha take 1" type="audio" orig-track-id="192">
      <Region name="Alpha take 1" id="266" start="a0" length="a{10 * SCPS}@b30720" source-0="264" channels="1"/>
    </Playlist>
  </Playlists>
  <TempoMap superclocks-per-second="{SCPS}">
    <Tempos>{tempos}</Tempos>
    <Meters>{meters}</Meters>
    <MusicTimes>{music_times}</MusicTimes>
  </TempoMap>
</Session>
"""


def tempo(npm: float, note: int, sclock: int, quarters: str, enpm: float | None = None, omega: float = 0.0) -> str:
    return (f'<Tempo npm="{npm}" enpm="{enpm if enpm is not None else npm}" note-type="{note}" type="Tempo::Constant" '
            f'active="1" sclock="{sclock}" quarters="{quarters}" bbt="1|1|0" omega="{omega}"/>')


def meter(num: int, den: int, bar: int, quarters: str, beat: int = 1) -> str:
    return f'<Meter note-value="{den}" divisions-per-bar="{num}" sclock="0" quarters="{quarters}" bbt="{bar}|{beat}|0"/>'


INSTRUMENTAL = f'<Region name="inst" id="262" start="a0" length="a{30 * SCPS}@b0" source-0="259" channels="1"/>'


def write(tmp_path: Path, xml: str) -> Path:
    d = tmp_path / "s"
    d.mkdir(parents=True)
    (d / "s.ardour").write_text(xml)
    return d


def test_tempo_map_in_eighths_and_a_meter_change(tmp_path: Path) -> None:
    # 180 eighths a minute = 90 quarters; 6/8 from bar 1, 4/4 from bar 5 (bar 5 = 12 quarters)
    x = session_xml(tempo(180, 8, 0, "0:0"), meter(6, 8, 1, "0:0") + meter(4, 4, 5, "12:0"), INSTRUMENTAL, rate=44100)
    s = ArdourSession(write(tmp_path, x))
    tm = s.tempo_map
    assert s.sample_rate == 44100
    assert tm.bpm_at(0) == pytest.approx(90.0)
    assert tm.qn_at_bar(5) == pytest.approx(12.0) and tm.qn_at_bar(6) == pytest.approx(16.0)
    assert s.bar_sample(5) == 352800  # 12 quarters at 90/min = 8 s
    assert s.last_bar() == 13  # 30 s = 45 quarters; bar 13 starts at 12 + 8 * 4 = 44


def test_tempo_change_is_placed_where_ardour_says(tmp_path: Path) -> None:
    sc = int(round(32 * 60 / 100 * SCPS))  # bar 9 at 100 BPM
    x = session_xml(tempo(100, 4, 0, "0:0") + tempo(130, 4, sc, "32:0"), meter(4, 4, 1, "0:0"), INSTRUMENTAL)
    s = ArdourSession(write(tmp_path, x))
    assert [t.bpm for t in s.tempo_map.tempos] == [100.0, 130.0]
    assert s.bar_sample(10) == 1010215  # what Ardour 7.3 reports for this map


def test_a_tempo_point_off_its_position_is_refused(tmp_path: Path) -> None:
    x = session_xml(tempo(100, 4, 0, "0:0") + tempo(130, 4, 5 * SCPS, "32:0"), meter(4, 4, 1, "0:0"))
    with pytest.raises(SessionFileError, match="unsupported tempo map"):
        ArdourSession(write(tmp_path, x))


def test_a_ramp_is_approximated_with_exact_ends(tmp_path: Path) -> None:
    # what Ardour 7.3 wrote for a ramp 100 -> 140 over bars 1-4 (it put bar 2 at sample 109797)
    x = session_xml(tempo(100, 4, 0, "0:0", enpm=140, omega=1.4762849584278155e-10) +
                    tempo(140, 4, 2279182178, "16:0"), meter(4, 4, 1, "0:0"))
    s = ArdourSession(write(tmp_path, x))
    assert s.tempo_map.seconds_at(16.0) == pytest.approx(2279182178 / SCPS, abs=1e-6)
    assert [s.bar_sample(b) for b in (2, 3, 4, 5)] == pytest.approx([109797, 210034, 302243, 387616], abs=1)


def test_a_ramp_ardour_has_not_computed_plays_at_its_start_tempo(tmp_path: Path) -> None:
    x = session_xml(tempo(100, 4, 0, "0:0", enpm=140) + tempo(140, 4, int(round(9.6 * SCPS)), "16:0"),
                    meter(4, 4, 1, "0:0"))
    assert ArdourSession(write(tmp_path, x)).bar_sample(5) == 460800


def test_bbt_markers_and_meters_off_the_bar_line_are_refused(tmp_path: Path) -> None:
    x = session_xml(tempo(100, 4, 0, "0:0"), meter(4, 4, 1, "0:0"),
                    music_times='<MusicTime sclock="0" quarters="0:0" bbt="1|1|0"/>')
    with pytest.raises(SessionFileError, match="BBT markers"):
        ArdourSession(write(tmp_path, x))
    x = session_xml(tempo(100, 4, 0, "0:0"), meter(4, 4, 1, "0:0") + meter(3, 4, 3, "9:0", beat=2))
    with pytest.raises(SessionFileError, match="does not start a bar"):
        ArdourSession(write(tmp_path / "b", x))


def test_routes_regions_and_bar_ranges(tmp_path: Path) -> None:
    s = ArdourSession(write(tmp_path, session_xml(tempo(100, 4, 0, "0:0"), meter(4, 4, 1, "0:0"), INSTRUMENTAL)))
    assert s.route("Band").is_track is False and s.route("Instrumental").is_track
    assert s.route("Master").is_master
    with pytest.raises(RouteNotFoundError) as e:
        s.route("Drums")
    assert "'Band'" in e.value.hint
    (reg,) = s.regions("Alpha take 1")
    assert reg.position == TimePos(True, 30720) and s.position_samples(reg.position) == 460800
    assert s.last_bar() == 13  # 30 s at 100 BPM: bar 13 starts at 28.8 s
    s.check_bars(5, 13)
    with pytest.raises(BarRangeError, match="last bar is 13"):
        s.check_bars(5, 14)
    with pytest.raises(BarRangeError):
        s.check_bars(0, 3)
    with pytest.raises(BarRangeError):
        s.check_bars(6, 5)


def test_not_a_session(tmp_path: Path) -> None:
    with pytest.raises(SessionFileError, match="no Ardour session"):
        ArdourSession(tmp_path)
    d = tmp_path / "old"
    d.mkdir()
    (d / "old.ardour").write_text('<Session version="3001" name="old" sample-rate="48000"/>')
    with pytest.raises(SessionFileError, match="older than 7"):
        ArdourSession(d)


def test_bars_argument() -> None:
    assert _bars("5-12") == (5, 12) and _bars("7") == (7, 7)
    with pytest.raises(argparse.ArgumentTypeError):
        _bars("five")


def _record(ad: ArdourAdapter, tm: TempoMap) -> TakeRecord:
    sr = ad.session.sample_rate
    bars = (5, 12)
    return TakeRecord(take_id="alpha-1-abc", number=1, track="Alpha take 1", region_id="266", bus="Band", bars=bars,
                      sample_rate=sr, artist="alpha", seed=0, channels=1, lyrics=None, melody=None,
                      tempo_map=tm.to_dict(), bar_samples=[tm.sample_at(tm.qn_at_bar(b), sr) for b in range(5, 14)],
                      sources=[], created="2026-01-01T00:00:00")


@pytest.mark.parametrize("sung_to, state", [
    (TempoMap.constant(100), "ok"),
    (TempoMap.constant(120), "stale"),                       # every bar changed length
    (TempoMap.constant(100, 3, 4), "stale"),                 # another meter
])
def test_staleness(tmp_path: Path, sung_to: TempoMap, state: str) -> None:
    ad = ArdourAdapter(write(tmp_path, session_xml(tempo(100, 4, 0, "0:0"), meter(4, 4, 1, "0:0"), INSTRUMENTAL)))
    ad.store.save(_record(ad, sung_to))
    (st,) = ad.stale()
    assert st.state == state


def test_a_take_that_only_moved_is_not_stale(tmp_path: Path) -> None:
    # sung when bars 1-4 were at 120 BPM and the rest at 100; now everything is at 100: bar 5 moved
    ad = ArdourAdapter(write(tmp_path, session_xml(tempo(100, 4, 0, "0:0"), meter(4, 4, 1, "0:0"), INSTRUMENTAL)))
    from host_bridge.core.model import MeterChange, TempoChange

    then = TempoMap((TempoChange(0, 120.0), TempoChange(16.0, 100.0)), (MeterChange(1, 4, 4),))
    ad.store.save(_record(ad, then))
    (st,) = ad.stale()
    assert st.state == "moved" and st.max_shift_ms == pytest.approx(1600.0, abs=0.1)
    # a deleted region
    (ad.session.dir / "s.ardour").write_text((ad.session.dir / "s.ardour").read_text().replace('id="266"', 'id="999"'))
    ad.session.reload()
    assert [s.state for s in ad.stale()] == ["missing"]


def test_without_bars_the_session_range_is_sung(tmp_path: Path) -> None:
    x = session_xml(tempo(100, 4, 0, "0:0"), meter(4, 4, 1, "0:0"), INSTRUMENTAL)
    # session range from bar 3 (4.8 s) to bar 9 (19.2 s), as Ardour writes it (audio time)
    x = x.replace("<Locations/>", f'<Locations><Location id="9" name="session" start="a{int(4.8 * SCPS)}" '
                                  f'end="a{int(19.2 * SCPS)}" flags="IsSessionRange"/></Locations>')
    ad = ArdourAdapter(write(tmp_path, x))
    assert ad.default_bars() == (3, 8)
    assert ad.session.session_range() == (230400, 921600)


def test_a_crashed_run_is_run_again_after_clearing_what_it_left(tmp_path: Path) -> None:
    """The runner's retry, with a real process that dies of SIGSEGV on its first run (as headless
    Ardour 7.3 sometimes does at export): ``before_attempt`` runs before each attempt, so a
    half-written file from the crashed attempt is gone when the second attempt starts."""
    from host_bridge.daw.ardour import runner as R

    out, marker = tmp_path / "out", tmp_path / "crashed-once"
    out.mkdir()
    fake = tmp_path / "fake-ardour7-lua"
    fake.write_text(f"#!/bin/sh\necho half > {out}/export-$$.wav\n"
                    f"if [ ! -e {marker} ]; then touch {marker}; kill -SEGV $$; fi\n"
                    "printf 'TOPLINE\\tdone\\n'\n")
    fake.chmod(0o755)
    (tmp_path / "headless").mkdir()
    (tmp_path / "headless" / "s.lua").write_text("-- run by the fake binary\n")
    runner = R.ArdourRunner(binary=str(fake), nice=0)
    runner.headless = tmp_path / "headless"
    session = tmp_path / "song"
    session.mkdir()
    seen: list[int] = []

    def clear() -> None:
        seen.append(len(list(out.iterdir())))
        for f in out.iterdir():
            f.unlink()

    res = runner.run("s.lua", session, "song", before_attempt=clear)
    assert res.values("done") == [[]] and seen == [0, 1]  # the crashed attempt's file was cleared
    assert len(list(out.iterdir())) == 1
    marker.unlink()
    with pytest.raises(R.ArdourCrashError, match="signal 11"):
        runner.run("s.lua", session, "song", retries=0)
