"""Speech encoders (wav2vec2 family): which models, their frame times, their input waveform.

A wav2vec2-style encoder turns the waveform into frames with a stack of 1-D convolutions
(base: kernels ``10, 3, 3, 3, 3, 2, 2``, strides ``5, 2, 2, 2, 2, 2, 2``).  Frame ``i`` sees
the samples ``i * jump - pad .. i * jump - pad + field`` where ``jump`` is the product of the
strides, ``field = 1 + sum_l (k_l - 1) * prod_{m<l} s_m`` the receptive field and ``pad``
the padding carried back to the input (0 for these models).  Its centre is the frame's time:
``TimeAxis(n, hop_s=jump / sr, offset_s=(field - jump) / 2 / sr - pad / sr)``, whose
``times[i] = (i * jump - pad + field / 2) / sr`` (base at 16 kHz: 20 ms hop, 12.5 ms first
centre, 25 ms field).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import torch

    from .._types import Model, Processor
    from ..axes import TimeAxis

__all__ = ["FAMILIES", "REFUSED", "conv_geometry", "family", "frame_count", "input_values", "time_axis"]

#: ``config.model_type`` of the encoders :mod:`multiattn.adapters.speech` captures.
FAMILIES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "unispeech", "unispeech-sat")

#: Speech models with a conv front end that are refused, and why.
REFUSED = {
    "sew": "SEW squeezes the frames before attention (not yet mapped onto the time axis)",
    "sew-d": "SEW-D squeezes the frames and uses disentangled attention (not yet mapped)",
    "wav2vec2-conformer": "its conformer attention is not checked against an eager reference yet",
    "wav2vec2-bert": "it attends over log-mel features (a different front end), not conv frames",
    "whisper": "Whisper is an encoder-decoder: use multiattn.adapters.whisper (multiattn.capture routes it)",
}


def family(model: Model) -> str:
    """``config.model_type`` of a supported speech encoder, or a one-line refusal."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type in FAMILIES:
        return model_type
    why = REFUSED.get(model_type, "not a wav2vec2-style speech encoder")
    raise MultiattnValueError(
        f"speech.capture does not take {type(model).__name__} (model_type={model_type!r}): {why}; "
        f"supported: {', '.join(FAMILIES)}")


def conv_geometry(model: Model) -> dict[str, int]:
    """``{"field", "jump", "pad"}`` in samples, read from the feature encoder's real Conv1d layers.

    Example
    -------
    >>> conv_geometry(wav2vec2_base)  # doctest: +SKIP
    {'field': 400, 'jump': 320, 'pad': 0}
    """
    import torch

    encoder = getattr(model.base_model, "feature_extractor", None)
    convs = [m for m in encoder.modules() if isinstance(m, torch.nn.Conv1d)] if encoder is not None else []
    if not convs:
        raise MultiattnValueError(
            f"{type(model).__name__} has no convolutional feature encoder (base_model.feature_extractor); "
            "cannot place its frames in time")
    field, jump, pad = 1, 1, 0
    for conv in convs:
        if conv.dilation[0] != 1 or not isinstance(conv.padding, tuple):
            raise MultiattnValueError(f"feature encoder conv {conv} is dilated or padded by name; "
                                      "its frame times are not mapped")
        field += (conv.kernel_size[0] - 1) * jump
        pad += conv.padding[0] * jump
        jump *= conv.stride[0]
    return {"field": field, "jump": jump, "pad": pad}


def frame_count(model: Model, n_samples: int, sr: int) -> int:
    """Frames of ``n_samples`` (the floors of a conv stack compose); shorter than one field: refused.

    Example
    -------
    >>> frame_count(wav2vec2_base, 16000, 16000)  # doctest: +SKIP
    49
    """
    geo = conv_geometry(model)
    n_frames = (n_samples + 2 * geo["pad"] - geo["field"]) // geo["jump"] + 1
    if n_frames < 1:
        raise MultiattnValueError(
            f"{n_samples / sr * 1000:.1f} ms of audio is shorter than one frame's receptive field "
            f"({geo['field'] / sr * 1000:.0f} ms); pass a longer recording")
    return n_frames


def time_axis(model: Model, n_frames: int, sr: int) -> TimeAxis:
    """The frames' TimeAxis: hop and offset so ``times`` are the receptive-field centres.

    Example
    -------
    >>> time_axis(wav2vec2_base, 49, 16000).times[:2]  # doctest: +SKIP
    array([0.0125, 0.0325])
    """
    from ..axes import TimeAxis

    geo = conv_geometry(model)
    return TimeAxis(n_frames, geo["jump"] / sr, (geo["field"] - geo["jump"]) / 2 / sr - geo["pad"] / sr)


def input_values(wave: np.ndarray, sr: int, processor: Processor, normalize: bool | None,
                 ) -> tuple[torch.Tensor, str]:
    """``(1, samples)`` model input and how it was made (the processor, or normalised or raw samples)."""
    import torch

    if processor is not None:
        extractor = getattr(processor, "feature_extractor", processor)
        if normalize is not None:
            raise MultiattnValueError("normalize= is for processor=None; the processor decides its own "
                                      "normalisation (its do_normalize)")
        values = extractor(wave, sampling_rate=sr, return_tensors="pt")["input_values"]
        flag = getattr(extractor, "do_normalize", "?")
        return values.float(), f"{type(extractor).__name__}(do_normalize={flag})"
    if normalize is False:
        return torch.from_numpy(np.ascontiguousarray(wave, np.float32))[None], "raw waveform"
    centred = wave - wave.mean()
    scaled = centred / np.sqrt(centred.var() + 1e-7)  # Wav2Vec2FeatureExtractor's do_normalize
    return torch.from_numpy(scaled.astype(np.float32))[None], "zero-mean unit-variance waveform"
