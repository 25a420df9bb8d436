"""Snapping word boundaries to pauses in the signal energy (frame dB below a noise-relative threshold)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ArrayLike

__all__ = [
    "frame_db",
    "silent_runs",
    "snap_to_energy",
]


def frame_db(audio: np.ndarray, sr: int, hop_s: float) -> tuple[np.ndarray, float]:
    hop = max(1, int(round(hop_s * sr)))
    n = len(audio) // hop
    if n == 0:
        raise MultiattnValueError("audio is shorter than one energy frame")
    frames = audio[: n * hop].reshape(n, hop).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10) / max(rms.max(), 1e-10)), hop / sr


def silent_runs(audio: np.ndarray, sr: int, hop_s: float, threshold_db: float,
                 min_gap_s: float) -> np.ndarray:
    """``(n, 2)`` start/end seconds of runs of frames quieter than ``threshold_db``."""
    db, frame_s = frame_db(audio, sr, hop_s)
    silent = np.r_[False, db <= threshold_db, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(silent))
    runs = edges.reshape(-1, 2) * frame_s
    return runs[(runs[:, 1] - runs[:, 0]) >= min_gap_s]


def snap_to_energy(words: Sequence[dict], audio: ArrayLike, sr: int, *, search_s: float = 0.25,
                   threshold_db: float = -35.0, min_gap_s: float = 0.03,
                   hop_s: float = 0.005) -> list[dict]:
    """Move word boundaries onto the pauses of the waveform (short-time energy).

    DTW boundaries have no pauses: a word ends where the next one starts. Here frames of
    ``hop_s`` whose RMS is more than ``-threshold_db`` dB below the loudest frame are silent;
    runs of at least ``min_gap_s`` are pauses. The boundary between two words moves onto the
    nearest pause within ``search_s`` (the first word ends where it begins, the next starts where
    it ends); the first word starts at the end of the pause before it, the last word ends at the
    start of the pause after it. Boundaries with no pause nearby stay, so connected speech is
    left as the recipe found it. Steady background noise louder than the threshold hides pauses.

    Parameters
    ----------
    words : sequence of dict
        Output of :func:`word_timings` (in time order).
    audio : array (samples,)
        Mono waveform on the same clock as the word times.
    sr : int
        Its sample rate.

    Returns
    -------
    list of dict
        Copies of ``words`` with refined ``start`` / ``end``.

    Example
    -------
    >>> audio = np.r_[np.zeros(1600), np.ones(3200), np.zeros(1600), np.ones(3200), np.zeros(800)]
    >>> words = [{"word": "a", "start": 0.0, "end": 0.32}, {"word": "b", "start": 0.32, "end": 0.6}]
    >>> [(w["start"], w["end"]) for w in snap_to_energy(words, audio, 16000)]
    [(0.1, 0.3), (0.4, 0.6)]
    """
    arr = np.asarray(audio, dtype=np.float64)
    if arr.ndim != 1:
        raise MultiattnValueError(f"snap_to_energy needs mono audio (samples,), got shape {arr.shape}")
    runs = silent_runs(arr, int(sr), hop_s, threshold_db, min_gap_s)
    out = [dict(w) for w in words]
    if not out or runs.size == 0:
        return out

    def nearest_run(t: float) -> np.ndarray | None:
        dist = np.maximum(0.0, np.maximum(runs[:, 0] - t, t - runs[:, 1]))
        best = int(np.argmin(dist))
        return runs[best] if dist[best] <= search_s else None

    for left, right in zip(out[:-1], out[1:]):
        run = nearest_run(0.5 * (left["end"] + right["start"]))
        if run is not None and left["start"] < run[0] and run[1] < right["end"]:
            left["end"], right["start"] = float(run[0]), float(run[1])
    before = runs[(runs[:, 1] <= out[0]["end"]) & (runs[:, 1] >= out[0]["start"] - search_s)]
    if len(before):
        out[0]["start"] = float(before[-1, 1])
    after = runs[(runs[:, 0] >= out[-1]["start"]) & (runs[:, 0] <= out[-1]["end"] + search_s)]
    if len(after):
        out[-1]["end"] = float(after[0, 0])
    for word in out:
        word["start"], word["end"] = round(word["start"], 3), round(word["end"], 3)
    return out
