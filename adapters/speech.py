"""Speech encoders (wav2vec2, HuBERT, WavLM, Data2VecAudio, UniSpeech): self-attention over time.

:func:`capture` runs a Hugging Face wav2vec2-style model (the bare ``...Model`` or a head
model: ``...ForCTC``, ``...ForSequenceClassification``) on a recording and returns one
:class:`~multiattn.AttentionGrid` of the transformer encoder's self-attention over a
:class:`~multiattn.TimeAxis`.  The frames come from the convolutional feature encoder; their
hop and offset are read from its real kernels and strides, so ``axis.times`` are the centres
of the frames' receptive fields (base models at 16 kHz: 20 ms hop, first centre 12.5 ms,
25 ms field; see :mod:`multiattn.adapters._speech_frames`).  There is no decoder and no
text: for transcripts aligned with the audio use Whisper (:mod:`multiattn.adapters.whisper`).

WavLM: Hugging Face returns the mean over heads for every head (its attention runs through
``torch.nn.functional.multi_head_attention_forward``); multiattn recomputes each head with
WavLM's gated relative position bias and checks the recomputation against the model.

Families refused, with the reason in the error: SEW / SEW-D (squeezed frames), the
conformer and w2v-BERT variants, Whisper (its own adapter).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnRuntimeError

from ..grid import AttentionGrid
from . import _speech_frames as _frames

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import torch

    from .._types import AudioInput, Model, Processor

__all__ = ["capture", "prepare"]

_DEFAULT_SR = 16000


def capture(model: Model, inputs: AudioInput, *, processor: Processor = None,
            normalize: bool | None = None) -> AttentionGrid:
    """Encoder self-attention of a wav2vec2-family model on one recording.

    Parameters
    ----------
    model : transformers Wav2Vec2 / Hubert / WavLM / Data2VecAudio / UniSpeech(Sat) model
        Base or head model; switched to eager attention for the capture and restored after.
    inputs : path or (waveform, sr)
        An audio file (any format :func:`multiattn.media.load_audio` reads) or a waveform
        with its sample rate; mixed to mono and resampled to the model's rate (16 kHz).
    processor : Wav2Vec2FeatureExtractor or Wav2Vec2Processor, optional
        Builds ``input_values`` (its ``do_normalize`` applies).  Default: the waveform
        normalised to zero mean and unit variance, as the feature extractor does.
    normalize : bool, optional
        With ``processor=None``: ``False`` feeds the raw samples.

    Returns
    -------
    AttentionGrid
        ``(L, H, T, T)`` over a TimeAxis; ``T`` frames of the conv encoder, every row a
        softmax over all ``T`` frames (sums to 1).  ``meta`` has ``family``, ``sample_rate``,
        ``receptive_field_s``, ``duration_s``, ``input`` (how the waveform was fed), ``notes``.

    Raises
    ------
    ValueError
        Unsupported model (the message names the family and why), bad or silent audio.

    Examples
    --------
    >>> grid = capture(model, "speech.wav")  # doctest: +SKIP
    >>> grid.shape, grid.query.hop_s  # 2 s of audio: 99 frames of 20 ms  # doctest: +SKIP
    ((12, 12, 99, 99), 0.02)
    """
    import torch

    from .._memory import check_fits
    from ._hf import eager_attention, eval_mode, require_attentions
    from ._speech_wavlm import wavlm_heads

    family = _frames.family(model)
    values, how, sr, notes, duration = _inputs(model, inputs, processor, normalize)
    n_frames = _frames.frame_count(model, values.shape[-1], sr)
    config = model.config
    check_fits(2 * 4 * config.num_hidden_layers * config.num_attention_heads * n_frames**2,
               f"speech encoder attention over {n_frames} frames")
    store: list[torch.Tensor] = []
    with eval_mode(model), torch.no_grad(), eager_attention(model):
        if family == "wavlm":
            with wavlm_heads(model, store):
                model(input_values=values)
        else:
            store = list(model(input_values=values, output_attentions=True).attentions or [])
    attentions = require_attentions(store, "encoder", model)
    grid_values = np.stack([a[0].float().numpy() for a in attentions])
    if grid_values.shape[-1] != n_frames:
        raise MultiattnRuntimeError(
            f"{type(model).__name__} attends over {grid_values.shape[-1]} frames, its conv stack gives "
            f"{n_frames}; the frame times cannot be placed (a front end multiattn does not know)")
    meta = _meta(model, family, sr, duration, how, notes)
    return AttentionGrid(grid_values, _frames.time_axis(model, n_frames, sr),
                         layers=[f"encoder.{i}" for i in range(len(attentions))], kind="self", meta=meta)


def _meta(model: Model, family: str, sr: int, duration: float, how: str, notes: list[str]) -> dict:
    """What the grid is: model, family, rates, how the waveform was fed, notes."""
    if family == "wavlm":
        notes = [*notes, "per-head weights recomputed with the gated relative position bias "
                 "(Hugging Face returns the head mean)"]
    return {"model": getattr(model.config, "_name_or_path", "") or type(model).__name__, "family": family,
            "source": "multiattn.adapters.speech.capture", "sample_rate": sr, "duration_s": duration,
            "receptive_field_s": _frames.conv_geometry(model)["field"] / sr, "input": how, "notes": notes,
            "normalized": "softmax over all frames (rows sum to 1)"}


def prepare(model: Model, inputs: AudioInput, *, processor: Processor = None,
            normalize: bool | None = None) -> dict[str, torch.Tensor]:
    """The forward pass's keyword arguments ``{"input_values": (1, samples)}``, as :func:`capture` feeds them.

    Example
    -------
    >>> prepare(model, (np.random.randn(16000), 16000))["input_values"].shape  # doctest: +SKIP
    torch.Size([1, 16000])
    """
    _frames.family(model)
    values, *_ = _inputs(model, inputs, processor, normalize)
    return {"input_values": values}


def _inputs(model: Model, inputs: AudioInput, processor: Processor, normalize: bool | None,
            ) -> tuple[torch.Tensor, str, int, list[str], float]:
    """Model input, how it was made, sample rate, notes about the audio, duration in seconds."""
    from ._whisper_decode import prepare_audio
    from .whisper import audio_input

    extractor = getattr(processor, "feature_extractor", processor)
    sr = int(getattr(extractor, "sampling_rate", None) or _DEFAULT_SR)
    wave, rate = audio_input(inputs)
    mono, notes = prepare_audio(wave, rate)  # mono float32 at 16 kHz, silence refused
    if sr != _DEFAULT_SR:
        from .._audio import resample

        mono = resample(mono, _DEFAULT_SR, sr)
    values, how = _frames.input_values(mono, sr, processor, normalize)
    return values, how, sr, list(notes), len(mono) / sr

