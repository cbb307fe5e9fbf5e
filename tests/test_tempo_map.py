"""TempoMap: conversions between bars/beats, quarter notes, seconds and samples."""
from __future__ import annotations

import math

import pytest

from host_bridge.core.errors import TempoError
from host_bridge.core.model.tempo import MeterChange, TempoChange, TempoMap


def _busy_map(offset_s: float = 0.0) -> TempoMap:
    """120 BPM 4/4, then 90 BPM at qn 8, then 6/8 from bar 4, 150 BPM at qn 20.5, 3/4 from bar 9."""
    return TempoMap(
        (TempoChange(0.0, 120.0), TempoChange(8.0, 90.0), TempoChange(20.5, 150.0)),
        (MeterChange(1, 4, 4), MeterChange(4, 6, 8), MeterChange(9, 3, 4)),
        offset_s,
    )


def test_constant_tempo_seconds():
    tm = TempoMap.constant(120)
    assert tm.seconds_at(0) == 0.0
    assert tm.seconds_at(4) == pytest.approx(2.0)
    assert tm.qn_at(2.0) == pytest.approx(4.0)


def test_seconds_across_tempo_changes():
    tm = _busy_map()
    # 8 qn at 120 = 4 s; 12.5 qn at 90 = 8.3333 s; then 150
    assert tm.seconds_at(8.0) == pytest.approx(4.0)
    assert tm.seconds_at(20.5) == pytest.approx(4.0 + 12.5 * 60 / 90)
    assert tm.seconds_at(22.5) == pytest.approx(4.0 + 12.5 * 60 / 90 + 2 * 60 / 150)
    assert tm.bpm_at(7.99) == 120.0 and tm.bpm_at(8.0) == 90.0 and tm.bpm_at(100) == 150.0


@pytest.mark.parametrize("qn", [0.0, 0.25, 3.999, 8.0, 8.001, 13.7, 20.5, 31.25, 100.0])
@pytest.mark.parametrize("offset", [0.0, 1.25])
def test_qn_seconds_round_trip(qn, offset):
    tm = _busy_map(offset)
    assert tm.qn_at(tm.seconds_at(qn)) == pytest.approx(qn, abs=1e-9)


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_samples_round_trip(sr):
    tm = _busy_map(0.5)
    for qn in (0.0, 1.0, 8.0, 12.3, 20.5, 40.0):
        s = tm.sample_at(qn, sr)
        assert s == round((tm.seconds_at(qn)) * sr)
        # one sample is at most 1/sr s: the round trip is exact to within a sample's worth of qn
        assert tm.qn_at_sample(s, sr) == pytest.approx(qn, abs=tm.bpm_at(qn) / 60 / sr)
    assert tm.sample_at(0.0, sr) == int(0.5 * sr)
    assert tm.sample_at(8.0, sr) == round(4.5 * sr)


def test_offset_shifts_everything():
    a, b = _busy_map(), _busy_map(2.0)
    for qn in (0.0, 5.0, 25.0):
        assert b.seconds_at(qn) == pytest.approx(a.seconds_at(qn) + 2.0)
    assert a.shifted(2.0) == b


def test_bars_in_mixed_meters():
    tm = _busy_map()
    # bars 1-3 are 4/4 (4 qn), bars 4-8 are 6/8 (3 qn), bar 9 on is 3/4 (3 qn)
    assert tm.qn_at_bar(1) == 0.0
    assert tm.qn_at_bar(4) == 12.0
    assert tm.qn_at_bar(5) == 15.0
    assert tm.qn_at_bar(9) == 27.0
    assert tm.qn_at_bar(10) == 30.0
    assert tm.bar_length_qn(3) == 4.0 and tm.bar_length_qn(4) == 3.0 and tm.bar_length_qn(9) == 3.0
    # beats count in the meter's own unit: beat 4 of a 6/8 bar is 1.5 qn into it
    assert tm.qn_at_bar(4, 4) == pytest.approx(13.5)
    assert tm.bar_beat_at(13.5) == (4, pytest.approx(4.0))
    assert tm.meter_at(14.0) == MeterChange(4, 6, 8)
    assert tm.meter_at_bar(12).numerator == 3


@pytest.mark.parametrize("bar", [1, 2, 3, 4, 6, 8, 9, 12])
@pytest.mark.parametrize("beat", [1.0, 1.5, 2.0, 3.0])
def test_bar_beat_inverse(bar, beat):
    tm = _busy_map()
    qn = tm.qn_at_bar(bar, beat)
    b, bt = tm.bar_beat_at(qn)
    assert b == bar
    assert bt == pytest.approx(beat)


def test_bar_starts_and_fractional_bars():
    tm = TempoMap.constant(100, 3, 4)
    assert tm.bar_starts(1, 4) == [0.0, 3.0, 6.0, 9.0]
    assert tm.qn_at_bar(2.5) == pytest.approx(4.5)
    assert tm.bar_beat_at(4.5) == (2, pytest.approx(2.5))


def test_six_eight_bars():
    tm = TempoMap.constant(90, 6, 8)
    assert tm.bar_length_qn(1) == 3.0
    assert tm.qn_at_bar(3) == 6.0
    assert tm.bar_beat_at(7.5) == (3, pytest.approx(4.0))  # the 4th eighth of bar 3
    assert tm.seconds_at(tm.qn_at_bar(2)) == pytest.approx(3.0 * 60 / 90)


def test_pickup_bar_as_short_first_bar():
    tm = TempoMap((TempoChange(0.0, 120.0),), (MeterChange(1, 1, 4), MeterChange(2, 4, 4)))
    assert tm.qn_at_bar(2) == 1.0
    assert tm.qn_at_bar(3) == 5.0
    assert tm.bar_beat_at(0.0) == (1, 1.0)
    assert tm.bar_beat_at(1.0) == (2, 1.0)
    assert tm.bar_beat_at(7.0) == (3, pytest.approx(3.0))


def test_defaults_fill_the_start():
    tm = TempoMap((TempoChange(4.0, 100.0),), (MeterChange(3, 3, 4),))
    assert tm.tempos[0] == TempoChange(0.0, 100.0)
    assert tm.meters[0] == MeterChange(1, 3, 4)


def test_duplicate_changes_last_wins():
    tm = TempoMap((TempoChange(0.0, 100.0), TempoChange(0.0, 140.0)), (MeterChange(1, 4, 4), MeterChange(1, 3, 4)))
    assert tm.tempos == (TempoChange(0.0, 140.0),)
    assert tm.meters == (MeterChange(1, 3, 4),)


def test_dict_round_trip():
    tm = _busy_map(0.75)
    d = tm.to_dict()
    assert d["tempos"][1] == [8.0, 90.0]
    assert d["meters"][1] == [4, 6, 8]
    back = TempoMap.from_dict(d)
    assert back == tm
    assert back.seconds_at(30.0) == tm.seconds_at(30.0)


def test_from_dict_defaults_meter():
    tm = TempoMap.from_dict({"tempos": [[0, 128]]})
    assert tm.meters == (MeterChange(1, 4, 4),) and tm.offset_s == 0.0


@pytest.mark.parametrize("bad", [{}, {"tempos": "fast"}, {"tempos": [[0, "x"]]}, {"tempos": [[0]]},
                                 {"tempos": [[0, 120]], "meters": [[1, 4]]}, [1, 2]])
def test_from_dict_malformed_raises(bad):
    with pytest.raises(TempoError) as e:
        TempoMap.from_dict(bad)
    assert e.value.hint


@pytest.mark.parametrize("bpm", [0.0, -10.0, math.nan, math.inf, 5000.0])
def test_invalid_tempo_raises(bpm):
    with pytest.raises(TempoError) as e:
        TempoMap.constant(bpm)
    assert e.value.hint


def test_tempo_change_before_bar_one_raises():
    with pytest.raises(TempoError):
        TempoMap((TempoChange(-1.0, 120.0), TempoChange(0.0, 100.0)))


@pytest.mark.parametrize("num,den,bar", [(0, 4, 1), (4, 3, 1), (4, 0, 1), (4, 4, 0), (-3, 4, 2)])
def test_invalid_meter_raises(num, den, bar):
    with pytest.raises(TempoError) as e:
        TempoMap((TempoChange(0.0, 120.0),), (MeterChange(1, 4, 4), MeterChange(bar, num, den)))
    assert "meter" in e.value.message


def test_empty_tempos_raise():
    with pytest.raises(TempoError):
        TempoMap(())


def test_non_finite_offset_raises():
    with pytest.raises(TempoError):
        TempoMap.constant(120, offset_s=math.nan)


def test_before_bar_one_is_negative():
    tm = TempoMap.constant(120, offset_s=1.0)
    assert tm.seconds_at(-2.0) == pytest.approx(0.0)
    assert tm.qn_at(0.0) == pytest.approx(-2.0)
