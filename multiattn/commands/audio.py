"""``multiattn audio FILE.wav [--text "transcript"] --out DIR``: Whisper attention on speech.

Writes, for one recording, with the embedded Whisper tiny.en:

- ``strips.png``: log-mel spectrogram + one cross-attention strip per word, word spans marked,
- ``encoder.png``: encoder self-attention (last layer, mean of heads), time x time in seconds,
- ``words.json``: ``[{"word", "start", "end", "confidence"}, ...]`` in seconds,
- ``words.srt``: subtitles from the word timings.

With ``--text`` the transcript is force-aligned; otherwise Whisper decodes it greedily. Word
boundaries follow Whisper's DTW recipe, then snap onto pauses in the waveform
(``--raw-timings`` keeps the recipe's boundaries).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import GalleryItem

__all__ = ["GALLERY_ORDER", "gallery", "register", "run", "align_file", "write_audio_report"]

GALLERY_ORDER = 40
_GALLERY_SAMPLE = "s1"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audio", help="Whisper attention on a speech file: strips, words.json, SRT")
    p.add_argument("file", help="audio file (WAV/FLAC/OGG, any sample rate, mono or stereo)")
    p.add_argument("--text", default=None, help="transcript to force-align (default: decode)")
    p.add_argument("--raw-timings", action="store_true",
                   help="keep Whisper's DTW word boundaries (no snapping onto pauses)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run)


def align_file(path: str | Path, text: str | None = None, snap: bool = True) -> dict[str, Any]:
    """Capture, time the words and return everything the report needs.

    Returns
    -------
    dict
        ``grids`` (capture output), ``words`` (with token indices), ``audio`` (mono 16 kHz).

    Example
    -------
    >>> result = align_file("speech.wav")  # doctest: +SKIP
    >>> [w["word"] for w in result["words"]][:3]  # doctest: +SKIP
    ['The', 'quick', 'brown']
    """
    from ..adapters.whisper import SAMPLE_RATE, capture, load_audio, prepare_audio
    from ..analysis.alignment import snap_to_energy, word_timings
    from ..zoo.whisper import whisper_tiny_en

    audio, sr = load_audio(path)
    model, processor = whisper_tiny_en()
    grids = capture(model, processor, audio, sr, text=text)
    mono, _ = prepare_audio(audio, sr)
    words = word_timings(grids["cross"])
    if snap:
        words = snap_to_energy(words, mono, SAMPLE_RATE)
    return {"grids": grids, "words": words, "audio": mono}


def write_audio_report(result: dict[str, Any], out: Path, title: str | None = None) -> list[Path]:
    """Write ``strips.png``, ``encoder.png``, ``words.json`` and ``words.srt`` into ``out``."""
    from ..adapters.whisper import SAMPLE_RATE
    from ..analysis.alignment import words_to_srt
    from ..renderers._style import save_figure
    from ..renderers.audio import alignment_strips, self_attention_heatmap

    out.mkdir(parents=True, exist_ok=True)
    grids, words = result["grids"], result["words"]
    public = [{k: w[k] for k in ("word", "start", "end", "confidence")} for w in words]
    written = [out / "words.json", out / "words.srt"]
    written[0].write_text(json.dumps(public, indent=1) + "\n")
    written[1].write_text(words_to_srt(public))
    if words:
        fig = alignment_strips(grids["cross"], result["audio"], SAMPLE_RATE, words=words, title=title)
        written.append(save_figure(fig, out / "strips.png"))
    ax = self_attention_heatmap(grids["encoder"], layer=-1, head="mean")
    written.append(save_figure(ax.figure, out / "encoder.png"))
    return written


def run(args: argparse.Namespace) -> int:
    result = align_file(args.file, args.text, snap=not args.raw_timings)
    if not result["words"]:
        print("no words found: Whisper decoded no text from this audio")
    for path in write_audio_report(result, Path(args.out)):
        print(path)
    return 0


def gallery(out_dir: Path) -> list[GalleryItem]:
    """Strips and encoder self-attention for a speech sample with exact ground truth."""
    from importlib.resources import files

    sample = Path(str(files("multiattn.media_samples") / "speech" / f"{_GALLERY_SAMPLE}.wav"))
    truth = json.loads((sample.parent / "ground_truth.json").read_text())
    text = next(t["text"] for t in truth if t["file"] == sample.name)
    result = align_file(sample, text=text)
    from ..renderers._style import save_figure
    from ..renderers.audio import word_links

    paths = write_audio_report(result, Path(out_dir), title=f"Whisper tiny.en forced alignment: "
                               f"\"{text}\" (espeak-ng, {sample.name})")
    paths.append(save_figure(word_links(result["grids"]["cross"], result["audio"],
                                        words=result["words"]), Path(out_dir) / "links.png"))
    section = "Speech (Whisper tiny.en)"
    by_name = {p.name: p for p in paths}
    return [
        GalleryItem(section, "Cross-attention strips under the spectrogram", by_name["strips.png"],
                    "Each strip: the alignment heads' cross-attention while Whisper produces that "
                    "word, on the spectrogram's time axis. Solid red = word start, dotted = end "
                    "(DTW on the alignment heads, snapped onto pauses); green boxes = the same spans."),
        GalleryItem(section, "Words linked to the frames they attend to", by_name["links.png"],
                    "Lines from each word to its 2 strongest frames (alignment heads, row that "
                    "predicts the word); words coloured by confidence. The predicting row often "
                    "already looks at the start of the next word."),
        GalleryItem(section, "Encoder self-attention (time x time)", by_name["encoder.png"],
                    "Last encoder layer, mean of 6 heads, cropped to the audio (30 s padding dropped)."),
        GalleryItem(section, "Word timings (words.json)", by_name["words.json"],
                    "word, start, end (seconds), confidence (mean token probability)."),
    ]
