"""Text capture on the model families people bring: sinks, hybrids, banded, refusals, memory guard.

Random-init tiny configs (tests/_text_tiny.py); nothing is downloaded.
"""

import warnings

import numpy as np
import pytest
import torch

from multiattn import RowSumWarning
from multiattn.adapters.text import capture
from multiattn.errors import AttentionTooLargeError, UnsupportedModelError

from ._text_tiny import tiny_model

IDS = [5, 17, 33, 8, 61, 42, 9, 23]


def _eager_attentions(model, ids=IDS):
    """Independent reference: a copy of the model on eager attention, output_attentions=True."""
    import copy

    ref = copy.deepcopy(model)
    ref.set_attn_implementation("eager")
    with torch.no_grad():
        out = ref(input_ids=torch.tensor([ids]), output_attentions=True)
    return np.stack([a[0].numpy() for a in out.attentions])


# ---------------------------------------------------------------- memory guard
def _llama_8b_on_meta():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                         hidden_size=4096, intermediate_size=14336, vocab_size=128256,
                         max_position_embeddings=8192)
    with torch.device("meta"):  # no weights are allocated: building takes ~0.1 s
        return LlamaForCausalLM(config)


def test_llama_8b_layout_at_2048_tokens_is_refused_before_the_forward(monkeypatch):
    from multiattn import _memory

    model = _llama_8b_on_meta()
    calls = []
    monkeypatch.setattr(model, "forward", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(_memory, "available_bytes", lambda: 32 * 2**30)
    with pytest.raises(AttentionTooLargeError) as err:
        capture(model, input_ids=list(range(5, 2053)))
    assert calls == []  # refused before any forward
    message = str(err.value)
    assert "32 layers × 32 heads × 2048 × 2048" in message and "16.0 GB" in message
    assert "capture_stream" in message and "max_length" in message


def test_memory_guard_lets_a_fitting_capture_through_and_refuses_a_small_limit(monkeypatch):
    from multiattn import _memory

    model = tiny_model("bert")
    assert capture(model, input_ids=IDS).shape == (2, 4, 8, 8)
    need = 2 * 4 * 8 * 8 * 4
    monkeypatch.setattr(_memory, "available_bytes", lambda: need)  # half of it is the limit
    with pytest.raises(AttentionTooLargeError, match="capture_stream"):
        capture(model, input_ids=IDS)


def test_capture_bytes_counts_decoder_and_cross_grids():
    from multiattn.adapters._text_grid import capture_bytes

    assert capture_bytes(tiny_model("bart"), 10, 6) == 4 * (2 * 4 * 100 + 2 * 4 * (36 + 60))
    assert capture_bytes(_llama_8b_on_meta(), 2048) == 16 * 2**30


# ---------------------------------------------------------------- attention sinks (gpt-oss)
def _sink(grid):
    """meta['sink_mass'][layer][head] for the grid's own layers and heads, as (L, H, Q)."""
    return np.array([[grid.meta["sink_mass"][layer][head] for head in grid.heads] for layer in grid.layers])


def test_gpt_oss_sink_mass_is_reported_and_rows_plus_sink_are_one():
    model = tiny_model("gpt_oss")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RowSumWarning)
        grid = capture(model, input_ids=IDS)
    sink = _sink(grid)
    assert sink.shape == grid.shape[:3]
    picked = grid.select(layer="layer.1", head=[2])  # labels keep the sink right after a selection
    np.testing.assert_allclose(picked.values.sum(-1)[0, 0] + _sink(picked)[0, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(grid.values.sum(-1, dtype=np.float64) + sink, 1.0, atol=1e-6)
    assert sink.min() > 0.01  # random sinks take a real share: it is not silently dropped
    np.testing.assert_allclose(grid.values, _eager_attentions(model), atol=1e-6)


@pytest.mark.parametrize("logit, expected", [(30.0, 1.0), (-30.0, 0.0)])
def test_gpt_oss_sink_logit_controls_the_reported_mass(logit, expected):
    model = tiny_model("gpt_oss")
    with torch.no_grad():
        for layer in model.layers:
            layer.self_attn.sinks.fill_(logit)
    np.testing.assert_allclose(_sink(capture(model, input_ids=IDS)), expected, atol=1e-5)


def test_normalize_renormalises_rows_and_says_so():
    grid = capture(tiny_model("gpt_oss"), input_ids=IDS, normalize=True)
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)
    assert "normalized" in grid.meta and "sink_mass" in grid.meta


# ---------------------------------------------------------------- hybrid layer labels
@pytest.mark.parametrize("family", ["qwen3_next", "lfm2"])
def test_hybrid_models_keep_the_models_own_layer_index(family):
    model = tiny_model(family)
    grid = capture(model, input_ids=IDS)
    assert grid.layers == ("layer.1",)  # layer 0 is linear attention / convolution
    np.testing.assert_allclose(grid.values, _eager_attentions(model), atol=1e-6)


# ---------------------------------------------------------------- Longformer band
def test_longformer_band_is_put_back_on_the_dense_grid():
    model = tiny_model("longformer")  # attention_window=4: keys i-2 .. i+2
    inputs = []
    hook = model.encoder.layer[0].attention.self.register_forward_pre_hook(
        lambda _m, args, kwargs: inputs.append(kwargs.get("hidden_states", args[0] if args else None)),
        with_kwargs=True)
    grid = capture(model, input_ids=IDS)
    hook.remove()
    attn = model.encoder.layer[0].attention.self
    with torch.no_grad():
        hidden = inputs[0][0]
        q = attn.query(hidden).reshape(8, 4, 8).transpose(0, 1) / np.sqrt(8)
        k = attn.key(hidden).reshape(8, 4, 8).transpose(0, 1)
        scores = q @ k.transpose(1, 2)
        band = (torch.arange(8)[:, None] - torch.arange(8)[None, :]).abs() <= 2
        expected = scores.masked_fill(~band, float("-inf")).softmax(-1).numpy()
    np.testing.assert_allclose(grid.values[0], expected, atol=1e-5)
    assert not grid.values[:, :, 0, 3:].any()


# ---------------------------------------------------------------- clear refusals
def test_mamba_is_refused_as_a_model_without_attention():
    with pytest.raises(UnsupportedModelError) as err:
        capture(tiny_model("mamba"), input_ids=IDS)
    assert "no attention" in str(err.value) and "attn_implementation" not in str(err.value)


def test_funnel_pooling_is_refused_with_the_layer_shapes():
    with pytest.raises(UnsupportedModelError, match=r"\(4, 8\)"):
        capture(tiny_model("funnel"), input_ids=IDS)


def test_forward_without_output_attentions_is_refused():
    bert = tiny_model("bert")

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.config = bert, bert.config

        def forward(self, input_ids, attention_mask=None):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask)

    with pytest.raises(UnsupportedModelError, match="output_attentions"):
        capture(Wrapped(), input_ids=IDS)


# ---------------------------------------------------------------- encoder-decoders: every config restored
def _all_configs(model):
    """Every config object reachable from the model: sub-models' and nested sub-configs."""
    found, stack = [], [getattr(m, "config", None) for m in model.modules()]
    while stack:
        config = stack.pop()
        if config is None or any(config is c for c in found):
            continue
        found.append(config)
        stack.extend(getattr(config, name, None) for name in getattr(config, "sub_configs", {}) or {})
    return found


@pytest.mark.parametrize("family, n_configs", [("t5", 3), ("bart", 1), ("pegasus", 1)])
def test_every_sub_config_gets_its_attention_implementation_back(family, n_configs):
    from ._text_tiny import word_tokenizer

    model = tiny_model(family)
    before = [(c, c._attn_implementation) for c in _all_configs(model)]
    assert len(before) >= n_configs and all(impl != "eager" for _, impl in before)
    grids = capture(model, "the cat sat on a mat", processor=word_tokenizer(), target="a dog ran")
    assert [(c, c._attn_implementation) for c in _all_configs(model)] == before
    ref = _eager_reference_seq2seq(model, grids)
    for name, expected in ref.items():
        np.testing.assert_allclose(grids[name].values, expected, atol=1e-6)
        np.testing.assert_allclose(grids[name].values.sum(-1), 1.0, atol=1e-5)


def _eager_reference_seq2seq(model, grids):
    import copy

    from ._text_tiny import word_tokenizer

    tok = word_tokenizer()
    ref = copy.deepcopy(model)
    for sub in ref.modules():  # composite models (EncoderDecoderModel) do not pass it on
        if hasattr(sub, "set_attn_implementation"):
            sub.set_attn_implementation("eager")
    ids = torch.tensor([tok("the cat sat on a mat")["input_ids"]])
    labels = torch.tensor([tok(text_target="a dog ran")["input_ids"]])
    start = torch.tensor([[ref.config.decoder_start_token_id]])
    with torch.no_grad():  # teacher forcing: the target shifted right after the start token
        out = ref(input_ids=ids, decoder_input_ids=torch.cat([start, labels[:, :-1]], 1),
                  output_attentions=True)
    stack = lambda layers: np.stack([a[0].numpy() for a in layers])  # noqa: E731
    return {"encoder": stack(out.encoder_attentions), "decoder": stack(out.decoder_attentions),
            "cross": stack(out.cross_attentions)}


@pytest.mark.parametrize("library", ["hf", "timm"])
def test_vit_capture_is_guarded_before_the_forward_too(monkeypatch, library):
    from multiattn import _memory
    from multiattn.adapters import vit

    if library == "hf":
        from transformers import ViTConfig, ViTModel

        model = ViTModel(ViTConfig(image_size=64, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                   num_attention_heads=4, intermediate_size=64)).eval()
    else:
        timm = pytest.importorskip("timm")
        model = timm.models.VisionTransformer(img_size=64, patch_size=8, embed_dim=32, depth=2, num_heads=4,
                                              num_classes=0).eval()
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    assert vit.capture(model, image, size=64).shape == (2, 4, 65, 65)  # fits
    calls = []
    monkeypatch.setattr(model, "forward", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(_memory, "available_bytes", lambda: 2 * 4 * 65 * 65 * 4)  # half: under the grid
    with pytest.raises(AttentionTooLargeError, match=r"2 layers × 4 heads × 65 × 65.*capture_stream"):
        vit.capture(model, image, size=64)
    assert calls == []
