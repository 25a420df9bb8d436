"""Transcript utilities: SRT subtitles from word timings and word error rate."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from multiattn.errors import MultiattnValueError

__all__ = [
    "normalised_words",
    "srt_time",
    "word_error_rate",
    "words_to_srt",
]


def srt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{ms:03d}"


def words_to_srt(words: Sequence[dict], max_words: int = 7, max_gap_s: float = 1.0) -> str:
    """SubRip subtitles from word timings: cues of at most ``max_words``, split at long pauses.

    Example
    -------
    >>> print(words_to_srt([{"word": "hi", "start": 0.5, "end": 0.9}]))
    1
    00:00:00,500 --> 00:00:00,900
    hi
    <BLANKLINE>
    """
    if max_words < 1:
        raise MultiattnValueError(f"max_words must be >= 1, got {max_words}")
    cues: list[list[dict]] = []
    for word in words:
        if (not cues or len(cues[-1]) >= max_words
                or word["start"] - cues[-1][-1]["end"] > max_gap_s):
            cues.append([])
        cues[-1].append(word)
    blocks = [
        f"{i}\n{srt_time(cue[0]['start'])} --> {srt_time(cue[-1]['end'])}\n"
        + " ".join(w["word"] for w in cue) + "\n"
        for i, cue in enumerate(cues, 1)
    ]
    return "\n".join(blocks)


def normalised_words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ")).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level Levenshtein distance / number of reference words.

    Case and punctuation are ignored (``"Dog."`` matches ``"dog"``).

    Example
    -------
    >>> word_error_rate("the quick brown fox", "a quick fox")  # one substitution, one deletion
    0.5
    """
    ref, hyp = normalised_words(reference), normalised_words(hypothesis)
    if not ref:
        raise MultiattnValueError("the reference transcript has no words")
    dist = np.arange(len(hyp) + 1)
    for i, word in enumerate(ref, 1):
        prev = dist.copy()
        dist[0] = i
        for j, guess in enumerate(hyp, 1):
            dist[j] = min(prev[j] + 1, dist[j - 1] + 1, prev[j - 1] + (word != guess))
    return float(dist[-1] / len(ref))
