"""Reading video files: uniformly sampled RGB frames as the processors of video models expect.

OpenCV decodes (any container / codec it knows: MP4, AVI, MKV, WebM ...); it is
imported inside the functions, so ``import multiattn`` works without it.  The
public names are re-exported from :mod:`multiattn.media`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import cv2

__all__ = ["VideoClip", "read_video"]

_LONG_CLIP = 300  # frames; longer clips show a progress bar while decoding


@dataclass(frozen=True)
class VideoClip:
    """Frames read from a file.

    Attributes
    ----------
    frames : ndarray uint8 (T, H, W, 3)
        RGB frames (grayscale sources are expanded to RGB).
    fps : float
        Frame rate *of the returned frames* (source fps scaled by the sampling stride).
    source_fps : float
        Frame rate stored in the file.
    indices : ndarray int (T,)
        Index of each returned frame in the source.
    times : ndarray float (T,)
        Time of each returned frame in seconds.
    """

    frames: np.ndarray
    fps: float
    source_fps: float
    indices: np.ndarray

    @property
    def times(self) -> np.ndarray:
        return self.indices / self.source_fps


def _fit(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    import cv2

    height, width = frame.shape[:2]
    if max_side is None or max(height, width) <= max_side:
        return frame
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _count_frames(cap: cv2.VideoCapture, progress: bool) -> int:
    from tqdm import tqdm

    n = 0
    with tqdm(desc="counting frames", unit="frame", disable=not progress, leave=False) as bar:
        while cap.grab():
            n += 1
            bar.update()
    return n


def read_video(
    path: str | Path,
    num_frames: int | None = None,
    *,
    max_side: int | None = 1024,
    progress: bool = True,
) -> VideoClip:
    """Read a video file with OpenCV, optionally sampling ``num_frames`` frames uniformly.

    Parameters
    ----------
    path : str or Path
        Any container/codec OpenCV can decode (MP4, AVI, MKV, WebM ...), any fps and size.
    num_frames : int, optional
        Sample this many frames at the centres of equal segments (the uniform
        sampling of video-model processors); clips with fewer frames repeat
        frames.  Default: every frame.
    max_side : int, optional
        Downscale frames whose longer side exceeds this (keeps aspect ratio),
        so very high resolution clips do not exhaust memory; None keeps the size.
    progress : bool
        Show a progress bar while decoding clips longer than 300 frames.

    Returns
    -------
    VideoClip

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file cannot be decoded or has 0 frames.

    Example
    -------
    >>> from multiattn.zoo._video import sample_clip_path
    >>> clip = read_video(sample_clip_path(), num_frames=8)  # doctest: +SKIP
    >>> clip.frames.shape, clip.fps  # doctest: +SKIP
    ((8, 128, 128, 3), 4.0)
    """
    import cv2
    from tqdm import tqdm

    from .media import sample_frame_indices  # media re-exports this module's names: import late

    path = Path(path)
    if not path.is_file():
        raise MultiattnFileNotFoundError(f"video file not found: {path}")
    if num_frames is not None and num_frames <= 0:
        raise MultiattnValueError(f"num_frames must be positive, got {num_frames}")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MultiattnValueError(
                f"cannot decode {path}: not a video OpenCV can read (corrupt or unknown codec)")
        source_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        source_fps = source_fps if np.isfinite(source_fps) and source_fps > 0 else 25.0
        estimate = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        n_source = _count_frames(cap, progress and estimate > _LONG_CLIP)
        if n_source == 0:
            raise MultiattnValueError(f"{path} has 0 decodable frames (empty or corrupt video)")
        cap.release()  # reopen rather than seek: seeking back fails on some short clips
        cap = cv2.VideoCapture(str(path))
        wanted = np.arange(n_source) if num_frames is None else sample_frame_indices(n_source, num_frames)
        needed = set(wanted.tolist())
        decoded: dict[int, np.ndarray] = {}
        bar = tqdm(total=n_source, desc=f"reading {path.name}", unit="frame",
                   disable=not progress or n_source <= _LONG_CLIP, leave=False)
        with bar:
            for index in range(int(wanted.max()) + 1):
                if not cap.grab():
                    break
                bar.update()
                if index in needed:
                    ok, frame = cap.retrieve()
                    if ok and frame is not None:
                        decoded[index] = _fit(frame, max_side)
    finally:
        cap.release()
    missing = sorted(needed - set(decoded))
    if missing:
        raise MultiattnValueError(
            f"{path}: frames {missing[:5]} could not be decoded (truncated or corrupt video)")
    frames = np.stack([_bgr_to_rgb(decoded[i]) for i in wanted.tolist()])
    stride = n_source / len(wanted)
    return VideoClip(frames, source_fps / stride, source_fps, wanted)


def _bgr_to_rgb(frame: np.ndarray) -> np.ndarray:
    import cv2

    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[-1] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
