"""``multiattn audio FILE.wav [--text "transcript"] --out DIR``: Whisper attention on speech.

Writes ``strips.png`` (spectrogram + one cross-attention strip per word), ``encoder.png`` (unless
``--no-encoder``; the last layer, mean of heads, recomputed from its queries and keys: about 0.25x a
plain transcription more on 30 s; ``--save`` keeps every layer, on eager attention, ~1x more),
``words.json`` (``[{"word", "start", "end", "confidence"}]`` in seconds) and ``words.srt``
(:func:`multiattn.renderers.writers.write_audio_report`).  With ``--text`` the transcript
is force-aligned, otherwise decoded (beam 5 by default, below); word boundaries follow Whisper's DTW recipe,
then the refinement steps (``--steps``, default ``onset,bias,snap``: see
:func:`multiattn.analysis.alignment.refine_timings`; ``--raw-timings`` keeps the recipe's boundaries).

``--beam-size N`` sets the decoding beam (default 5, 1 = greedy; see
:func:`multiattn.adapters.whisper.capture`).

``--model`` takes the embedded names (``whisper-tiny.en``, ``whisper-base``) and their short forms
``tiny.en`` / ``base`` (unless a folder of that name exists); ``small`` is refused in one line saying
why (no complete Whisper small is installable offline).

``--model DIR`` may also be a wav2vec2-family folder (wav2vec2, HuBERT, WavLM, Data2VecAudio,
UniSpeech): such an encoder has no decoder, so there is nothing to align; the command writes
``encoder.png`` (its self-attention, last layer, mean of heads, under the spectrogram) and
refuses ``--text`` in one line.
"""

from __future__ import annotations

import argparse

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audio", help="Whisper attention on a speech file: strips, words.json, SRT "
                                     "(a wav2vec2-family --model: its encoder self-attention)",
                       epilog="--model also takes the short names " + ", ".join(_SHORT_NAMES)
                              + " (small: not installable offline, the command says why)")
    p.add_argument("file", help="audio file (WAV/FLAC/OGG, any sample rate, mono or stereo)")
    p.add_argument("--text", default=None, help="transcript to force-align (default: decode)")
    p.add_argument("--raw-timings", action="store_true",
                   help="keep Whisper's DTW word boundaries (no refinement steps)")
    p.add_argument("--steps", default=None, type=_steps,
                   help="comma-separated refinement steps, in order, from onset, bias, snap, flux "
                        "(default onset,bias,snap)")
    p.add_argument("--beam-size", type=_beam_size, default=None, metavar="N",
                   help="decoding beam width, 1 = greedy (default 5 with CTranslate2, faster-whisper's "
                        "default; the Hugging Face loop is greedy); used without --text and to share "
                        "--text among the 30 s windows of long audio")
    p.add_argument("--no-encoder", action="store_true",
                   help="skip the encoder self-attention (no encoder.png, not in --save): the alignment then "
                        "costs about what plain transcription does")
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
    model, processor = multiattn.load_model(_model_name(args.model), modality="audio")
    if getattr(model.config, "model_type", None) != "whisper":
        return _speech_encoder(args, model, processor, audio)
    # encoder.png draws the last layer: only it is recomputed, unless --save asks for the whole grid
    keep_encoder = False if args.no_encoder else None if args.save else [-1]
    decoding = {} if args.beam_size is None else {"beam_size": args.beam_size}
    result = align(model, audio, processor=processor, text=args.text, snap=not args.raw_timings,
                   steps=args.steps, keep_encoder=keep_encoder, **decoding)
    for note in result["notes"] + ([] if result["words"] else ["no words found: Whisper decoded no text"]):
        print(f"note: {note}")
    _common.emit(write_audio_report(result, args.out, title=_title(result)))
    _common.save(result["grids"], args.save)
    return 0


def _title(result: dict) -> str:
    """Title of ``strips.png``, naming the model (tiny.en and base pictures look alike otherwise)."""
    from pathlib import Path

    model = Path(str(result["grids"]["cross"].meta.get("model") or "Whisper")).name
    return f"{model}: cross-attention aligned with the audio ({len(result['words'])} words)"


def _speech_encoder(args: argparse.Namespace, model: object, processor: object, audio: tuple) -> int:
    """A wav2vec2-family encoder: its self-attention under the spectrogram (no decoder, no words)."""
    from pathlib import Path

    from multiattn.adapters._whisper_decode import prepare_audio
    from multiattn.adapters.speech import capture
    from multiattn.errors import MultiattnValueError
    from multiattn.renderers.audio import self_attention_heatmap
    from multiattn.renderers.figure import save_figure

    name = type(model).__name__
    if args.text is not None:
        raise MultiattnValueError(f"{name} is a speech encoder with no decoder: there is no transcript to "
                                  "align, drop --text (or use a Whisper --model for word timings)")
    grid = capture(model, audio, processor=processor)
    print(f"note: {name} has no decoder: writing its encoder self-attention only (no words, no alignment)")
    mono, _ = prepare_audio(*audio)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ax = self_attention_heatmap(grid, layer=-1, head="mean", audio=mono, sr=16000)
    _common.emit([save_figure(ax.figure, out / "encoder.png")])
    _common.save(grid, args.save)
    return 0


#: ``--model`` short names of the Whisper sizes -> embedded names.
_SHORT_NAMES = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}


def _model_name(spec: str) -> str:
    """The embedded name of a short ``--model`` (a folder of that name wins); a size not shipped: its reason.

    Example
    -------
    >>> _model_name("base")
    'whisper-base'
    """
    from pathlib import Path

    from multiattn.errors import MultiattnValueError
    from multiattn.zoo._whisper import NOT_PACKAGED

    if Path(spec).is_dir():
        return spec
    size = spec.removeprefix("whisper-")
    if size in NOT_PACKAGED:
        raise MultiattnValueError(NOT_PACKAGED[size])
    return _SHORT_NAMES.get(spec, spec)


def _steps(value: str) -> tuple[str, ...]:
    from multiattn.analysis.alignment import STEPS

    steps = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    return steps


def _beam_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise argparse.ArgumentTypeError(f"--beam-size takes an integer >= 1 (1 = greedy), got {value!r}")
    return size
