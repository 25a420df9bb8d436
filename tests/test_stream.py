import numpy as np
import pytest

from multiattn.analysis import attention_distance, head_entropy, head_type_scores, rollout
from multiattn.stream import HeadMean, LayerMetric, RolloutReducer, TopK, feed

from .conftest import random_attention


def test_reducers_equal_full_analyses(rng):
    attn = random_attention(rng, (4, 3, 6, 6))
    reducers = {"e": LayerMetric(head_entropy), "r": RolloutReducer(residual=0.3),
                "m": HeadMean(), "t": TopK(2)}
    for index, layer in enumerate(attn):
        feed(reducers, f"layer.{index}", layer)
    np.testing.assert_allclose(reducers["e"].result(), head_entropy(attn), rtol=1e-6)
    np.testing.assert_allclose(reducers["r"].result(), rollout(attn, residual=0.3), rtol=1e-6)
    np.testing.assert_allclose(reducers["m"].result()[:, 0], attn.mean(1), rtol=1e-6)
    top = reducers["t"].result()
    expected = np.sort(attn, -1)[..., ::-1][..., :2]
    np.testing.assert_allclose(top["values"], expected)
    np.testing.assert_array_equal(np.take_along_axis(attn, top["indices"], -1), top["values"])
    assert reducers["e"].layers == ["layer.0", "layer.1", "layer.2", "layer.3"]


def test_reducer_errors(rng):
    with pytest.raises(ValueError, match=r"\(H, Q, K\)"):
        HeadMean().update("0", np.ones((2, 2)))
    bad = random_attention(rng, (2, 3, 3))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        HeadMean().update("0", bad)
    with pytest.raises(ValueError, match="seen no layer"):
        RolloutReducer().result()
    with pytest.raises(ValueError, match="k must be"):
        TopK(0)


def test_capture_stream_matches_full_capture():
    import torch
    from transformers import BertConfig, BertModel

    from multiattn.adapters._hf import eager_attention
    from multiattn.adapters._stream import capture_stream

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, attn_implementation="sdpa")
    model = BertModel(config).eval()
    inputs = {"input_ids": torch.randint(0, 50, (1, 9))}
    out = capture_stream(model, inputs, {"e": LayerMetric(head_entropy), "r": RolloutReducer()})
    with eager_attention(model), torch.no_grad():
        full = np.stack([a[0].numpy() for a in model(**inputs, output_attentions=True).attentions])
    assert len(out["layers"]) == 3
    np.testing.assert_allclose(out["e"], head_entropy(full), rtol=1e-5)
    np.testing.assert_allclose(out["r"], rollout(full), rtol=1e-5)
    assert model.config._attn_implementation == "sdpa"
    with pytest.raises(ValueError, match="no attention modules"):
        capture_stream(model, inputs, {"e": LayerMetric(head_entropy)}, include="nonexistent")


def test_capture_stream_timm_vit_matches_full_capture():
    import timm
    import torch

    from multiattn.adapters import vit
    from multiattn.adapters._stream import capture_stream

    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=64, depth=2,
                              reg_tokens=2, no_embed_class=True).eval()
    pixels = torch.randn(1, 3, 64, 64)
    out = capture_stream(model, {"x": pixels}, {"e": LayerMetric(head_entropy), "r": RolloutReducer()})
    store = []
    with torch.no_grad(), vit.timm_attention_hooks(model, store):
        model(pixels)
    full = np.stack([weights[0].numpy() for weights in store])
    assert out["layers"] == ["blocks.0.attn", "blocks.1.attn"] and full.shape == (2, 3, 19, 19)
    np.testing.assert_allclose(out["e"], head_entropy(full), rtol=1e-5)
    np.testing.assert_allclose(out["r"], rollout(full), rtol=1e-5)


def test_layer_metric_stacks_arrays_and_dicts(rng):
    attn = random_attention(rng, (3, 2, 6, 6))
    reducers = {"d": LayerMetric(attention_distance), "types": LayerMetric(head_type_scores)}
    for index, layer in enumerate(attn):
        feed(reducers, str(index), layer)
    np.testing.assert_allclose(reducers["d"].result(), attention_distance(attn), rtol=1e-6)
    streamed, full = reducers["types"].result(), head_type_scores(attn)
    assert set(streamed) == set(full)
    for key, value in full.items():
        if value is None:
            assert streamed[key] is None
        else:
            np.testing.assert_allclose(streamed[key], value, rtol=1e-6)


def _tiny_whisper():
    """A 2 + 2 layer random Whisper and its forward inputs (8 mel bins, 50 frames, 4 tokens)."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    config = WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                           decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                           num_mel_bins=8, max_source_positions=25, vocab_size=60,
                           pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    model = WhisperForConditionalGeneration(config).eval()
    return model, {"input_features": torch.randn(1, 8, 50), "decoder_input_ids": torch.tensor([[1, 5, 7, 9]])}


def test_capture_stream_whisper_cross_attention_matches_full_capture():
    import torch

    from multiattn.adapters._hf import eager_attention
    from multiattn.adapters._stream import capture_stream

    model, inputs = _tiny_whisper()
    out = capture_stream(model, inputs, {"mean": HeadMean()}, include="encoder_attn")
    with eager_attention(model), torch.no_grad():
        full = model(**inputs, output_attentions=True).cross_attentions
    assert out["layers"] == ["model.decoder.layers.0.encoder_attn", "model.decoder.layers.1.encoder_attn"]
    expected = np.stack([layer[0].numpy().mean(0, keepdims=True) for layer in full])
    assert out["mean"].shape == (2, 1, 4, 25)
    np.testing.assert_allclose(out["mean"], expected, rtol=1e-5, atol=1e-7)


def test_capture_stream_clip_vision_and_text_towers():
    import torch
    from transformers import CLIPConfig, CLIPModel

    from multiattn.adapters._hf import eager_attention
    from multiattn.adapters._stream import capture_stream

    torch.manual_seed(0)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    config = CLIPConfig(text_config=dict(vocab_size=60, **small),
                        vision_config=dict(image_size=32, patch_size=8, **small), projection_dim=16)
    model = CLIPModel(config).eval()
    inputs = {"input_ids": torch.tensor([[1, 5, 7, 2]]), "pixel_values": torch.randn(1, 3, 32, 32)}
    with eager_attention(model), torch.no_grad():
        out = model(**inputs, output_attentions=True)
    for tower, full in (("vision_model", out.vision_model_output.attentions),
                        ("text_model", out.text_model_output.attentions)):
        streamed = capture_stream(model, inputs, {"r": RolloutReducer()}, include=tower)
        assert len(streamed["layers"]) == 2 and all(tower in name for name in streamed["layers"])
        np.testing.assert_allclose(streamed["r"], rollout(np.stack([a[0].numpy() for a in full])), rtol=1e-5)


# ---------------------------------------------------------------- encoder-decoders (issue 16)
def _seq2seq(family):
    import torch

    from ._text_tiny import tiny_model

    model = tiny_model(family)
    inputs = {"input_ids": torch.tensor([[5, 6, 7, 8, 9, 10]]),
              "decoder_input_ids": torch.tensor([[0, 5, 6]])}
    return model, inputs


def _eager_reference(model, inputs):
    import copy

    import torch

    ref = copy.deepcopy(model)
    ref.set_attn_implementation("eager")
    with torch.no_grad():
        return ref(**inputs, output_attentions=True)


@pytest.mark.parametrize("family", ["t5", "bart"])
def test_stream_feeds_weights_not_position_bias_and_leaves_the_output_alone(family):
    import torch

    from multiattn.adapters._stream import capture_stream

    model, inputs = _seq2seq(family)
    with torch.no_grad():
        plain = model(**inputs).last_hidden_state
    during = []
    hook = model.register_forward_hook(lambda _m, _a, out: during.append(out.last_hidden_state))
    out = capture_stream(model, inputs, {"entropy": LayerMetric(head_entropy)})
    hook.remove()
    np.testing.assert_allclose(during[0].numpy(), plain.numpy(), atol=1e-5)
    ref = _eager_reference(model, inputs)
    # forward order: encoder 0, 1, then per decoder layer its self- and its cross-attention
    order = [*ref.encoder_attentions, ref.decoder_attentions[0], ref.cross_attentions[0],
             ref.decoder_attentions[1], ref.cross_attentions[1]]
    expected = np.stack([head_entropy(a[0].numpy()[None])[0] for a in order])
    assert len(out["layers"]) == 6
    np.testing.assert_allclose(out["entropy"], expected, rtol=1e-5, atol=1e-6)
    assert model.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("family, cross", [("t5", "layer.1"), ("bart", "encoder_attn")])
def test_include_encoder_matches_path_components_not_the_decoders_encoder_attn(family, cross):
    from multiattn.adapters._stream import attention_modules, capture_stream

    model, inputs = _seq2seq(family)
    out = capture_stream(model, inputs, {"mean": HeadMean()}, include="encoder")
    assert len(out["layers"]) == 2 and all(name.startswith("encoder.") for name in out["layers"])
    ref = _eager_reference(model, inputs)
    encoder = np.stack([a[0].numpy().mean(0, keepdims=True) for a in ref.encoder_attentions])
    np.testing.assert_allclose(out["mean"], encoder, rtol=1e-5, atol=1e-7)
    decoder_cross = [name for name, _, _ in attention_modules(model, include="decoder") if cross in name]
    assert len(decoder_cross) == 2


def test_include_on_a_whisper_like_model_keeps_the_encoder_only():

    from multiattn.adapters._stream import capture_stream

    model, inputs = _tiny_whisper()
    out = capture_stream(model, inputs, {"mean": HeadMean()}, include="encoder")
    assert out["layers"] == ["model.encoder.layers.0.self_attn", "model.encoder.layers.1.self_attn"]
    assert out["mean"].shape == (2, 1, 25, 25)
