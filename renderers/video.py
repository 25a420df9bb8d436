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

from pathlib import Path
from typing import Any

import numpy as np

from ..axes import VideoAxis
from ..grid import AttentionGrid, AttentionMap
from ..media import VideoClip, as_frames
from ._style import ColorScale, add_colorbar, color_scale, get_axes, save_figure
from ._video_encode import write_gif, write_mp4
from .image import overlay

__all__ = [
    "frame_maps",
    "overlay_frames",
    "write_overlay_video",
    "contact_sheet",
    "frame_timeline",
    "temporal_heatmap",
]

_FOOTER_PX = 22


# -- maps per frame --------------------------------------------------------------
def frame_maps(attention: Any, n_frames: int | None = None) -> np.ndarray:
    """One ``(rows, cols)`` map per input frame.

    Parameters
    ----------
    attention : AttentionMap over a VideoAxis, or array (T', rows, cols)
        A map over space-time tokens (prefix dropped; each temporal token is
        repeated over the ``t`` frames of its tubelet) or a volume of per-token maps.
    n_frames : int, optional
        Number of frames to cover; an array volume with ``n_frames / T'`` frames
        per temporal token is repeated to it.  Default: the axis' frames
        (maps) or ``T'`` (arrays).

    Returns
    -------
    ndarray float64 (n_frames, rows, cols)

    Example
    -------
    >>> axis = VideoAxis(8, 2, 2, tubelet=(2, 16, 16))
    >>> hot = np.zeros(len(axis)); hot[axis.labels.index("t1r0c1")] = 1
    >>> frame_maps(AttentionMap(hot, axis))[:, 0, 1].tolist()
    [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """
    if isinstance(attention, AttentionMap):
        axis = attention.axis
        if not isinstance(axis, VideoAxis):
            raise TypeError(f"frame_maps needs a map over a VideoAxis, got {type(axis).__name__}")
        volume = axis.to_volume(attention.values).astype(np.float64)
        per_token = axis.tubelet[0]
        if n_frames is not None and n_frames != axis.frames:
            raise ValueError(
                f"the map covers {axis.frames} frames but {n_frames} were given; pass the frames "
                "the model saw (the same uniform sample)"
            )
    else:
        volume = np.asarray(attention, dtype=np.float64)
        if volume.ndim != 3 or volume.size == 0:
            raise ValueError(
                f"maps must be an AttentionMap or a (T, rows, cols) array, got shape {volume.shape}"
            )
        if not np.isfinite(volume).all():
            raise ValueError("maps contain NaN or inf values")
        n_frames = volume.shape[0] if n_frames is None else n_frames
        if n_frames % volume.shape[0]:
            raise ValueError(
                f"{volume.shape[0]} maps cannot be spread evenly over {n_frames} frames; "
                "pass one map per frame or per equal group of frames"
            )
        per_token = n_frames // volume.shape[0]
    return np.repeat(volume, per_token, axis=0)


def _clip_scale(maps: np.ndarray, normalise: str, cmap: str | None) -> tuple[np.ndarray, ColorScale, str]:
    """Scale per-frame maps: one robust scale for the clip, or each frame divided by its max |value|."""
    if normalise not in ("clip", "frame"):
        raise ValueError(f"normalise must be 'clip' or 'frame', got {normalise!r}")
    signed = bool((maps < 0).any())
    cmap = cmap or (None if signed else "inferno")  # inferno for weights, diverging (RdBu_r) when signed
    if normalise == "clip":
        return maps, color_scale(maps, cmap=cmap), "one scale for all frames"
    peak = np.abs(maps).reshape(len(maps), -1).max(axis=1)
    maps = maps / np.where(peak > 0, peak, 1.0)[:, None, None]
    scale = color_scale(maps, cmap=cmap, limits=(-1.0 if signed else 0.0, 1.0))
    return maps, scale, "max |value| = 1 per frame"


def overlay_frames(
    frames: Any,
    maps: Any,
    *,
    alpha: float = 0.5,
    cmap: str | None = None,
    upsample: str = "bilinear",
    normalise: str = "clip",
) -> tuple[np.ndarray, ColorScale, str]:
    """Blend per-frame maps onto frames with one colour scale.

    Parameters
    ----------
    frames : array (T, H, W, 3) uint8 or (T, H, W) grayscale
        The frames the model saw.
    maps : AttentionMap over a VideoAxis or array (T', rows, cols)
        See :func:`frame_maps`.
    alpha, cmap, upsample
        As :func:`multiattn.renderers.image.overlay` (default cmap inferno; diverging for signed maps).
    normalise : {"clip", "frame"}
        ``"clip"``: robust 2-98 % limits over the whole clip; ``"frame"``: each
        frame's map divided by its max |value|.

    Returns
    -------
    (overlaid, scale, note)
        uint8 ``(T, H, W, 3)`` frames, the :class:`ColorScale` used, and what was normalised.

    Example
    -------
    >>> out, scale, note = overlay_frames(np.zeros((4, 32, 32, 3), np.uint8), np.random.rand(2, 2, 2))
    >>> out.shape, note
    ((4, 32, 32, 3), 'one scale for all frames')
    """
    frames = _check_frames(frames)
    per_frame = frame_maps(maps, len(frames))
    per_frame, scale, note = _clip_scale(per_frame, normalise, cmap)
    # a map over a VideoAxis knows the frames' resize / crop: place each frame's grid with it
    frame_axis = maps.axis.frame_axis if isinstance(maps, AttentionMap) else None
    out = np.stack([
        overlay(frame, grid if frame_axis is None else AttentionMap(grid.ravel(), frame_axis), alpha=alpha,
                cmap=scale.cmap, upsample=upsample, vmin=scale.vmin, vmax=scale.vmax)
        for frame, grid in zip(frames, per_frame)
    ])
    return out, scale, note


def _check_frames(frames: Any) -> np.ndarray:
    return as_frames(frames.frames if isinstance(frames, VideoClip) else frames)


# -- overlay video files -------------------------------------------------------------------
def _display_size(height: int, width: int, min_side: int) -> tuple[int, int]:
    scale = max(1.0, min_side / min(height, width))
    return int(round(height * scale)) // 2 * 2, int(round(width * scale)) // 2 * 2


def _short(value: float, scale: ColorScale) -> str:
    """Compact tick text; values below 0.1 % of the range print as 0."""
    return "0" if abs(value) < 1e-3 * (scale.vmax - scale.vmin) else f"{value:.2g}"


def _footer(width: int, text: str, scale: ColorScale, per_frame: bool) -> np.ndarray:
    """A dark strip: ``text`` on the left, then ``vmin [colour ramp] vmax`` on the right.

    With per-frame normalisation the ramp reads ``0 ... max`` (each frame's own maximum).
    """
    import cv2
    from matplotlib import colormaps

    bar = np.full((_FOOTER_PX, width, 3), 24, dtype=np.uint8)
    font, size, white = cv2.FONT_HERSHEY_SIMPLEX, 0.36, (235, 235, 235)
    low, high = _short(scale.vmin, scale), _short(scale.vmax, scale)
    if per_frame:
        low, high = ("-max" if scale.signed else "0"), "max"
    (high_w, _), _ = cv2.getTextSize(high, font, size, 1)
    (low_w, _), _ = cv2.getTextSize(low, font, size, 1)
    ramp_w = max(width // 5, 24)
    x_high = width - high_w - 4
    x_ramp = x_high - ramp_w - 4
    x_low = x_ramp - low_w - 4
    ramp = (colormaps[scale.cmap](np.linspace(0, 1, ramp_w))[:, :3] * 255).astype(np.uint8)
    bar[6:_FOOTER_PX - 6, x_ramp:x_ramp + ramp_w] = ramp[None]
    cv2.putText(bar, low, (x_low, 15), font, size, white, 1, cv2.LINE_AA)
    cv2.putText(bar, high, (x_high, 15), font, size, white, 1, cv2.LINE_AA)
    cv2.putText(bar[:, : max(x_low - 4, 1)], text, (4, 15), font, size, white, 1, cv2.LINE_AA)
    return bar


def _annotated(overlaid: np.ndarray, times: np.ndarray, scale: ColorScale, label: str, min_side: int,
               per_frame: bool):
    import cv2

    height, width = _display_size(*overlaid.shape[1:3], min_side)
    out = []
    for frame, t in zip(overlaid, times):
        big = cv2.resize(frame, (width, height), interpolation=cv2.INTER_NEAREST)
        text = f"{t:5.2f} s  {label}".rstrip()
        out.append(np.concatenate([big, _footer(width, text, scale, per_frame)], axis=0))
    return np.stack(out)


def write_overlay_video(
    frames: Any,
    maps: Any,
    path: str | Path,
    *,
    fps: float | None = None,
    alpha: float = 0.5,
    cmap: str | None = None,
    upsample: str = "bilinear",
    normalise: str = "clip",
    label: str = "",
    gif: bool = True,
    min_side: int = 256,
) -> dict[str, Path]:
    """Write the frames with attention overlaid frame by frame as an H.264 MP4 (and a GIF).

    Each frame is enlarged so its shorter side is at least ``min_side`` pixels
    (nearest neighbour) and gets a footer with its time, ``label`` and the
    colour scale.  The MP4 is H.264 / yuv420p with ``+faststart`` (plays in
    browsers); its frames are counted after writing.

    Parameters
    ----------
    frames : array (T, H, W, 3) uint8 or VideoClip
        The frames the model saw.
    maps : AttentionMap over a VideoAxis or array (T', rows, cols)
        Attention to overlay (see :func:`frame_maps`).
    path : str or Path
        Output ``.mp4``; the GIF is written next to it with suffix ``.gif``.
    fps : float, optional
        Playback rate; default the map's VideoAxis fps, else 8.
    alpha, cmap, upsample, normalise
        See :func:`overlay_frames`.
    label : str
        Text in the footer (e.g. the method and class).
    gif : bool
        Also write the GIF (looping).
    min_side : int
        Shorter side of the written frames in pixels (at least).

    Returns
    -------
    dict
        ``{"mp4": Path, "gif": Path}`` (``gif`` only when written).

    Raises
    ------
    RuntimeError
        If the MP4 written cannot be read back with the right number of frames.

    Example
    -------
    >>> frames = np.zeros((8, 64, 64, 3), np.uint8)  # 8 frames the model saw
    >>> paths = write_overlay_video(frames, np.random.rand(4, 4, 4), "attention.mp4")  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['gif', 'mp4']
    """
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"write_overlay_video writes an .mp4 (and a .gif next to it), got {path.name!r}")
    if fps is None:
        fps = maps.axis.fps if isinstance(maps, AttentionMap) and isinstance(maps.axis, VideoAxis) else 8.0
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    overlaid, scale, note = overlay_frames(frames, maps, alpha=alpha, cmap=cmap, upsample=upsample,
                                           normalise=normalise)
    shown = _annotated(overlaid, np.arange(len(overlaid)) / fps, scale, label, min_side,
                       per_frame=normalise == "frame")
    out = {"mp4": write_mp4(shown, path, fps)}
    if gif:
        out["gif"] = write_gif(shown, path.with_suffix(".gif"), fps)
    return out


# -- figures ---------------------------------------------------------------------------
def contact_sheet(
    frames: Any,
    maps: Any,
    path: str | Path | None = None,
    *,
    fps: float | None = None,
    alpha: float = 0.5,
    cmap: str | None = None,
    normalise: str = "clip",
    title: str | None = None,
    max_frames: int = 8,
    boxes: Any = None,
) -> Any:
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
        raise TypeError(f"frame_timeline needs maps over a VideoAxis, got {type(axis).__name__}")
    volume = axis.to_volume(attention.values).astype(np.float64)
    per_time = volume.sum(axis=(1, 2))
    total = np.abs(per_time).sum()
    return per_time / total if total > 0 else per_time


def frame_timeline(
    maps: AttentionMap | dict[str, AttentionMap],
    *,
    ax: Any = None,
) -> Any:
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
        raise ValueError("frame_timeline needs at least one map")
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


def _time_matrix(grid: AttentionGrid, layer: Any) -> np.ndarray:
    """``(T, T)``: for queries at time ``i``, mean share of attention on keys at time ``j``."""
    axis = grid.query
    if not isinstance(axis, VideoAxis) or grid.key != axis:
        raise TypeError("temporal_heatmap needs a self-attention grid over one VideoAxis")
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


def temporal_heatmap(
    attention: AttentionGrid | dict[str, AttentionGrid],
    *,
    layer: Any = -1,
    ax: Any = None,
    cmap: str | None = None,
) -> Any:
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
