"""Media input: images become ``uint8 RGB (H, W, 3)`` and clips ``(T, H, W, 3)``, once.

Adapters (which must not import plotting code) and renderers both read images
through :func:`to_rgb`, so RGBA, palette, 16-bit, float, grayscale, EXIF-rotated
and BGR (OpenCV) inputs are handled in one place.  Video files are read with
:func:`read_video` (OpenCV, imported only when a file is read) into a
:class:`VideoClip`; :func:`sample_frame_indices` is its uniform frame sampling.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

from ._audio import load_audio
from ._video_io import VideoClip, read_video

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Sequence

    from ._types import ArrayLike

__all__ = ["to_rgb", "as_frames", "load_audio", "VideoClip", "read_video"]


def to_rgb(image: str | Path | Image.Image | ArrayLike, *, channels: str = "RGB") -> np.ndarray:
    """Convert any image input to a ``uint8`` RGB array ``(H, W, 3)``.

    Parameters
    ----------
    image : str, Path, PIL.Image.Image or array
        A file path (EXIF orientation is applied), a PIL image (any mode:
        ``L``, ``P``, ``RGBA``, ``I;16``, ...) or an array ``(H, W)``,
        ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``.  ``uint8`` is taken as is,
        ``uint16`` is scaled by 255/65535, floats must lie in ``[0, 1]``.
        Transparent pixels are composited over white.
    channels : {"RGB", "BGR"}
        Channel order of an array input (``"BGR"`` for ``cv2.imread`` output).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array ``(H, W, 3)`` in RGB order.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ValueError
        Corrupt or unreadable file, empty image, unsupported shape or value range.

    Example
    -------
    >>> to_rgb(np.zeros((4, 5), dtype=np.uint16)).shape
    (4, 5, 3)
    """
    if channels not in ("RGB", "BGR"):
        raise MultiattnValueError(f"channels must be 'RGB' or 'BGR', got {channels!r}")
    if isinstance(image, (str, Path)):
        image = _open(Path(image))
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image)
    arr = np.asarray(image)
    if arr.dtype == object or arr.ndim not in (2, 3):
        raise MultiattnValueError(
            f"image must be a path, a PIL image or an array (H, W) / (H, W, C); got shape {arr.shape}"
        )
    if arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4):
        hint = " (channels-first? use array.transpose(1, 2, 0))" if arr.shape[0] in (1, 3, 4) else ""
        raise MultiattnValueError(f"image arrays need 1, 3 or 4 channels last, got shape {arr.shape}{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MultiattnValueError(f"image is empty, shape {arr.shape}")
    arr = _to_uint8(arr)
    if arr.ndim == 2 or arr.shape[-1] == 1:
        return np.repeat(arr.reshape(arr.shape[0], arr.shape[1], 1), 3, axis=2)
    if channels == "BGR":
        arr = np.concatenate([arr[..., 2::-1], arr[..., 3:]], axis=-1)
    if arr.shape[-1] == 4:
        return _over_white(arr[..., :3], arr[..., 3])
    return np.ascontiguousarray(arr)


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise MultiattnFileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()  # decode now: corrupt data fails here, and the file can close
            return img
    except Image.DecompressionBombError as err:
        raise MultiattnValueError(
            f"{path} is too large to decode safely ({err}); downscale it before explaining"
        ) from err
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise MultiattnValueError(
            f"cannot read {path} as an image (corrupt or unsupported file): {err}") from err


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    if img.width == 0 or img.height == 0:
        raise MultiattnValueError(f"image is empty, size {img.size}")
    img = ImageOps.exif_transpose(img)  # no-op without an orientation tag or when already applied
    if img.mode in ("RGB", "L", "RGBA"):
        return to_rgb(np.asarray(img))
    if img.mode.startswith("I") or img.mode == "F":  # 16/32-bit integer or float grayscale
        arr = np.asarray(img)
        if arr.dtype.kind == "f" or arr.max(initial=0) > 65535 or arr.min(initial=0) < 0:
            raise MultiattnValueError(
                f"cannot map a {img.mode} image with values in [{arr.min()}, {arr.max()}] to 8 bits; "
                "scale it to [0, 1] floats or 16-bit first"
            )
        return to_rgb(arr.astype(np.uint16))
    has_alpha = "A" in img.getbands() or "transparency" in img.info
    return to_rgb(np.asarray(img.convert("RGBA" if has_alpha else "RGB")))


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:  # a mask: True is white, as PIL shows mode "1"
        return arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype == np.uint16:
        return np.round(arr.astype(np.float32) * (255.0 / 65535.0)).astype(np.uint8)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise MultiattnValueError("image contains NaN or inf values")
        if arr.min() < 0 or arr.max() > 1:
            raise MultiattnValueError(
                f"float images must lie in [0, 1], got [{arr.min():.3g}, {arr.max():.3g}]; "
                "divide by 255 (or pass uint8)"
            )
        return np.round(arr * 255.0).astype(np.uint8)
    if arr.dtype.kind in "iub" and arr.min() >= 0 and arr.max() <= 255:
        return arr.astype(np.uint8)
    raise MultiattnValueError(
        f"unsupported image dtype {arr.dtype} with values in [{arr.min()}, {arr.max()}]; "
        "pass uint8, uint16 or floats in [0, 1]"
    )


def _over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float32)[..., None] / 255.0
    return np.round(rgb * a + 255.0 * (1.0 - a)).astype(np.uint8)


def as_frames(frames: np.ndarray | Sequence[ArrayLike]) -> np.ndarray:
    """Validate a clip and return it as uint8 RGB ``(T, H, W, 3)``.

    Accepts an array ``(T, H, W)`` (grayscale), ``(T, H, W, 1|3|4)`` or a list
    of equally sized frames; float frames in [0, 1] or [0, 255] are scaled.

    Example
    -------
    >>> as_frames(np.zeros((2, 4, 5), np.uint8)).shape
    (2, 4, 5, 3)
    """
    if isinstance(frames, np.ndarray):
        arr = frames
    else:
        frames = list(frames)
        if not frames:
            raise MultiattnValueError(
                "the clip has 0 frames; pass a non-empty (T, H, W, 3) array or list of frames")
        shapes = {np.shape(f) for f in frames}
        if len(shapes) > 1:
            raise MultiattnValueError(
                f"frames have varying sizes {sorted(shapes)}; resize them to one size first "
                "(read_video does this for you)"
            )
        arr = np.stack([np.asarray(f) for f in frames])
    if arr.ndim == 3:  # (T, H, W) grayscale
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4):
        raise MultiattnValueError(
            f"frames must have shape (T, H, W), (T, H, W, 1), (T, H, W, 3) or (T, H, W, 4); got {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise MultiattnValueError("the clip has 0 frames; pass at least one frame")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif arr.shape[-1] == 4:
        arr = arr[..., :3]
    if arr.dtype != np.uint8:
        if not np.isfinite(arr).all():
            raise MultiattnValueError("frames contain NaN or inf values")
        scale = 255.0 if arr.max() <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).astype(np.uint8)
    return arr


def sample_frame_indices(n_frames: int, num_frames: int) -> np.ndarray:
    """Uniformly spread ``num_frames`` indices over a clip of ``n_frames`` frames.

    The index of segment centre ``(i + 0.5) * n_frames / num_frames`` is taken,
    as the Hugging Face video examples' uniform sampling; shorter clips repeat frames.

    Example
    -------
    >>> sample_frame_indices(100, 4).tolist()
    [12, 37, 62, 87]
    """
    if n_frames <= 0:
        raise MultiattnValueError("the clip has 0 frames; it is empty or could not be decoded")
    if num_frames <= 0:
        raise MultiattnValueError(f"num_frames must be positive, got {num_frames}")
    centres = (np.arange(num_frames) + 0.5) * n_frames / num_frames
    return np.minimum(centres.astype(np.int64), n_frames - 1)
