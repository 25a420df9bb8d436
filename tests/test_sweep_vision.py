"""Sweep: random-init small configs of every vision family multiattn supports (or refuses).

For each family: layer / head / token counts incl. prefix tokens, rows sum to 1, the model's
output unchanged by the capture, the attention implementation restored in every sub-config,
and the values equal to an independent eager computation (a separate eager copy of the
Hugging Face model; timm's own unfused formula, read where the block applies it).
"""

import copy

import numpy as np
import pytest
import timm
import torch
import transformers as T

import multiattn
from multiattn.adapters import vit
from multiattn.errors import UnsupportedModelError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

_V = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32,
          patch_size=8)

#: name -> (builder, prefix, expected patch grid)
HF = {
    "vit": (lambda: T.ViTForImageClassification(T.ViTConfig(**_V, num_labels=3)), ("CLS",), (4, 4)),
    "deit": (lambda: T.DeiTForImageClassificationWithTeacher(T.DeiTConfig(**_V)), ("CLS", "DIST"), (4, 4)),
    "dinov2": (lambda: T.Dinov2Model(T.Dinov2Config(**_V)), ("CLS",), (4, 4)),
    "dinov2-reg": (lambda: T.Dinov2WithRegistersModel(
        T.Dinov2WithRegistersConfig(**_V, num_register_tokens=2)), ("CLS", "REG0", "REG1"), (4, 4)),
    "dinov3": (lambda: T.DINOv3ViTModel(T.DINOv3ViTConfig(**_V, num_register_tokens=2)),
               ("CLS", "REG0", "REG1"), (4, 4)),
    "beit": (lambda: T.BeitModel(T.BeitConfig(**_V, use_relative_position_bias=True)), ("CLS",), (4, 4)),
    "data2vec": (lambda: T.Data2VecVisionModel(T.Data2VecVisionConfig(**_V, use_relative_position_bias=True)),
                 ("CLS",), (4, 4)),
    "clip-vision": (lambda: T.CLIPVisionModel(T.CLIPVisionConfig(**_V)), ("CLS",), (4, 4)),
    "siglip-vision": (lambda: T.SiglipVisionModel(T.SiglipVisionConfig(**_V)), (), (4, 4)),
    "siglip2-vision": (lambda: T.Siglip2VisionModel(T.Siglip2VisionConfig(
        **{k: v for k, v in _V.items() if k != "image_size"}, num_patches=16)), (), (4, 4)),
}


def _image(h=40, w=48, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _impls(model):
    from multiattn.adapters._hf import _configs

    return [getattr(c, "_attn_implementation", None) for c in _configs(model)]


def _hf_reference(model, kwargs):
    """A separate copy loaded on eager attention: its own output_attentions."""
    ref = type(model)._from_config(copy.deepcopy(model.config), attn_implementation="eager").eval()
    ref.load_state_dict(model.state_dict())
    with torch.no_grad():
        return ref(**kwargs, output_attentions=True)


@pytest.mark.parametrize("name", list(HF))
def test_hf_vision_family(name):
    build, prefix, (rows, cols) = HF[name]
    torch.manual_seed(0)
    model = build().eval()
    before = _impls(model)
    kwargs = vit.prepare(model, _image())
    with torch.no_grad():
        out0 = model(**kwargs)
    grid = multiattn.capture(model, _image())
    assert _impls(model) == before
    assert grid.query.prefix == prefix
    assert (grid.query.rows, grid.query.cols) == (rows, cols)
    assert grid.shape == (2, 2, len(prefix) + rows * cols, len(prefix) + rows * cols)
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)
    with torch.no_grad():
        out1 = model(**kwargs)
    key = "logits" if hasattr(out0, "logits") else "last_hidden_state"
    torch.testing.assert_close(getattr(out0, key), getattr(out1, key))
    ref = _hf_reference(model, kwargs)
    expected = np.stack([a[0].numpy() for a in ref.attentions])
    np.testing.assert_allclose(grid.values, expected, atol=1e-6)


def test_vit_mae_masked_tokens_land_on_their_patches():
    torch.manual_seed(0)
    model = T.ViTMAEModel(T.ViTMAEConfig(**_V, mask_ratio=0.75)).eval()
    grid = vit.capture(model, _image())
    again = vit.capture(model, _image())
    np.testing.assert_array_equal(grid.values, again.values)  # seeded masking: captures repeat
    masked = grid.meta["masked_patches"]
    assert len(masked) == 12 and grid.shape == (2, 2, 17, 17)
    kept = sorted(set(range(16)) - set(masked))
    cols = grid.values[..., [1 + i for i in masked]]
    assert np.all(cols == 0) and np.all(grid.values[..., [1 + i for i in masked], :] == 0)
    np.testing.assert_allclose(grid.values[:, :, [0, *[1 + i for i in kept]]].sum(-1), 1.0, atol=1e-5)
    # the same noise through an eager copy: its token t is patch argsort(noise)[t]
    from multiattn.adapters._vit_hf import mae_noise

    noise = mae_noise(16)
    ref = _hf_reference(model, {"pixel_values": vit.prepare(model, _image())["pixel_values"], "noise": noise})
    order = [0, *[1 + int(i) for i in torch.argsort(noise[0])[:4]]]
    mapped = grid.values[-1][:, order][:, :, order]
    np.testing.assert_allclose(mapped, ref.attentions[-1][0].numpy(), atol=1e-6)
    full = vit.capture(model, _image(), mask_ratio=0.0)
    assert "masked_patches" in full.meta and full.meta["masked_patches"] == []
    np.testing.assert_allclose(full.values.sum(-1), 1.0, atol=1e-5)
    assert model.config.mask_ratio == 0.75


#: timm name -> (create_model kwargs, prefix, grid)
TIMM = {
    "vit": ("vit_tiny_patch16_224", dict(img_size=64, num_classes=3), ("CLS",), (4, 4)),
    "vit-reg": ("vit_small_patch16_224", dict(img_size=64, reg_tokens=2, embed_dim=64, num_heads=2),
                ("CLS", "REG0", "REG1"), (4, 4)),
    "deit-dist": ("deit_tiny_distilled_patch16_224", dict(img_size=64), ("CLS", "DIST"), (4, 4)),
    "eva02": ("eva02_tiny_patch14_224", dict(img_size=56), ("CLS",), (4, 4)),
    "beit": ("beit_base_patch16_224", dict(img_size=64, embed_dim=64, num_heads=2), ("CLS",), (4, 4)),
    "vit-96": ("vit_tiny_patch16_224", dict(img_size=96), ("CLS",), (6, 6)),
}


def _timm_reference(model, x):
    """timm's own unfused formula on a copy: the weights as the block hands them to attn_drop."""
    ref = copy.deepcopy(model)
    seen = []
    handles = []
    for name, module in ref.named_modules():
        if name.endswith(".attn") and hasattr(module, "fused_attn"):
            module.fused_attn = False
            handles.append(module.attn_drop.register_forward_hook(lambda _m, _a, out: seen.append(out[0])))
    with torch.no_grad():
        out = ref(x)
    return out, np.stack([s.numpy() for s in seen])


@pytest.mark.parametrize("name", list(TIMM))
def test_timm_family(name):
    arch, kwargs, prefix, (rows, cols) = TIMM[name]
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, depth=2, **kwargs).eval()
    x = vit.prepare(model, _image())["x"]
    with torch.no_grad():
        out0 = model(x)
    grid = multiattn.capture(model, _image())
    assert grid.query.prefix == prefix and (grid.query.rows, grid.query.cols) == (rows, cols)
    assert grid.n_layers == 2 and len(grid.query) == len(prefix) + rows * cols
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(model(x), out0)
    from multiattn.adapters._timm_hooks import timm_attention_modules

    assert all(m.fused_attn for m in timm_attention_modules(model))
    ref_out, expected = _timm_reference(model, x)
    np.testing.assert_allclose(grid.values, expected, atol=1e-5)
    torch.testing.assert_close(ref_out, out0, atol=1e-5, rtol=1e-5)


def test_timm_uses_the_models_own_size_and_no_feature_index_as_class():
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=96, depth=1, num_classes=0)
    grid = vit.capture(model, _image(200, 300))
    assert grid.query.image_size == (96, 96)
    assert "predicted" not in grid.meta and grid.meta["head"].startswith("none")
    with pytest.raises(ValueError, match="no classification head"):
        vit.explain(model, _image(), method="relevance")
    assert vit.explain(model, _image(), method="rollout").values.shape == (37,)


@pytest.mark.parametrize("build", [
    lambda: T.ConvNextModel(T.ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2)),
    lambda: T.ResNetModel(T.ResNetConfig(hidden_sizes=[8, 16], depths=[1, 1], embedding_size=8)),
    lambda: timm.create_model("convnext_atto", pretrained=False),
    lambda: timm.create_model("resnet18", pretrained=False),
], ids=["convnext", "resnet", "timm-convnext", "timm-resnet"])
def test_convolutional_models_are_refused_with_no_attention(build):
    with pytest.raises(UnsupportedModelError, match="no attention"):
        multiattn.capture(build().eval(), _image())


def test_pixel_tensor_input_is_used_as_is_and_recorded():
    torch.manual_seed(0)
    model = T.ViTModel(T.ViTConfig(**_V)).eval()
    pixels = torch.randn(1, 3, 32, 32)
    grid = multiattn.capture(model, pixels)
    ref = _hf_reference(model, {"pixel_values": pixels})
    np.testing.assert_allclose(grid.values, np.stack([a[0].numpy() for a in ref.attentions]), atol=1e-6)
    assert any("pixel tensor" in n for n in grid.meta["notes"])
    stated = vit.capture(model, pixels, transform={"original_size": (64, 80), "resize": (32, 40),
                                                   "crop": (0, 4, 32, 32)})
    assert stated.query.transform["original_size"] == (64, 80)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        vit.capture(model, torch.randn(2, 3, 32, 32))


# -- image-text dual encoders ----------------------------------------------------------------
def _tx(**extra):
    from multiattn.zoo._clip import VOCAB

    ids = {t: i for i, t in enumerate(VOCAB)}
    return dict(vocab_size=len(VOCAB), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=32, pad_token_id=ids["[PAD]"],
                bos_token_id=ids["[BOS]"], eos_token_id=ids["[EOS]"], **extra)


DUAL = {
    "clip": (lambda: T.CLIPModel(T.CLIPConfig(text_config=_tx(), vision_config=_V, projection_dim=16)),
             ("CLS",), "eot"),
    "siglip": (lambda: T.SiglipModel(T.SiglipConfig(text_config=_tx(), vision_config=_V)), (), "last"),
    "chinese-clip": (lambda: T.ChineseCLIPModel(T.ChineseCLIPConfig(
        text_config=_tx(), vision_config=_V, projection_dim=16)), ("CLS",), "first"),
    "altclip": (lambda: T.AltCLIPModel(T.AltCLIPConfig(
        text_config=_tx(project_dim=16), vision_config=_V, projection_dim=16)), ("CLS",), "first"),
    "owlvit": (lambda: T.OwlViTModel(T.OwlViTConfig(text_config=_tx(), vision_config=_V, projection_dim=16)),
               ("CLS",), "eot"),
    "vision-text-dual": (lambda: T.VisionTextDualEncoderModel(
        vision_model=T.ViTModel(T.ViTConfig(**_V)), text_model=T.BertModel(T.BertConfig(**_tx()))),
        ("CLS",), "first"),
}


def _processor(image_size=32):
    from types import SimpleNamespace

    from multiattn.zoo._clip import build_tokenizer

    return SimpleNamespace(tokenizer=build_tokenizer(), image_processor=T.CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}))


@pytest.mark.parametrize("name", list(DUAL))
def test_dual_encoder_family(name):
    from multiattn.adapters import clip

    build, prefix, pooling = DUAL[name]
    torch.manual_seed(0)
    model = build().eval()
    before = _impls(model)
    processor = _processor()
    captions = ["a red circle", "a blue square left"]
    gs = multiattn.capture(model, (_image(), captions), processor=processor)
    assert _impls(model) == before
    assert gs.vision.query.prefix == prefix and gs.vision.shape == (2, 2, len(prefix) + 16, len(prefix) + 16)
    np.testing.assert_allclose(gs.vision.values.sum(-1), 1.0, atol=1e-5)
    kwargs = clip.prepare(model, (_image(), captions), processor=processor)
    if pooling == "last":
        kwargs.pop("attention_mask")
    ref = _hf_reference(model, kwargs)
    np.testing.assert_allclose(gs.vision.values, np.stack([a[0].numpy() for a in
                                                           ref.vision_model_output.attentions]), atol=1e-6)
    for j, grid in enumerate(gs.group("text")):
        n = len(grid.query)
        want = np.stack([a[j].numpy() for a in ref.text_model_output.attentions])[:, :, :n, :n]
        np.testing.assert_allclose(grid.values, want, atol=1e-6)
        eot = grid.meta["eot_index"]
        assert eot == {"last": kwargs["input_ids"].shape[1] - 1, "first": 0}.get(pooling, eot)
    np.testing.assert_allclose(gs.meta["logits"], ref.logits_per_image[0].numpy(), atol=1e-4)
    (pair,) = clip.relevance(model, (_image(), captions[0]), processor=processor)
    assert pair.image_map.values.shape == (len(prefix) + 16,) and np.isfinite(pair.image_map.values).all()
    np.testing.assert_allclose(pair.logit, ref.logits_per_image[0, 0].item(), atol=1e-4)
    assert _impls(model) == before


def test_siglip_image_map_is_mixed_by_the_pooling_head():
    from multiattn.adapters import clip

    torch.manual_seed(0)
    model = DUAL["siglip"][0]().eval()
    (pair,) = clip.relevance(model, (_image(), "a red circle"), processor=_processor())
    assert "attention-pooling head" in pair.image_map.meta["row"]
    assert pair.image_map.values.min() >= 0 and pair.image_map.values.sum() > 0


def test_siglip2_dual_encoder_with_its_naflex_processor():
    from types import SimpleNamespace

    from multiattn.adapters import clip
    from multiattn.zoo._clip import build_tokenizer

    torch.manual_seed(0)
    vision = {k: v for k, v in _V.items() if k != "image_size"}
    config = T.Siglip2Config(text_config=_tx(), vision_config=dict(vision, num_patches=16))
    model = T.Siglip2Model(config).eval()
    processor = SimpleNamespace(tokenizer=build_tokenizer(),
                                image_processor=T.Siglip2ImageProcessor(max_num_patches=16, patch_size=8))
    gs = clip.capture(model, (_image(40, 60), ["a red circle"]), processor=processor)
    axis = gs.vision.query
    assert (axis.rows, axis.cols) == (3, 5) and axis.prefix == ()  # 15 real patches of the 16 slots
    assert axis.transform["resize"] == (24, 40)
    np.testing.assert_allclose(gs.vision.values.sum(-1), 1.0, atol=1e-5)  # the padded slot is masked
    (pair,) = clip.relevance(model, (_image(40, 60), "a red circle"), processor=processor)
    assert pair.image_map.values.shape == (15,)


def test_clip_accepts_pixel_tensors():
    from multiattn.adapters import clip

    torch.manual_seed(0)
    model = DUAL["clip"][0]().eval()
    pixels = torch.randn(1, 3, 32, 32)
    gs = clip.capture(model, (pixels, ["a red circle"]), processor=_processor())
    assert gs.vision.query.transform["original_size"] == (32, 32)
    ref = _hf_reference(model, {"pixel_values": pixels, **{k: v for k, v in clip.prepare(
        model, (pixels, ["a red circle"]), processor=_processor()).items() if k != "pixel_values"}})
    np.testing.assert_allclose(gs.meta["logits"], ref.logits_per_image[0].numpy(), atol=1e-4)


@pytest.mark.parametrize("name", ["beit", "data2vec", "siglip-vision", "dinov3", "timm-eva02", "timm-beit"])
def test_streaming_matches_capture(name):
    from multiattn.stream import HeadMean

    torch.manual_seed(0)
    if name.startswith("timm-"):
        arch, kwargs, _, _ = TIMM[name[5:]]
        model = timm.create_model(arch, pretrained=False, depth=2, **kwargs).eval()
    else:
        model = HF[name][0]().eval()
    grid = multiattn.capture(model, _image())
    out = multiattn.capture_stream(model, vit.prepare(model, _image()), {"mean": HeadMean()})
    assert len(out["layers"]) == grid.n_layers
    np.testing.assert_allclose(np.asarray(out["mean"])[:, 0], grid.values.mean(1), atol=1e-6)
