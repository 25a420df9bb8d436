"""Overlay video files: every frame blended with its map, a footer with time and scale, H.264 + GIF."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multiattn.axes import VideoAxis
from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionMap
from multiattn.media import VideoClip, as_frames

from ._style import ColorScale, color_scale
from ._video_encode import write_gif, write_mp4
from .image import overlay

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike

__all__ = [
    "FOOTER_PX",
    "check_frames",
    "clip_scale",
    "frame_maps",
    "overlay_frames",
    "overlay_stream",
    "annotated",
    "display_size",
    "footer",
    "short",
    "write_overlay_video",
]


FOOTER_PX = 22


# -- maps per frame --------------------------------------------------------------
def frame_maps(attention: AttentionMap | ArrayLike, n_frames: int | None = None) -> np.ndarray:
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
            raise MultiattnTypeError(f"frame_maps needs a map over a VideoAxis, got {type(axis).__name__}")
        volume = axis.to_volume(attention.values).astype(np.float64)
        per_token = axis.tubelet[0]
        if n_frames is not None and n_frames != axis.frames:
            raise MultiattnValueError(
                f"the map covers {axis.frames} frames but {n_frames} were given; pass the frames "
                "the model saw (the same uniform sample)"
            )
    else:
        volume = np.asarray(attention, dtype=np.float64)
        if volume.ndim != 3 or volume.size == 0:
            raise MultiattnValueError(
                f"maps must be an AttentionMap or a (T, rows, cols) array, got shape {volume.shape}"
            )
        if not np.isfinite(volume).all():
            raise MultiattnValueError("maps contain NaN or inf values")
        n_frames = volume.shape[0] if n_frames is None else n_frames
        if n_frames % volume.shape[0]:
            raise MultiattnValueError(
                f"{volume.shape[0]} maps cannot be spread evenly over {n_frames} frames; "
                "pass one map per frame or per equal group of frames"
            )
        per_token = n_frames // volume.shape[0]
    return np.repeat(volume, per_token, axis=0)


def clip_scale(maps: np.ndarray, normalise: str, cmap: str | None) -> tuple[np.ndarray, ColorScale, str]:
    """Scale per-frame maps: one robust scale for the clip, or each frame divided by its max |value|.

    The clip's scale is robust across *frames*, not pixels: its top is the 90th percentile of the
    frames' peaks (a few outlier frames saturate, every other frame keeps its peak). Pixel
    percentiles would land on the background of a peaked map (a tracked object covers a few % of
    the pixels) and saturate everything that matters.

    Example
    -------
    >>> maps = np.zeros((10, 8, 8)); maps[:, 2, 3] = np.linspace(0.1, 1.0, 10)
    >>> _, scale, note = clip_scale(maps, "clip", None)
    >>> (scale.vmin, round(scale.vmax, 2), scale.clipped_high, note)
    (0.0, 0.91, True, 'one scale for all frames')
    """
    if normalise not in ("clip", "frame"):
        raise MultiattnValueError(f"normalise must be 'clip' or 'frame', got {normalise!r}")
    signed = bool((maps < 0).any())
    cmap = cmap or (None if signed else "inferno")  # inferno for weights, diverging (RdBu_r) when signed
    peak = np.abs(maps).reshape(len(maps), -1).max(axis=1)
    if normalise == "clip":
        top = float(np.percentile(peak, 90)) or 1.0
        low = -top if signed else min(0.0, float(maps.min()))
        return maps, color_scale(maps, cmap=cmap, limits=(low, top)), "one scale for all frames"
    maps = maps / np.where(peak > 0, peak, 1.0)[:, None, None]
    scale = color_scale(maps, cmap=cmap, limits=(-1.0 if signed else 0.0, 1.0))
    return maps, scale, "max |value| = 1 per frame"


def overlay_frames(
    frames: np.ndarray | Sequence[np.ndarray] | VideoClip,
    maps: AttentionMap | ArrayLike,
    *,
    alpha: float = 0.5,
    cmap: str | None = None,
    upsample: str = "bilinear",
    normalise: str = "clip",
) -> tuple[np.ndarray, ColorScale, str]:
    """Blend per-frame maps onto frames with one colour scale.

    Parameters
    ----------
    frames : array (T, H, W, 3) uint8 or (T, H, W) grayscale, list of frames, or VideoClip
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
    overlaid, scale, note = overlay_stream(frames, maps, alpha, cmap, upsample, normalise)
    return np.stack(list(overlaid)), scale, note


def overlay_stream(frames: np.ndarray | Sequence[np.ndarray] | VideoClip, maps: AttentionMap | ArrayLike,
                   alpha: float, cmap: str | None, upsample: str,
                   normalise: str) -> tuple[Iterator[np.ndarray], ColorScale, str]:
    """:func:`overlay_frames` one frame at a time (its parameters, all given): a generator of the
    blended frames, with the colour scale and note known up front (inputs checked before the first).

    Example
    -------
    >>> frames, scale, note = overlay_stream(np.zeros((4, 32, 32, 3), np.uint8), np.random.rand(2, 2, 2),
    ...                                      0.5, None, "bilinear", "clip")
    >>> next(frames).shape
    (32, 32, 3)
    """
    frames = check_frames(frames)
    per_frame = frame_maps(maps, len(frames))
    per_frame, scale, note = clip_scale(per_frame, normalise, cmap)
    # a map over a VideoAxis knows the frames' resize / crop: place each frame's grid with it
    frame_axis = maps.axis.frame_axis if isinstance(maps, AttentionMap) else None
    blended = (
        overlay(frame, grid if frame_axis is None else AttentionMap(grid.ravel(), frame_axis), alpha=alpha,
                cmap=scale.cmap, upsample=upsample, vmin=scale.vmin, vmax=scale.vmax)
        for frame, grid in zip(frames, per_frame)
    )
    return blended, scale, note


def check_frames(frames: np.ndarray | Sequence[np.ndarray] | VideoClip) -> np.ndarray:
    return as_frames(frames.frames if isinstance(frames, VideoClip) else frames)


# -- overlay video files -------------------------------------------------------------------
def display_size(height: int, width: int, min_side: int) -> tuple[int, int]:
    scale = max(1.0, min_side / min(height, width))
    return int(round(height * scale)) // 2 * 2, int(round(width * scale)) // 2 * 2


def short(value: float, scale: ColorScale) -> str:
    """Compact tick text; values below 0.1 % of the range print as 0."""
    return "0" if abs(value) < 1e-3 * (scale.vmax - scale.vmin) else f"{value:.2g}"


def footer(width: int, text: str, scale: ColorScale, per_frame: bool) -> np.ndarray:
    """A dark strip: ``text`` on the left, then ``vmin [colour ramp] vmax`` on the right.

    With per-frame normalisation the ramp reads ``0 ... max`` (each frame's own maximum).
    """
    import cv2
    from matplotlib import colormaps

    bar = np.full((FOOTER_PX, width, 3), 24, dtype=np.uint8)
    font, size, white = cv2.FONT_HERSHEY_SIMPLEX, 0.36, (235, 235, 235)
    low, high = short(scale.vmin, scale), short(scale.vmax, scale)
    if per_frame:
        low, high = ("-max" if scale.signed else "0"), "max"
    (high_w, _), _ = cv2.getTextSize(high, font, size, 1)
    (low_w, _), _ = cv2.getTextSize(low, font, size, 1)
    ramp_w = max(width // 5, 24)
    x_high = width - high_w - 4
    x_ramp = x_high - ramp_w - 4
    x_low = x_ramp - low_w - 4
    ramp = (colormaps[scale.cmap](np.linspace(0, 1, ramp_w))[:, :3] * 255).astype(np.uint8)
    bar[6:FOOTER_PX - 6, x_ramp:x_ramp + ramp_w] = ramp[None]
    cv2.putText(bar, low, (x_low, 15), font, size, white, 1, cv2.LINE_AA)
    cv2.putText(bar, high, (x_high, 15), font, size, white, 1, cv2.LINE_AA)
    cv2.putText(bar[:, : max(x_low - 4, 1)], text, (4, 15), font, size, white, 1, cv2.LINE_AA)
    return bar


def annotated(overlaid: Iterable[np.ndarray], times: np.ndarray, scale: ColorScale, label: str,
              min_side: int, per_frame: bool) -> Iterator[np.ndarray]:
    """Each overlaid frame enlarged to ``min_side`` (nearest neighbour) over its footer, as it comes."""
    import cv2

    size = None
    for frame, t in zip(overlaid, times):
        height, width = size = size or display_size(*frame.shape[:2], min_side)
        big = cv2.resize(frame, (width, height), interpolation=cv2.INTER_NEAREST)
        text = f"{t:5.2f} s  {label}".rstrip()
        yield np.concatenate([big, footer(width, text, scale, per_frame)], axis=0)


def _kept(frames: Iterable[np.ndarray], into: list[np.ndarray]) -> Iterator[np.ndarray]:
    """``frames`` passed on one at a time, each also appended to ``into``."""
    for frame in frames:
        into.append(frame)
        yield frame


def write_overlay_video(
    frames: np.ndarray | Sequence[np.ndarray] | VideoClip,
    maps: AttentionMap | ArrayLike,
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
    frames : array (T, H, W, 3) uint8, list of frames, or VideoClip
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
        raise MultiattnValueError(
            f"write_overlay_video writes an .mp4 (and a .gif next to it), got {path.name!r}")
    if fps is None:
        fps = maps.axis.fps if isinstance(maps, AttentionMap) and isinstance(maps.axis, VideoAxis) else 8.0
    if not fps > 0:
        raise MultiattnValueError(f"fps must be positive, got {fps}")
    frames = check_frames(frames)
    overlaid, scale, _ = overlay_stream(frames, maps, alpha, cmap, upsample, normalise)
    shown: list[np.ndarray] = []  # each frame is encoded as soon as it is drawn, and kept for the GIF
    times = np.arange(len(frames)) / fps
    out = {"mp4": write_mp4(_kept(annotated(overlaid, times, scale, label, min_side,
                                            per_frame=normalise == "frame"), shown), path, fps)}
    if gif:
        out["gif"] = write_gif(np.stack(shown), path.with_suffix(".gif"), fps)
    return out
