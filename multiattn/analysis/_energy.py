"""Word boundaries from the waveform: pauses (energy against an adaptive noise floor) and speech onsets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ArrayLike

__all__ = [
    "frame_db",
    "noise_floor_db",
    "silent_runs",
    "snap_to_energy",
    "speech_onset",
    "speech_offset",
]

#: Shortest silence taken for a pause: longer than the stop closures of connected speech (at most
#: 65 ms in the espeak-ng corpus of ``benchmarks/``), shorter than the 90 ms gaps of the samples.
PAUSE_S = 0.08
#: A frame is silent below the noise floor + this many dB (and below ``threshold_db`` re the peak).
FLOOR_MARGIN_DB = 5.0  # chosen on the tuning set at 20 dB SNR (8 dB: p90 96 ms, 5 dB: 89 ms)
_ONSET_FRAME_S = 0.01
_SMOOTH = 5  # frames of the onset detector's moving average


def frame_db(audio: np.ndarray, sr: int, hop_s: float) -> tuple[np.ndarray, float]:
    hop = max(1, int(round(hop_s * sr)))
    n = len(audio) // hop
    if n == 0:
        raise MultiattnValueError("audio is shorter than one energy frame")
    frames = audio[: n * hop].reshape(n, hop).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10) / max(rms.max(), 1e-10)), hop / sr


def noise_floor_db(db: np.ndarray) -> float:
    """The noise floor of frame levels (dB): their 5th percentile (speech rarely fills 95 % of a file)."""
    return float(np.percentile(db, 5))


def silent_runs(audio: np.ndarray, sr: int, hop_s: float, threshold_db: float,
                 min_gap_s: float) -> np.ndarray:
    """``(n, 2)`` start/end seconds of runs of silent frames of at least ``min_gap_s``.

    A frame is silent when quieter than ``threshold_db`` re the loudest frame *and* than the noise
    floor + ``FLOOR_MARGIN_DB`` (steady background noise raises the floor: pauses stay pauses).
    """
    db, frame_s = frame_db(audio, sr, hop_s)
    limit = max(threshold_db, noise_floor_db(db) + FLOOR_MARGIN_DB)
    silent = np.r_[False, db <= limit, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(silent))
    runs = edges.reshape(-1, 2) * frame_s
    return runs[(runs[:, 1] - runs[:, 0]) >= min_gap_s]


def snap_to_energy(words: Sequence[dict], audio: ArrayLike, sr: int, *, search_s: float = 0.25,
                   threshold_db: float = -35.0, min_gap_s: float = PAUSE_S,
                   hop_s: float = 0.005) -> list[dict]:
    """Move word boundaries onto the pauses of the waveform (short-time energy).

    DTW boundaries have no pauses: a word ends where the next one starts. Here frames of
    ``hop_s`` quieter than ``threshold_db`` re the loudest frame and than the noise floor + 5 dB
    are silent; runs of at least ``min_gap_s`` (default 0.08 s, longer than a stop closure) are
    pauses. The boundary between two words moves onto the nearest pause within ``search_s``
    (the first word ends where it begins, the next starts where it ends); the first word starts
    at the end of the pause whose end is nearest its DTW start (a leading silence, not a gap after
    the word), the last word ends at the start of the pause after it. Boundaries with no pause
    nearby stay, so connected speech is left as the recipe found it.

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
    >>> audio = np.r_[np.zeros(2400), np.ones(3200), np.zeros(2400), np.ones(3200), np.zeros(2400)]
    >>> words = [{"word": "a", "start": 0.0, "end": 0.42}, {"word": "b", "start": 0.42, "end": 0.85}]
    >>> [(w["start"], w["end"]) for w in snap_to_energy(words, audio, 16000)]
    [(0.15, 0.35), (0.5, 0.7)]
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
        out[0]["start"] = float(before[np.argmin(np.abs(before[:, 1] - out[0]["start"])), 1])
    after = runs[(runs[:, 0] >= out[-1]["start"]) & (runs[:, 0] <= out[-1]["end"] + search_s)]
    if len(after):
        out[-1]["end"] = float(after[0, 0])
    for word in out:
        word["start"], word["end"] = round(word["start"], 3), round(word["end"], 3)
    return out


def _band_db(audio: np.ndarray, sr: int, hop_s: float, band: tuple[float, float]) -> np.ndarray:
    """Frame energy (dB, 10 ms Hann frames every ``hop_s``) in a frequency band where speech is loud."""
    n_fft = int(round(_ONSET_FRAME_S * sr))
    hop = max(1, int(round(hop_s * sr)))
    if len(audio) < n_fft:
        raise MultiattnValueError(f"audio is shorter than one 10 ms frame ({len(audio)} samples)")
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    energy = power[:, (freqs >= band[0]) & (freqs <= band[1])].sum(axis=1)
    return 10 * np.log10(np.maximum(energy, 1e-20))


def speech_onset(audio: ArrayLike, sr: int, t0: float, t1: float, *, hop_s: float = 0.0025,
                 band: tuple[float, float] = (150.0, 6000.0), rise_db: float = 15.0,
                 margin_db: float = 2.0, hold_s: float = 0.03) -> float | None:
    """Time (s) where speech starts in ``[t0, t1)``, robust to steady noise; None if none.

    Band energy (10 ms frames every ``hop_s``, smoothed over 12.5 ms) against an adaptive noise
    floor (its 5th percentile over the whole recording, at most 60 dB below the peak for digital
    silence). Speech is the first run of at least ``hold_s`` more than ``rise_db`` above the
    floor; its onset is where the energy last left the floor (+ ``margin_db``) before that run,
    so a soft onset ("the", "h") counts from its start. Settings chosen on the tuning set of
    ``benchmarks/_espeak_corpus.py`` (clean and 20 dB SNR).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> audio = np.r_[np.zeros(8000), np.sin(np.arange(8000) * 0.2)] + rng.normal(0, 0.01, 16000)
    >>> round(speech_onset(audio, 16000, 0.0, 1.0), 2)
    0.5
    """
    arr = np.asarray(audio, dtype=np.float64)
    power = np.convolve(10 ** (_band_db(arr, sr, hop_s, band) / 10), np.ones(_SMOOTH) / _SMOOTH, "same")
    db = 10 * np.log10(np.maximum(power, 1e-20))
    floor = max(noise_floor_db(db), db.max() - 60.0)
    lo, hi = int(t0 / hop_s), min(len(db), int(np.ceil(t1 / hop_s)))
    hold = max(1, int(round(hold_s / hop_s)))
    if hi - lo < hold:
        return None
    loud = db[lo:hi] > floor + rise_db
    sustained = np.convolve(loud, np.ones(hold), "valid") >= hold
    if not sustained.any():
        return None
    first = int(np.argmax(sustained))
    quiet = np.flatnonzero(db[lo : lo + first + 1] <= floor + margin_db)
    start = int(quiet[-1]) + 1 if len(quiet) else 0
    # a frame's energy rises as soon as the onset enters it (near the frame's end), and the
    # centred moving average starts rising half its width before that
    return max(t0, (lo + start + _SMOOTH // 2) * hop_s + _ONSET_FRAME_S - hop_s)


def speech_offset(audio: ArrayLike, sr: int, t0: float, t1: float, **kwargs: float) -> float | None:
    """Time (s) where speech ends in ``(t0, t1]``: :func:`speech_onset` of the reversed recording.

    Example
    -------
    >>> audio = np.r_[np.sin(np.arange(8000) * 0.2), np.zeros(8000)] + 0.001
    >>> round(speech_offset(audio, 16000, 0.0, 1.0), 2)
    0.5
    """
    arr = np.asarray(audio, dtype=np.float64)[::-1]
    duration = len(arr) / sr
    onset = speech_onset(arr, sr, duration - t1, duration - t0, **kwargs)
    return None if onset is None else duration - onset
