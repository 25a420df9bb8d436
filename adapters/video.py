"""Video transformers: capture space-time attention as grids over a VideoAxis.

Supported Hugging Face models and their token layouts:

- **VideoMAE** (``VideoMAEModel`` / ``...ForVideoClassification``): tubelets
  ``t x p x p`` (base: 2x16x16), tokens time-major (time, row, col), no CLS.
- **ViViT** (``VivitModel`` / ``...ForVideoClassification``): tubelets
  (base: 2x16x16), one CLS token, then time-major tokens.
- **TimeSformer** (``TimesformerModel`` / ``...ForVideoClassification``),
  divided space-time attention: each layer first attends over *time* (per
  patch, frames x frames), then over *space* (per frame, (1 + N) x (1 + N)
  with a per-frame copy of CLS).  Hugging Face only returns the spatial step;
  the temporal step is captured with a forward hook.

Every grid is self-attention over one :class:`~multiattn.axes.VideoAxis` in
time-major order, so ``axis.to_volume(vec)`` gives ``(time, rows, cols)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "frames_to_pixel_values",
]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_frames(frames: Any) -> np.ndarray:
    """Validate frames and return a uint8 ``(T, H, W, 3)`` array (grayscale becomes RGB)."""
    if isinstance(frames, np.ndarray):
        arr = frames
    else:
        frames = list(frames)
        if not frames:
            raise ValueError("the clip has 0 frames; pass a non-empty (T, H, W, 3) array or list of frames")
        shapes = {np.shape(f) for f in frames}
        if len(shapes) > 1:
            raise ValueError(
                f"frames have varying sizes {sorted(shapes)}; resize them to one size first "
                "(read_video does this for you)"
            )
        arr = np.stack([np.asarray(f) for f in frames])
    if arr.ndim == 3:  # (T, H, W) grayscale
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"frames must have shape (T, H, W), (T, H, W, 1), (T, H, W, 3) or (T, H, W, 4); got {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError("the clip has 0 frames; pass at least one frame")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif arr.shape[-1] == 4:
        arr = arr[..., :3]
    if arr.dtype != np.uint8:
        if not np.isfinite(arr).all():
            raise ValueError("frames contain NaN or inf values")
        scale = 255.0 if arr.max() <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).astype(np.uint8)
    return arr


def frames_to_pixel_values(
    frames: Any,
    size: int | tuple[int, int],
    mean: Sequence[float] = _IMAGENET_MEAN,
    std: Sequence[float] = _IMAGENET_STD,
) -> Any:
    """Resize and normalise RGB frames into a ``(1, T, 3, H, W)`` float tensor.

    This is the preprocessing used when no Hugging Face processor is given
    (and the one the moving-shapes model was trained with): antialiased
    bilinear resize to ``size``, scale to [0, 1], subtract ``mean`` and divide
    by ``std`` per channel (ImageNet statistics by default, as VideoMAE).

    Parameters
    ----------
    frames : array (T, H, W, 3) uint8, or a list of frames
        Already sampled to the model's number of frames.
    size : int or (height, width)
        Model input size.

    Example
    -------
    >>> frames_to_pixel_values(np.zeros((8, 90, 120, 3), np.uint8), 64).shape
    torch.Size([1, 8, 3, 64, 64])
    """
    import torch

    arr = _check_frames(frames)
    height, width = (size, size) if np.isscalar(size) else tuple(size)
    video = torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 255.0
    if video.shape[-2:] != (height, width):
        video = torch.nn.functional.interpolate(video, size=(height, width), mode="bilinear",
                                                antialias=True, align_corners=False)
    mean_t = torch.tensor(mean, dtype=video.dtype)[None, :, None, None]
    std_t = torch.tensor(std, dtype=video.dtype)[None, :, None, None]
    return ((video - mean_t) / std_t)[None]
