"""renderers/image.py: image conversion, patch placement, overlays."""

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from multiattn import AttentionMap, PatchAxis
from multiattn.renderers.image import overlay, overlay_plot, patch_values_to_pixels, to_rgb


def _hot(axis, r, c):
    values = np.zeros(len(axis))
    values[axis.n_prefix + r * axis.cols + c] = 1.0
    return AttentionMap(values, axis)


# -- to_rgb ----------------------------------------------------------------------
def test_to_rgb_grayscale_and_16bit():
    gray = np.array([[0, 65535], [257, 32896]], dtype=np.uint16)
    out = to_rgb(gray)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert out[..., 0].tolist() == [[0, 255], [1, 128]]
    assert (out[..., 0] == out[..., 2]).all()
    assert to_rgb(Image.fromarray(gray))[..., 1].tolist() == [[0, 255], [1, 128]]


def test_to_rgb_rgba_composited_on_white_and_palette():
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (0, 0, 0, 0)  # fully transparent
    assert to_rgb(rgba).tolist() == [[[255, 0, 0], [255, 255, 255]]]
    pal = Image.new("P", (2, 1))
    pal.putpalette([10, 20, 30] + [0, 0, 0] * 255)
    assert to_rgb(pal)[0, 0].tolist() == [10, 20, 30]


def test_to_rgb_bgr_and_floats():
    bgr = np.zeros((1, 1, 3), np.uint8)
    bgr[0, 0] = (1, 2, 3)
    assert to_rgb(bgr, channels="BGR")[0, 0].tolist() == [3, 2, 1]
    assert to_rgb(np.ones((2, 2, 3)))[0, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((3, 8, 8)), "channels-first"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.full((2, 2), 2.0), r"\[0, 1\]"),
        (np.full((2, 2), np.nan), "NaN"),
        (np.full((2, 2), -5, np.int32), "unsupported image dtype"),
        (np.zeros(5), "shape"),
    ],
)
def test_to_rgb_rejects_bad_arrays(bad, match):
    with pytest.raises(ValueError, match=match):
        to_rgb(bad)


def test_to_rgb_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        to_rgb(tmp_path / "missing.png")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ValueError, match="corrupt"):
        to_rgb(corrupt)
    truncated = tmp_path / "truncated.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buf, "JPEG")
    truncated.write_bytes(buf.getvalue()[:200])
    with pytest.raises(ValueError, match="corrupt"):
        to_rgb(truncated)


def test_to_rgb_applies_exif_rotation(tmp_path):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20] = 255  # left half white in the stored pixels
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rot.jpg"
    pil.save(path, exif=exif, quality=95)
    out = to_rgb(path)
    assert out.shape == (40, 20, 3)
    # rotated 90 degrees clockwise: the stored left half becomes the top half
    assert out[:20].mean() > 200 and out[20:].mean() < 50


# -- placement ---------------------------------------------------------------------
def test_plain_grid_is_stretched_over_image():
    grid = np.zeros((2, 3))
    grid[1, 2] = 1
    px = patch_values_to_pixels(grid, (20, 30), upsample="nearest")
    assert np.isfinite(px).all()
    assert set(map(tuple, np.argwhere(px == 1)[[0, -1]])) == {(10, 20), (19, 29)}


@pytest.mark.parametrize(
    "axis, image_hw, hot, box",
    [
        # square, model input = original size
        (PatchAxis(4, 4, 8, (32, 32)), (32, 32), (2, 1), (16, 8, 24, 16)),
        # non-square 2x3 grid, original twice the input size
        (PatchAxis(2, 3, 16, (32, 48), transform={"original_size": (64, 96), "resize": (32, 48)}),
         (64, 96), (1, 2), (32, 64, 64, 96)),
        # registers (prefix of 5) with a center crop: resize 64x96 -> 32x48, crop 32x32 at left 8
        (PatchAxis(2, 2, 16, (32, 32), prefix=("CLS", "REG0", "REG1", "REG2", "REG3"),
                   transform={"original_size": (64, 96), "resize": (32, 48), "crop": (0, 8, 32, 32)}),
         (64, 96), (1, 1), (32, 48, 64, 80)),
    ],
)
def test_hot_patch_lands_on_right_pixels(axis, image_hw, hot, box):
    px = patch_values_to_pixels(_hot(axis, *hot), image_hw, upsample="nearest")
    expected = np.zeros(image_hw, bool)
    expected[box[0] : box[2], box[1] : box[3]] = True
    assert ((px == 1) == expected).all()
    # smooth upsampling peaks inside the same box
    smooth = patch_values_to_pixels(_hot(axis, *hot), image_hw, upsample="bilinear")
    peak = np.unravel_index(np.nanargmax(smooth), smooth.shape)
    assert expected[peak]


def test_center_crop_leaves_margins_uncoloured():
    axis = PatchAxis(2, 2, 16, (32, 32),
                     transform={"original_size": (64, 96), "resize": (32, 48), "crop": (0, 8, 32, 32)})
    img = np.full((64, 96, 3), 77, np.uint8)
    out = overlay(img, AttentionMap(np.r_[0, 1, 2, 3, 4.0], axis), alpha=0.8)
    assert (out[:, :16] == 77).all() and (out[:, 80:] == 77).all()
    assert (out[:, 16:80] != 77).any(axis=-1).mean() > 0.9


def test_aspect_mismatch_is_refused():
    axis = PatchAxis(2, 2, 16, (32, 32), transform={"original_size": (64, 64)})
    with pytest.raises(ValueError, match="aspect ratio"):
        overlay(np.zeros((64, 128, 3), np.uint8), _hot(axis, 0, 0))


# -- colour ------------------------------------------------------------------------
def test_overlay_colours_match_colormap():
    from matplotlib import colormaps

    img = np.zeros((2, 2, 3), np.uint8)
    grid = np.array([[0.0, 1.0], [0.0, 1.0]])
    out = overlay(img, grid, alpha=1.0, cmap="viridis", upsample="nearest", vmin=0, vmax=1)
    lut = (colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.float32)
    assert out[0, 0].tolist() == np.round(lut[0]).astype(int).tolist()
    assert out[0, 1].tolist() == np.round(lut[255]).astype(int).tolist()
    assert (overlay(img, grid, alpha=0.0) == img).all()


def test_threshold_colours_top_mass_only():
    grid = np.array([[0.7, 0.1], [0.1, 0.1]])
    img = np.full((40, 40, 3), 50, np.uint8)
    out = overlay(img, grid, threshold=0.6, upsample="nearest", alpha=1.0)
    # only the 0.7 patch holds the top 60 % of the mass
    assert (out[20:, :] == 50).all() and (out[:20, 20:] == 50).all()
    assert (out[5:15, 5:15] != 50).any(axis=-1).all()
    assert (out[0, :20] == 255).all()  # white outline


@pytest.mark.parametrize(
    "kwargs, match",
    [({"upsample": "lanczos"}, "upsample"), ({"alpha": 2}, "alpha"), ({"threshold": 0}, "threshold")],
)
def test_overlay_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        overlay(np.zeros((8, 8, 3), np.uint8), np.ones((2, 2)), **kwargs)


def test_overlay_rejects_bad_maps():
    with pytest.raises(ValueError, match="2-D"):
        overlay(np.zeros((8, 8, 3), np.uint8), np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        overlay(np.zeros((8, 8, 3), np.uint8), np.full((2, 2), np.nan))


def test_overlay_plot_has_colorbar_and_signed_map_is_diverging():
    fig, ax = plt.subplots()
    signed = np.array([[-1.0, 0.5], [0.2, 1.0]])
    out_ax = overlay_plot(np.zeros((16, 16, 3), np.uint8), signed, ax=ax, label="relevance")
    assert out_ax is ax and len(fig.axes) == 2
    bar = fig.axes[1]
    assert bar.get_ylabel() == "relevance"
    lo, hi = bar.get_ylim()
    assert lo == pytest.approx(-hi)
    plt.close(fig)


# -- figures -------------------------------------------------------------------------
def _patch_grid(rng):
    from multiattn import AttentionGrid

    from .conftest import random_attention

    axis = PatchAxis(3, 4, 8, (24, 32), prefix=("CLS", "REG0"),
                     transform={"original_size": (48, 64), "resize": (24, 32)})
    return AttentionGrid(random_attention(rng, (2, 3, len(axis), len(axis))), axis)


def test_attention_grid_plot_small_multiples(rng):
    from multiattn.renderers.image import attention_grid_plot

    grid = _patch_grid(rng)
    img = np.zeros((48, 64, 3), np.uint8)
    fig = attention_grid_plot(img, grid, over="head", ncols=2)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title().startswith("head")]
    assert len(panels) == 3 and len(fig.axes) == 4 + 1  # 2x2 panels (one hidden) + shared colorbar
    plt.close(fig)
    fig = attention_grid_plot(img, grid, over="layer", query="CLS")
    assert [ax.get_title() for ax in fig.axes[:2]] == ["0", "1"]
    plt.close(fig)
    with pytest.raises(ValueError, match="over"):
        attention_grid_plot(img, grid, over="token")
    with pytest.raises(TypeError, match="PatchAxis"):
        attention_grid_plot(img, np.ones((2, 2)))


def test_query_patch_plot_outlines_the_query(rng):
    from matplotlib.patches import Rectangle

    from multiattn.renderers.image import query_patch_plot

    grid = _patch_grid(rng)
    fig, ax = plt.subplots()
    query_patch_plot(np.zeros((48, 64, 3), np.uint8), grid, (1, 2), ax=ax)
    rect = [p for p in ax.patches if isinstance(p, Rectangle)][0]
    # patch (1, 2) covers rows 16..31 and cols 32..47 of the 48x64 original (scale 2)
    assert rect.get_xy() == (31.5, 15.5) and rect.get_width() == 16 and rect.get_height() == 16
    plt.close(fig)
    with pytest.raises(ValueError, match="outside"):
        query_patch_plot(np.zeros((48, 64, 3), np.uint8), grid, (3, 0))


def test_compare_plot_shared_and_separate_scales(rng):
    from multiattn.renderers.image import compare_plot

    img = np.zeros((32, 32, 3), np.uint8)
    maps = {"a": rng.random((4, 4)), "b": 100 * rng.random((4, 4))}
    fig = compare_plot(img, maps)
    assert len(fig.axes) == 3 + 2  # image + 2 panels, one colorbar each
    plt.close(fig)
    fig = compare_plot(img, maps, shared_scale=True)
    assert len(fig.axes) == 3 + 1
    assert "share" in fig.axes[-1].get_ylabel()
    plt.close(fig)
    with pytest.raises(ValueError, match="empty"):
        compare_plot(img, {})
    with pytest.raises(ValueError, match="positive mass"):
        compare_plot(img, {"zero": np.zeros((2, 2))}, shared_scale=True)


def test_fast_blend_matches_float_reference():
    """The uint8 LUT + cv2 blend equals the float64 formula within one rounding step (two at most)."""
    from matplotlib import colormaps

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (45, 70, 3), dtype=np.uint8)
    grid = rng.random((5, 7))
    out = overlay(img, grid, alpha=0.35, cmap="magma", upsample="bilinear", vmin=0.1, vmax=0.9)
    px = patch_values_to_pixels(grid, img.shape[:2], upsample="bilinear").astype(np.float64)
    index = np.round(np.clip((px - 0.1) / 0.8, 0, 1) * 255).astype(int)
    colour = colormaps["magma"](np.linspace(0, 1, 256))[:, :3][index] * 255
    expected = np.round(0.65 * img + 0.35 * colour)
    assert np.abs(out - expected).max() <= 2 and (np.abs(out - expected) <= 1).mean() > 0.99


def test_relevance_keeps_float32_and_refuses_nan():
    from multiattn.analysis.relevance import chefer_relevance, gradient_rollout

    rng = np.random.default_rng(4)
    attn = rng.dirichlet(np.ones(6), size=(3, 2, 6)).astype(np.float32)
    grads = rng.normal(size=attn.shape).astype(np.float32)
    for func in (chefer_relevance, gradient_rollout):
        np.testing.assert_allclose(func(attn, grads), func(attn.astype(float), grads.astype(float)),
                                   rtol=2e-5, atol=1e-6)
        bad = grads.copy()
        bad[1, 0, 2, 3] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            func(attn, bad)


@pytest.mark.parametrize(("grid_shape", "size"),
                         [((14, 28), (1080, 2160)), ((7, 5), (333, 101)), ((3, 3), (3, 3)), ((8, 8), (4, 6))])
def test_bilinear_pixels_equal_pils_resize(grid_shape, size):
    """Enlarging goes through OpenCV, shrinking through PIL: both equal PIL's own bilinear resize."""
    grid = np.random.default_rng(3).random(grid_shape).astype(np.float32)
    resized = Image.fromarray(grid, mode="F").resize(size[::-1], Image.BILINEAR)
    reference = np.asarray(resized, dtype=np.float32)
    pixels = patch_values_to_pixels(grid, size, upsample="bilinear")
    assert pixels.shape == size and pixels.flags.writeable
    np.testing.assert_allclose(pixels, np.clip(reference, grid.min(), grid.max()), rtol=0, atol=2e-7)
