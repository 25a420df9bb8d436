"""Payload of the audio view: tokens attending to audio frames, over a spectrogram with words.

The recording goes through the package's one audio path (:mod:`multiattn._audio`:
integer PCM scaled by its full range, channels mixed, soxr resampling) to 16 kHz
mono, and is embedded as a 16-bit WAV with its log-mel spectrogram (PNG).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn._audio import mono_float32, resample
from multiattn.errors import MultiattnValueError
from multiattn.grid import AttentionGrid

from ._encode import png_b64, wav_b64
from ._html_mass import DEFAULT_MASS
from ._html_pack import pack_rows, weights_note

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike

__all__ = ["AUDIO_SR", "audio_payload", "mono_16k", "check_words", "token_words"]

AUDIO_SR = 16_000
"""Sample rate of the embedded WAV (mono, int16)."""

_MAX_AUDIO_S = 120.0
_SPEC_HEIGHT = 128  # pixels (one per mel band)
_SPEC_PX_PER_S = 100  # spectrogram columns per second (10 ms hop)


def mono_16k(audio: tuple[ArrayLike, int]) -> np.ndarray:
    """``(waveform, sr)`` as float32 mono at 16 kHz in ``[-1, 1]``, checked."""
    if not isinstance(audio, (tuple, list)) or len(audio) != 2:
        raise MultiattnValueError("audio must be a (waveform, sample_rate) pair, e.g. "
                         "audio=multiattn.media.load_audio(path)")
    wav, sr = mono_float32(audio[0], audio[1])
    if wav.size / sr > _MAX_AUDIO_S:
        raise MultiattnValueError(f"audio is {wav.size / sr:.0f} s long; the HTML view embeds at most "
                         f"{_MAX_AUDIO_S:.0f} s: cut the recording (and its grid) first")
    return np.clip(resample(wav, sr, AUDIO_SR), -1.0, 1.0)


def _spectrogram_png(wav: np.ndarray) -> str:
    """Log-mel spectrogram (dB re max, 80 dB range, magma), low frequencies at the bottom."""
    import librosa
    from matplotlib import colormaps

    mel = librosa.feature.melspectrogram(y=wav, sr=AUDIO_SR, n_fft=400,
                                         hop_length=AUDIO_SR // _SPEC_PX_PER_S, n_mels=_SPEC_HEIGHT)
    db = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    rgb = colormaps["magma"]((db[::-1] + 80.0) / 80.0)[..., :3]
    return png_b64(np.round(rgb * 255).astype(np.uint8))


def check_words(words: Sequence[Mapping[str, str | float]] | None) -> list[dict]:
    """``[{"word", "start", "end"}]`` (seconds) validated, as plain str / float."""
    out = []
    for i, item in enumerate(words or []):
        if not isinstance(item, Mapping) or not {"word", "start", "end"} <= set(item):
            raise MultiattnValueError(
                f"words[{i}] must be a mapping with 'word', 'start' and 'end' (seconds), "
                             f"got {item!r}")
        start, end = float(item["start"]), float(item["end"])
        if not (np.isfinite(start) and np.isfinite(end) and 0 <= start <= end):
            raise MultiattnValueError(f"words[{i}] ({item['word']!r}) needs finite 0 <= start <= end, "
                             f"got {start}, {end}")
        out.append({"word": str(item["word"]), "start": start, "end": end})
    return out


def _normal_text(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def token_words(labels: tuple[str, ...], special: np.ndarray, words: list[dict]) -> list[int]:
    """Index of the word each token spells part of (-1: special, or the texts differ)."""
    word_text = [_normal_text(w["word"]) for w in words]
    token_text = ["" if sp else _normal_text(lab) for lab, sp in zip(labels, special)]
    if not words or "".join(word_text) != "".join(token_text):
        return [-1] * len(labels)
    word_end = np.cumsum([len(w) for w in word_text])
    owner, pos = [], 0
    for text in token_text:
        owner.append(int(np.searchsorted(word_end, pos, side="right")) if text else -1)
        pos += len(text)
    return owner


def _notes(grid: AttentionGrid, summary: dict, has_audio: bool, unmatched: bool) -> list[str]:
    axis = grid.key
    return [
        f"{grid.kind}-attention, {grid.n_layers} layers x {grid.n_heads} heads: {len(grid.query)} "
        f"tokens attending to {len(axis)} audio frames of {axis.hop_s * 1000:.0f} ms.",
        "Hover or Tab to a token or a word: its attention over time (mean over the selected "
        "heads; for a word, over its tokens), curve scaled to its maximum over the frames. "
        "Click or press Enter to play that segment."
        + (" Spectrogram: log-mel, dB relative to the loudest bin, 80 dB range (magma)."
           if has_audio else " No audio was given: no spectrogram or playback.")
        + (" The words could not be matched to the tokens' text: hovering a word shows its span only."
           if unmatched else ""),
        weights_note(summary, len(axis)),
    ]


def audio_payload(grid: AttentionGrid, max_bytes: int, top_k: int | None,
                  audio: tuple[ArrayLike, int] | None,
                  words: Sequence[Mapping[str, str | float]] | None, *, mass: float = DEFAULT_MASS) -> dict:
    """Tokens -> ``TimeAxis`` attention with the recording, its spectrogram and word spans."""
    axis = grid.key
    words = check_words(words)
    wav = None if audio is None else mono_16k(audio)
    duration = max([float(axis.edges[-1])] + [w["end"] for w in words]
                   + ([wav.size / AUDIO_SR] if wav is not None else []))
    weights, summary = pack_rows(grid.values, max_bytes=max_bytes, top_k=top_k, mass=mass)
    owner = token_words(grid.query.labels, grid.query.special_mask, words)
    return {
        "view": "audio", "weights": weights, "query": list(grid.query.labels),
        "query_special": grid.query.special_mask.tolist(), "token_word": owner,
        "n_frames": len(axis), "hop_s": axis.hop_s, "offset_s": axis.offset_s, "duration": duration,
        "words": words, "spectrogram": None if wav is None else _spectrogram_png(wav),
        "wav": None if wav is None else wav_b64(wav, AUDIO_SR),
        "notes": _notes(grid, summary, wav is not None, bool(words) and max(owner, default=-1) < 0),
    }
