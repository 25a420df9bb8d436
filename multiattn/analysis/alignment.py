"""Word timings from cross-attention, and how well each head aligns text with audio.

The recipe is Whisper's (openai/whisper ``timing.py``): take the cross-attention of
the model's alignment heads, renormalise each token row over the audio frames,
standardise each frame over the tokens (z-score per head), median-filter along
time (width 7), average the heads and find the monotonic path through the
negated matrix with dynamic time warping.  The frame where the path enters a
token is that token's start; tokens merge into words on leading spaces, and a
word ends where the next word (or ``<|endoftext|>``) starts.

One step past the recipe, :func:`snap_to_energy` moves each boundary to the
nearest speech onset / offset of the waveform's short-time energy (numpy only).
``benchmarks/bench_whisper.py`` reports the error of both against exact ground truth.

Functions take an :class:`~multiattn.AttentionGrid` whose query axis is a
:class:`~multiattn.TokenAxis` and key axis a :class:`~multiattn.TimeAxis`, as
:func:`multiattn.adapters.whisper.capture` returns under ``"cross"``.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import median_filter

from multiattn.errors import MultiattnTypeError, MultiattnValueError

from ..axes import TimeAxis, TokenAxis
from ..grid import AttentionGrid
from ._arrays import as_dense
from ._energy import snap_to_energy, speech_offset, speech_onset
from ._transcript import word_error_rate, words_to_srt

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ArrayLike

__all__ = [
    "dtw",
    "alignment_matrix",
    "word_timings",
    "snap_to_energy",
    "refine_timings",
    "DEFAULT_STEPS",
    "STEPS",
    "alignment_metrics",
    "words_to_srt",
    "word_error_rate",
]

_PUNCTUATION = set(string.punctuation) | {"“", "”", "‘", "’", "、", "。", "，"}


def dtw(cost: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost monotonic path through a cost matrix (Whisper's DTW, via librosa).

    Moves are diagonal ``(i-1, j-1)``, down ``(i-1, j)`` and right ``(i, j-1)``, all of weight 1,
    as in openai/whisper's ``dtw_cpu``; the path starts at ``(0, 0)`` and ends at ``(N-1, M-1)``.
    :func:`librosa.sequence.dtw` (numba) computes it. Only exact ties are resolved differently:
    a tie of the diagonal with another move goes to the diagonal in librosa, to the right move
    in Whisper; it matters only where several paths cost exactly the same (not seen on real
    attention, where ``tests/test_whisper_recipe.py`` checks the words equal Whisper's).

    Parameters
    ----------
    cost : array (N, M)
        Finite costs, e.g. the negated alignment matrix.

    Returns
    -------
    rows, cols : ndarray of int
        The path, one entry per step, both non-decreasing.

    Example
    -------
    >>> rows, cols = dtw(np.array([[0.0, 5.0, 5.0], [5.0, 0.0, 0.0]]))
    >>> rows.tolist(), cols.tolist()
    ([0, 1, 1], [0, 1, 2])
    """
    from librosa.sequence import dtw as librosa_dtw

    x = np.asarray(cost, dtype=np.float64)
    if x.ndim != 2 or 0 in x.shape:
        raise MultiattnValueError(f"dtw needs a non-empty 2-D cost matrix, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise MultiattnValueError("dtw cost matrix contains NaN or inf")
    _, path = librosa_dtw(C=np.ascontiguousarray(x), backtrack=True)  # steps: diagonal, right, down
    path = path[::-1]
    return path[:, 0].astype(np.int64), path[:, 1].astype(np.int64)


def _check_cross(cross: object) -> tuple[TokenAxis, TimeAxis]:
    if not isinstance(cross, AttentionGrid):
        raise MultiattnTypeError("word timings need an AttentionGrid (capture(...)['cross']), got "
                        f"{type(cross).__name__}")
    if not isinstance(cross.query, TokenAxis) or not isinstance(cross.key, TimeAxis):
        raise MultiattnValueError(
            "word timings need a cross-attention grid with a TokenAxis query and a TimeAxis key, "
            f"got {type(cross.query).__name__} x {type(cross.key).__name__}"
        )
    return cross.query, cross.key


def _head_indices(cross: AttentionGrid, heads: Sequence | None) -> list[tuple[int, int]]:
    if heads is None:
        heads = cross.meta.get("alignment_heads") or [
            (layer, head) for layer in range(cross.n_layers // 2, cross.n_layers)
            for head in range(cross.n_heads)
        ]
    out = [(int(layer), int(head)) for layer, head in heads]
    bad = [h for h in out if not (0 <= h[0] < cross.n_layers and 0 <= h[1] < cross.n_heads)]
    if not out or bad:
        raise MultiattnValueError(f"alignment heads {bad or out} are outside the grid's "
                         f"{cross.n_layers} layers x {cross.n_heads} heads")
    return out


def _segments(tokens: TokenAxis) -> list[tuple[int, int]]:
    """Runs ``[a, b)`` of text tokens, each preceded and followed by a special token."""
    special = tokens.special_mask
    runs, start = [], None
    for i, is_special in enumerate(list(special) + [True]):
        if not is_special and start is None:
            start = i
        elif is_special and start is not None:
            runs.append((start, i))
            start = None
    for a, b in runs:
        if a == 0 or b >= len(special):
            raise MultiattnValueError(
                "each run of text tokens must sit between special tokens (the row before the "
                "first text token predicts it; the last row predicts <|endoftext|>)"
            )
    return runs


def alignment_matrix(cross: AttentionGrid, heads: Sequence | None = None,
                     medfilt_width: int = 7, rows: slice | None = None,
                     keep: slice | None = None) -> np.ndarray:
    """Whisper's alignment matrix: heads renormalised, z-scored over tokens, filtered, averaged.

    Parameters
    ----------
    cross : AttentionGrid
        Cross-attention ``(L, H, tokens, frames)``.
    heads : sequence of (layer, head), optional
        Default ``cross.meta["alignment_heads"]``, else every head of the last half of layers.
    medfilt_width : int
        Odd width (frames) of the median filter along time; 1 disables it.
    rows : slice, optional
        Token rows to standardise over (default all); columns with no weight in these rows
        are dropped.
    keep : slice, optional
        Rows of the result to return, relative to ``rows`` (default all). Whisper standardises
        over every row of the window (``<|startoftranscript|>`` .. ``<|endoftext|>``) and then
        keeps the rows that predict the text and ``<|endoftext|>``: ``keep=slice(1, -1)``.

    Returns
    -------
    ndarray ``(len(rows), frames)`` float64
        Higher = more aligned. Columns are the frames these rows attend to.

    Example
    -------
    >>> alignment_matrix(grids["cross"], rows=slice(1, 12)).shape  # doctest: +SKIP
    (11, 284)
    """
    if medfilt_width < 1 or medfilt_width % 2 == 0:
        raise MultiattnValueError(f"medfilt_width must be a positive odd number, got {medfilt_width}")
    _check_cross(cross)
    values = as_dense(cross)
    picked = np.stack([values[layer, head] for layer, head in _head_indices(cross, heads)])
    picked = picked[:, rows if rows is not None else slice(None)]
    if picked.shape[1] < 1:
        raise MultiattnValueError("no token rows selected for the alignment matrix")
    cols = picked.sum(axis=(0, 1)) > 0
    picked = picked[:, :, cols]
    if picked.shape[2] == 0:
        raise MultiattnValueError("the selected rows put no weight on any audio frame")
    picked = picked / np.maximum(picked.sum(axis=-1, keepdims=True), 1e-12)
    mean = picked.mean(axis=1, keepdims=True)
    std = picked.std(axis=1, keepdims=True)
    picked = (picked - mean) / np.where(std > 0, std, 1.0)
    if medfilt_width > 1 and picked.shape[2] > medfilt_width // 2:
        picked = median_filter(picked, size=(1, 1, medfilt_width), mode="mirror")
    return picked.mean(axis=0)[keep if keep is not None else slice(None)]


def _window_rows(values: np.ndarray, tokens: TokenAxis, a: int, b: int,
                 frames: np.ndarray) -> tuple[int, int]:
    """First and last row of the window around text tokens ``[a, b)``, as Whisper standardises it.

    The special tokens right before the text (``<|startoftranscript|>``, ``<|notimestamps|>``)
    and the ``<|endoftext|>`` row after it, as long as they attend to the window's frames (rows
    of another window of a stitched grid do not).
    """
    special = tokens.special_mask

    def attends(row: int) -> bool:
        return bool(values[:, :, row, frames].sum() > 0)

    first = a - 1
    while first > 0 and special[first - 1] and attends(first - 1):
        first -= 1
    last = b if b < len(special) and attends(b) else b - 1
    return first, last


def _is_punctuation(text: str) -> bool:
    return text.strip() != "" and all(ch in _PUNCTUATION for ch in text.strip())


def _word_groups(labels: Sequence[str]) -> list[list[int]]:
    """Token indices per word: a word starts at a leading space or at punctuation."""
    groups: list[list[int]] = []
    for i, label in enumerate(labels):
        if not groups or label.startswith(" ") or _is_punctuation(label):
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups


def word_timings(cross: AttentionGrid, heads: Sequence | None = None, medfilt_width: int = 7,
                 token_probs: Sequence | None = None) -> list[dict]:
    """Start, end and confidence of every word, by DTW on the cross-attention.

    Parameters
    ----------
    cross : AttentionGrid
        ``capture(...)["cross"]``: rows are decoder input tokens (specials marked), columns
        20 ms encoder frames. Several windows (runs of text between specials) are aligned
        separately, each on its own frames.
    heads : sequence of (layer, head), optional
        Alignment heads; default ``cross.meta["alignment_heads"]``, else the last half of layers.
    medfilt_width : int
        Median filter width in frames (Whisper: 7).
    token_probs : sequence of float, optional
        Probability of each token given the previous ones (default ``cross.meta["token_probs"]``);
        a word's confidence is the mean over its tokens. Without it, confidence is the mean
        normalised alignment score along the DTW path (0..1).

    Returns
    -------
    list of dict
        ``{"word", "start", "end", "confidence", "tokens"}``: times in seconds on the key axis,
        ``tokens`` the word's indices on the grid's query axis. Punctuation is attached to the
        word before it and has no time of its own.

    Example
    -------
    >>> word_timings(grids["cross"])[:1]  # doctest: +SKIP
    [{'word': 'the', 'start': 0.3, 'end': 0.62, 'confidence': 0.41}]
    """
    tokens, time_axis = _check_cross(cross)
    probs = token_probs if token_probs is not None else cross.meta.get("token_probs")
    if probs is not None and len(probs) != len(tokens):
        raise MultiattnValueError(f"token_probs has {len(probs)} entries for {len(tokens)} tokens")
    words: list[dict] = []
    values = as_dense(cross)
    for a, b in _segments(tokens):
        frames = np.flatnonzero(values[:, :, a - 1 : b].sum(axis=(0, 1, 2)) > 0)
        first, last = _window_rows(values, tokens, a, b, frames)
        matrix = alignment_matrix(cross, heads, medfilt_width, rows=slice(first, last + 1),
                                  keep=slice(a - 1 - first, b - first))
        path_rows, path_cols = dtw(-matrix)
        jumps = np.diff(path_rows, prepend=-1) > 0
        entry = frames[path_cols[jumps]]  # frame where the path enters each row
        score = np.array([matrix[r, c] for r, c in zip(path_rows, path_cols)])
        labels = tokens.labels[a:b]
        for group in _word_groups(labels):
            text = "".join(labels[i] for i in group).strip()
            if _is_punctuation(text) and words:
                words[-1]["word"] += text
                words[-1]["tokens"] += [a + i for i in group]
                continue
            first, after = group[0], group[-1] + 1
            start = time_axis.edges[entry[first]]
            end = time_axis.edges[entry[after]] if after < len(entry) else time_axis.edges[-1]
            if probs is not None:
                conf = float(np.mean([probs[a + i] for i in group]))
            else:
                seg = score[(path_rows >= first) & (path_rows < after)]
                conf = float(1.0 / (1.0 + np.exp(-seg.mean())))
            words.append({"word": text, "start": round(float(start), 3),
                          "end": round(float(max(end, start)), 3), "confidence": round(conf, 4),
                          "tokens": [a + i for i in group]})
    return words


def alignment_metrics(cross: AttentionGrid) -> dict[str, np.ndarray]:
    """How well each cross-attention head aligns text with audio, per ``(layer, head)``.

    Computed on the rows that predict text tokens (renormalised over the audio frames):

    - ``entropy``: mean row entropy divided by ``log(frames)``; 0 = each token looks at one
      frame, 1 = uniform over the audio.
    - ``coverage``: fraction of the audio spanned by the tokens' peak frames,
      ``(last peak - first peak + 1) / frames``; an aligning head spreads over the speech.
    - ``monotonicity``: fraction of consecutive token pairs whose peak frame does not move back
      in time; 1 = strictly left-to-right like speech.

    Returns
    -------
    dict of str to ndarray ``(L, H)``

    Example
    -------
    >>> m = alignment_metrics(grids["cross"])  # doctest: +SKIP
    >>> m["monotonicity"].shape  # doctest: +SKIP
    (4, 6)
    """
    tokens, _ = _check_cross(cross)
    values = as_dense(cross)
    entropy, coverage, monotone = [], [], []
    for a, b in _segments(tokens):
        rows = values[:, :, a - 1 : b - 1]
        frames = rows.sum(axis=(0, 1, 2)) > 0
        rows = rows[..., frames]
        rows = rows / np.maximum(rows.sum(axis=-1, keepdims=True), 1e-12)
        n = rows.shape[-1]
        logp = np.log(np.where(rows > 0, rows, 1.0))
        entropy.append(-(rows * logp).sum(-1).mean(-1) / max(np.log(n), 1e-12))
        peaks = rows.argmax(-1)
        coverage.append((peaks.max(-1) - peaks.min(-1) + 1) / n)
        steps = np.diff(peaks, axis=-1)
        monotone.append((steps >= 0).mean(-1) if steps.shape[-1] else np.ones(peaks.shape[:2]))
    if not entropy:
        raise MultiattnValueError("the grid has no text tokens to measure alignment on")
    return {"entropy": np.mean(entropy, axis=0), "coverage": np.mean(coverage, axis=0),
            "monotonicity": np.mean(monotone, axis=0)}




#: The refinement steps :func:`multiattn.adapters.whisper.align` applies (in this order).
DEFAULT_STEPS = ("bias", "snap", "onset")
#: Cross-attention word boundaries come late: median signed error of the word boundaries of the raw
#: recipe (Whisper tiny.en) on the tuning set of ``benchmarks/_espeak_corpus.py`` (held-out voices
#: and sentences are reported by ``benchmarks/bench_speech_timing.py``).
BIAS_S = 0.087  # tuning set, word starts: +93.3 ms clean, +82.4 ms at 20 dB SNR (ends: +88.2 / +80.4)
#: Half-width (s) of the window in which ``"flux"`` moves a boundary onto an acoustic change.
FLUX_S = 0.04
#: Every refinement step :func:`refine_timings` knows.
STEPS = ("onset", "bias", "snap", "flux")


def refine_timings(words: Sequence[dict], audio: ArrayLike, sr: int, *,
                   steps: Sequence[str] = DEFAULT_STEPS, window_s: float = 30.0,
                   bias_s: float = BIAS_S,
                   flux_s: float = FLUX_S) -> list[dict]:
    """Word timings refined past Whisper's recipe by named steps, applied in order.

    - ``"onset"``: the first word of each ``window_s`` window (the DTW path starts at the window's
      first frame, so the recipe puts it there whatever silence precedes it) starts at the speech
      onset found by :func:`~multiattn.analysis._energy.speech_onset` (adaptive noise floor, so it
      works in steady noise) before the word's end; the last word of each window ends at the
      speech offset after its start.
    - ``"bias"``: every other boundary moves ``bias_s`` seconds earlier: the systematic lateness
      of cross-attention timing, calibrated on a tuning set (``BIAS_S``).
    - ``"snap"``: :func:`snap_to_energy`, onto pauses of at least 0.08 s (never into a closure).
    - ``"flux"``: each inner boundary moves to the strongest acoustic change (librosa onset
      strength) within ``flux_s``, weighted towards where it was.

    Parameters
    ----------
    words : sequence of dict
        :func:`word_timings` output (time order), on the clock of ``audio``.
    audio : array (samples,)
        The mono waveform.
    sr : int
        Its sample rate.

    Returns
    -------
    list of dict
        Copies of ``words`` with refined ``start`` / ``end`` (rounded to ms); each start stays
        before its end and after the previous word's start.

    Example
    -------
    >>> audio = np.r_[np.zeros(8000), np.sin(np.arange(16000) * 0.3), np.zeros(4000)]  # silence, 1 s tone
    >>> words = [{"word": "a", "start": 0.0, "end": 1.0}, {"word": "b", "start": 1.0, "end": 1.5}]
    >>> [(w["start"], w["end"]) for w in refine_timings(words, audio, 16000, steps=["onset"])]
    [(0.5, 1.0), (1.0, 1.5)]
    """
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise MultiattnValueError(f"unknown refinement steps {unknown}; choose from {list(STEPS)}")
    arr = np.asarray(audio, dtype=np.float64)
    if arr.ndim != 1:
        raise MultiattnValueError(f"refine_timings needs mono audio (samples,), got shape {arr.shape}")
    out = [dict(w) for w in words]
    if not out:
        return out
    window = [int((w["start"] + 1e-6) // window_s) for w in out]
    firsts = {i for i in range(len(out)) if i == 0 or window[i] != window[i - 1]}
    lasts = {i for i in range(len(out)) if i == len(out) - 1 or window[i] != window[i + 1]}
    for step in steps:
        if step == "onset":
            _onset_step(out, arr, sr, firsts, lasts, window, window_s)
        elif step == "bias":
            _shift_inner(out, firsts, lasts, bias_s)
        elif step == "snap":
            out = snap_to_energy(out, arr, sr)
        else:
            _flux_step(out, arr, sr, firsts, flux_s)
    for i, word in enumerate(out):
        word["start"] = round(float(max(word["start"], out[i - 1]["start"] if i else 0.0)), 3)
        word["end"] = round(float(max(word["end"], word["start"])), 3)
    return out


def _onset_step(out: list[dict], audio: np.ndarray, sr: int, firsts: set, lasts: set,
                window: list[int], window_s: float) -> None:
    duration = len(audio) / sr
    for i in firsts:
        t0 = window[i] * window_s
        onset = speech_onset(audio, sr, t0, min(out[i]["end"], duration))
        if onset is not None and onset < out[i]["end"]:
            out[i]["start"] = onset
    for i in lasts:
        t1 = min((window[i] + 1) * window_s, duration)
        offset = speech_offset(audio, sr, out[i]["start"], t1)
        if offset is not None and offset > out[i]["start"]:
            out[i]["end"] = offset


def _shift_inner(out: list[dict], firsts: set, lasts: set, bias_s: float) -> None:
    for i, word in enumerate(out):
        if i not in firsts:
            word["start"] -= bias_s
        if i not in lasts:
            word["end"] -= bias_s


def _flux_step(out: list[dict], audio: np.ndarray, sr: int, firsts: set, flux_s: float) -> None:
    import librosa

    hop = max(1, int(round(0.005 * sr)))
    strength = librosa.onset.onset_strength(y=audio.astype(np.float32), sr=sr, hop_length=hop,
                                            n_fft=int(round(0.025 * sr)), n_mels=40, center=True)
    times = np.arange(len(strength)) * hop / sr
    for i in range(1, len(out)):
        if i in firsts:
            continue
        t = out[i]["start"]
        near = np.flatnonzero(np.abs(times - t) <= flux_s)
        if len(near) == 0:
            continue
        score = strength[near] * np.exp(-(((times[near] - t) / flux_s) ** 2))
        if score.max() > 0:
            new = float(times[near[int(np.argmax(score))]])
            if out[i - 1]["start"] < new < out[i]["end"]:
                out[i]["start"] = out[i - 1]["end"] = new
