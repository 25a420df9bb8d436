"""Blending a patch map onto an image: colour limits, the colour layer, the top-mass outline.

:func:`overlay` is the array-level primitive (uint8 RGB in, uint8 RGB out, the
size of the *original* image); :func:`overlay_plot` draws it on a matplotlib
Axes with a colorbar.  Both are re-exported from :mod:`multiattn.renderers.image`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError
from multiattn.media import to_rgb

from ._image_pixels import patch_grid, patch_values_to_pixels
from ._style import ColorScale, add_colorbar, color_scale, get_axes
from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from pathlib import Path

    import PIL.Image
    from matplotlib.axes import Axes

    from multiattn._types import ArrayLike
    from multiattn.grid import AttentionMap

__all__ = ["overlay", "overlay_plot"]


def overlay_scale(grid: np.ndarray, cmap: str | None, vmin: float | None, vmax: float | None) -> ColorScale:
    """Robust 2-98 % limits (symmetric for signed maps) unless fixed; inferno / RdBu_r by default."""
    scale = color_scale(grid, cmap=cmap, sequential="inferno")
    if vmin is None and vmax is None:
        return scale
    lo = scale.vmin if vmin is None else float(vmin)
    hi = scale.vmax if vmax is None else float(vmax)
    return color_scale(grid, cmap=scale.cmap, limits=(lo, hi))


def _mass_mask(grid: np.ndarray, threshold: float) -> np.ndarray:
    """Patches holding the top ``threshold`` share of the (positive) mass, as DINO shows it."""
    if not 0 < threshold <= 1:
        raise MultiattnValueError(f"threshold is a share of the map's mass in (0, 1], got {threshold}")
    pos = np.clip(grid, 0, None).ravel()
    total = pos.sum()
    if total == 0:
        return np.zeros(grid.shape, dtype=bool)
    order = np.argsort(pos, kind="stable")
    keep = np.cumsum(pos[order]) / total > 1 - threshold
    mask = np.zeros(pos.shape, dtype=bool)
    mask[order[keep]] = True
    return mask.reshape(grid.shape)


def _outline(mask: np.ndarray, width: int) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    return mask & ~binary_erosion(mask, iterations=max(width, 1), border_value=0)


def _lut(cmap: str) -> np.ndarray:
    """``(256, 3)`` uint8 RGB table of a matplotlib colormap."""
    from matplotlib import colormaps

    return np.round(colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


def _lut_index(pixels: np.ndarray, seen: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """uint8 colour index ``round(clip((v - lo) / (hi - lo), 0, 1) * 255)`` (unseen pixels: 0), float32."""
    scaled = np.subtract(pixels, np.float32(lo), dtype=np.float32)
    scaled *= np.float32(255.0 / (hi - lo))
    if not seen.all():
        scaled[~seen] = 0.0
    np.clip(scaled, 0.0, 255.0, out=scaled)
    return np.rint(scaled, out=scaled).astype(np.uint8)


def _blend(rgb: np.ndarray, index: np.ndarray, lut: np.ndarray, alpha: float) -> np.ndarray:
    """``round((1 - alpha) * rgb + alpha * lut[index])`` on uint8 (cv2's LUT and blend when installed)."""
    try:
        import cv2
    except ImportError:  # pragma: no cover - cv2 ships with the video extra
        colour = lut[index].astype(np.float32)
        return np.rint((1 - alpha) * rgb.astype(np.float32) + alpha * colour).astype(np.uint8)
    colour = cv2.applyColorMap(np.ascontiguousarray(index), np.ascontiguousarray(lut[:, None, :]))
    return cv2.addWeighted(np.ascontiguousarray(rgb), 1.0 - alpha, colour, alpha, 0.0)


def _render(image: str | Path | PIL.Image.Image | ArrayLike, attention: AttentionMap | ArrayLike, *,
            alpha: float, cmap: str | None, upsample: str, threshold: float | None, vmin: float | None,
            vmax: float | None, channels: str) -> tuple[np.ndarray, ColorScale]:
    if not 0 <= alpha <= 1:
        raise MultiattnValueError(f"alpha must be in [0, 1], got {alpha}")
    rgb = to_rgb(image, channels=channels)
    grid = patch_grid(attention)
    scale = overlay_scale(grid, cmap, vmin, vmax)
    pixels = patch_values_to_pixels(attention, rgb.shape[:2], upsample=upsample)
    seen = np.isfinite(pixels)
    show = seen
    if threshold is not None:
        mask_px = patch_values_to_pixels(_mass_mask(grid, threshold).astype(float),
                                         rgb.shape[:2], upsample="nearest")
        show = seen & (mask_px > 0.5)
    out = _blend(rgb, _lut_index(pixels, seen, scale.vmin, scale.vmax), _lut(scale.cmap), alpha)
    if not show.all():
        np.copyto(out, rgb, where=~show[..., None])
    if threshold is not None:
        out[_outline(show, max(1, round(min(rgb.shape[:2]) / 150)))] = 255
    if channels == "BGR":
        out = np.ascontiguousarray(out[..., ::-1])
    return out, scale


def overlay(
    image: str | Path | PIL.Image.Image | ArrayLike,
    attention: AttentionMap | ArrayLike,
    *,
    alpha: float = 0.5,
    cmap: str | None = None,
    upsample: str = "bilinear",
    threshold: float | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    channels: str = "RGB",
) -> np.ndarray:
    """Blend an attention map onto an image; returns an array of the image's size.

    Parameters
    ----------
    image : path, PIL image or array
        Anything :func:`to_rgb` accepts (grayscale, RGBA, palette, 16-bit ...).
    attention : AttentionMap or array (rows, cols)
        A map over a :class:`~multiattn.axes.PatchAxis` -- placed on the original
        pixels through the axis' resize / center-crop record; pixels outside the
        crop get no colour -- or a plain patch grid stretched over the image.
    alpha : float
        Opacity of the colour layer (0 = image only, 1 = colour only).
    cmap : str, optional
        Matplotlib colormap; default ``"inferno"`` for weights and ``"RdBu_r"``
        (symmetric limits) for signed maps such as relevance differences.
    upsample : {"bilinear", "nearest", "bicubic"}
        ``nearest`` for patch-exact squares, the others for smooth maps.
    threshold : float, optional
        Colour only the patches holding the top ``threshold`` share of the map's
        (positive) mass and outline them in white (DINO uses 0.6).
    vmin, vmax : float, optional
        Colour limits; default robust 2nd-98th percentiles of the patch values.
    channels : {"RGB", "BGR"}
        Channel order of an array ``image`` and of the result (``"BGR"`` for OpenCV).

    Returns
    -------
    numpy.ndarray
        ``uint8 (H, W, 3)``, the original image's size.

    Example
    -------
    >>> img = np.zeros((64, 96, 3), dtype=np.uint8)
    >>> overlay(img, np.random.rand(4, 6), upsample="nearest").shape
    (64, 96, 3)
    """
    out, *_ = _render(image, attention, alpha=alpha, cmap=cmap, upsample=upsample,
                      threshold=threshold, vmin=vmin, vmax=vmax, channels=channels)
    return out


@plain_text
def overlay_plot(
    image: str | Path | PIL.Image.Image | ArrayLike,
    attention: AttentionMap | ArrayLike,
    *,
    ax: Axes | None = None,
    alpha: float = 0.5,
    cmap: str | None = None,
    upsample: str = "bilinear",
    threshold: float | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    colorbar: bool = True,
    label: str = "attention",
    normalised: str | None = None,
) -> Axes:
    """Draw :func:`overlay` on a matplotlib Axes with a colorbar (Axes-level).

    Parameters
    ----------
    image, attention, alpha, cmap, upsample, threshold, vmin, vmax
        As in :func:`overlay`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.
    title : str, optional
        Axes title.
    colorbar : bool
        Add a colorbar showing the colour limits used (arrows mark clipped ends).
    label : str
        What the colours are, e.g. ``"CLS attention, layer 11"``; ``""`` draws an
        unlabelled colorbar (for small multiples whose figure title states the scale).
    normalised : str, optional
        What was normalised, appended to the colorbar label (``"mean of heads"``).

    Returns
    -------
    matplotlib.axes.Axes

    Example
    -------
    >>> ax = overlay_plot(np.zeros((32, 32, 3), np.uint8), np.eye(2))
    >>> len(ax.figure.axes)  # image + colorbar
    2
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    _, ax = get_axes(ax)
    out, scale = _render(image, attention, alpha=alpha, cmap=cmap, upsample=upsample,
                         threshold=threshold, vmin=vmin, vmax=vmax, channels="RGB")
    ax.imshow(out, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        mappable = ScalarMappable(norm=Normalize(scale.vmin, scale.vmax), cmap=scale.cmap)
        # as tall as the image: matplotlib's fraction is relative to the Axes' width
        size = {"fraction": 0.046 * min(1.0, out.shape[0] / out.shape[1]), "pad": 0.02}
        if label:
            bar = add_colorbar(mappable, ax, label, normalised=normalised, scale=scale, **size)
        else:  # the figure states the scale; keep narrow panels readable
            bar = add_colorbar(mappable, ax, "", extend=scale.extend, **size)
        bar.ax.tick_params(labelsize=7)
        bar.ax.yaxis.label.set_fontsize(8)
    return ax
