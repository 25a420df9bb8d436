"""The package's one audio input path (multiattn._audio), shared by the Whisper adapter and the HTML view."""

import base64
import io
import wave

import numpy as np
import pytest
import soundfile as sf

from multiattn._audio import check_rate, load_audio, mono_float32, resample, to_float32, to_mono


def _tone(seconds, sr, freq=440.0, amp=0.5):
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("dtype, raw, expected", [
    (np.uint8, [0, 64, 128, 192, 255], [-1.0, -0.5, 0.0, 0.5, 127 / 128]),  # centred on 128
    (np.int16, [-32768, -16384, 0, 16384, 32767], [-1.0, -0.5, 0.0, 0.5, 32767 / 32768]),
    (np.int32, [-2**31, -2**30, 0, 2**30, 2**31 - 1], [-1.0, -0.5, 0.0, 0.5, 1.0]),
    (np.float64, [-1.5, 0.25, 1.0], [-1.5, 0.25, 1.0]),  # floats pass, unclipped
])
def test_to_float32_scales_by_the_full_range(dtype, raw, expected):
    out = to_float32(np.array(raw, dtype=dtype))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-7)


def test_float32_passes_without_copy_and_other_dtypes_are_refused():
    wav = np.zeros(4, np.float32)
    assert to_float32(wav) is wav
    for bad in (np.zeros(3, complex), np.zeros(3, bool), np.array(["a"], object)):
        with pytest.raises(ValueError, match="float or integer PCM"):
            to_float32(bad)


def test_stereo_is_mixed_on_the_shorter_axis_after_scaling():
    stereo = np.array([[16384, -16384], [16384, 16384], [-32768, 0]], np.int16)
    expected = [0.0, 0.5, -0.5]
    for arr in (stereo, stereo.T):  # (samples, channels) as soundfile, (channels, samples) as librosa
        wav, sr = mono_float32(arr, 8000)
        assert sr == 8000 and wav.dtype == np.float32
        np.testing.assert_allclose(wav, expected, atol=1e-7)
    np.testing.assert_allclose(to_mono(np.array([[1.0, 0.0]] * 5, np.float32)), [0.5] * 5)
    with pytest.raises(ValueError, match=r"\(samples, channels\)"):
        to_mono(np.zeros((2, 3, 4), np.float32))


@pytest.mark.parametrize("sr, target, n_in, n_out", [
    (44_100, 16_000, 44_100, 16_000),
    (22_050, 16_000, 22_050, 16_000),
    (48_000, 16_000, 1_001, 334),  # ceil(1001 / 3), like librosa.resample
    (8_000, 16_000, 4_000, 8_000),
])
def test_resample_length(sr, target, n_in, n_out):
    out = resample(_tone(n_in / sr, sr), sr, target)
    assert out.shape == (n_out,) and out.dtype == np.float32


def test_resample_keeps_the_tone_and_equal_rates_pass():
    out = resample(_tone(1.0, 44_100), 44_100, 16_000)
    spectrum = np.abs(np.fft.rfft(out)) / (len(out) / 2)
    assert np.argmax(spectrum) == 440 and spectrum[440] == pytest.approx(0.5, rel=0.02)
    np.testing.assert_allclose(out[100:-100], _tone(1.0, 16_000)[100:-100], atol=0.01)
    same = _tone(0.1, 16_000)
    assert resample(same, 16_000, 16_000) is same


@pytest.mark.parametrize("sr", [0, -8000, 22050.5, "fast", None, True])
def test_bad_sample_rates_are_named(sr):
    with pytest.raises(ValueError, match="sample rate must be a positive integer"):
        check_rate(sr)


def test_integral_float_rate_is_accepted():
    assert check_rate(16000.0) == 16000 and check_rate(np.int64(8000)) == 8000


@pytest.mark.parametrize("audio, match", [(np.zeros(0), "non-empty"), (np.r_[0.1, np.inf], "NaN or inf"),
                                          (np.zeros((0, 2)), "empty")])
def test_mono_float32_refuses_empty_and_non_finite(audio, match):
    with pytest.raises(ValueError, match=match):
        mono_float32(audio, 16000)


@pytest.mark.parametrize("subtype, dtype", [("PCM_16", np.int16), ("PCM_32", np.int32)])
def test_read_audio_matches_to_float32_of_the_integers(tmp_path, subtype, dtype):
    ints = (np.array([-1.0, -0.5, 0.0, 0.25, 0.999]) * np.iinfo(dtype).max).astype(dtype)
    path = tmp_path / f"x_{subtype}.wav"
    sf.write(path, ints, 8000, subtype=subtype)
    wav, sr = load_audio(path)
    assert sr == 8000 and wav.dtype == np.float32
    np.testing.assert_allclose(wav, to_float32(ints), rtol=0, atol=1e-7)


def test_read_audio_uint8_wav_agrees_with_to_float32(tmp_path):
    path = tmp_path / "u8.wav"
    sf.write(path, _tone(0.05, 8000), 8000, subtype="PCM_U8")
    with wave.open(str(path)) as f:
        assert f.getsampwidth() == 1
        raw = np.frombuffer(f.readframes(f.getnframes()), np.uint8)
    wav, _ = load_audio(path)
    np.testing.assert_array_equal(wav, to_float32(raw))


def test_read_audio_keeps_channels_and_names_bad_files(tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([_tone(0.1, 8000), np.zeros(800, np.float32)], axis=1), 8000)
    wav, sr = load_audio(path)
    assert wav.shape == (800, 2) and sr == 8000
    with pytest.raises(FileNotFoundError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "notes.wav").write_text("not audio")
    with pytest.raises(ValueError, match="not a readable audio file"):
        load_audio(tmp_path / "notes.wav")


def test_whisper_and_html_view_prepare_the_same_samples():
    from multiattn.adapters.whisper import prepare_audio
    from multiattn.renderers._html_audio import mono_16k

    rng = np.random.default_rng(0)
    stereo = (rng.normal(0, 0.2, (22_050, 2)) * 32768).clip(-32768, 32767).astype(np.int16)
    whisper_wav, _ = prepare_audio(stereo, 22_050)
    html_wav = mono_16k((stereo, 22_050))
    assert whisper_wav.shape == html_wav.shape == (16_000,)
    np.testing.assert_allclose(html_wav, np.clip(whisper_wav, -1, 1), atol=1e-7)


def test_html_view_embeds_uint8_audio_centred(rng):
    from multiattn import AttentionGrid
    from multiattn.axes import TimeAxis, TokenAxis
    from multiattn.renderers.html import to_html

    from .conftest import random_attention
    from .test_html_view import _payload

    grid = AttentionGrid(random_attention(rng, (1, 1, 2, 10)), TokenAxis(["a", "b"]), TimeAxis(10, 0.02),
                         kind="cross")
    pcm = np.array([128, 192, 64, 255, 0] * 3200, np.uint8)  # 1 s at 16 kHz: 0, 0.5, -0.5, ~1, -1
    data = _payload(to_html(grid, audio=(pcm, 16_000)))
    with wave.open(io.BytesIO(base64.b64decode(data["wav"]))) as f:
        samples = np.frombuffer(f.readframes(f.getnframes()), "<i2")
    np.testing.assert_array_equal(samples[:5], np.round(np.array([0, 0.5, -0.5, 127 / 128, -1]) * 32767))


def test_core_module_imports_no_audio_library_at_import_time():
    import subprocess
    import sys

    libraries = "('soundfile', 'soxr', 'librosa', 'audioread', 'torchaudio')"
    probe = f"import sys, multiattn._audio; print(sorted(m for m in {libraries} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
