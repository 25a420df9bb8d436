"""Axes of images and video: ViT patches (PatchAxis) and space-time tubelets (VideoAxis).

Both know their prefix tokens (CLS, distillation, registers) and the resize / centre crop the
processor applied, so maps land on the original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from multiattn.errors import MultiattnValueError

from ._axis_base import Axis, as_tuple, check_vector, jsonable, pair

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Sequence

    from ._types import ArrayLike

__all__ = ["PatchAxis", "VideoAxis"]


class _Prefixed:
    """Axes whose content positions follow ``prefix`` tokens (CLS, distillation, registers)."""

    prefix: tuple[str, ...]

    @property
    def n_prefix(self) -> int:
        """Number of prefix tokens before the first content position."""
        return len(self.prefix)

    @property
    def special_mask(self) -> np.ndarray:
        mask = np.zeros(len(self), dtype=bool)
        mask[: self.n_prefix] = True
        return mask


@dataclass(frozen=True)
class PatchAxis(_Prefixed, Axis):
    """ViT patches laid out row-major after ``len(prefix)`` prefix tokens.

    Parameters
    ----------
    rows, cols : int
        Patch grid size (non-square grids are fine: 224x320 at /16 gives 14x20).
    patch_size : int or (int, int)
        Patch height and width in model-input pixels.
    image_size : (int, int)
        Model input (height, width) in pixels.
    prefix : sequence of str
        Names of the tokens before the patches, e.g. ``("CLS",)``,
        ``("CLS", "DIST")`` or ``("CLS", "REG0", ..., "REG3")``.
    transform : dict, optional
        How the original image became the model input, so maps land on the
        original pixels: ``{"original_size": (H, W), "resize": (h, w),
        "crop": (top, left, height, width)}`` (crop in resized coordinates).

    Example
    -------
    >>> axis = PatchAxis(2, 3, 16, (32, 48), prefix=("CLS",))
    >>> len(axis), axis.to_image(np.arange(7)).shape
    (7, (2, 3))
    """

    kind: ClassVar[str] = "patch"
    rows: int = 0
    cols: int = 0
    patch_size: tuple[int, int] = (16, 16)
    image_size: tuple[int, int] = (0, 0)
    prefix: tuple[str, ...] = ("CLS",)
    transform: dict = field(default_factory=dict)

    def __init__(self, rows: int, cols: int, patch_size: int | Sequence[int], image_size: int | Sequence[int],
                 prefix: Sequence[str] = ("CLS",), transform: dict | None = None) -> None:
        rows, cols = int(rows), int(cols)
        if rows <= 0 or cols <= 0:
            raise MultiattnValueError(f"patch grid must be positive, got rows={rows}, cols={cols}")
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "cols", cols)
        object.__setattr__(self, "patch_size", pair(patch_size, "patch_size"))
        object.__setattr__(self, "image_size", pair(image_size, "image_size"))
        object.__setattr__(self, "prefix", tuple(str(p) for p in as_tuple(prefix)))
        object.__setattr__(self, "transform", _normalise_transform(transform))

    def __hash__(self) -> int:
        return hash((self.rows, self.cols, self.patch_size, self.image_size, self.prefix))

    def __len__(self) -> int:
        return len(self.prefix) + self.rows * self.cols

    @property
    def labels(self) -> tuple[str, ...]:
        grid = (f"r{r}c{c}" for r in range(self.rows) for c in range(self.cols))
        return self.prefix + tuple(grid)

    def coords(self) -> np.ndarray:
        """(row, col) of each patch in patch units; NaN for prefix tokens."""
        out = np.full((len(self), 2), np.nan)
        r, c = np.divmod(np.arange(self.rows * self.cols), self.cols)
        out[self.n_prefix :, 0] = r
        out[self.n_prefix :, 1] = c
        return out

    def to_image(self, vec: ArrayLike) -> np.ndarray:
        """Drop the prefix and reshape a length-N vector to ``(rows, cols)``."""
        arr = check_vector(vec, self)
        return arr[self.n_prefix :].reshape(self.rows, self.cols)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["transform"] = jsonable(self.transform)
        return out


def _normalise_transform(transform: dict | None) -> dict:
    if not transform:
        return {}
    allowed = {"original_size", "resize", "crop"}
    unknown = set(transform) - allowed
    if unknown:
        raise MultiattnValueError(f"unknown transform keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    return {k: tuple(int(v) for v in transform[k]) for k in transform if transform[k] is not None}



@dataclass(frozen=True)
class VideoAxis(_Prefixed, Axis):
    """Space-time tokens in the model's (time-major) order.

    Parameters
    ----------
    frames : int
        Number of input video frames the model saw.
    rows, cols : int
        Spatial patch grid.
    tubelet : (t, h, w)
        Tubelet size: frames per temporal token, patch height and width.
    fps : float
        Frames per second of the sampled frames, for seconds on the time axis.
    prefix : sequence of str
        Tokens before the space-time tokens (e.g. ``("CLS",)``).
    transform : dict, optional
        How each original frame became the model input, as for
        :class:`PatchAxis`: ``{"original_size", "resize", "crop"}``, so maps land
        on the original pixels even when the processor centre-crops.

    Example
    -------
    >>> axis = VideoAxis(16, 14, 14, tubelet=(2, 16, 16), fps=8)
    >>> len(axis), axis.to_volume(np.zeros(len(axis))).shape
    (1568, (8, 14, 14))
    """

    kind: ClassVar[str] = "video"
    frames: int = 0
    rows: int = 0
    cols: int = 0
    tubelet: tuple[int, int, int] = (1, 16, 16)
    fps: float = 25.0
    prefix: tuple[str, ...] = ()
    transform: dict = field(default_factory=dict)

    def __init__(self, frames: int, rows: int, cols: int, tubelet: Sequence[int] = (1, 16, 16),
                 fps: float = 25.0, prefix: Sequence[str] = (), transform: dict | None = None) -> None:
        tubelet = tuple(int(v) for v in tubelet)
        if len(tubelet) != 3 or min(tubelet) <= 0:
            raise MultiattnValueError(f"tubelet must be (t, h, w) positive ints, got {tubelet}")
        if int(frames) <= 0 or int(frames) % tubelet[0]:
            raise MultiattnValueError(
                f"frames={frames} must be a positive multiple of the tubelet length {tubelet[0]}"
            )
        if int(rows) <= 0 or int(cols) <= 0 or not float(fps) > 0:
            raise MultiattnValueError(f"rows, cols and fps must be positive, got {rows}, {cols}, {fps}")
        object.__setattr__(self, "frames", int(frames))
        object.__setattr__(self, "rows", int(rows))
        object.__setattr__(self, "cols", int(cols))
        object.__setattr__(self, "tubelet", tubelet)
        object.__setattr__(self, "fps", float(fps))
        object.__setattr__(self, "prefix", tuple(str(p) for p in as_tuple(prefix)))
        object.__setattr__(self, "transform", _normalise_transform(transform))

    def __hash__(self) -> int:
        return hash((self.frames, self.rows, self.cols, self.tubelet, self.fps, self.prefix))

    @property
    def frame_axis(self) -> PatchAxis:
        """The patch grid of one frame (no prefix), with the frames' resize / crop.

        Example
        -------
        >>> VideoAxis(8, 2, 3, tubelet=(2, 16, 16)).frame_axis
        PatchAxis(rows=2, cols=3, patch_size=(16, 16), image_size=(32, 48), prefix=(), transform={})
        """
        _, height, width = self.tubelet
        return PatchAxis(self.rows, self.cols, (height, width), (self.rows * height, self.cols * width),
                         prefix=(), transform=self.transform)

    @property
    def n_time(self) -> int:
        """Number of temporal token positions (frames // tubelet length)."""
        return self.frames // self.tubelet[0]

    def __len__(self) -> int:
        return self.n_prefix + self.n_time * self.rows * self.cols

    @property
    def times(self) -> np.ndarray:
        """Centre in seconds of each temporal token position, shape (n_time,)."""
        t = self.tubelet[0]
        return (np.arange(self.n_time) * t + t / 2.0) / self.fps

    @property
    def labels(self) -> tuple[str, ...]:
        body = (
            f"t{t}r{r}c{c}"
            for t in range(self.n_time)
            for r in range(self.rows)
            for c in range(self.cols)
        )
        return self.prefix + tuple(body)

    def coords(self) -> np.ndarray:
        """(time, row, col) in token units; NaN for prefix tokens."""
        out = np.full((len(self), 3), np.nan)
        idx = np.arange(self.n_time * self.rows * self.cols)
        t, rest = np.divmod(idx, self.rows * self.cols)
        r, c = np.divmod(rest, self.cols)
        out[self.n_prefix :] = np.stack([t, r, c], axis=1)
        return out

    def to_volume(self, vec: ArrayLike) -> np.ndarray:
        """Drop the prefix and reshape a length-N vector to ``(n_time, rows, cols)``."""
        arr = check_vector(vec, self)
        return arr[self.n_prefix :].reshape(self.n_time, self.rows, self.cols)
