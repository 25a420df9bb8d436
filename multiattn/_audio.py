"""One audio input path for the whole package: read a file, PCM to float, mix down, resample.

The Whisper adapter (:func:`multiattn.adapters.whisper.prepare_audio`) and the HTML
audio view both go through these functions, so a waveform means the same thing
everywhere:

- integer PCM is scaled by its full range: int16 / 32768, int32 / 2**31, and
  unsigned PCM (8-bit WAV) is centred first, (x - 128) / 128;
- floating-point samples pass through (as float32);
- 2-D input has its channels on the shorter axis (``(samples, channels)`` as
  soundfile reads it, or ``(channels, samples)`` as librosa does) and is mixed
  to mono by the mean, *after* the conversion to float;
- resampling uses soxr (high quality) and returns exactly
  ``ceil(n * target / sr)`` samples, like ``librosa.resample``.

Only numpy is imported here; ``soundfile`` and ``soxr`` are imported by the
functions that need them.

Example
-------
>>> import numpy as np
>>> to_float32(np.array([0, 16384, -32768], np.int16)).tolist()
[0.0, 0.5, -1.0]
>>> to_float32(np.array([128, 192, 64], np.uint8)).tolist()
[0.0, 0.5, -0.5]
>>> wav, sr = mono_float32(np.zeros((480, 2), np.int16), 48000)
>>> wav.shape, wav.dtype.name, sr
((480,), 'float32', 48000)
"""

from __future__ import annotations

from math import ceil
from pathlib import Path
from typing import Any

import numpy as np

from multiattn._optional import optional_import
from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

__all__ = ["check_rate", "to_float32", "to_mono", "mono_float32", "resample", "load_audio"]


def check_rate(sr: Any) -> int:
    """``sr`` as a positive int (Hz); integral floats such as ``16000.0`` are accepted.

    Raises
    ------
    ValueError
        If ``sr`` is not a positive whole number.

    Example
    -------
    >>> check_rate(16000.0)
    16000
    """
    try:
        whole = float(sr).is_integer()
    except (TypeError, ValueError):
        whole = False
    if isinstance(sr, bool) or not whole or int(sr) <= 0:
        raise MultiattnValueError(f"sample rate must be a positive integer in Hz, got {sr!r}")
    return int(sr)


def to_float32(audio: np.typing.ArrayLike) -> np.ndarray:
    """Samples as float32 in ``[-1, 1]``: integer PCM scaled by its full range, floats passed.

    Signed integers are divided by ``2 ** (bits - 1)`` (int16 by 32768, int32 by
    2**31); unsigned ones are centred first (uint8: ``(x - 128) / 128``).

    Raises
    ------
    ValueError
        For any other dtype (complex, bool, object), naming it.

    Example
    -------
    >>> to_float32(np.array([-2**31, 2**30], np.int32)).tolist()
    [-1.0, 0.5]
    """
    arr = np.asarray(audio)
    if np.issubdtype(arr.dtype, np.floating):
        return arr.astype(np.float32, copy=False)
    if not np.issubdtype(arr.dtype, np.integer):
        raise MultiattnValueError(f"audio must be float or integer PCM samples, got dtype {arr.dtype}")
    half = float(2 ** (8 * arr.dtype.itemsize - 1))
    if np.issubdtype(arr.dtype, np.unsignedinteger):  # 8-bit WAV is unsigned, centred on 128
        return ((arr.astype(np.float64) - half) / half).astype(np.float32)
    return (arr.astype(np.float64) / half).astype(np.float32)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Mix 2-D audio down to ``(samples,)``: the mean over the shorter axis (the channels).

    Raises
    ------
    ValueError
        If ``audio`` has more than two dimensions.

    Example
    -------
    >>> to_mono(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], np.float32)).tolist()
    [0.5, 0.5, 0.5]

    Channels that cancel each other (one phase-inverted) keep the loudest channel instead of
    mixing down to silence:

    >>> to_mono(np.array([[0.5, -0.5], [-0.25, 0.25], [0.125, -0.125]], np.float32)).tolist()
    [0.5, -0.25, 0.125]
    """
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise MultiattnValueError(f"audio must be (samples,) or (samples, channels), got shape {audio.shape}")
    if min(audio.shape) == 0:
        return audio.ravel()
    channel_axis = int(np.argmin(audio.shape))
    mixed = audio.mean(axis=channel_axis, dtype=np.float64)
    loudest = np.abs(audio).max(axis=1 - channel_axis)
    if np.abs(mixed).max() < 1e-3 * max(float(loudest.max()), 1e-12):
        # the channels cancel (one is phase-inverted): the mixdown would be silence, keep the loudest
        return np.take(audio, int(loudest.argmax()), axis=channel_axis)
    return mixed.astype(audio.dtype)


def mono_float32(audio: np.typing.ArrayLike, sr: int | float) -> tuple[np.ndarray, int]:
    """Validated mono float32 samples and their rate: :func:`to_float32`, then :func:`to_mono`.

    Raises
    ------
    ValueError
        Bad sample rate, unsupported dtype, more than 2 dims, no samples, NaN or inf.

    Example
    -------
    >>> wav, sr = mono_float32(np.array([[64, 192], [128, 255], [0, 128]], np.uint8), 8000.0)
    >>> wav.tolist(), sr
    ([0.0, 0.49609375, -0.5], 8000)
    """
    rate = check_rate(sr)
    wav = to_mono(to_float32(audio))
    if wav.size == 0:
        raise MultiattnValueError("audio is empty (zero samples); pass a non-empty waveform of a few "
                         "milliseconds at least")
    if not np.isfinite(wav).all():
        raise MultiattnValueError(
            "audio contains NaN or inf samples; clean it (np.nan_to_num) or re-read the file")
    return wav, rate


def resample(audio: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Resample mono ``audio`` from ``sr`` to ``target_sr`` with soxr (HQ).

    Returns exactly ``ceil(len(audio) * target_sr / sr)`` float32 samples (soxr's
    output is padded or trimmed by at most a sample or two), like ``librosa.resample``.

    Example
    -------
    >>> resample(np.zeros(44100, np.float32), 44100, 16000).shape  # doctest: +SKIP
    (16000,)
    """
    audio = np.asarray(audio, dtype=np.float32)
    if int(sr) == int(target_sr):
        return audio
    soxr = optional_import("soxr", "resampling audio needs soxr", "whisper")
    out = np.asarray(soxr.resample(audio, int(sr), int(target_sr), quality="HQ"), dtype=np.float32)
    size = int(ceil(audio.size * int(target_sr) / int(sr)))
    if out.size >= size:
        return out[:size]
    return np.pad(out, (0, size - out.size))


def load_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 in ``[-1, 1]``, ``(samples,)`` or ``(samples, channels)``.

    Any format libsndfile reads (WAV 8/16/24/32-bit and float, FLAC, OGG); libsndfile
    scales integer PCM the same way as :func:`to_float32`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable audio file, naming the file.

    Example
    -------
    >>> audio, sr = load_audio("speech.wav")  # doctest: +SKIP
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise MultiattnFileNotFoundError(f"audio file not found: {path}")
    try:
        audio, sr = sf.read(path, dtype="float32", always_2d=False)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise MultiattnValueError(
            f"{path} is not a readable audio file ({err}); pass a WAV/FLAC/OGG file") from err
    return audio, int(sr)
