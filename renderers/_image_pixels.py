"""Placing a patch map on an image's pixels: the patch grid, the crop / resize record, upsampling.

A map over a :class:`~multiattn.axes.PatchAxis` is placed with the axis'
recorded ``transform`` (``original_size``, ``resize``, ``crop``): patch
``(r, c)`` covers the model-input pixels ``[r*ph, (r+1)*ph) x [c*pw, (c+1)*pw)``,
which are shifted by the crop offset and scaled back by the resize factor.
Pixels the model never saw (outside a center crop) are NaN.  A plain 2-D
``(rows, cols)`` array is stretched over the whole image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from multiattn.errors import MultiattnValueError
from multiattn.grid import AttentionMap

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike

__all__ = ["patch_values_to_pixels"]

_RESAMPLE = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
_ASPECT_TOLERANCE = 0.02


def patch_grid(attention: AttentionMap | ArrayLike) -> np.ndarray:
    if isinstance(attention, AttentionMap):
        return attention.to_image().astype(np.float64)
    grid = np.asarray(attention, dtype=np.float64)
    if grid.ndim != 2 or grid.size == 0:
        raise MultiattnValueError(
            f"attention must be an AttentionMap over a PatchAxis or a 2-D (rows, cols) array, "
            f"got shape {grid.shape}"
        )
    if not np.isfinite(grid).all():
        raise MultiattnValueError("attention contains NaN or inf values")
    return grid


def pixel_box(attention: AttentionMap | ArrayLike, height: int,
               width: int) -> tuple[float, float, float, float]:
    """``(top, left, bottom, right)`` of the patch grid in image pixels (floats)."""
    if not isinstance(attention, AttentionMap):
        return 0.0, 0.0, float(height), float(width)
    axis = attention.axis
    t = axis.transform
    resized = t.get("resize", axis.image_size)
    top, left = t.get("crop", (0, 0))[:2]
    if "original_size" in t:
        oh, ow = t["original_size"]
        if abs((height / width) / (oh / ow) - 1) > _ASPECT_TOLERANCE:
            raise MultiattnValueError(
                f"the map was captured on a {oh}x{ow} image but the image given is {height}x{width} "
                "(different aspect ratio); pass the image the map was computed on"
            )
    sy, sx = height / resized[0], width / resized[1]
    ph, pw = axis.patch_size
    return top * sy, left * sx, (top + axis.rows * ph) * sy, (left + axis.cols * pw) * sx


def _resized(grid: np.ndarray, height: int, width: int, upsample: str) -> np.ndarray:
    """``grid`` float32 resized to ``(height, width)`` with PIL's filter ``upsample``.

    Bilinear *enlarging* goes through OpenCV when installed: the same triangle weights on pixel
    centres with the edges held (equal to PIL's within 1.2e-7 on maps in [0, 1]), about 10x
    faster on a 1080 x 2160 image. Shrinking (PIL antialiases, cv2's bilinear does not) and bicubic
    (PIL's a = -0.5, cv2's -0.75) stay with PIL.

    Example
    -------
    >>> _resized(np.eye(2, dtype=np.float32), 4, 4, "bilinear")[0].tolist()
    [1.0, 0.75, 0.25, 0.0]
    """
    if upsample == "bilinear" and height >= grid.shape[0] and width >= grid.shape[1]:
        try:
            import cv2
        except ImportError:  # pragma: no cover - cv2 ships with the video / graph extras
            pass
        else:
            return cv2.resize(grid, (width, height), interpolation=cv2.INTER_LINEAR)
    image = Image.fromarray(grid, mode="F")
    return np.array(image.resize((width, height), _RESAMPLE[upsample]), dtype=np.float32)  # writable


def patch_values_to_pixels(
    attention: AttentionMap | ArrayLike, size: tuple[int, int], *, upsample: str = "bilinear"
) -> np.ndarray:
    """Upsample a patch map to an image's pixels; NaN where the model saw nothing.

    Parameters
    ----------
    attention : AttentionMap or array (rows, cols)
        A map over a PatchAxis (placed with its recorded resize / crop) or a
        plain patch grid (stretched over the whole image).
    size : (height, width)
        Size of the original image.
    upsample : {"nearest", "bilinear", "bicubic"}
        ``nearest`` keeps patch edges exact; the smooth modes interpolate
        between patch centres (bicubic overshoot is clipped to the map's range).

    Returns
    -------
    numpy.ndarray
        float32 ``(height, width)``.

    Example
    -------
    >>> patch_values_to_pixels(np.eye(2), (4, 4), upsample="nearest")[:, 0]
    array([1., 1., 0., 0.])
    """
    if upsample not in _RESAMPLE:
        raise MultiattnValueError(f"upsample must be one of {sorted(_RESAMPLE)}, got {upsample!r}")
    height, width = int(size[0]), int(size[1])
    grid = patch_grid(attention)
    top, left, bottom, right = pixel_box(attention, height, width)
    out = np.full((height, width), np.nan, dtype=np.float32) if upsample == "nearest" else None
    if upsample == "nearest":
        rows = np.floor((np.arange(height) + 0.5 - top) / (bottom - top) * grid.shape[0]).astype(int)
        cols = np.floor((np.arange(width) + 0.5 - left) / (right - left) * grid.shape[1]).astype(int)
        ok_r = (rows >= 0) & (rows < grid.shape[0])
        ok_c = (cols >= 0) & (cols < grid.shape[1])
        out[np.ix_(ok_r, ok_c)] = grid[np.ix_(rows[ok_r], cols[ok_c])]
        return out
    y0, x0 = max(int(round(top)), 0), max(int(round(left)), 0)
    y1, x1 = min(int(round(bottom)), height), min(int(round(right)), width)
    if y1 <= y0 or x1 <= x0:
        return np.full((height, width), np.nan, dtype=np.float32)
    # resize the full box, then cut the part that lies inside the image
    box_h, box_w = int(round(bottom)) - int(round(top)), int(round(right)) - int(round(left))
    smooth = _resized(grid.astype(np.float32), box_h, box_w, upsample)
    np.clip(smooth, grid.min(), grid.max(), out=smooth)
    if (box_h, box_w) == (height, width) and (y0, x0) == (int(round(top)), int(round(left))):
        return smooth  # the box is the image (no crop to place): nothing to cut
    out = np.full((height, width), np.nan, dtype=np.float32)
    oy, ox = y0 - int(round(top)), x0 - int(round(left))
    out[y0:y1, x0:x1] = smooth[oy : oy + y1 - y0, ox : ox + x1 - x0]
    return out
