"""Sweep (issue 16): speech encoders and video models on random-init tiny configs.

For every family: layers / heads / token counts (prefix tokens included), rows sum to 1,
the model's output is unchanged by the capture, the attention implementation of every config
is restored, and the values equal an independent recomputation of softmax(q kᵀ / sqrt(d))
from each attention module's input (placed through the axis *labels*, not the adapter's edge
code).  Refusals are one clear line.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import transformers as tf

import multiattn
import multiattn.errors
from multiattn import AttentionGrid, GridSet, TimeAxis, VideoAxis
from multiattn.adapters._video_inputs import FAMILIES as VIDEO_FAMILIES

SPEECH = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), num_conv_pos_embeddings=16,
              num_conv_pos_embedding_groups=2)
VIDEO = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
WAVE = (0.3 * np.sin(np.arange(1200) / 7.0) + 0.05 * np.random.default_rng(0).standard_normal(1200)
        ).astype(np.float32)
FRAMES = np.random.default_rng(1).integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)


@dataclass
class Case:
    model: Any
    inputs: Any
    processor: Any = None
    options: dict | None = None


def _speech(name: str) -> Case:
    model = getattr(tf, f"{name}Model")(getattr(tf, f"{name}Config")(**SPEECH)).eval()
    return Case(model, (WAVE, 16000))


def _whisper() -> Case:
    from multiattn.zoo._whisper import whisper_processor

    config = tf.WhisperConfig(vocab_size=51864, d_model=32, encoder_layers=2, decoder_layers=2,
                              encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                              decoder_ffn_dim=64, max_target_positions=32)
    model = tf.WhisperForConditionalGeneration(config).eval()  # a fresh generation_config
    assert not hasattr(model.generation_config, "no_timestamps_token_id")
    return Case(model, (np.tile(WAVE, 4), 16000), whisper_processor(), {"text": "hello"})


def _video(name: str) -> Case:
    if name == "videomae":
        model = tf.VideoMAEModel(tf.VideoMAEConfig(num_frames=4, image_size=32, patch_size=8, tubelet_size=2,
                                                   **VIDEO))
    elif name == "vivit":
        model = tf.VivitModel(tf.VivitConfig(num_frames=4, image_size=32, tubelet_size=[2, 8, 8], **VIDEO))
    elif name == "timesformer":
        model = tf.TimesformerModel(tf.TimesformerConfig(num_frames=4, image_size=32, patch_size=8, **VIDEO))
    elif name == "vjepa2":
        model = tf.VJEPA2Model(tf.VJEPA2Config(
            crop_size=32, frames_per_clip=4, tubelet_size=2, patch_size=8, hidden_size=32,
            num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2.0, pred_hidden_size=32,
            pred_num_hidden_layers=1, pred_num_attention_heads=2, pred_num_mask_tokens=2))
    else:
        small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
        model = tf.XCLIPModel(tf.XCLIPConfig(
            text_config=dict(vocab_size=100, max_position_embeddings=16, **small),
            vision_config=dict(image_size=32, patch_size=8, num_frames=4, mit_hidden_size=16,
                               mit_intermediate_size=32, mit_num_hidden_layers=1, mit_num_attention_heads=2,
                               **small), projection_dim=16, prompt_layers=1))
    return Case(model.eval(), FRAMES, None, {"fps": 4})


FAMILIES = {"wav2vec2": lambda: _speech("Wav2Vec2"), "hubert": lambda: _speech("Hubert"),
            "wavlm": lambda: _speech("WavLM"), "data2vec-audio": lambda: _speech("Data2VecAudio"),
            "whisper": _whisper, "videomae": lambda: _video("videomae"), "vivit": lambda: _video("vivit"),
            "timesformer": lambda: _video("timesformer"), "vjepa2": lambda: _video("vjepa2"),
            "xclip": lambda: _video("xclip")}


def _impls(model) -> list:
    configs = [getattr(m, "config", None) for m in model.modules()]
    configs += [getattr(model.config, name, None) for name in getattr(model.config, "sub_configs", {})]
    return [getattr(c, "_attn_implementation", None) for c in configs if c is not None]


def _forward(name: str, case: Case) -> torch.Tensor:
    """The model output a user reads, on the inputs the adapter feeds."""
    from multiattn.adapters import speech, video, whisper

    with torch.no_grad():
        if name == "whisper":
            batch = whisper.prepare(case.model, case.inputs, processor=case.processor, text="hello")
            return case.model(**batch).logits
        if name == "xclip":
            pixels = video.prepare(case.model, case.inputs)["pixel_values"]
            return getattr(case.model.get_video_features(pixel_values=pixels), "pooler_output", None)
        if case.model.config.model_type in VIDEO_FAMILIES:
            return case.model(**video.prepare(case.model, case.inputs)).last_hidden_state
        return case.model(**speech.prepare(case.model, case.inputs)).last_hidden_state


@pytest.fixture(scope="module")
def captured():
    cache = {}

    def get(name):
        if name not in cache:
            torch.manual_seed(0)
            case = FAMILIES[name]()
            impls, before = _impls(case.model), _forward(name, case)
            with warnings.catch_warnings():  # a random Whisper does not "match" any transcript
                warnings.simplefilter("ignore", multiattn.errors.MultiattnWarning)
                result = multiattn.capture(case.model, case.inputs, processor=case.processor,
                                           **(case.options or {}))
            cache[name] = (case, result, impls, before)
        return cache[name]

    return get


EXPECTED = {  # (grid name, layers, heads, positions, prefix)
    "wav2vec2": (None, 2, 4, 119, None), "hubert": (None, 2, 4, 119, None), "wavlm": (None, 2, 4, 119, None),
    "data2vec-audio": (None, 2, 4, 119, None), "whisper": ("encoder", 2, 2, 15, None),
    "videomae": (None, 2, 2, 2 * 16, ()), "vivit": (None, 2, 2, 1 + 2 * 16, ("CLS",)),
    "timesformer": ("spatial", 2, 2, 1 + 4 * 16, ("CLS",)), "vjepa2": (None, 2, 2, 2 * 16, ()),
    "xclip": ("spatial", 2, 2, 8 + 4 * 16, tuple(f"{kind}.{t}" for kind in ("CLS", "MSG") for t in range(4))),
}


def _main(result, key):
    return result[key] if key else result


@pytest.mark.parametrize("name", list(FAMILIES))
def test_layers_heads_and_positions(name, captured):
    case, result, _, _ = captured(name)
    key, layers, heads, positions, prefix = EXPECTED[name]
    grid = _main(result, key)
    assert isinstance(grid, AttentionGrid) and (grid.n_layers, grid.n_heads, len(grid.query)) == (
        layers, heads, positions)
    if prefix is None:
        assert isinstance(grid.query, TimeAxis)
    else:
        assert isinstance(grid.query, VideoAxis) and grid.query.prefix == prefix
    if name == "xclip":
        assert set(result) == {"spatial", "message", "mit"} and result["mit"].n_layers == 1


@pytest.mark.parametrize("name", list(FAMILIES))
def test_rows_sum_to_one(name, captured):
    case, result, _, _ = captured(name)
    grids = result.values() if isinstance(result, GridSet) else [result]
    for grid in grids:
        dense = grid.to_dense().values
        if name == "whisper" and "normalized" in grid.meta:  # cropped: the rest sits on the 30 s padding
            assert grid.meta["normalized"].startswith("softmax over the 30 s window")
            assert (dense.sum(-1) <= 1 + 1e-5).all()
            continue
        sums = dense.sum(-1)
        if name in ("timesformer", "xclip"):  # each step covers only the rows it computes
            active = sums > 0
            if name == "xclip" and grid.meta["step"] != "spatial":
                assert active.sum() == grid.n_layers * grid.n_heads * 4  # the 4 MSG / CLS tokens
            np.testing.assert_allclose(sums[active], 1.0, atol=1e-5)
        else:
            np.testing.assert_allclose(sums, 1.0, atol=1e-5)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_output_unchanged_and_implementation_restored(name, captured):
    case, _, impls, before = captured(name)
    assert _impls(case.model) == impls
    torch.testing.assert_close(_forward(name, case), before, rtol=0, atol=0)


# -- independent recomputation ---------------------------------------------------------------


def _qk_probs(module, hidden, heads):
    """softmax(q kᵀ / sqrt(d)) of a module with (q_proj, k_proj), (query, key) or a fused qkv."""
    b, n, d = hidden.shape
    if hasattr(module, "qkv"):
        q, k = module.qkv(hidden).view(b, n, 3, heads, d // heads).permute(2, 0, 3, 1, 4)[:2]
    else:
        q_lin = getattr(module, "q_proj", None) or module.query
        k_lin = getattr(module, "k_proj", None) or module.key
        q = q_lin(hidden).view(b, n, heads, -1).transpose(1, 2)
        k = k_lin(hidden).view(b, n, heads, -1).transpose(1, 2)
    if hasattr(module, "apply_rotary_embeddings"):  # V-JEPA 2: its own RoPE, then a plain softmax
        pos = module.get_position_ids(hidden, masks=None)
        q, k = module.apply_rotary_embeddings(q, pos), module.apply_rotary_embeddings(k, pos)
    return ((q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5).softmax(-1).detach().double().numpy()


def _hooked_inputs(model, match, run):
    found = []
    handles = [m.register_forward_pre_hook(lambda mod, args, kw: found.append((mod, args[0] if args else
                                                                              kw["hidden_states"])),
                                           with_kwargs=True)
               for name, m in model.named_modules() if match(name, m)]
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return found


def _index(axis):
    return {label: i for i, label in enumerate(axis.labels)}


def _frame_tokens(axis, t, lead=("CLS",), tail=()):
    """Global indices of frame t's tokens in the model's per-frame order, from the axis labels."""
    at = _index(axis)
    names = [f"{p}.{t}" if "." in axis.prefix[0] else p for p in lead]
    names += [f"t{t}r{r}c{c}" for r in range(axis.rows) for c in range(axis.cols)]
    names += [f"{p}.{t}" for p in tail]
    return np.array([at[n] for n in names])


@pytest.mark.parametrize("name", list(FAMILIES))
def test_values_equal_an_independent_recomputation(name, captured, monkeypatch):
    from multiattn.adapters import speech, video, whisper

    case, result, _, _ = captured(name)
    model = case.model
    if name == "wavlm":  # torch's own per-head weights (HF asks for the head mean)
        original = torch.nn.functional.multi_head_attention_forward
        recorded = []

        def per_head(*args, **kwargs):
            out, weights = original(*args, **{**kwargs, "average_attn_weights": False})
            recorded.append(weights[0].numpy())
            return out, weights.mean(1)

        monkeypatch.setattr(torch.nn.functional, "multi_head_attention_forward", per_head)
        with torch.no_grad():
            model(**speech.prepare(model, case.inputs))
        np.testing.assert_allclose(result.values, np.stack(recorded), atol=2e-6)
        return
    if name in ("wav2vec2", "hubert", "data2vec-audio"):
        batch = speech.prepare(model, case.inputs)
        found = _hooked_inputs(model, lambda n, m: n.endswith(".attention") and hasattr(m, "q_proj"),
                               lambda: model(**batch))
        ref = np.stack([_qk_probs(m, h, 4)[0] for m, h in found])
        np.testing.assert_allclose(result.values, ref, atol=2e-6)
    elif name == "whisper":
        batch = whisper.prepare(model, case.inputs, processor=case.processor, text="hello")
        found = _hooked_inputs(model, lambda n, m: n.startswith("model.encoder.") and n.endswith("self_attn"),
                               lambda: model.model.encoder(batch["input_features"]))
        n = len(result["encoder"].query)
        ref = np.stack([_qk_probs(m, h, 2)[0][:, :n, :n] for m, h in found])
        np.testing.assert_allclose(result["encoder"].values, ref, atol=2e-6)
    elif name in ("videomae", "vivit", "vjepa2"):
        batch = video.prepare(model, case.inputs)
        projections = ("query", "q_proj")
        found = _hooked_inputs(model, lambda n, m: any(isinstance(getattr(m, p, None), torch.nn.Linear)
                                                       for p in projections), lambda: model(**batch))
        ref = np.stack([_qk_probs(m, h, 2)[0] for m, h in found])
        np.testing.assert_allclose(result.values, ref, atol=2e-6)
    elif name == "timesformer":
        _check_timesformer(model, result)
    else:
        _check_xclip(model, result)


def _check_timesformer(model, result):
    from multiattn.adapters import video

    axis = result["spatial"].query
    batch = video.prepare(model, FRAMES)
    found = _hooked_inputs(model, lambda n, m: n.endswith("attention.attention") and hasattr(m, "qkv"),
                           lambda: model(**batch))
    spatial = result["spatial"].to_dense().values
    temporal = result["temporal"].to_dense().values
    for layer in range(2):
        temporal_ref = _qk_probs(*found[2 * layer], 2)  # (patches, H, T, T): temporal step first
        spatial_ref = _qk_probs(*found[2 * layer + 1], 2)  # (T, H, 1 + N, 1 + N)
        for t in range(4):
            idx = _frame_tokens(axis, t)
            block = spatial[layer][:, idx[1:]][:, :, idx]  # patch queries of frame t, its CLS + patches
            np.testing.assert_allclose(block, spatial_ref[t][:, 1:], atol=2e-6)
        at = _index(axis)
        for p, (r, c) in enumerate([(r, c) for r in range(axis.rows) for c in range(axis.cols)]):
            idx = np.array([at[f"t{t}r{r}c{c}"] for t in range(4)])
            np.testing.assert_allclose(temporal[layer][:, idx][:, :, idx], temporal_ref[p], atol=2e-6)


def _check_xclip(model, result):
    from multiattn.adapters import video

    axis = result["spatial"].query
    pixels = video.prepare(model, FRAMES)["pixel_values"]
    in_vision = lambda n, m: type(m).__name__ == "XCLIPAttention" and not n.startswith("text")  # noqa: E731
    found = _hooked_inputs(model, in_vision, lambda: model.get_video_features(pixel_values=pixels))
    names = [n for n, m in model.named_modules() if type(m).__name__ == "XCLIPAttention"
             and not n.startswith("text") and not n.startswith("prompts")]
    assert len(found) == len(names) == 5  # 2 x (message, self) + 1 MIT layer
    at = _index(axis)
    msg = np.array([at[f"MSG.{t}"] for t in range(4)])
    cls = np.array([at[f"CLS.{t}"] for t in range(4)])
    spatial = result["spatial"].to_dense().values
    for layer in range(2):
        message_ref = _qk_probs(*found[2 * layer], 2)[0]  # (H, T, T) over the message tokens
        np.testing.assert_allclose(result["message"].to_dense().values[layer][:, msg][:, :, msg], message_ref,
                                   atol=2e-6)
        frame_ref = _qk_probs(*found[2 * layer + 1], 2)  # (T, H, 2 + N, 2 + N): CLS, patches, MSG
        for t in range(4):
            idx = _frame_tokens(axis, t, lead=("CLS",), tail=("MSG",))
            np.testing.assert_allclose(spatial[layer][:, idx][:, :, idx], frame_ref[t], atol=2e-6)
    mit_ref = _qk_probs(*found[4], 2)[0]
    np.testing.assert_allclose(result["mit"].to_dense().values[0][:, cls][:, :, cls], mit_ref, atol=2e-6)


# -- refusals ----------------------------------------------------------------------------------


def test_clear_refusals():
    from multiattn.adapters import speech, video, whisper

    sew = tf.SEWModel(tf.SEWConfig(**SPEECH)).eval()
    with pytest.raises(ValueError, match="SEW squeezes the frames"):
        speech.capture(sew, (WAVE, 16000))
    with pytest.raises(ValueError, match="SEW squeezes the frames"):  # routed to the speech adapter's reason
        multiattn.capture(sew, (WAVE, 16000))
    w2v = _speech("Wav2Vec2").model
    with pytest.raises(ValueError, match="speech encoder has no decoder"):
        whisper.capture(w2v, (WAVE, 16000))
    with pytest.raises(ValueError, match="Whisper is an encoder-decoder"):
        speech.capture(_whisper().model, (WAVE, 16000))
    with pytest.raises(ValueError, match="attentive pooler"):
        video.explain(_video("vjepa2").model, FRAMES, method="rollout")
    with pytest.raises(ValueError, match="X-CLIP scores captions"):
        video.explain(_video("xclip").model, FRAMES)
    with pytest.raises(ValueError, match="needs 4 frames"):
        video.capture(_video("vjepa2").model, FRAMES[:3])
    from multiattn.stream import HeadMean

    with pytest.raises(ValueError, match="X-CLIP's video tower .* is not streamed"):
        multiattn.capture_stream(_video("xclip").model, FRAMES, {"m": HeadMean()})


def test_vjepa2_streams_its_encoder_only():
    from multiattn.stream import HeadMean

    case = _video("vjepa2")
    out = multiattn.capture_stream(case.model, FRAMES, {"m": HeadMean()})
    assert out["layers"] == ["encoder.layer.0.attention", "encoder.layer.1.attention"]  # no predictor
    grid = multiattn.capture(case.model, FRAMES)
    np.testing.assert_allclose(np.asarray(out["m"])[:, 0], grid.values.mean(1), atol=1e-6)


def test_fresh_whisper_decodes_greedily_too():
    """A freshly built Whisper (no no_timestamps_token_id) runs the greedy path with the vocabulary's
    <|notimestamps|> (the tokenizer's own id)."""
    from multiattn.adapters import _whisper_decode, whisper

    case = _whisper()
    notimestamps = case.processor.tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    assert _whisper_decode.prompt(case.model)[1] == notimestamps == 50362
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", multiattn.errors.MultiattnWarning)
        grids = whisper.capture(case.model, case.inputs, processor=case.processor, max_new_tokens=3)
    assert grids["decoder"].query.labels[1] == "<|notimestamps|>" and len(grids["decoder"].query) <= 2 + 3 + 1
