"""An alignment runs Whisper's encoder once: CTranslate2 decodes from the Hugging Face encoder's output.

The reference is the path the adapter took before (CTranslate2 decoding the log-mel features with its
own encoder, then a Hugging Face encoder + teacher-forced decoder for the attention), rebuilt here
from the public pieces. Tolerance: the two encoders agree to float32 noise (~1e-4 of values up to ~13),
so the decoded tokens and the word timings must be identical and the attention equal to 1e-5.
"""

from pathlib import Path

import numpy as np
import pytest

from multiattn import AttentionGrid
from multiattn.adapters import _whisper_decode as wd
from multiattn.adapters.whisper import capture, prepare_audio, transcribe
from multiattn.analysis.alignment import word_timings
from multiattn.media import load_audio
from multiattn.zoo._whisper import whisper_tiny_en

pytest.importorskip("ctranslate2")

SPEECH = Path(__file__).resolve().parents[1] / "media_samples" / "speech"


@pytest.fixture(scope="module")
def whisper():
    return whisper_tiny_en()


@pytest.fixture(scope="module")
def s3():
    return prepare_audio(*load_audio(SPEECH / "s3.wav"))[0]


class _Recorder:
    """A CTranslate2 Whisper that records the shape of what ``generate`` is given."""

    def __init__(self, engine):
        self.engine, self.shapes = engine, []

    def generate(self, features, *args, **kwargs):
        self.shapes.append(tuple(features.shape))
        return self.engine.generate(features, *args, **kwargs)


def _previous_path(model, processor, mono):
    """CTranslate2 decodes the mel features (its own encoder); HF encoder + forced forward for attention."""
    mels = wd.window_features(processor, mono)
    tokens = wd.decode_ct2(wd.ct2_engine(model), model, mels, wd.MAX_NEW_TOKENS)[0]
    hidden = wd.encode(model, mels[0], attentions=False).last_hidden_state
    n_frames = int(np.ceil(len(mono) / (wd.FRAME_S * wd.SAMPLE_RATE)))
    return tokens, wd.forced(model, hidden, tokens, n_frames)


def test_capture_decodes_from_the_encoder_output_it_computed(whisper, s3, monkeypatch):
    model, processor = whisper
    recorder = _Recorder(wd.ct2_engine(model))
    monkeypatch.setattr(wd, "ct2_engine", lambda _model: recorder)
    encoder_calls = []
    handle = model.model.encoder.register_forward_hook(lambda *_: encoder_calls.append(1))
    try:
        capture(model, (s3, 16000), processor=processor, keep_encoder=False)
    finally:
        handle.remove()
    # one Hugging Face encoder pass; CTranslate2 was handed its (1, 1500, d_model) output, not mels
    assert len(encoder_calls) == 1
    assert recorder.shapes == [(1, 1500, model.config.d_model)]


@pytest.mark.parametrize("keep_encoder", [False, True])
def test_tokens_attention_and_word_timings_equal_the_previous_path(whisper, s3, keep_encoder):
    model, processor = whisper
    tokens, reference = _previous_path(model, processor, s3)
    grids = capture(model, (s3, 16000), processor=processor, keep_encoder=keep_encoder)
    assert reference["ids"] == wd.prompt(model) + tokens + [model.generation_config.eos_token_id]
    assert list(grids["cross"].query.labels[2:-1]) == [processor.tokenizer.decode([t]) for t in tokens]
    np.testing.assert_allclose(grids["cross"].values, reference["cross"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(grids["decoder"].values, reference["decoder"], rtol=0, atol=1e-5)
    ours = word_timings(grids["cross"])
    cross = grids["cross"]
    theirs = word_timings(AttentionGrid(reference["cross"], cross.query, cross.key, layers=cross.layers,
                                        kind="cross", meta=cross.meta, check_rows=False))
    assert [(w["word"], w["start"], w["end"]) for w in ours] == \
        [(w["word"], w["start"], w["end"]) for w in theirs]
    assert ("encoder" in grids) is keep_encoder


def test_encoder_self_attention_is_still_captured_when_asked(whisper, s3):
    model, processor = whisper
    grids = capture(model, (s3, 16000), processor=processor, keep_encoder=True)
    encoder = grids["encoder"]
    n_frames = encoder.shape[-1]
    assert n_frames == int(np.ceil(len(s3) / 320))
    direct = wd.encode(model, wd.window_features(processor, s3)[0], attentions=True).attentions
    np.testing.assert_allclose(encoder.values[-1], direct[-1][0, :, :n_frames, :n_frames].numpy(),
                               rtol=0, atol=1e-6)
    rows = encoder.values.sum(-1)  # softmax over the 30 s window, cropped to the audio: rows sum to <= 1
    assert (rows <= 1 + 1e-5).all() and (rows > 0).all() and rows.min() < 0.99
    np.testing.assert_allclose(direct[-1][0].sum(-1).numpy(), 1, atol=1e-4)


def test_plain_transcription_is_the_text_capture_decodes(whisper, s3):
    model, processor = whisper
    text = transcribe(model, (s3, 16000), processor=processor)
    assert text.strip().lower().startswith("we will meet at the station")
    grids = capture(model, (s3, 16000), processor=processor, keep_encoder=False)
    assert grids.meta["text"].strip() == text.strip()
    assert grids.meta["model"] == "whisper-tiny.en"  # named in the HTML view's and the strips' titles
    from multiattn._commands.audio import _title

    assert _title({"grids": grids, "words": [{}] * 9}) == \
        "whisper-tiny.en: cross-attention aligned with the audio (9 words)"


def test_several_windows_decode_in_one_batch_from_their_encoder_outputs(whisper):
    model, processor = whisper
    monos = [prepare_audio(*load_audio(SPEECH / f"s{i}.wav"))[0] for i in range(1, 6)]
    gap = np.zeros(int(1.8 * 16000), np.float32)
    mono = np.concatenate([part for m in monos + monos[:2] for part in (m, gap)])
    assert 30 < len(mono) / 16000 < 60
    mels = wd.window_features(processor, mono)
    from_mels = wd.decode_ct2(wd.ct2_engine(model), model, mels, wd.MAX_NEW_TOKENS)
    hidden = [wd.encode(model, m, attentions=False).last_hidden_state for m in mels]
    assert wd.decode_encoded(model, hidden, wd.MAX_NEW_TOKENS) == from_mels
    assert all(tokens for tokens in from_mels)


def test_cli_no_encoder_skips_the_encoder_grid_and_picture(tmp_path):
    import json

    from multiattn import load_grids
    from multiattn.cli import main

    text = "we will meet at the station at nine tomorrow morning"
    assert main(["audio", str(SPEECH / "s3.wav"), "--text", text, "--no-encoder", "--out", str(tmp_path),
                 "--save", str(tmp_path / "grids.npz")]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["grids.npz", "strips.png", "words.json", "words.srt"]
    words = json.loads((tmp_path / "words.json").read_text())["words"]
    assert [w["word"] for w in words] == text.split()
    assert sorted(load_grids(tmp_path / "grids.npz")) == ["cross", "decoder"]


@pytest.mark.parametrize("layers", [[-1], [0, 2]])
def test_chosen_encoder_layers_equal_the_eager_encoder_and_the_model_stays_on_sdpa(whisper, s3, layers):
    """A layer list keeps only those layers (SDPA encoder, the layer recomputed from q and k)."""
    model, processor = whisper
    eager = capture(model, (s3, 16000), processor=processor, keep_encoder=True)
    chosen = capture(model, (s3, 16000), processor=processor, keep_encoder=layers)
    indices = [i % model.config.encoder_layers for i in layers]
    assert chosen["encoder"].layers == tuple(f"encoder.{i}" for i in indices)
    # eager vs SDPA layers before the kept one: float32 noise in the hidden states (~1e-6 measured)
    np.testing.assert_allclose(chosen["encoder"].values, eager["encoder"].values[indices], rtol=0, atol=1e-4)
    np.testing.assert_allclose(chosen["cross"].values, eager["cross"].values, rtol=0, atol=1e-4)
    assert model.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("bad", [[7], [1, -3], "last", 2])
def test_encoder_layer_lists_out_of_range_repeated_or_not_lists_are_refused(whisper, s3, bad):
    from multiattn.errors import MultiattnError

    model, processor = whisper
    with pytest.raises(MultiattnError, match="keep_encoder"):
        capture(model, (s3, 16000), processor=processor, keep_encoder=bad)
