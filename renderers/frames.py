"""Attention on video: overlay clips (H.264 MP4 + GIF), contact sheets, timelines, frame x frame maps.

Maps over a :class:`~multiattn.axes.VideoAxis` become one ``(rows, cols)`` map
per input frame (:func:`frame_maps`: a tubelet of ``t`` frames shares its
map), which :func:`multiattn.renderers.image.overlay` blends onto each frame.
One colour scale is used for the whole clip by default, so brightness can be
compared across frames; every frame of :func:`write_overlay_video` carries a
footer with its time and the scale.  Video files are read with
:func:`multiattn.media.read_video`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multiattn.axes import VideoAxis
from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionGrid, AttentionMap

from ._style import add_colorbar, color_scale, get_axes
from ._video_overlay import frame_maps, overlay_frames, write_overlay_video
from .figure import plain_text, save_figure

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from multiattn._types import ArrayLike
    from multiattn.media import VideoClip

__all__ = [
    "frame_maps",
    "overlay_frames",
    "write_overlay_video",
    "contact_sheet",
    "frame_timeline",
    "temporal_heatmap",
]

# -- figures ---------------------------------------------------------------------------
@plain_text
def contact_sheet(
    frames: np.ndarray | Sequence[np.ndarray] | VideoClip,
    maps: AttentionMap | ArrayLike,
    path: str | Path | None = None,
    *,
    fps: float | None = None,
    alpha: float = 0.5,
    cmap: str | None = None,
    normalise: str = "clip",
    title: str | None = None,
    max_frames: int = 8,
    boxes: ArrayLike | None = None,
) -> Figure:
    """Figure-level: frames in a row with attention overlaid, their times and one colorbar.

    Parameters
    ----------
    frames, maps, alpha, cmap, normalise
        See :func:`overlay_frames`.
    path : str or Path, optional
        Save the sheet as PNG there (fixed DPI; the figure is closed).
    fps : float, optional
        For the times under each frame; default the map's VideoAxis fps, else 1
        (times then count frames).
    title : str, optional
        Figure title.
    max_frames : int
        At most this many frames, evenly spaced.
    boxes : array (T, 4), optional
        Ground-truth ``(x0, y0, x1, y1)`` boxes to outline (e.g. the moving object).

    Returns
    -------
    matplotlib.figure.Figure

    Example
    -------
    >>> fig = contact_sheet(np.zeros((4, 32, 32, 3), np.uint8), np.random.rand(4, 2, 2))
    >>> len(fig.axes)  # 4 frames + colorbar
    5
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from ._style import DPI

    overlaid, scale, note = overlay_frames(frames, maps, alpha=alpha, cmap=cmap, normalise=normalise)
    if fps is None:
        fps = maps.axis.fps if isinstance(maps, AttentionMap) and isinstance(maps.axis, VideoAxis) else 1.0
    shown = np.unique(np.linspace(0, len(overlaid) - 1, min(max_frames, len(overlaid))).round().astype(int))
    aspect = overlaid.shape[1] / overlaid.shape[2]
    figsize = (1.9 * len(shown) + 1.4, max(2.4, 1.9 * aspect + (0.9 if title else 0.6)))
    fig, axes = plt.subplots(1, len(shown), figsize=figsize, dpi=DPI, squeeze=False,
                             layout="constrained")
    axes = axes[0]
    for ax, i in zip(axes, shown):
        ax.imshow(overlaid[i])
        ax.set_title(f"{i / fps:.2f} s" if fps != 1.0 else f"frame {i}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if boxes is not None:
            x0, y0, x1, y1 = np.asarray(boxes, dtype=float)[i]
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="cyan", lw=1.0))
    mappable = plt.cm.ScalarMappable(cmap=scale.cmap, norm=plt.Normalize(scale.vmin, scale.vmax))
    cbar = add_colorbar(mappable, list(axes), "attention", normalised=note, scale=scale, fraction=0.025,
                        pad=0.02)
    cbar.ax.yaxis.label.set_fontsize(8)
    if title:
        fig.suptitle(title, fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig


def _time_shares(attention: AttentionMap) -> np.ndarray:
    axis = attention.axis
    if not isinstance(axis, VideoAxis):
        raise MultiattnTypeError(f"frame_timeline needs maps over a VideoAxis, got {type(axis).__name__}")
    volume = axis.to_volume(attention.values).astype(np.float64)
    per_time = volume.sum(axis=(1, 2))
    total = np.abs(per_time).sum()
    return per_time / total if total > 0 else per_time


@plain_text
def frame_timeline(
    maps: AttentionMap | dict[str, AttentionMap],
    *,
    ax: Axes | None = None,
) -> Axes:
    """Axes-level: share of the map each temporal token (frame or tubelet) receives, over time.

    Parameters
    ----------
    maps : AttentionMap or {label: AttentionMap}
        Maps over one VideoAxis (prefix tokens excluded); several maps are drawn as lines.
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Example
    -------
    >>> axis = VideoAxis(4, 2, 2, tubelet=(2, 16, 16), fps=4)
    >>> ax = frame_timeline(AttentionMap(np.full(len(axis), 0.125), axis))
    >>> ax.get_lines()[0].get_ydata().tolist()
    [0.5, 0.5]
    """
    named = maps if isinstance(maps, dict) else {maps.meta.get("method", "attention"): maps}
    if not named:
        raise MultiattnValueError("frame_timeline needs at least one map")
    _, ax = get_axes(ax, figsize=(6.0, 3.0))
    for i, (name, amap) in enumerate(named.items()):
        shares = _time_shares(amap)
        times = amap.axis.times
        ax.plot(times, shares, marker="osd^v"[i % 5], lw=1.6, ms=5, label=str(name), color=f"C{i}",
                linestyle=("-", "--", ":", "-.")[i % 4])  # styles keep identical curves visible
    axis = next(iter(named.values())).axis
    ax.set_xlabel(f"time (s, centre of each {axis.tubelet[0]}-frame tubelet)")
    ax.set_ylabel("share of the map\n(per map, sums to 1)")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("attention each frame receives", fontsize=10)
    return ax


def _time_matrix(grid: AttentionGrid, layer: int | str) -> np.ndarray:
    """``(T, T)``: for queries at time ``i``, mean share of attention on keys at time ``j``."""
    axis = grid.query
    if not isinstance(axis, VideoAxis) or grid.key != axis:
        raise MultiattnTypeError("temporal_heatmap needs a self-attention grid over one VideoAxis")
    sel = grid.select(layer=layer).reduce("mean", over="head")
    times = np.full(len(axis), -1)
    times[axis.n_prefix:] = np.arange(len(axis) - axis.n_prefix) // (axis.rows * axis.cols)
    n_t = axis.n_time
    out = np.zeros((n_t, n_t))
    if sel.is_sparse:
        keys, queries = sel.edge_index
        ok = (times[keys] >= 0) & (times[queries] >= 0)
        np.add.at(out, (times[queries[ok]], times[keys[ok]]), sel.values[0, 0, ok])
    else:
        content = sel.values[0, 0][axis.n_prefix:, axis.n_prefix:]
        per = axis.rows * axis.cols
        out = content.reshape(n_t, per, n_t, per).sum(axis=(1, 3))
    return out / (axis.rows * axis.cols)


@plain_text
def temporal_heatmap(
    attention: AttentionGrid | dict[str, AttentionGrid],
    *,
    layer: int | str = -1,
    ax: Axes | None = None,
    cmap: str | None = None,
) -> Axes:
    """Axes-level: frame x frame attention (query time vs key time) of one layer.

    For queries in temporal position ``i`` the share of their attention that
    goes to keys in position ``j`` (mean over heads and over the patches of
    frame ``i``; prefix tokens left out).  Pass TimeSformer's capture dict to
    show its temporal step, or a joint grid (VideoMAE, ViViT).

    Returns
    -------
    matplotlib.axes.Axes

    Example
    -------
    >>> axis = VideoAxis(4, 2, 2, tubelet=(1, 16, 16))
    >>> grid = AttentionGrid(np.full((1, 1, 16, 16), 1 / 16), axis)
    >>> temporal_heatmap(grid).images[0].get_array().shape
    (4, 4)
    """
    grid = attention["temporal"] if isinstance(attention, dict) else attention
    matrix = _time_matrix(grid, layer)
    _, ax = get_axes(ax, figsize=(4.6, 4.0))
    scale = color_scale(matrix, cmap=cmap, limits=(0.0, max(float(matrix.max()), 1e-9)))
    image = ax.imshow(matrix, origin="upper", **scale.imshow_kwargs())
    if len(matrix) <= 10:
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value < 0.6 * scale.vmax else "black")
    labels = [f"{t:.2f}" for t in grid.query.times]
    ticks = np.arange(len(labels))
    step = max(1, len(labels) // 8)
    ax.set_xticks(ticks[::step], labels[::step], rotation=45, fontsize=8)
    ax.set_yticks(ticks[::step], labels[::step], fontsize=8)
    ax.set_xlabel("key time (s)")
    ax.set_ylabel("query time (s)")
    ax.set_title(f"frame x frame attention, layer {grid.select(layer=layer).layers[0]}", fontsize=10)
    add_colorbar(image, ax, "attention share", normalised="rows sum to 1; mean over heads, patches",
                 scale=scale)
    return ax
