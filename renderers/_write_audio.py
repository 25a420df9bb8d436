"""The files ``multiattn audio`` writes from :func:`multiattn.adapters.whisper.align`.

``strips.png`` (log-mel spectrogram + one cross-attention strip per word), ``encoder.png``
(encoder self-attention, last layer, mean of heads, time x time in seconds), ``words.json``
(``{"format": "multiattn.words", "version": 1, "words": [{"word", "start", "end", "confidence"}],
"notes": [...]}``, times in seconds; ``notes`` carries the alignment's warnings, e.g. a transcript that
does not fit the audio) and ``words.srt`` (subtitles).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["write_audio_report"]

_SAMPLE_RATE = 16000  # align() returns the waveform at Whisper's rate
_WORD_KEYS = ("word", "start", "end", "confidence")


def write_audio_report(result: Mapping[str, Any], out: str | Path, title: str | None = None) -> list[Path]:
    """Write ``words.json``, ``words.srt``, ``strips.png`` (when words were found) and ``encoder.png``.

    Parameters
    ----------
    result : dict
        :func:`multiattn.adapters.whisper.align` output: ``grids`` (encoder / decoder /
        cross), ``words``, ``audio`` (mono, 16 kHz) and ``notes`` (warnings, optional).
    out : str or Path
        Output folder, created if missing.
    title : str, optional
        Title of the strips figure.

    Returns
    -------
    list of Path
        Every file written.

    Examples
    --------
    >>> from multiattn.adapters.whisper import align
    >>> paths = write_audio_report(align(model, "s1.wav", processor=proc), "out")  # doctest: +SKIP
    >>> sorted(p.name for p in paths)  # doctest: +SKIP
    ['encoder.png', 'strips.png', 'words.json', 'words.srt']
    """
    from ..analysis.alignment import words_to_srt
    from .audio import alignment_strips, self_attention_heatmap
    from .figure import save_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grids, words = result["grids"], result["words"]
    public = [{k: w[k] for k in _WORD_KEYS} for w in words]
    written = [out / "words.json", out / "words.srt"]
    document = {"format": "multiattn.words", "version": 1, "words": public,
                "notes": [str(note) for note in result.get("notes", [])]}
    written[0].write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    written[1].write_text(words_to_srt(public))
    if words:
        fig = alignment_strips(grids["cross"], result["audio"], _SAMPLE_RATE, words=words, title=title)
        written.append(save_figure(fig, out / "strips.png"))
    if "encoder" in grids:  # skipped for audio too long to hold its time x time attention
        ax = self_attention_heatmap(grids["encoder"], layer=-1, head="mean")
        written.append(save_figure(ax.figure, out / "encoder.png"))
    return written
