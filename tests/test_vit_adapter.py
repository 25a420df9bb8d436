"""adapters/vit.py on random-init models whose layout matches real checkpoints (no downloads).

Layout-matching means: the patch size, input size, number of heads and prefix
tokens of ViT-B/16, DeiT-S distilled, DINOv2-S with registers and a timm ViT-S
with registers; depth 2 and a narrow width keep the tests fast.
"""

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from transformers import (
    BitImageProcessor,
    DeiTConfig,
    DeiTForImageClassificationWithTeacher,
    DeiTImageProcessor,
    Dinov2Config,
    Dinov2Model,
    Dinov2WithRegistersConfig,
    Dinov2WithRegistersModel,
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessor,
)

from multiattn import AttentionMap
from multiattn.adapters import vit
from multiattn.adapters._timm_hooks import timm_explicit
from multiattn.analysis.rollout import rollout
from multiattn.renderers.image import patch_values_to_pixels, to_rgb

torch.manual_seed(0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def vit_b16():
    config = ViTConfig(hidden_size=192, num_hidden_layers=2, num_attention_heads=12, intermediate_size=384,
                       image_size=224, patch_size=16, num_labels=3,
                       id2label={0: "cat", 1: "dog", 2: "bird"}, label2id={"cat": 0, "dog": 1, "bird": 2})
    return ViTForImageClassification(config).eval()


@pytest.fixture(scope="module")
def deit_s_distilled():
    config = DeiTConfig(hidden_size=96, num_hidden_layers=2, num_attention_heads=6, intermediate_size=192,
                        image_size=224, patch_size=16, num_labels=4)
    return DeiTForImageClassificationWithTeacher(config).eval()


@pytest.fixture(scope="module")
def dinov2_s_reg():
    config = Dinov2WithRegistersConfig(hidden_size=96, num_hidden_layers=2, num_attention_heads=6,
                                       image_size=518, patch_size=14, num_register_tokens=4)
    return Dinov2WithRegistersModel(config).eval()


@pytest.fixture(scope="module")
def dinov2_s():
    config = Dinov2Config(hidden_size=96, num_hidden_layers=2, num_attention_heads=6, image_size=518,
                          patch_size=14)
    return Dinov2Model(config).eval()


@pytest.fixture(scope="module")
def timm_distilled():
    return timm.create_model("deit_small_distilled_patch16_224", pretrained=False, num_classes=3,
                             depth=2, embed_dim=96, num_heads=6).eval()


@pytest.fixture(scope="module")
def timm_reg():
    return timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=3, reg_tokens=4,
                             depth=2, embed_dim=96, num_heads=6).eval()


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# -- layout and shapes ----------------------------------------------------------------
@pytest.mark.parametrize(
    "name, processor, heads, prefix, grid",
    [
        ("vit_b16", None, 12, ("CLS",), (14, 14)),
        ("deit_s_distilled", DeiTImageProcessor(), 6, ("CLS", "DIST"), (14, 14)),
        ("dinov2_s_reg", BitImageProcessor(size={"shortest_edge": 256}), 6,
         ("CLS", "REG0", "REG1", "REG2", "REG3"), (16, 16)),
        ("timm_reg", None, 6, ("CLS", "REG0", "REG1", "REG2", "REG3"), (14, 14)),
        ("dinov2_s", BitImageProcessor(size={"shortest_edge": 256}), 6, ("CLS",), (16, 16)),
        ("timm_distilled", None, 6, ("CLS", "DIST"), (14, 14)),
    ],
)
def test_capture_shapes_and_prefix(request, name, processor, heads, prefix, grid):
    model = request.getfixturevalue(name)
    result = vit.capture(model, _image(300, 400), processor=processor)
    n = len(prefix) + grid[0] * grid[1]
    assert result.shape == (2, heads, n, n)
    assert result.query.prefix == prefix and (result.query.rows, result.query.cols) == grid
    assert result.query.transform["original_size"] == (300, 400)
    np.testing.assert_allclose(result.values.sum(-1), 1.0, atol=1e-5)
    assert (result.values > 0).all()


def test_hf_capture_restores_attention_implementation(vit_b16):
    before = vit_b16.config._attn_implementation
    vit.capture(vit_b16, _image(64, 64))
    assert vit_b16.config._attn_implementation == before
    assert not vit_b16.training


def test_non_square_input_interpolates_positions(vit_b16):
    by_size = vit.capture(vit_b16, _image(300, 430), size=(224, 320))
    by_proc = vit.capture(vit_b16, _image(300, 430), processor=ViTImageProcessor(size={"height": 224,
                                                                                       "width": 320}))
    for grid in (by_size, by_proc):
        assert (grid.query.rows, grid.query.cols) == (14, 20)
        assert grid.shape == (2, 12, 281, 281)
        assert grid.query.image_size == (224, 320)


def test_timm_non_square_dynamic_size():
    model = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=2, depth=1,
                              embed_dim=96, num_heads=6, dynamic_img_size=True).eval()
    grid = vit.capture(model, _image(200, 300), size=(224, 320))
    assert (grid.query.rows, grid.query.cols) == (14, 20) and grid.shape[-1] == 281


# -- timm fused attention -----------------------------------------------------------------
def test_timm_capture_leaves_logits_identical(timm_reg):
    assert all(block.attn.fused_attn for block in timm_reg.blocks)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        plain = timm_reg(x)
        store = []
        with vit.timm_attention_hooks(timm_reg, store):
            hooked = timm_reg(x)
        again = timm_reg(x)
    assert torch.equal(plain, hooked) and torch.equal(plain, again)
    assert len(store) == 2 and store[0].shape == (1, 6, 201, 201)
    assert all(block.attn.fused_attn for block in timm_reg.blocks)


def test_timm_hook_matches_unfused_path(timm_reg):
    """The recomputed weights equal timm's own unfused softmax, read through its output."""
    x = torch.randn(1, 3, 224, 224)
    hooked, explicit = [], []
    with torch.no_grad(), vit.timm_attention_hooks(timm_reg, hooked):
        fused_logits = timm_reg(x)
    with torch.no_grad(), timm_explicit(timm_reg, explicit):
        explicit_logits = timm_reg(x)
    assert "forward" not in vars(timm_reg.blocks[0].attn)  # patch removed
    torch.testing.assert_close(explicit_logits, fused_logits, atol=1e-5, rtol=1e-5)
    for a, b in zip(hooked, explicit):
        torch.testing.assert_close(a, b)
    # timm's own unfused path (fused_attn=False) gives the same output as our explicit forward
    for block in timm_reg.blocks:
        block.attn.fused_attn = False
    try:
        with torch.no_grad():
            unfused_logits = timm_reg(x)
    finally:
        for block in timm_reg.blocks:
            block.attn.fused_attn = True
    torch.testing.assert_close(explicit_logits, unfused_logits, atol=1e-6, rtol=1e-6)


# -- gradients and explanations -----------------------------------------------------------
@pytest.mark.parametrize("name", ["vit_b16", "timm_reg"])
def test_gradients_follow_the_target(request, name):
    model = request.getfixturevalue(name)
    img = _image(224, 224)
    grid0, grads0 = vit.capture_with_gradients(model, img, target=0)
    grid1, grads1 = vit.capture_with_gradients(model, img, target=1)
    assert grads0.shape == grid0.shape and grads0.dtype == np.float32
    assert np.abs(grads0).sum() > 0 and not np.allclose(grads0, grads1)
    np.testing.assert_allclose(grid0.values, grid1.values, atol=1e-6)
    assert grid1.meta["target"] == 1
    assert all(p.grad is None for p in model.parameters())  # the model is left untouched


def test_gradients_match_a_directional_derivative(vit_b16):
    """d logit / dA checked against a finite difference through a perturbed last-layer softmax.

    The numerics are checked in float64 (model and inputs cast to double): a float32
    difference quotient is too coarse to check a gradient tightly.
    """
    import copy

    img = _image(224, 224)
    _, grads32 = vit.capture_with_gradients(vit_b16, img, target=2)
    model64 = copy.deepcopy(vit_b16).double()
    grid, grads = vit.capture_with_gradients(model64, img, target=2)
    np.testing.assert_allclose(grads32, grads, rtol=1e-3, atol=1e-4 * np.abs(grads).max())
    pixel_values = vit.prepare_image(vit_b16, img)[0].double()
    direction = torch.from_numpy(np.random.default_rng(1).normal(size=grads.shape[1:]))
    last = model64.vit.layers[-1].attention
    eps = 1e-5

    def logit(scale):
        def hook(module, args, output):
            out, weights = output
            value = module.v_proj(args[0]).view(1, -1, 12, 16).transpose(1, 2)
            extra = ((scale * direction[None]) @ value).transpose(1, 2).reshape(out.shape)
            return out + extra @ module.o_proj.weight.T, weights

        handle = last.register_forward_hook(hook)
        try:
            with torch.no_grad():
                return model64(pixel_values=pixel_values).logits[0, 2].item()
        finally:
            handle.remove()

    numeric = (logit(eps) - logit(-eps)) / (2 * eps)
    analytic = float((grads[-1].astype(np.float64) * direction.numpy()).sum())
    assert numeric == pytest.approx(analytic, rel=1e-5)


def test_target_by_name_and_bad_targets(vit_b16):
    grid, _ = vit.capture_with_gradients(vit_b16, _image(64, 64), target="Dog")
    assert grid.meta["target"] == 1 and grid.meta["target_label"] == "dog"
    with pytest.raises(ValueError, match="unknown class"):
        vit.capture_with_gradients(vit_b16, _image(64, 64), target="zebra")
    with pytest.raises(ValueError, match="out of range"):
        vit.capture_with_gradients(vit_b16, _image(64, 64), target=7)


def test_headless_model_refuses_gradients(dinov2_s_reg):
    with pytest.raises(ValueError, match="classification head"):
        vit.capture_with_gradients(dinov2_s_reg, _image(64, 64))


def test_explain_methods_match_their_definitions(vit_b16):
    from multiattn.analysis.relevance import chefer_relevance, gradient_rollout

    img = _image(160, 200)
    grid = vit.capture(vit_b16, img)
    raw = vit.explain(vit_b16, img, method="raw")
    np.testing.assert_allclose(raw.values, grid.values[-1].mean(0)[0], rtol=1e-6)
    np.testing.assert_allclose(vit.explain(vit_b16, img, method="rollout").values, rollout(grid)[0],
                               rtol=1e-5)
    grid_g, grads = vit.capture_with_gradients(vit_b16, img, target=1)
    rel = vit.explain(vit_b16, img, method="relevance", target=1)
    np.testing.assert_allclose(rel.values, chefer_relevance(grid_g, grads)[0], rtol=1e-5)
    grad_roll = vit.explain(vit_b16, img, method="grad-rollout", target=1)
    np.testing.assert_allclose(grad_roll.values, gradient_rollout(grid_g, grads)[0], rtol=1e-5)
    assert isinstance(rel, AttentionMap) and rel.to_image().shape == (14, 14)
    assert rel.meta["method"] == "relevance" and "dog" in rel.meta["values"]
    with pytest.raises(ValueError, match="method"):
        vit.explain(vit_b16, img, method="saliency")
    with pytest.raises(ValueError, match="target"):
        vit.explain(vit_b16, img, method="raw", target=1)


# -- patch placement through the real preprocessing ------------------------------------------
def _assert_hot_patch_round_trip(model, processor, size, hw, patch, margin=4):
    """Paint the pixels our placement gives patch (r, c); the processor must put them in that patch."""
    grid = vit.capture(model, np.zeros((*hw, 3), np.uint8), processor=processor, size=size)
    axis = grid.key
    hot = np.zeros(len(axis))
    hot[axis.n_prefix + patch[0] * axis.cols + patch[1]] = 1
    mask = patch_values_to_pixels(AttentionMap(hot, axis), hw, upsample="nearest") == 1
    ys, xs = np.nonzero(mask)
    img = np.zeros((*hw, 3), np.uint8)
    img[ys.min() + margin : ys.max() + 1 - margin, xs.min() + margin : xs.max() + 1 - margin] = 255
    pixel_values, _ = vit.prepare_image(model, img, processor, size=size)
    bright = pixel_values[0].mean(0).numpy()
    ph, pw = axis.patch_size
    per_patch = bright[: axis.rows * ph, : axis.cols * pw].reshape(axis.rows, ph, axis.cols, pw).mean((1, 3))
    per_patch -= per_patch.min()
    assert np.unravel_index(per_patch.argmax(), per_patch.shape) == patch
    others = np.delete(per_patch.ravel(), patch[0] * axis.cols + patch[1])
    assert others.max() < 0.1 * per_patch.max()


def test_hot_patch_square(vit_b16):
    _assert_hot_patch_round_trip(vit_b16, ViTImageProcessor(), None, (448, 448), (3, 9))


def test_hot_patch_non_square(vit_b16):
    _assert_hot_patch_round_trip(vit_b16, ViTImageProcessor(size={"height": 224, "width": 320}), None,
                                 (300, 430), (10, 17))
    _assert_hot_patch_round_trip(vit_b16, None, (224, 320), (300, 430), (2, 19))


def test_hot_patch_registers_center_crop(dinov2_s_reg):
    processor = BitImageProcessor(size={"shortest_edge": 256})
    _assert_hot_patch_round_trip(dinov2_s_reg, processor, None, (300, 400), (2, 13))
    _assert_hot_patch_round_trip(dinov2_s_reg, processor, None, (500, 280), (15, 0))


def test_hot_patch_deit_and_timm_crops(deit_s_distilled, timm_reg):
    _assert_hot_patch_round_trip(deit_s_distilled, DeiTImageProcessor(), None, (300, 400), (7, 1))
    _assert_hot_patch_round_trip(timm_reg, None, None, (250, 500), (13, 13))
    _assert_hot_patch_round_trip(timm_reg, None, None, (250, 500), (0, 0))


# -- inputs ---------------------------------------------------------------------------------
def _save(tmp_path, name, pil, **kwargs):
    path = tmp_path / name
    pil.save(path, **kwargs)
    return path


def test_image_files_are_converted(tmp_path, vit_b16):
    rng = np.random.default_rng(3)
    gray = rng.integers(0, 256, (40, 60), dtype=np.uint8)
    expected = vit.capture(vit_b16, np.repeat(gray[..., None], 3, axis=2)).values
    gray16 = gray.astype(np.uint16) * 257
    rgba = np.dstack([np.repeat(gray[..., None], 3, axis=2), np.full_like(gray, 255)])
    palette = Image.fromarray(gray).convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    cases = {
        "gray.png": Image.fromarray(gray),
        "gray16.png": Image.fromarray(gray16),
        "rgba.png": Image.fromarray(rgba),
    }
    for name, pil in cases.items():
        grid = vit.capture(vit_b16, _save(tmp_path, name, pil))
        np.testing.assert_allclose(grid.values, expected, atol=1e-5, err_msg=name)
    grid = vit.capture(vit_b16, _save(tmp_path, "palette.png", palette))
    np.testing.assert_allclose(grid.values, vit.capture(vit_b16, to_rgb(palette)).values, atol=1e-6)


def test_exif_rotation_is_applied(tmp_path, vit_b16):
    pil = Image.fromarray(_image(40, 80))
    exif = pil.getexif()
    exif[0x0112] = 8  # rotate 90 CCW to display
    grid = vit.capture(vit_b16, _save(tmp_path, "rot.jpg", pil, exif=exif))
    assert grid.query.transform["original_size"] == (80, 40)


def test_bad_images_are_refused(tmp_path, vit_b16, monkeypatch):
    with pytest.raises(ValueError, match="smaller than one 16x16 patch"):
        vit.capture(vit_b16, _image(10, 300))
    corrupt = tmp_path / "bad.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ValueError, match="corrupt"):
        vit.capture(vit_b16, corrupt)
    with pytest.raises(FileNotFoundError):
        vit.capture(vit_b16, tmp_path / "nope.png")
    big = _save(tmp_path, "big.png", Image.fromarray(_image(100, 100)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match="too large"):
        vit.capture(vit_b16, big)


def test_huge_array_is_resized(vit_b16):
    grid = vit.capture(vit_b16, np.zeros((2400, 3600, 3), np.uint8), processor=ViTImageProcessor())
    assert grid.query.transform == {"original_size": (2400, 3600), "resize": (224, 224)}


def test_bad_models_and_processors(vit_b16):
    with pytest.raises(TypeError, match="unsupported model"):
        vit.capture(torch.nn.Linear(2, 2), _image(32, 32))
    with pytest.raises(TypeError, match="Hugging Face image processor"):
        vit.capture(vit_b16, _image(32, 32), processor=lambda im: im)
    with pytest.raises(ValueError, match="not both"):
        vit.capture(vit_b16, _image(32, 32), processor=ViTImageProcessor(), size=224)
