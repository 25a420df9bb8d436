"""Audio input handling of the Whisper adapter: formats, bad input, long files (no real model)."""

import warnings

import numpy as np
import pytest
import soundfile as sf

from multiattn.adapters._whisper_decode import SAMPLE_RATE, prepare_audio
from multiattn.adapters._whisper_decode import split_transcript as _split_transcript
from multiattn.adapters.whisper import capture
from multiattn.media import load_audio


def _tone(seconds=0.5, sr=16000, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.mark.parametrize("subtype, tol", [("PCM_U8", 1e-2), ("PCM_16", 1e-4), ("PCM_24", 1e-6),
                                          ("FLOAT", 1e-7)])
def test_load_audio_wav_formats(tmp_path, subtype, tol):
    tone = _tone()
    path = tmp_path / f"tone_{subtype}.wav"
    sf.write(path, tone, 16000, subtype=subtype)
    audio, sr = load_audio(path)
    assert sr == 16000 and audio.dtype == np.float32 and audio.shape == tone.shape
    assert np.abs(audio - tone).max() < tol


def test_load_audio_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio")
    with pytest.raises(ValueError, match="not a readable audio file"):
        load_audio(fake)


def test_prepare_audio_stereo_and_resampling():
    left = _tone(1.0, 44100)
    for stereo in (np.stack([left, 0.5 * left], 1), np.stack([left, 0.5 * left], 0)):
        mono, notes = prepare_audio(stereo, 44100)
        assert mono.shape == (SAMPLE_RATE,) and notes == []
        # 220 Hz survives resampling: the spectrum peaks at 220 Hz with amplitude 0.75 * 0.5
        spectrum = np.abs(np.fft.rfft(mono)) / (len(mono) / 2)
        assert np.argmax(spectrum) == 220
        assert spectrum[220] == pytest.approx(0.375, rel=0.02)


def test_prepare_audio_integer_pcm():
    ints = (np.r_[0.5, -0.5, 0.25] * 32768).astype(np.int16)
    assert prepare_audio(ints, 16000)[0] == pytest.approx([0.5, -0.5, 0.25])
    bytes8 = np.array([128, 192, 64], dtype=np.uint8)  # unsigned 8-bit, centred on 128
    assert prepare_audio(bytes8, 16000)[0] == pytest.approx([0.0, 0.5, -0.5])


@pytest.mark.parametrize("audio, sr, message", [
    (np.zeros(0), 16000, "empty"),
    (np.zeros(16000), 16000, "silent"),
    (np.r_[0.1, np.nan, 0.2], 16000, "NaN"),
    (np.zeros((2, 3, 4)), 16000, "samples, channels"),
    (np.ones(100), 0, "sample rate"),
    (np.ones(100), 22050.5, "sample rate"),
])
def test_prepare_audio_bad_input(audio, sr, message):
    with pytest.raises(ValueError, match=message):
        prepare_audio(audio, sr)


def test_prepare_audio_clipping_warns():
    clipped = np.clip(_tone(amp=3.0), -1.0, 1.0)
    with pytest.warns(UserWarning, match="clipped"):
        _, notes = prepare_audio(clipped, 16000)
    assert "clipped" in notes[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert prepare_audio(_tone(amp=0.9), 16000)[1] == []


@pytest.fixture(scope="module")
def tiny_whisper():
    """A random-init Whisper with the real tokenizer: fast plumbing tests on long audio."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from multiattn.zoo._whisper import whisper_processor

    config = WhisperConfig(vocab_size=51864, d_model=16, encoder_layers=1, decoder_layers=2,
                           encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                           decoder_ffn_dim=32, decoder_start_token_id=50257, eos_token_id=50256,
                           pad_token_id=50256, bos_token_id=50256)
    import torch

    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config).eval()
    generation = model.generation_config
    generation.decoder_start_token_id, generation.eos_token_id = 50257, 50256
    generation.no_timestamps_token_id = 50362
    generation.suppress_tokens, generation.begin_suppress_tokens = [], [220]
    generation.alignment_heads = [[1, 0], [1, 1]]
    return model, whisper_processor()


def test_long_audio_windows_are_stitched(tiny_whisper, capsys):
    model, processor = tiny_whisper
    impl = model.config._attn_implementation
    audio = np.random.default_rng(0).normal(0, 0.1, int(65.3 * 8000)).astype(np.float32)
    grids = capture(model, (audio, 8000), processor=processor, max_new_tokens=2)
    frames = int(np.ceil(65.3 * 50))  # 20 ms frames over the whole file, windows stitched
    cross, encoder, decoder = grids["cross"], grids["encoder"], grids["decoder"]
    assert cross.key.n_frames == frames and encoder.shape == (1, 2, frames, frames)
    assert cross.meta["windows"] == 3 and cross.meta["duration_s"] == pytest.approx(65.3)
    assert cross.key.edges[-1] == pytest.approx(frames * 0.02)
    # three windows of <|startoftranscript|> <|notimestamps|> (<= 2 tokens) <|endoftext|>
    assert cross.query.labels.count("<|startoftranscript|>") == 3
    starts = [i for i, t in enumerate(cross.query.labels) if t == "<|startoftranscript|>"]
    second = slice(starts[1], starts[2])
    # tokens of window 2 attend only to frames 1500..2999, the encoder is block-diagonal
    assert cross.values[:, :, second, :1500].sum() == 0
    assert cross.values[:, :, second, 1500:3000].sum() > 0
    assert encoder.values[:, :, :1500, 1500:].sum() == 0
    assert decoder.values[:, :, starts[1]:, : starts[1]].sum() == 0
    assert model.config._attn_implementation == impl  # eager switched back
    # a transcript over several windows: every word lands in exactly one window, in order
    with pytest.warns(UserWarning, match="does not seem to match"):  # random weights
        forced = capture(model, (audio, 8000), processor=processor, text="one two three four",
                         keep_encoder=False, max_new_tokens=2)["cross"]
    assert forced.meta["windows"] == 3 and forced.meta["mode"] == "forced"
    assert forced.meta["text"].split() == ["one", "two", "three", "four"]
    assert forced.query.labels.count("<|endoftext|>") == 3


def test_split_transcript_follows_the_decoding():
    words = "The cat sat on the mat today.".split()
    decoded = [" the cat sat", " On the matt", "", " today"]
    assert _split_transcript(words, decoded) == [["The", "cat", "sat"], ["on", "the", "mat"], [],
                                                 ["today."]]
    # nothing matches: everything goes to the first window, order kept
    assert _split_transcript(["a", "b"], ["x", "y"]) == [["a", "b"], []]


def test_capture_rejects_bad_text(tiny_whisper):
    model, processor = tiny_whisper
    with pytest.raises(ValueError, match="text is empty"):
        capture(model, (_tone(), 16000), processor=processor, text="   ")
    with pytest.raises(ValueError, match="at most"):
        capture(model, (_tone(), 16000), processor=processor, text="word " * 500)
