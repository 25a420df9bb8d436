"""Media encoders of the HTML views: arrays to base64 bytes (raw, PNG, JPEG, WAV).

Every function returns the base64 text only; the page's script wraps it in a
``data:`` URI of the right type (``image/png``, ``image/jpeg``, ``audio/wav``),
so one HTML file carries its media without a network.

Example
-------
>>> import base64
>>> import numpy as np
>>> base64.b64decode(png_b64(np.zeros((2, 3, 3), np.uint8)))[:4]
b'\\x89PNG'
>>> np.frombuffer(base64.b64decode(b64(np.array([1, 2], np.uint16))), np.uint16).tolist()
[1, 2]
"""

from __future__ import annotations

import base64
import io
import wave

import numpy as np

__all__ = ["b64", "png_b64", "jpeg_b64", "wav_b64"]


def _text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64(array: np.ndarray) -> str:
    """The raw bytes of ``array`` (C order, its own dtype and byte order), base64."""
    return _text(np.ascontiguousarray(array).tobytes())


def png_b64(rgb: np.ndarray) -> str:
    """A uint8 ``(H, W, 3)`` array as an optimised PNG, base64."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", optimize=True)
    return _text(buf.getvalue())


def jpeg_b64(frame: np.ndarray, size: tuple[int, int]) -> str:
    """A uint8 RGB frame resized to ``size`` (w, h) with Lanczos, JPEG quality 85, base64."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).resize(size, Image.LANCZOS).save(buf, format="JPEG", quality=85)
    return _text(buf.getvalue())


def wav_b64(wav: np.ndarray, sr: int) -> str:
    """Float mono samples in ``[-1, 1]`` as a 16-bit PCM WAV (stdlib ``wave``), base64.

    Samples are scaled by 32767 so that +1.0 stays inside int16.
    """
    pcm = np.round(np.clip(wav, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sr))
        out.writeframes(pcm.tobytes())
    return _text(buf.getvalue())
