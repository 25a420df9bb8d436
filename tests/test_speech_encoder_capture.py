"""Speech encoders (wav2vec2, HuBERT, WavLM, Data2VecAudio, UniSpeech): capture, frame times, refusals."""

from pathlib import Path

import numpy as np
import pytest
import torch
import transformers as tf

import multiattn
from multiattn import AttentionGrid, TimeAxis
from multiattn.adapters import _speech_frames, speech
from multiattn.media import load_audio

SPEECH = Path(__file__).resolve().parents[1] / "media_samples" / "speech"
#: A 2-layer conv stack: kernels 10, 3 and strides 5, 2 (receptive field 20 samples, jump 10).
TWO_CONVS = dict(conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2))
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
             num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
PLAIN = ["Wav2Vec2", "Hubert", "Data2VecAudio", "UniSpeech", "UniSpeechSat"]


def build(name, head="Model", convs=TWO_CONVS, seed=0, **extra):
    torch.manual_seed(seed)
    config = getattr(tf, f"{name}Config")(**SMALL, **convs, **extra)
    return getattr(tf, f"{name}{head}")(config).eval()


@pytest.fixture(scope="module")
def wave():
    t = np.arange(1600) / 16000
    rng = np.random.default_rng(0)
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def _eager_reference(model, values):
    """softmax(q kᵀ / sqrt(d)) from each attention module's input, recomputed outside the model."""
    found = []

    def hook(module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        b, n, d = hidden.shape
        h = module.num_heads
        q = module.q_proj(hidden).view(b, n, h, d // h).transpose(1, 2) * (d // h) ** -0.5
        k = module.k_proj(hidden).view(b, n, h, d // h).transpose(1, 2)
        found.append((q @ k.transpose(-1, -2)).softmax(-1)[0].double().numpy())

    modules = [m for name, m in model.named_modules() if name.endswith("attention")
               and hasattr(m, "q_proj")]
    handles = [m.register_forward_pre_hook(hook, with_kwargs=True) for m in modules]
    try:
        with torch.no_grad():
            model(input_values=values)
    finally:
        for handle in handles:
            handle.remove()
    return np.stack(found)


@pytest.mark.parametrize("name", PLAIN)
def test_plain_families_equal_an_eager_reference(name, wave):
    model = build(name)
    before = model.config._attn_implementation
    values = speech.prepare(model, (wave, 16000))["input_values"]
    with torch.no_grad():
        out_before = model(input_values=values).last_hidden_state
    grid = speech.capture(model, (wave, 16000))
    n_frames = int(model._get_feat_extract_output_lengths(wave.size))
    assert grid.shape == (2, 4, n_frames, n_frames) and grid.layers == ("encoder.0", "encoder.1")
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(grid.values, _eager_reference(model, values), atol=2e-6)
    assert model.config._attn_implementation == before == "sdpa"
    with torch.no_grad():
        assert torch.equal(model(input_values=values).last_hidden_state, out_before)


def test_wavlm_heads_are_the_per_head_weights_torch_computes(wave, monkeypatch):
    """HF's WavLM returns the head mean for every head; capture gives torch's own per-head weights."""
    model = build("WavLM")
    values = speech.prepare(model, (wave, 16000))["input_values"]
    with torch.no_grad():
        hf = model(input_values=values, output_attentions=True).attentions
    assert torch.equal(hf[0][0, 0], hf[0][0, 1])  # what a naive capture would return: identical heads
    grid = speech.capture(model, (wave, 16000))
    assert np.abs(grid.values[0, 0] - grid.values[0, 1]).max() > 1e-4  # real heads differ
    np.testing.assert_allclose(grid.values.mean(1), np.stack([a[0, 0].numpy() for a in hf]), atol=1e-5)
    # independent reference: the same torch call, asked for per-head weights
    original = torch.nn.functional.multi_head_attention_forward
    recorded = []

    def per_head(*args, **kwargs):
        kwargs["average_attn_weights"] = False
        out, weights = original(*args, **kwargs)
        recorded.append(weights[0].numpy())
        return out, weights.mean(1)

    monkeypatch.setattr(torch.nn.functional, "multi_head_attention_forward", per_head)
    with torch.no_grad():
        model(input_values=values)
    np.testing.assert_allclose(grid.values, np.stack(recorded), atol=2e-6)
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)
    assert any("per-head" in note for note in grid.meta["notes"])


def test_wavlm_relative_bias_moves_the_weights(wave):
    """With the relative position embedding zeroed the captured weights change: the bias is in them."""
    model = build("WavLM")
    with_bias = speech.capture(model, (wave, 16000)).values
    with torch.no_grad():
        model.encoder.layers[0].attention.rel_attn_embed.weight.zero_()
    assert np.abs(speech.capture(model, (wave, 16000)).values - with_bias).max() > 1e-4  # weights ~ 3e-3


def test_time_axis_is_the_receptive_field_centre_by_hand_and_by_perturbation():
    model = build("Wav2Vec2", feat_extract_norm="layer")  # group norm would mix frames over time
    assert _speech_frames.conv_geometry(model) == {"field": 20, "jump": 10, "pad": 0}
    axis = _speech_frames.time_axis(model, 5, 16000)
    # by hand: frame i sees samples 10 i .. 10 i + 19 (kernel 10 stride 5, then kernel 3 stride 2)
    np.testing.assert_allclose(axis.times, [(10 * i + 20 / 2) / 16000 for i in range(5)])
    np.testing.assert_allclose(axis.edges[:2], [5 / 16000, 15 / 16000])
    # by perturbation: the frames a sample reaches are the ones whose field holds it
    encoder = model.feature_extractor
    x = torch.randn(1, 200)
    with torch.no_grad():
        base = encoder(x)
        for n in (0, 37, 100):
            y = x.clone()
            y[0, n] += 1.0
            changed = np.flatnonzero((encoder(y) - base).abs().sum(1)[0].numpy() > 1e-7)
            assert changed.tolist() == [i for i in range(base.shape[-1]) if 10 * i <= n < 10 * i + 20]


def test_base_geometry_is_20_ms_frames_centred_at_12_5_ms():
    model = build("Hubert", convs={})  # the published 7-layer stack
    geo = _speech_frames.conv_geometry(model)
    assert geo == {"field": 400, "jump": 320, "pad": 0}
    axis = _speech_frames.time_axis(model, 3, 16000)
    assert axis.hop_s == pytest.approx(0.02)
    np.testing.assert_allclose(axis.times, [0.0125, 0.0325, 0.0525])


def test_sample_file_routes_through_multiattn_capture():
    model = build("Wav2Vec2", head="ForCTC", convs={}, vocab_size=12)
    assert multiattn.modality(model) == "audio"
    grid = multiattn.capture(model, str(SPEECH / "s1.wav"))
    audio, sr = load_audio(SPEECH / "s1.wav")
    assert isinstance(grid, AttentionGrid) and isinstance(grid.query, TimeAxis)
    assert grid.n_layers == 2 and len(grid.query) == (audio.size - 400) // 320 + 1 == 283
    assert grid.query.edges[-1] <= audio.size / sr  # no frame beyond the audio
    assert grid.meta["family"] == "wav2vec2" and grid.meta["input"].startswith("zero-mean")
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)


def test_stereo_44k_is_mixed_and_resampled():
    model = build("Data2VecAudio", convs={})
    grid = speech.capture(model, SPEECH / "stereo44k.wav")
    assert grid.meta["sample_rate"] == 16000
    assert grid.meta["duration_s"] == pytest.approx(3.746, abs=1e-3)


def test_processor_gives_the_same_input_as_the_default(wave):
    model = build("Wav2Vec2")
    extractor = tf.Wav2Vec2FeatureExtractor(do_normalize=True)
    with_proc = speech.capture(model, (wave, 16000), processor=extractor)
    default = speech.capture(model, (wave, 16000))
    np.testing.assert_allclose(with_proc.values, default.values, atol=1e-5)
    raw = speech.capture(model, (wave, 16000), normalize=False)
    assert raw.meta["input"] == "raw waveform"
    fed = speech.prepare(model, (wave * 3 + 0.1, 16000), normalize=False)["input_values"][0].numpy()
    np.testing.assert_allclose(fed, wave * 3 + 0.1, atol=1e-6)
    with pytest.raises(ValueError, match="normalize= is for processor=None"):
        speech.capture(model, (wave, 16000), processor=extractor, normalize=False)


def test_refusals_are_one_clear_line(wave):
    sew = build("SEW")
    with pytest.raises(ValueError, match="SEW squeezes the frames"):
        speech.capture(sew, (wave, 16000))
    model = build("Wav2Vec2")
    with pytest.raises(ValueError, match="shorter than one frame"):
        speech.capture(model, (wave[:15], 16000))
    with pytest.raises(TypeError, match="add its sample rate"):
        speech.capture(model, wave)
    with pytest.raises(ValueError, match="no token to explain"):
        multiattn.explain(model, (wave, 16000))
    with pytest.raises(ValueError, match="recomputes each head"):
        from multiattn.stream import HeadMean

        multiattn.capture_stream(build("WavLM"), (wave, 16000), {"m": HeadMean()})


def test_whisper_adapter_refuses_a_speech_encoder(wave):
    from multiattn.adapters import whisper

    model = build("Wav2Vec2", head="ForCTC", vocab_size=12)
    for call in (whisper.capture, whisper.transcribe, whisper.prepare):
        with pytest.raises(ValueError, match="speech encoder has no decoder.*speech.capture"):
            call(model, (wave, 16000), processor=None)


def test_streaming_a_wav2vec2_matches_capture(wave):
    from multiattn.stream import HeadMean

    model = build("Hubert")
    grid = speech.capture(model, (wave, 16000))
    out = multiattn.capture_stream(model, (wave, 16000), {"mean": HeadMean()})
    assert len(out["layers"]) == 2
    np.testing.assert_allclose(np.asarray(out["mean"])[:, 0], grid.values.mean(1), atol=1e-5)


def test_heatmap_draws_the_spectrogram_on_the_key_time_axis(tmp_path):
    from multiattn.adapters._whisper_decode import prepare_audio
    from multiattn.renderers.audio import self_attention_heatmap
    from multiattn.renderers.figure import save_figure

    model = build("Hubert", convs={})
    grid = speech.capture(model, SPEECH / "s1.wav")
    mono, _ = prepare_audio(*load_audio(SPEECH / "s1.wav"))
    ax = self_attention_heatmap(grid, audio=mono, sr=16000)
    strip = [child for child in ax.child_axes if child.get_ylabel().startswith("mel")]
    assert len(strip) == 1 and strip[0].get_xlim() == ax.get_xlim() == (grid.key.edges[0], grid.key.edges[-1])
    assert strip[0].get_title().startswith("encoder self-attention")
    assert "rows sum to 1" in ax.figure.axes[-1].get_ylabel()  # the colorbar states the grid's normalisation
    assert save_figure(ax.figure, tmp_path / "enc.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="mono audio"):
        self_attention_heatmap(grid, audio=np.zeros((2, 10)))


def test_an_adapter_after_the_encoder_does_not_change_the_frames(wave):
    """add_adapter (seq2seq) strides after the encoder: the encoder's frames stay the conv stack's."""
    model = build("Wav2Vec2", add_adapter=True, num_adapter_layers=1, adapter_stride=2, output_hidden_size=32)
    grid = speech.capture(model, (wave, 16000))
    assert len(grid.query) == (wave.size - 20) // 10 + 1
