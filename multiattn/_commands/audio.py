"""``multiattn audio FILE.wav [--text "transcript"] --out DIR``: Whisper attention on speech.

Writes ``strips.png`` (spectrogram + one cross-attention strip per word), ``encoder.png``,
``words.json`` (``[{"word", "start", "end", "confidence"}]`` in seconds) and ``words.srt``
(:func:`multiattn.renderers.writers.write_audio_report`).  With ``--text`` the transcript
is force-aligned, otherwise decoded greedily; word boundaries follow Whisper's DTW recipe,
then snap onto pauses (``--raw-timings`` keeps the recipe's boundaries).
"""

from __future__ import annotations

import argparse

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audio", help="Whisper attention on a speech file: strips, words.json, SRT")
    p.add_argument("file", help="audio file (WAV/FLAC/OGG, any sample rate, mono or stereo)")
    p.add_argument("--text", default=None, help="transcript to force-align (default: decode)")
    p.add_argument("--raw-timings", action="store_true",
                   help="keep Whisper's DTW word boundaries (no snapping onto pauses)")
    _common.add_model(p, "whisper-tiny.en", "audio")
    p.add_argument("--out", required=True, help="output folder")
    _common.add_save(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import multiattn
    from multiattn.adapters.whisper import align
    from multiattn.media import load_audio
    from multiattn.renderers.writers import write_audio_report

    audio = load_audio(args.file)  # a bad file fails before the model loads
    model, processor = multiattn.load_model(args.model, modality="audio")
    result = align(model, audio, processor=processor, text=args.text, snap=not args.raw_timings)
    for note in result["notes"] + ([] if result["words"] else ["no words found: Whisper decoded no text"]):
        print(f"note: {note}")
    _common.emit(write_audio_report(result, args.out))
    _common.save(result["grids"], args.save)
    return 0
