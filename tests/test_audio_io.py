"""Audio reading/writing: every bad file gets a clear AudioInputError; writes are atomic."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from host_bridge.core.audio import check_audio, read_audio, write_wav
from host_bridge.core.errors import AudioInputError


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_read_round_trip_at_common_rates(tmp_path, sine, sr):
    x = sine(sr=sr, channels=2, seconds=0.25)
    p = write_wav(tmp_path / "a.wav", x, sr, subtype="FLOAT")
    y, r = read_audio(p)
    assert r == sr and y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("sr", [8000, 192000])
def test_unsupported_rates_are_refused_with_a_fix(tmp_path, sine, sr):
    p = tmp_path / f"x{sr}.wav"
    sf.write(p, sine(sr=sr, seconds=0.1)[0], sr)
    with pytest.raises(AudioInputError, match=f"{sr} Hz") as e:
        read_audio(p)
    assert "48" in e.value.hint


def test_more_than_two_channels(tmp_path):
    p = tmp_path / "surround.wav"
    sf.write(p, np.zeros((100, 6), np.float32), 48000)
    with pytest.raises(AudioInputError, match="6 channels"):
        read_audio(p)


def test_zero_length_and_empty_and_garbage(tmp_path):
    z = tmp_path / "zero.wav"
    sf.write(z, np.zeros((0, 1), np.float32), 48000)
    with pytest.raises(AudioInputError, match="0 samples"):
        read_audio(z)
    e = tmp_path / "empty.wav"
    e.write_bytes(b"")
    with pytest.raises(AudioInputError, match="empty"):
        read_audio(e)
    g = tmp_path / "garbage.wav"
    g.write_bytes(b"RIFF\x00\x01garbage" * 50)
    with pytest.raises(AudioInputError, match="cannot read"):
        read_audio(g)
    with pytest.raises(AudioInputError, match="does not exist"):
        read_audio(tmp_path / "missing.wav")


def test_nan_and_inf_samples(tmp_path):
    x = np.zeros((1, 1000), np.float32)
    x[0, 10] = np.nan
    x[0, 20] = np.inf
    p = tmp_path / "nan.wav"
    sf.write(p, x.T, 48000, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="2 samples are NaN"):
        read_audio(p)


def test_check_audio_accepts_mono_vector_and_refuses_ints():
    assert check_audio(np.zeros(10, np.float64), 48000, "buf").shape == (1, 10)
    with pytest.raises(AudioInputError, match="dtype"):
        check_audio(np.zeros((1, 10), np.int16), 48000, "buf")


def test_write_is_atomic_and_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(ValueError):
        write_wav(tmp_path / "bad.wav", np.zeros((1, 10), np.float32), 48000, subtype="NOT_A_SUBTYPE")
    assert list(tmp_path.iterdir()) == []
