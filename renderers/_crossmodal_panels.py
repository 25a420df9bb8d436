"""The two panels of :func:`multiattn.renderers.crossmodal.side_by_side`.

Left: the medium of the key axis, one drawer per axis type (``_PANELS``; any
other axis is a labelled column of cells).  Right: the tokens.  Every drawer
returns one anchor point per position in data coordinates, ``(K, 2)`` or
``(Q, 2)``, where the lines between the panels end (NaN for positions that are
not drawn, such as a CLS token).  Colorbars go under the panels so that lines
never cross them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from multiattn.axes import Axis, PatchAxis, TimeAxis, VideoAxis
from multiattn.errors import MultiattnValueError
from multiattn.grid import AttentionMap
from multiattn.media import to_rgb

from ._image_pixels import pixel_box
from ._style import SEQUENTIAL_CMAP, ColorScale, add_colorbar, color_scale
from .image import overlay, overlay_plot, patch_values_to_pixels

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from pathlib import Path
    from typing import TypeAlias

    import PIL.Image

    from multiattn._types import ArrayLike

    #: What a left panel draws on: an image (patches), a waveform / spectrogram (time),
    #: frames (video), or nothing.
    _Media: TypeAlias = "str | Path | PIL.Image.Image | ArrayLike | None"


def _colorbar_below(mappable: ScalarMappable, ax: Axes, label: str, normalised: str | None,
                    scale: ColorScale | None) -> None:
    """Horizontal colorbar under the medium, so lines to the tokens never cross it."""
    bar = add_colorbar(mappable, ax, label, normalised=normalised, scale=scale,
                       orientation="horizontal", fraction=0.05, pad=0.04)
    bar.ax.tick_params(labelsize=7)
    bar.ax.xaxis.label.set_fontsize(8)


# -- left panels: one per key-axis type; each returns (K, 2) anchor points in data coords ----
def _patch_centres(axis: PatchAxis, size: tuple[int, int] | None) -> np.ndarray:
    """Centre of every patch: in image pixels (x, y) when ``size`` is given, else (col, row)."""
    points = np.full((len(axis), 2), np.nan)
    n = axis.rows * axis.cols
    if size is None:
        rows, cols = np.divmod(np.arange(n), axis.cols)
        points[axis.n_prefix:] = np.column_stack([cols, rows])
        return points
    index = AttentionMap(np.concatenate([np.full(axis.n_prefix, -1.0), np.arange(n)]), axis)
    pixels = patch_values_to_pixels(index, size, upsample="nearest")
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    seen = np.isfinite(pixels)
    labels = pixels[seen].astype(int)
    counts = np.bincount(labels, minlength=n).astype(float)
    with np.errstate(invalid="ignore"):
        points[axis.n_prefix:, 0] = np.bincount(labels, xx[seen] + 0.5, minlength=n) / counts - 0.5
        points[axis.n_prefix:, 1] = np.bincount(labels, yy[seen] + 0.5, minlength=n) / counts - 0.5
    return points


def _draw_patch(ax: Axes, axis: PatchAxis, values: np.ndarray, media: _Media,
                label: str, normalised: str | None) -> np.ndarray:
    if media is None:
        scale = color_scale(axis.to_image(values))
        im = ax.imshow(axis.to_image(values), **scale.imshow_kwargs())
        _colorbar_below(im, ax, label, normalised, scale)
        ax.set_xticks([])
        ax.set_yticks([])
        return _patch_centres(axis, None)
    rgb = to_rgb(media)
    scale = color_scale(axis.to_image(values), sequential="inferno")
    overlay_plot(rgb, AttentionMap(values, axis), ax=ax, colorbar=False, upsample="bilinear", alpha=0.55,
                 cmap=scale.cmap, vmin=scale.vmin, vmax=scale.vmax)
    _colorbar_below(ScalarMappable(Normalize(scale.vmin, scale.vmax), cmap=scale.cmap), ax, label,
                    normalised, scale)
    return _patch_centres(axis, rgb.shape[:2])


def _draw_time(ax: Axes, axis: TimeAxis, values: np.ndarray, media: _Media, label: str,
               normalised: str | None) -> np.ndarray:
    t0, t1 = float(axis.edges[0]), float(axis.edges[-1])
    times = axis.times
    if media is None:
        ax.fill_between(times, values, color="0.8")
        ax.plot(times, values, color="0.2", lw=1)
        ax.set_ylabel(label)
        ax.set_xlim(t0, t1)
        ax.set_xlabel("time (s)")
        return np.column_stack([times, values])
    arr = np.asarray(media, dtype=np.float64)
    if arr.ndim == 1 and arr.size:
        ax.plot(np.linspace(t0, t1, arr.size), arr / (np.abs(arr).max() or 1.0) * 0.4 + 0.4,
                color="0.25", lw=0.6)
    elif arr.ndim == 2 and arr.size:
        ax.imshow(arr, origin="lower", aspect="auto", cmap="gray_r", extent=(t0, t1, 0.0, 0.8))
    else:
        raise MultiattnValueError(
            f"media for a TimeAxis must be a waveform (samples,) or a spectrogram (freq, frames) spanning "
            f"the axis' {t1 - t0:.2f} s, got shape {arr.shape}"
        )
    scale = color_scale(values)
    im = ax.imshow(values[None, :], aspect="auto", extent=(t0, t1, 0.82, 1.0), **scale.imshow_kwargs())
    _colorbar_below(im, ax, label, normalised, scale)
    ax.set_xlim(t0, t1)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xlabel("time (s)")
    return np.column_stack([times, np.full(len(axis), 0.91)])


def _draw_video(ax: Axes, axis: VideoAxis, values: np.ndarray, media: _Media,
                label: str, normalised: str | None) -> np.ndarray:
    volume = axis.to_volume(values)
    scale = color_scale(volume)
    points = np.full((len(axis), 2), np.nan)
    if media is None:
        strip = np.concatenate(list(volume), axis=1)
        im = ax.imshow(strip, **scale.imshow_kwargs())
        height, width = axis.rows, axis.cols
        cell, origin = (1.0, 1.0), (0.0, 0.0)
    else:
        frames = np.asarray(media)
        if frames.ndim != 4 or frames.shape[0] != axis.frames:
            raise MultiattnValueError(
                f"media for a VideoAxis must be the {axis.frames} frames the model saw, "
                f"shape ({axis.frames}, H, W, 3); got {frames.shape}"
            )
        picks = [min(t * axis.tubelet[0] + axis.tubelet[0] // 2, axis.frames - 1) for t in range(axis.n_time)]
        placed = [AttentionMap(volume[t].ravel(), axis.frame_axis) for t in range(axis.n_time)]
        strip = np.concatenate([overlay(frames[f], placed[t], vmin=scale.vmin, vmax=scale.vmax, alpha=0.55)
                                for t, f in enumerate(picks)], axis=1)
        ax.imshow(strip)
        im = ScalarMappable(Normalize(scale.vmin, scale.vmax), cmap=scale.cmap)
        height, width = frames.shape[1:3]
        top, left, bottom, right = pixel_box(placed[0], height, width)  # the processor's crop, if any
        cell = ((bottom - top) / axis.rows, (right - left) / axis.cols)
        origin = (top, left)
    t, r, c = np.unravel_index(np.arange(axis.n_time * axis.rows * axis.cols), volume.shape)
    points[axis.n_prefix:, 0] = t * width + origin[1] + (c + 0.5) * cell[1] - 0.5
    points[axis.n_prefix:, 1] = origin[0] + (r + 0.5) * cell[0] - 0.5
    for k, centre in enumerate(axis.times):
        ax.text(k * width + 1, height - 1, f"{centre:.2f}s", color="white", fontsize=7, va="bottom",
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "lw": 0})
    _colorbar_below(im, ax, label, normalised, scale)
    ax.set_xticks([])
    ax.set_yticks([])
    return points


def _draw_cells(ax: Axes, axis: Axis, values: np.ndarray, media: _Media, label: str,
                normalised: str | None) -> np.ndarray:
    if media is not None:
        raise MultiattnValueError(f"media is not used for a {type(axis).__name__} key axis; pass media=None")
    scale = color_scale(values)
    im = ax.imshow(values[:, None], aspect="auto", **scale.imshow_kwargs())
    ax.set_yticks(range(len(axis)), axis.labels, fontsize=8)
    ax.set_xticks([])
    _colorbar_below(im, ax, label, normalised, scale)
    return np.column_stack([np.full(len(axis), 0.45), np.arange(len(axis))])


_PANELS = {PatchAxis: _draw_patch, TimeAxis: _draw_time, VideoAxis: _draw_video}


def draw_medium(ax: Axes, axis: Axis, values: np.ndarray, media: _Media, label: str,
                 normalised: str | None) -> np.ndarray:
    """The left panel for ``axis``'s type (a labelled column of cells for other axes)."""
    draw = next((f for cls, f in _PANELS.items() if isinstance(axis, cls)), _draw_cells)
    return draw(ax, axis, values, media, label, normalised)


# -- right panel: tokens --------------------------------------------------------------------
def draw_tokens(ax: Axes, axis: Axis, token_weights: np.ndarray, label: str) -> np.ndarray:
    """Tokens in a column, boxes coloured and text sized by weight; returns (Q, 2) anchors."""
    scale = color_scale(token_weights, cmap=SEQUENTIAL_CMAP, percentiles=(0, 100))
    cmap, norm = colormaps[scale.cmap], Normalize(scale.vmin, scale.vmax)
    n = len(axis)
    ax.set_xlim(0, 1)
    ax.set_ylim(n - 0.5, -0.5)
    ax.axis("off")
    special = axis.special_mask
    for q, text in enumerate(axis.labels):
        level = float(np.clip(norm(token_weights[q]), 0, 1))
        face = cmap(level)
        dark = 0.299 * face[0] + 0.587 * face[1] + 0.114 * face[2] < 0.55
        ax.text(0.12, q, text, va="center", ha="left", fontsize=9 + 6 * level,
                color=("white" if dark else "black") if not special[q] else "0.45",
                bbox={"facecolor": face, "edgecolor": "0.6", "boxstyle": "round,pad=0.25"})
    _colorbar_below(ScalarMappable(norm, cmap=scale.cmap), ax, label, None, None)
    return np.column_stack([np.full(n, 0.1), np.arange(n)])
