"""Speech attention drawn on the audio: spectrogram-aligned strips and time x time heatmaps.

Time conventions (Whisper): the log-mel spectrogram has a 10 ms hop (mel frame ``m`` spans
``10m .. 10(m+1)`` ms as :func:`librosa.display.specshow` draws it) and encoder frame ``k``
covers mel frames ``2k, 2k+1``, i.e. ``20k .. 20(k+1)`` ms: the edges of the grid's
:class:`~multiattn.TimeAxis`. Every row of a figure shares that time axis in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from multiattn.axes import TimeAxis, TokenAxis
from multiattn.errors import MultiattnValueError
from multiattn.grid import AttentionGrid

from ._style import DPI, add_colorbar, color_scale, get_axes
from .figure import plain_text
from .heatmap import dim_title, head_matrix

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike

__all__ = ["token_attention_over_time", "alignment_strips", "word_links", "self_attention_heatmap"]

_HOP = 160
_N_FFT = 400
_WORD_EDGE = "#ff4f4f"


def _alignment_heads(cross: AttentionGrid, heads: Sequence[tuple[int, int]] | None) -> list[tuple[int, int]]:
    if heads is None:
        heads = cross.meta.get("alignment_heads") or [
            (layer, head) for layer in range(cross.n_layers // 2, cross.n_layers)
            for head in range(cross.n_heads)]
    return [(int(layer), int(head)) for layer, head in heads]


def token_attention_over_time(cross: AttentionGrid,
                              heads: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
    """Cross-attention of the row that *predicts* each token, heads averaged, over audio frames.

    Row ``i - 1`` of a Whisper decoder predicts token ``i`` (the rows Whisper's timing recipe
    aligns), so row ``i`` of the result is the attention paid while producing token ``i``;
    row 0 (``<|startoftranscript|>``, predicted by nothing) is zero. Each row is renormalised
    over the audio frames it can see.

    Returns
    -------
    ndarray ``(tokens, frames)``

    Example
    -------
    >>> token_attention_over_time(grids["cross"]).shape  # doctest: +SKIP
    (12, 284)
    """
    if not isinstance(cross.query, TokenAxis) or not isinstance(cross.key, TimeAxis):
        raise MultiattnValueError(
            "expected a cross-attention grid with a TokenAxis query and a TimeAxis key, "
                         f"got {type(cross.query).__name__} x {type(cross.key).__name__}")
    picked = _alignment_heads(cross, heads)
    bad = [h for h in picked if not (0 <= h[0] < cross.n_layers and 0 <= h[1] < cross.n_heads)]
    if bad:
        raise MultiattnValueError(f"heads {bad} outside the grid's {cross.n_layers} x {cross.n_heads}")
    values = np.mean([cross.values[layer, head] for layer, head in picked], axis=0)
    values = values / np.maximum(values.sum(axis=1, keepdims=True), 1e-12)
    out = np.zeros_like(values)
    out[1:] = values[:-1]
    return out


def _word_rows(tokens: TokenAxis, attention: np.ndarray,
               words: Sequence[dict] | None) -> tuple[list[str], np.ndarray]:
    """One strip per word (its tokens' rows summed and renormalised) or per text token."""
    if words is None:
        text_idx = np.flatnonzero(~tokens.special_mask)
        return [tokens.labels[i].strip() for i in text_idx], attention[text_idx]
    if any("tokens" not in w for w in words):
        raise MultiattnValueError("words need their 'tokens' (indices into the grid's tokens) as "
                         "word_timings returns them; pass words=None for one strip per token")
    rows = np.stack([attention[list(w["tokens"])].sum(axis=0) for w in words])
    rows /= np.maximum(rows.sum(axis=1, keepdims=True), 1e-12)
    return [w["word"] for w in words], rows


def _mark_words(ax: Axes, words: Sequence[dict], label: bool) -> None:
    for word in words:
        ax.axvline(word["start"], color=_WORD_EDGE, lw=0.8, alpha=0.8)
        ax.axvline(word["end"], color=_WORD_EDGE, lw=0.8, ls=":", alpha=0.8)
        if label:
            ax.text(0.5 * (word["start"] + word["end"]), 1.02, word["word"], ha="center",
                    va="bottom", fontsize=8, transform=ax.get_xaxis_transform(), clip_on=False)


@plain_text
def alignment_strips(cross: AttentionGrid, audio: ArrayLike, sr: int = 16000, *,
                     words: Sequence[dict] | None = None, heads: Sequence[tuple[int, int]] | None = None,
                     waveform: bool = True, title: str | None = None,
                     cmap: str = "magma") -> Figure:
    """Spectrogram on top, one cross-attention strip per word (or token) below, one time axis.

    Figure-level: builds its own figure (rows share the x axis in seconds).

    Parameters
    ----------
    cross : AttentionGrid
        ``capture(...)["cross"]``: TokenAxis queries x TimeAxis keys (20 ms frames).
    audio : array (samples,)
        The mono waveform the grid was computed on (what the adapter fed Whisper).
    sr : int
        Its sample rate.
    words : sequence of dict, optional
        Word timings (``word``, ``start``, ``end``), e.g. from
        :func:`multiattn.analysis.alignment.word_timings`: one strip per word and its span
        marked (solid line = start, dotted = end). Default: one strip per text token.
    heads : sequence of (layer, head), optional
        Heads averaged in the strips; default the grid's alignment heads.
    waveform : bool
        Add the waveform as the first row.
    title : str, optional
        Figure title.
    cmap : str
        Sequential colormap of the strips.

    Returns
    -------
    Figure

    Example
    -------
    >>> fig = alignment_strips(grids["cross"], mono, 16000, words=words)  # doctest: +SKIP
    >>> fig.savefig("strips.png")  # doctest: +SKIP
    """
    import librosa.display
    import matplotlib.pyplot as plt

    y = np.asarray(audio, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise MultiattnValueError(f"alignment_strips needs mono audio (samples,), got shape {y.shape}")
    attention = token_attention_over_time(cross, heads)
    labels, rows = _word_rows(cross.query, attention, words)
    if not labels:
        raise MultiattnValueError("the grid has no text tokens to draw strips for")
    time_axis: TimeAxis = cross.key
    end_s = float(time_axis.edges[-1])
    n_top = 2 if waveform else 1
    ratios = ([0.9] if waveform else []) + [2.2] + [0.42] * len(labels)
    fig = plt.figure(figsize=(11, 1.2 + 0.95 * n_top + 0.3 * len(labels)), dpi=DPI)
    grid = fig.add_gridspec(len(ratios), 2, height_ratios=ratios, width_ratios=[1, 0.018],
                            hspace=0.08, wspace=0.02)
    axes = [fig.add_subplot(grid[0, 0])]
    axes += [fig.add_subplot(grid[i, 0], sharex=axes[0]) for i in range(1, len(ratios))]
    row = 0
    if waveform:
        librosa.display.waveshow(y, sr=sr, ax=axes[0], color="#4a6fa5")
        axes[0].set_ylabel("amplitude", fontsize=8)
        row = 1
    mel_db = _log_mel(y, sr)
    spec_ax = axes[row]
    image = librosa.display.specshow(mel_db, sr=sr, hop_length=_HOP, x_axis="time", y_axis="mel",
                                     ax=spec_ax, cmap="gray_r")
    add_colorbar(image, spec_ax, "dB", normalised="0 = loudest",
                 cax=fig.add_subplot(grid[row, 1]))
    spec_ax.set_ylabel("mel (Hz)", fontsize=8)
    strips = axes[row + 1:]
    scale = color_scale(rows, limits=(0.0, float(rows.max()) or 1.0), cmap=cmap)
    edges = time_axis.edges
    mesh = None
    for ax, label, values in zip(strips, labels, rows):
        mesh = ax.pcolormesh(edges, [0, 1], values[None, :], shading="flat",
                             **scale.imshow_kwargs())
        ax.set_yticks([0.5], [label], fontsize=8)
        ax.tick_params(axis="y", length=0)
    if words is not None:
        for i, ax in enumerate(axes):
            _mark_words(ax, words, label=(i == 0))
        for ax, word in zip(strips, words):
            ax.axvspan(word["start"], word["end"], ymin=0.0, ymax=1.0, fill=False,
                       edgecolor="#33dd88", lw=1.4)
    cbar_ax = fig.add_subplot(grid[row + 1:, 1])
    add_colorbar(mesh, strips, "cross-attention", cax=cbar_ax,
                 normalised="alignment heads; sums to 1 per row")
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
        ax.set_xlabel("")
    axes[-1].set_xlabel("time (s)  —  encoder frame k covers 20k..20(k+1) ms")
    axes[0].set_xlim(0.0, max(end_s, len(y) / sr))
    fig.suptitle(title or f"Whisper cross-attention aligned with the audio "
                 f"({len(labels)} {'words' if words is not None else 'tokens'})", fontsize=11)
    return fig


def _log_mel(y: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=_N_FFT, hop_length=_HOP, n_mels=80)
    return librosa.power_to_db(mel, ref=np.max, top_db=80.0)


@plain_text
def word_links(cross: AttentionGrid, audio: ArrayLike, sr: int = 16000, *,
               words: Sequence[dict], heads: Sequence[tuple[int, int]] | None = None, top_k: int = 2,
               max_words: int = 12, title: str | None = None) -> Figure:
    """Words on the right, the spectrogram on the left, lines to each word's strongest frames.

    Figure-level; a thin layer over :func:`multiattn.renderers.crossmodal.side_by_side` with a
    word x frame matrix (the rows of :func:`alignment_strips`) and the log-mel spectrogram.
    Tokens are coloured by their confidence.

    Example
    -------
    >>> fig = word_links(grids["cross"], mono, 16000, words=words)  # doctest: +SKIP
    """
    from .crossmodal import side_by_side

    y = np.asarray(audio, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise MultiattnValueError(f"word_links needs mono audio (samples,), got shape {y.shape}")
    labels, rows = _word_rows(cross.query, token_attention_over_time(cross, heads), words)
    time_axis: TimeAxis = cross.key
    samples = int(round(float(time_axis.edges[-1]) * sr))
    mel_db = _log_mel(np.pad(y, (0, max(0, samples - y.size)))[:samples], sr)
    confidence = np.array([w.get("confidence", 1.0) for w in words], dtype=np.float64)
    return side_by_side(rows, TokenAxis(labels), time_axis, media=mel_db,
                        token_weights=confidence, top_k=top_k, max_tokens=max_words, min_share=0.0,
                        label="cross-attention", token_label="confidence",
                        normalised="alignment heads; sums to 1 per word", title=title,
                        figsize=(11.0, 4.8))


@plain_text
def self_attention_heatmap(grid: AttentionGrid, layer: int | str = -1, head: int | str = "mean", *,
                           ax: Axes | None = None, cmap: str | None = None,
                           colorbar: bool = True, audio: ArrayLike | None = None,
                           sr: int = 16000) -> Axes:
    """Encoder self-attention as a time x time heatmap with both axes in seconds (Axes-level).

    Parameters
    ----------
    grid : AttentionGrid
        ``capture(...)["encoder"]`` of Whisper, or the grid of a speech encoder
        (:func:`multiattn.adapters.speech.capture`: wav2vec2, HuBERT, WavLM...): TimeAxis on
        both sides.
    layer : int or str
        Layer index or label.
    head : int, str or "mean"
        Head, or the mean over heads.
    ax : Axes, optional
        Where to draw; default a new square figure.
    cmap : str, optional
        Colormap; default viridis for weights, RdBu_r centred on 0 for signed values.
    audio : array (samples,), optional
        The mono waveform the grid was computed on: its log-mel spectrogram is drawn above
        the heatmap on the same key-time axis (seconds).
    sr : int
        Sample rate of ``audio``.

    Returns
    -------
    Axes

    Example
    -------
    >>> ax = self_attention_heatmap(grids["encoder"], layer=0, head=2)  # doctest: +SKIP
    >>> ax = self_attention_heatmap(speech_grid, audio=mono, sr=16000)  # doctest: +SKIP
    """
    if not isinstance(grid.query, TimeAxis) or not isinstance(grid.key, TimeAxis):
        raise MultiattnValueError("self_attention_heatmap needs a grid with TimeAxis queries and keys "
                         f"(capture(...)['encoder']), got {type(grid.query).__name__} x "
                         f"{type(grid.key).__name__}")
    matrix = head_matrix(grid, layer, head)
    _, ax = get_axes(ax, figsize=(6.2, 5.2))
    scale = color_scale(matrix.values, cmap=cmap)
    mesh = ax.pcolormesh(grid.key.edges, grid.query.edges, matrix.values, shading="flat",
                         rasterized=True, **scale.imshow_kwargs())
    ax.set_xlim(grid.key.edges[0], grid.key.edges[-1])
    ax.set_ylim(grid.query.edges[-1], grid.query.edges[0])  # time runs downwards, like a matrix
    ax.set_aspect("equal")
    ax.set_xlabel("key time (s)")
    ax.set_ylabel("query time (s)")
    title = (f"encoder self-attention, {dim_title('layer', matrix.layer)}, "
             f"{dim_title('head', matrix.head)}")
    top = ax if audio is None else _spectrogram_above(ax, audio, sr, (grid.key.edges[0], grid.key.edges[-1]))
    top.set_title(title, fontsize=10)
    if colorbar:
        add_colorbar(mesh, ax, "value" if scale.signed else "attention weight", scale=scale,
                     fraction=0.046, pad=0.02, normalised=scale.centre_note or grid.meta.get(
                         "normalized", "softmax over the 30 s window, cropped"))
    return ax


def _spectrogram_above(ax: Axes, audio: ArrayLike, sr: int, span: tuple[float, float]) -> Axes:
    """The log-mel spectrogram in a strip above ``ax``, on its x axis (key time in seconds)."""
    import librosa.display

    y = np.asarray(audio, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise MultiattnValueError(f"self_attention_heatmap needs mono audio (samples,), got shape {y.shape}")
    strip = ax.inset_axes((0.0, 1.03, 1.0, 0.28), sharex=ax)
    librosa.display.specshow(_log_mel(y, sr), sr=sr, hop_length=_HOP, x_axis="time", y_axis="mel",
                             ax=strip, cmap="gray_r")
    strip.set_xlim(*span)
    strip.set_xlabel("")
    strip.set_ylabel("mel (Hz)", fontsize=7)
    strip.tick_params(labelbottom=False, labelsize=7)
    return strip
