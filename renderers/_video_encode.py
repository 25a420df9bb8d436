"""Writing frames to files: H.264 MP4 through imageio-ffmpeg, looping GIF through Pillow.

The MP4 is H.264 (``libx264``), ``yuv420p``, with the index at the front of the
file (``-movflags +faststart``), the combination browsers, phones and slide
software play.  Frames are converted to yuv420p here (OpenCV, BT.601 limited range as ffmpeg
would) and piped one at a time, so a caller rendering frame by frame overlaps ffmpeg's encoding.
yuv420p stores colour at half resolution, so frame sizes must be even: odd-sized frames are
padded by repeating their last row / column.
``imageio-ffmpeg`` ships its own ffmpeg binary; nothing needs to be installed
system-wide.
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from multiattn.errors import MultiattnRuntimeError, MultiattnValueError

__all__ = ["write_mp4", "write_gif"]


def _even(frame: np.ndarray) -> np.ndarray:
    """Pad one ``(H, W, 3)`` frame to even ``H`` and ``W`` by repeating its last row / column."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if not (pad_h or pad_w):
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _bad_frames(dtype: np.dtype, shape: tuple[int, ...]) -> MultiattnValueError:
    return MultiattnValueError(f"frames must be a non-empty uint8 (T, H, W, 3) array (or uint8 (H, W, 3) "
                               f"frames of one size), got {dtype} {shape}")


def _check(frames: np.ndarray, fps: float) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise _bad_frames(frames.dtype, frames.shape)
    if not fps > 0:
        raise MultiattnValueError(f"fps must be positive, got {fps}")
    return frames


def _checked_frames(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Each frame of ``frames`` as it comes, checked (uint8 ``(H, W, 3)``, all of one size) and
    padded to even ``H`` / ``W``."""
    shape = None
    for frame in frames:
        frame = np.asarray(frame)
        shape = shape or frame.shape
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3 or frame.shape != shape:
            raise _bad_frames(frame.dtype, (None, *frame.shape))
        yield _even(frame)


def _yuv420(frame: np.ndarray) -> np.ndarray:
    """An even-sized RGB frame as planar yuv420p (I420) bytes, BT.601 limited range: the conversion
    ffmpeg makes from ``rgb24`` (white is Y 235), done here so the pipe carries half the bytes."""
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)


#: x264 speed presets, fastest first (``-preset``): same quality target, bigger or smaller files.
_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def _frame_count(path: Path) -> int:
    """Frames in the MP4's index (the video stream's ``nb_frames``), read by OpenCV's FFmpeg backend
    in-process (a second ffmpeg process to count packets costs ~40 ms); 0 when it does not open."""
    import cv2

    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()


def write_mp4(frames: np.ndarray | Iterable[np.ndarray], path: str | Path, fps: float, *,
              quality: float = 8.0, preset: str = "ultrafast") -> Path:
    """Write RGB frames as an H.264 (yuv420p, faststart) MP4 and check the frame count read back.

    Frames go to ffmpeg (a separate process) one at a time as yuv420p: given an iterator (e.g. a
    generator rendering each frame), the next frame is made while ffmpeg encodes the last.

    Parameters
    ----------
    frames : ndarray uint8 (T, H, W, 3), or an iterable of uint8 (H, W, 3) frames of one size
        RGB frames; odd ``H`` / ``W`` are padded to even by one edge row / column.
    path : str or Path
        Output file (parent folders are created).
    fps : float
        Playback rate.
    quality : float
        imageio-ffmpeg's quality, 0 (smallest) to 10 (best); 8 is x264's ``-crf 10``.
    preset : str
        x264's speed preset. The default ``"ultrafast"`` encodes 224 x 224 overlays about 6x faster
        than x264's own default ``"medium"`` at the same quality target, for files about 25 %
        larger (no B-frames or CABAC, which every player decodes); ``"veryfast"`` is about 3x
        faster than ``"medium"`` at the same size, ``"medium"`` / ``"slow"`` give the smallest files.

    Returns
    -------
    Path

    Raises
    ------
    RuntimeError
        If the file does not read back with ``T`` frames (a partial file is removed).

    Examples
    --------
    >>> write_mp4(np.zeros((6, 33, 40, 3), np.uint8), "out.mp4", fps=6)  # doctest: +SKIP
    PosixPath('out.mp4')
    >>> write_mp4((np.full((32, 32, 3), t, np.uint8) for t in range(6)), "ramp.mp4", fps=6)  # doctest: +SKIP
    PosixPath('ramp.mp4')
    """
    if isinstance(frames, np.ndarray):
        _check(frames, fps)
    elif not fps > 0:
        raise MultiattnValueError(f"fps must be positive, got {fps}")
    if preset not in _PRESETS:
        raise MultiattnValueError(f"preset {preset!r} is not an x264 preset; use one of "
                                  f"{', '.join(_PRESETS)}")
    if not 0 <= quality <= 10:
        raise MultiattnValueError(f"quality must be in [0, 10] (10 is best), got {quality}")
    stream = _checked_frames(frames)
    first = next(stream, None)
    if first is None:
        raise _bad_frames(np.dtype(np.uint8), (0,))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        sent = _encode(first, stream, path, fps, quality, preset)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    written = _frame_count(path)
    if written != sent:
        raise MultiattnRuntimeError(f"{path} reads back {written} frames, {sent} were written")
    return path


def _ffmpeg_command(path: Path, width: int, height: int, fps: float, quality: float,
                    preset: str) -> list[str]:
    """ffmpeg reading raw yuv420p frames from stdin, writing H.264 (x264 ``-crf`` from imageio-ffmpeg's
    quality scale: ``int((1 - quality / 10) * 51)``) with the index in front."""
    import imageio_ffmpeg

    crf = int((1 - quality / 10.0) * 51)
    rate = str(Fraction(fps).limit_denominator())
    return [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", rate, "-i", "-", "-an",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", preset, "-crf", str(crf),
            "-movflags", "+faststart", str(path)]


def _encode(first: np.ndarray, rest: Iterator[np.ndarray], path: Path, fps: float, quality: float,
            preset: str) -> int:
    """Pipe ``first`` and then each frame of ``rest`` to one ffmpeg / libx264 process; frames sent.

    ffmpeg runs in a session of its own (Ctrl-C reaches Python, which removes the partial file)
    set up without a ``preexec_fn``, so Python starts it with ``vfork`` in well under a millisecond:
    imageio-ffmpeg's writer passes ``preexec_fn=os.setpgrp``, which forces a full ``fork`` of the
    calling process (40-50 ms once torch and a few hundred MB are loaded), and polls for ffmpeg's
    exit every 10 ms.  imageio-ffmpeg still provides the binary.
    """
    height, width = first.shape[:2]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(_ffmpeg_command(path, width, height, fps, quality, preset),
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
                                   start_new_session=True)
        sent = 0
        try:
            for frame in itertools.chain([first], rest):
                process.stdin.write(_yuv420(frame))
                sent += 1
        except BrokenPipeError:  # ffmpeg stopped early: its return code and log say why
            pass
        except BaseException:
            process.kill()
            raise
        finally:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            code = process.wait()
        if code:
            log.seek(0)
            message = log.read().decode(errors="replace").strip().splitlines()[:2]  # the cause comes first
            raise MultiattnRuntimeError(f"ffmpeg could not write {path} (exit code {code}): "
                                        f"{' / '.join(message) or 'no message'}")
    return sent


def write_gif(frames: np.ndarray, path: str | Path, fps: float) -> Path:
    """Write RGB frames as a looping GIF (frame duration rounded to GIF's 10 ms steps by viewers).

    Example
    -------
    >>> write_gif(np.zeros((4, 8, 8, 3), np.uint8), "out.gif", fps=4)  # doctest: +SKIP
    PosixPath('out.gif')
    """
    from PIL import Image

    frames = _check(frames, fps)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], loop=0,
                   duration=int(round(1000 / fps)), optimize=False)
    return path

