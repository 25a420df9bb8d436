"""Whisper: encoder, decoder and cross-attention aligned with the audio.

:func:`capture` runs a Hugging Face ``WhisperForConditionalGeneration`` on a
waveform and returns three :class:`~multiattn.AttentionGrid` objects:

- ``"encoder"``: encoder self-attention over a :class:`~multiattn.TimeAxis`
  (20 ms per encoder frame: frame ``k`` covers ``20k .. 20(k+1)`` ms);
- ``"decoder"``: decoder self-attention over a :class:`~multiattn.TokenAxis`;
- ``"cross"``: cross-attention, tokens (queries) x encoder frames (keys): the
  text-audio alignment.

Every grid is cropped to the frames that cover the real audio; the padding of
Whisper's 30 s window is dropped, so cross-attention rows sum to less than one
(``meta["normalized"]`` says so).  With ``text`` the transcript is
teacher-forced (forced alignment); without it the model decodes greedily.
Audio longer than 30 s is cut into consecutive 30 s windows (shown with a
progress bar) whose frames are stitched onto one time axis.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnTypeError, MultiattnValueError, MultiattnWarning

from .._audio import load_audio
from ..axes import TimeAxis
from ..grid import AttentionGrid
from ..gridset import GridSet
from . import _whisper_decode as _wd
from ._hf import require_attentions
from ._whisper_decode import FRAME_S, SAMPLE_RATE, prepare_audio

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import torch

    from .._types import AudioInput, Model, Processor

__all__ = ["transcribe", "capture", "prepare", "align"]

def capture(model: Model, inputs: AudioInput, *, processor: Processor = None, text: str | None = None,
            max_new_tokens: int = _wd.MAX_NEW_TOKENS, keep_encoder: bool | Sequence[int] = True,
            progress: bool = True, beam_size: int | None = None,
            timestamps: bool = _wd.TIMESTAMPS) -> GridSet:
    """Capture Whisper's encoder, decoder and cross-attention for one recording.

    Parameters
    ----------
    model : transformers.WhisperForConditionalGeneration
        E.g. ``multiattn.load_model("whisper-tiny.en")``; switched to eager attention for
        the capture and restored afterwards.
    inputs : path or (waveform, sr)
        An audio file (any format :func:`load_audio` reads) or a waveform with its sample
        rate: mono ``(samples,)`` or stereo (mixed down), float or integer PCM, resampled
        to 16 kHz.
    processor : transformers.WhisperProcessor
        Required: the log-mel feature extractor and the tokenizer.
    text : str, optional
        Transcript to align (teacher forcing). Default: the decoding (``beam_size``). For audio longer than
        30 s each window is decoded first and the transcript's words are shared among the
        windows by matching them to those decodings (a word cut by a window edge goes to one
        side).
    max_new_tokens : int
        Decoding limit per 30 s window.
    keep_encoder : bool or sequence of int
        Set False to skip the encoder grid (long audio: it grows with the square of the frames);
        True keeps every layer (the encoder then runs on eager attention); a sequence of layer
        indices keeps only those (e.g. ``[-1]``, what ``multiattn audio`` draws): the encoder stays
        on SDPA and each kept layer is recomputed from its queries and keys, equal to eager
        attention to float32 round-off at a fraction of its cost.
    progress : bool
        Show a tqdm bar when there is more than one window.
    beam_size : int, optional
        Decoding (without ``text``, and to share a transcript among windows): 1 is greedy, more is
        beam search (CTranslate2 only). Default: 5 when CTranslate2 decodes (faster-whisper's
        default), greedy in the Hugging Face loop.
    timestamps : bool
        Decode in Whisper's timestamp mode (as faster-whisper's ``transcribe`` does by default): the
        timestamp tokens condition the text and are dropped; the teacher-forced forward that gives the
        attention is the same either way.

    Returns
    -------
    GridSet
        ``"encoder"`` ``(L, H, T, T)`` over a TimeAxis (20 ms frames); ``"decoder"``
        ``(L, H, N, N)`` over a TokenAxis (``<|startoftranscript|>``, ``<|notimestamps|>``, text
        tokens, ``<|endoftext|>`` per window); ``"cross"`` ``(L, H, N, T)``. Each grid's ``meta``
        has ``text``, ``token_probs`` (probability of each token given the previous ones),
        ``alignment_heads``, ``duration_s``, ``notes`` (warnings) and, with ``text``,
        ``transcript_match`` (mean token probability of the transcript).

    Raises
    ------
    ValueError
        Bad audio (see :func:`prepare_audio`), empty text, more than 445 tokens in a window.

    Example
    -------
    >>> grids = capture(model, (audio, 16000), processor=processor)  # doctest: +SKIP
    >>> grids["cross"].shape  # 4 layers, 6 heads, 14 tokens, 172 frames of 20 ms  # doctest: +SKIP
    (4, 6, 14, 172)
    """
    from tqdm.auto import tqdm

    _wd.check_model(model)
    _check_processor(processor)
    beam = _wd.check_beam_size(beam_size) or (_wd.BEAM_SIZE if _wd.ct2_engine(model) is not None else 1)
    mono, notes = prepare_audio(*audio_input(inputs))
    windows = _wd.windows(mono)
    tokenizer = processor.tokenizer
    eot = model.generation_config.eos_token_id
    if text is not None:
        _wd.text_tokens(tokenizer, text)  # validates: refuses empty text early
    encoder_layers = _kept_layers(model, keep_encoder)
    if encoder_layers and len(windows) > 1:
        from .._memory import check_fits

        frames = math.ceil(len(mono) / (FRAME_S * SAMPLE_RATE))
        check_fits(_encoder_nbytes(model, len(mono), len(encoder_layers)),
                   f"stitched encoder attention over {frames} frames (pass keep_encoder=False to skip it)")
    mels = _wd.window_features(processor, mono)
    bar = tqdm(list(zip(windows, mels)), desc="whisper windows", unit="window",
               disable=not progress or len(windows) == 1)
    encoded = []  # (encoder output, encoder attention or None, frames of audio) per window
    for window, window_mel in bar:  # the encoder runs once per window: decoding reuses its output
        wanted = bool(encoder_layers) if len(encoder_layers) in (0, model.config.encoder_layers) \
            else encoder_layers
        encoder_out = _wd.encode(model, window_mel, attentions=wanted)
        n_frames = math.ceil(len(window) / (FRAME_S * SAMPLE_RATE))
        enc = None
        if encoder_layers:
            enc = np.stack([a[0, :, :n_frames, :n_frames].float().numpy() for a in
                            require_attentions(encoder_out.attentions, "encoder", model)])
        encoded.append((encoder_out.last_hidden_state, enc, n_frames))
    decoded_tokens: list[list[int]] = []
    if text is None or len(windows) > 1:
        decoded_tokens = _wd.decode_encoded(model, [hidden for hidden, *_ in encoded], max_new_tokens,
                                            beam, timestamps)
    if text is None:
        window_tokens = decoded_tokens
    elif len(windows) == 1:
        window_tokens = [_wd.text_tokens(tokenizer, text)]
    else:
        decoded = [tokenizer.decode(tokens) for tokens in decoded_tokens]
        window_tokens = [tokenizer(" " + " ".join(words), add_special_tokens=False).input_ids
                         if words else []
                         for words in _wd.split_transcript(str(text).split(), decoded)]
    limit = model.config.max_target_positions - 3
    if any(len(tokens) > limit for tokens in window_tokens):
        raise MultiattnValueError(
            f"transcript has {max(map(len, window_tokens))} tokens for one 30 s window; "
            f"Whisper's decoder takes at most {limit}"
        )
    parts = []
    for (hidden, enc, n_frames), tokens in zip(encoded, window_tokens):
        parts.append({**_wd.forced(model, hidden, tokens, n_frames), "encoder": enc})
    ids = [i for p in parts for i in p["ids"]]
    token_axis, decoded_text = _wd.token_axis(tokenizer, ids, eot)
    time_axis = TimeAxis(sum(p["cross"].shape[-1] for p in parts), FRAME_S)
    probs = [q for p in parts for q in p["token_probs"]]
    meta = {
        "model": getattr(model.config, "_name_or_path", "") or type(model).__name__,
        "source": "multiattn.adapters.whisper.capture",
        "text": decoded_text,
        "mode": "forced" if text is not None else "greedy" if beam == 1 else "beam",
        "beam_size": beam,
        "timestamps": bool(timestamps),
        "token_probs": probs,
        "alignment_heads": [list(map(int, h)) for h in
                            (getattr(model.generation_config, "alignment_heads", None) or [])],
        "duration_s": len(mono) / SAMPLE_RATE,
        "windows": len(windows),
        "notes": list(notes),
    }
    if text is not None:
        text_probs = [q for q, special in zip(probs, token_axis.specials) if not special]
        meta["transcript_match"] = float(np.mean(text_probs)) if text_probs else 0.0
        if meta["transcript_match"] < _wd.MISMATCH_PROB:
            note = (f"the transcript does not seem to match the speech (mean token probability "
                    f"{meta['transcript_match']:.3f}); word timings will be unreliable")
            meta["notes"].append(note)
            warnings.warn(note, MultiattnWarning, stacklevel=2)
    layers_dec = [f"decoder.{i}" for i in range(model.config.decoder_layers)]
    cropped = "softmax over the 30 s window, cropped to the audio frames (rows sum to <= 1)"
    grids = {} if not encoder_layers else {"encoder": AttentionGrid(
        _wd.block_diagonal([p["encoder"] for p in parts]), time_axis,
        layers=[f"encoder.{i}" for i in encoder_layers], kind="self",
        meta={**meta, "normalized": cropped}, check_rows=False)}
    grids |= {
        "decoder": AttentionGrid(_wd.block_diagonal([p["decoder"] for p in parts]), token_axis,
                                 layers=layers_dec, kind="self", meta=dict(meta), check_rows=False),
        "cross": AttentionGrid(_wd.block_diagonal([p["cross"] for p in parts]), token_axis, time_axis,
                               layers=layers_dec, kind="cross",
                               meta={**meta, "normalized": cropped}, check_rows=False),
    }
    return GridSet(grids, meta=meta)


def transcribe(model: Model, inputs: AudioInput, *, processor: Processor = None,
               max_new_tokens: int = _wd.MAX_NEW_TOKENS, beam_size: int | None = None,
               timestamps: bool = _wd.TIMESTAMPS) -> str:
    """Plain transcription (no attention captured): the baseline of the benchmark.

    Decoded by CTranslate2 when the model was converted from a CTranslate2 folder and
    ``ctranslate2`` is installed, else by the Hugging Face decoder loop (greedy only);
    ``beam_size`` and ``timestamps`` as in :func:`capture`.

    Example
    -------
    >>> transcribe(model, (audio, 16000), processor=processor)  # doctest: +SKIP
    ' The quick brown fox jumps over the lazy dog.'
    """
    _wd.check_model(model)
    _check_processor(processor)
    mono, _ = prepare_audio(*audio_input(inputs))
    engine = _wd.ct2_engine(model)
    if engine is not None:
        mels = _wd.window_features(processor, mono)
        tokens = _wd.decode_ct2(engine, model, mels, max_new_tokens, beam_size, timestamps)
        return "".join(processor.tokenizer.decode(t) for t in tokens)
    _wd.require_greedy(beam_size, timestamps)
    pieces = []
    for window_mel in _wd.window_features(processor, mono):
        encoder_out = _wd.encode(model, window_mel, attentions=False)
        pieces.append(processor.tokenizer.decode(_wd.greedy(model, encoder_out, max_new_tokens)))
    return "".join(pieces)


def prepare(model: Model, inputs: AudioInput, *, processor: Processor = None, text: str | None = None,
            max_new_tokens: int = _wd.MAX_NEW_TOKENS, beam_size: int | None = None,
            timestamps: bool = _wd.TIMESTAMPS) -> dict[str, torch.Tensor]:
    """The forward pass's keyword arguments for one 30 s window: log-mel features and decoder ids.

    The decoder ids are the prompt, the transcript's tokens (``text``) or the decoding
    (``beam_size``, ``timestamps`` as in :func:`capture`), and end-of-text, as :func:`capture`
    feeds them.

    Example
    -------
    >>> batch = prepare(model, "speech.wav", processor=processor)  # doctest: +SKIP
    >>> batch["input_features"].shape, batch["decoder_input_ids"].shape  # doctest: +SKIP
    (torch.Size([1, 80, 3000]), torch.Size([1, 14]))
    """
    import torch

    _wd.check_model(model)
    _check_processor(processor)
    mono, _ = prepare_audio(*audio_input(inputs))
    windows = _wd.windows(mono)
    if len(windows) > 1:
        raise MultiattnValueError(
            f"the audio is {len(mono) / SAMPLE_RATE:.1f} s long; streaming takes one 30 s "
                         "window: cut it, or use capture(..., keep_encoder=False) for long audio")
    features = _wd.window_features(processor, mono)[0]
    if text is None:
        hidden = _wd.encode(model, features, attentions=False).last_hidden_state
        tokens = _wd.decode_encoded(model, [hidden], max_new_tokens, beam_size, timestamps)[0]
    else:
        tokens = _wd.text_tokens(processor.tokenizer, text)
    ids = _wd.prompt(model) + tokens + [model.generation_config.eos_token_id]
    return {"input_features": features, "decoder_input_ids": torch.tensor([ids])}


def audio_input(inputs: AudioInput) -> tuple[np.ndarray, int]:
    """``path`` -> :func:`load_audio`; ``(waveform, sr)`` -> as is; anything else: a clear error.

    Example
    -------
    >>> wave, sr = audio_input((np.zeros(1600, np.float32), 16000)); wave.shape, sr
    ((1600,), 16000)
    """
    if isinstance(inputs, (str, Path)):
        return load_audio(inputs)
    if isinstance(inputs, (tuple, list)) and len(inputs) == 2 and not isinstance(inputs[1], (list, tuple)):
        wave, sr = inputs
        if isinstance(sr, (int, np.integer)) and not isinstance(sr, bool):
            return np.asarray(wave) if not hasattr(wave, "numpy") else wave.numpy(), int(sr)
    raise MultiattnTypeError(
        "audio inputs must be a file path or a (waveform, sample_rate) pair, e.g. (wave, 16000); "
        f"got {type(inputs).__name__}" + (" (a bare waveform: add its sample rate)"
                                           if hasattr(inputs, "shape") else "")
    )


def _check_processor(processor: Processor) -> None:
    if processor is None or not hasattr(processor, "tokenizer"):
        raise MultiattnValueError("Whisper needs its WhisperProcessor (feature extractor + tokenizer): pass "
                         "processor=...; multiattn.load_model(...) returns it with the model")


def align(model: Model, inputs: AudioInput, *, processor: Processor = None, text: str | None = None,
          snap: bool = True, keep_encoder: bool | Sequence[int] | None = None,
          steps: Sequence[str] | None = None, beam_size: int | None = None,
          timestamps: bool = _wd.TIMESTAMPS) -> dict[str, Any]:
    """Word timings of a recording: capture, Whisper's DTW recipe, then named refinement steps.

    Parameters
    ----------
    model, inputs, processor, text
        As in :func:`capture`: a path or ``(waveform, sr)``; with ``text`` the transcript is
        force-aligned, otherwise Whisper decodes it greedily.
    snap : bool
        ``False`` keeps the boundaries of Whisper's recipe (no refinement: ``steps=()``).
    steps : sequence of str, optional
        Refinement steps of :func:`multiattn.analysis.alignment.refine_timings`, in order;
        default ``DEFAULT_STEPS`` (``"onset"``: first word of each 30 s window at the speech onset;
        ``"bias"``: the lateness of cross-attention removed, as calibrated for the model in
        ``model.generation_config.multiattn_timing_bias_s`` (skipped, with a note, for a model
        without one); ``"snap"``: boundaries onto pauses). ``benchmarks/bench_speech_timing.py``
        measures each.
    keep_encoder : bool or sequence of int, optional
        Keep the encoder self-attention grid: every layer, or the listed layers (see
        :func:`capture`; ``[-1]`` is what ``multiattn audio`` draws).  Default (None): every
        layer when it fits in memory (it grows with the square of the audio length); a grid that
        does not fit (default or a layer list) is skipped with a note in ``result["notes"]`` and
        the word timings are computed all the same.
    beam_size, timestamps
        Decoding options of :func:`capture` (``multiattn audio --beam-size``).

    Returns
    -------
    dict
        ``"grids"``: the :class:`~multiattn.GridSet` of :func:`capture` (encoder / decoder /
        cross); ``"words"``: ``[{"word", "start", "end", "confidence", ...}]`` in seconds;
        ``"audio"``: the mono 16 kHz float32 waveform the times refer to; ``"steps"``: the
        refinement steps applied; ``"notes"``: warnings.

    Examples
    --------
    >>> result = align(model, "speech.wav", processor=processor)  # doctest: +SKIP
    >>> [w["word"] for w in result["words"]][:3], result["audio"].dtype  # doctest: +SKIP
    (['The', 'quick', 'brown'], dtype('float32'))
    """
    from ..analysis.alignment import DEFAULT_STEPS, refine_timings, word_timings

    audio, sr = audio_input(inputs)
    mono, _ = prepare_audio(audio, sr)
    notes = []
    if keep_encoder is not True and keep_encoder is not False:
        layers = None if keep_encoder is None else len(_kept_layers(model, keep_encoder))
        if keep_encoder is None:
            keep_encoder = True
        if not _encoder_fits(model, len(mono), layers):
            keep_encoder = False
            notes.append(f"the encoder self-attention of {len(mono) / SAMPLE_RATE:.0f} s of audio does not "
                         "fit in memory; it was skipped (word timings use the cross-attention only)")
    grids = capture(model, (audio, sr), processor=processor, text=text, keep_encoder=keep_encoder,
                    beam_size=beam_size, timestamps=timestamps)
    words = word_timings(grids["cross"])
    chosen = tuple(DEFAULT_STEPS if steps is None else steps) if snap else ()
    bias = getattr(model.generation_config, "multiattn_timing_bias_s", None)
    if bias is None and "bias" in chosen:  # calibrated per model: none known for this one
        chosen = tuple(step for step in chosen if step != "bias")
        notes.append("no timing bias is calibrated for this model: the 'bias' step was skipped")
    if chosen:
        words = refine_timings(words, mono, SAMPLE_RATE, steps=chosen, bias_s=bias or 0.0)
    misfit = _transcript_misfit(words, len(mono) / SAMPLE_RATE) if text is not None else None
    if misfit:
        notes.append(misfit)
        warnings.warn(misfit, MultiattnWarning, stacklevel=2)
    return {"grids": grids, "words": words, "audio": mono, "notes": notes, "steps": list(chosen)}


#: Faster than any read speech (fast speakers reach ~4.5 words/s): the transcript holds words not spoken.
_MAX_WORDS_PER_S = 6.5
#: Share of words the alignment squeezed into under 30 ms: the transcript does not fit the audio.
_MAX_SQUEEZED_SHARE = 0.25


def _transcript_misfit(words: list[dict], duration_s: float) -> str | None:
    """A sentence saying why a forced transcript does not fit the audio, or None when it does."""
    if not words or duration_s <= 0:
        return None
    rate = len(words) / duration_s
    squeezed = sum((w["end"] - w["start"]) < 0.03 for w in words) / len(words)
    if rate <= _MAX_WORDS_PER_S and squeezed <= _MAX_SQUEEZED_SHARE:
        return None
    return (f"the transcript does not fit the audio: {len(words)} words in {duration_s:.1f} s "
            f"({rate:.1f} words/s), {squeezed:.0%} of them squeezed under 30 ms; word timings are unreliable "
            "(is it the transcript of this recording?)")


def _kept_layers(model: Model, keep_encoder: bool | Sequence[int]) -> list[int]:
    """The encoder layers ``keep_encoder`` asks for: none, all, or the given indices (checked)."""
    if keep_encoder is True or keep_encoder is False:
        return list(range(model.config.encoder_layers)) if keep_encoder else []
    if isinstance(keep_encoder, (str, bytes)) or not isinstance(keep_encoder, Sequence):
        raise MultiattnTypeError(
            f"keep_encoder takes True, False or a list of encoder layer indices, got {keep_encoder!r}")
    return _wd.encoder_layers(model, keep_encoder)


def _encoder_nbytes(model: Model, n_samples: int, layers: int | None = None) -> int:
    """Bytes of the stitched float32 encoder grid (``layers`` of them; default all) of 16 kHz audio."""
    frames = math.ceil(n_samples / (FRAME_S * SAMPLE_RATE))
    layers = model.config.encoder_layers if layers is None else layers
    return 4 * layers * model.config.encoder_attention_heads * frames**2


def _encoder_fits(model: Model, n_samples: int, layers: int | None = None) -> bool:
    """Whether the stitched encoder grid of ``n_samples`` of 16 kHz audio fits the memory guard."""
    from .._memory import AttentionTooLargeError, check_fits

    try:
        check_fits(_encoder_nbytes(model, n_samples, layers), "encoder attention")
    except AttentionTooLargeError:
        return False
    return True
