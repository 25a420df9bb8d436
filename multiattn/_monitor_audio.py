"""Whisper under the monitor: encoder, decoder and cross-attention records, and the cross statistics.

One forward of ``WhisperForConditionalGeneration`` (teacher-forced, or each step of
``generate``) gives up to three records per item, labelled by attention type:

- ``audio-encoder``: encoder self-attention; queries are the encoder frames that cover the
  real audio (20 ms each; the zero padding of the 30 s window is found from the log-mel
  features, whose padded columns are all equal to the last one), keys all 1 500 frames;
  ``mean_distance`` in frames.
- ``audio-decoder``: decoder self-attention over the decoder tokens, as for text (special
  tokens from the tokenizer; Whisper's pad id is its end-of-text, so no padding share).
- ``audio-cross``: cross-attention, decoder tokens × encoder frames, with its own statistics
  (:data:`CROSS_STATISTICS`): ``entropy`` / ``norm_entropy`` / ``top5`` / ``sink_share`` of
  the full rows, ``audio_share`` (mass on the real-audio frames; the rest lies on padding),
  and along the real audio, with each token's *centroid* ``c_q = Σ_k w_qk k / Σ_k w_qk``
  (frames ``k`` < ``n_audio``): ``monotonicity`` — share of consecutive token pairs whose
  centroid does not move back (1: the decoder reads left to right) — and ``coverage`` —
  ``(max_q c_q − min_q c_q) / (n_audio − 1)``, the share of the recording its reading path
  spans.  Both need two or more tokens, so a one-token ``generate`` step leaves them out.

Example
-------
>>> w = torch.tensor([[[[0.9, 0.1, 0.0], [0.1, 0.8, 0.1], [0.0, 0.1, 0.9]]]])
>>> stats = cross_matrix(w, torch.full((1, 3), 1 / 3), torch.tensor([3]), ("monotonicity", "coverage"))
>>> [round(float(v), 3) for v in stats[0, 0]]
[1.0, 0.9]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from ._monitor_stats import Context

if TYPE_CHECKING:  # pragma: no cover
    from .monitor import Monitor

__all__ = ["CROSS_STATISTICS", "CrossContext", "cross_matrix", "whisper_contexts", "whisper_route"]

#: Statistics of a cross-attention layer, in order.
CROSS_STATISTICS = ("entropy", "norm_entropy", "top5", "sink_share", "audio_share", "monotonicity",
                    "coverage")


class CrossContext(Context):
    """Queries = decoder tokens (``valid (B, Q)``), keys = encoder frames (``n_audio (B,)`` real)."""

    cross = True

    def __init__(self, valid: torch.Tensor, n_audio: torch.Tensor) -> None:
        super().__init__(valid, {})
        self.n_audio = n_audio

    def fit(self, n_queries: int, n_keys: int) -> Context:
        return self

    def names_for(self, names: Sequence[str], n_queries: int) -> tuple[str, ...]:
        """The cross statistics of ``names`` (the reading-path ones need two tokens)."""
        return tuple(n for n in CROSS_STATISTICS if n in names
                     and (n_queries >= 2 or n not in ("monotonicity", "coverage")))


def cross_matrix(weights: torch.Tensor, query_weights: torch.Tensor, n_audio: torch.Tensor,
                 names: Sequence[str]) -> torch.Tensor:
    """Cross statistics of ``weights (B, H, Q, K)``: ``(B, H, S)`` in the order of ``names``."""
    from ._monitor_stats import _row_entropy, _top_sum

    w = weights.detach().float()
    b, _, q, k = w.shape
    qw = query_weights[:b]
    n = n_audio[:b].clamp(1, k)
    cols: dict[str, torch.Tensor] = {}
    if "entropy" in names or "norm_entropy" in names:
        cols["entropy"] = (_row_entropy(w, None) * qw[:, None]).sum(-1)
        cols["norm_entropy"] = cols["entropy"] / math.log(max(k, 2))
    if "top5" in names:
        cols["top5"] = (_top_sum(w, 5) * qw[:, None]).sum(-1)
    if "sink_share" in names:
        cols["sink_share"] = (qw[:, None, None, :] @ w)[:, :, 0].amax(-1)
    audio = (torch.arange(k)[None, :] < n[:, None]).float()  # (B, K)
    mass = (w * audio[:, None, None, :]).sum(-1)  # (B, H, Q)
    if "audio_share" in names:
        cols["audio_share"] = (mass * qw[:, None]).sum(-1)
    if "monotonicity" in names or "coverage" in names:
        frames = torch.arange(k, dtype=torch.float32) * audio  # (B, K)
        centroid = (w @ frames[:, None, :, None])[..., 0] / mass.clamp_min(1e-12)  # (B, H, Q)
        valid = qw > 0  # (B, Q)
        pairs = (valid[:, 1:] & valid[:, :-1]).float()[:, None]  # (B, 1, Q-1)
        forward = (centroid[..., 1:] >= centroid[..., :-1]).float()
        cols["monotonicity"] = (forward * pairs).sum(-1) / pairs.sum(-1).clamp_min(1.0)
        big, small = torch.finfo(torch.float32).max, torch.finfo(torch.float32).min
        top = torch.where(valid[:, None], centroid, small).amax(-1)
        bottom = torch.where(valid[:, None], centroid, big).amin(-1)
        cols["coverage"] = (top - bottom) / (n[:, None].float() - 1).clamp_min(1.0)
    return torch.stack([cols[name] for name in names], -1)


def audio_frames(features: torch.Tensor) -> torch.Tensor:
    """(B,) encoder frames covering the real audio of log-mel ``features (B, 80, 3000)``.

    The padded tail of the window has every column equal to the last one; two mel columns
    make one 20 ms encoder frame.
    """
    same = (features - features[..., -1:]).abs().amax(1) == 0  # (B, T) column equals the last
    real = torch.where(~same, torch.arange(same.shape[-1]) + 1, 0).amax(-1)  # last differing column + 1
    real = torch.where(real == 0, same.shape[-1], real)  # all equal: treat the whole window as audio
    return torch.div(real + 1, 2, rounding_mode="floor")


def whisper_contexts(monitor: Monitor, args: tuple, kwargs: dict[str, Any]) -> dict[str, Context]:
    """The encoder / decoder / cross contexts of one Whisper forward (those it runs)."""
    from ._monitor_hooks import text_context
    from ._monitor_stats import token_distances

    features = kwargs.get("input_features", args[0] if args else None)
    ids = kwargs.get("decoder_input_ids")
    out: dict[str, Context] = {}
    n_audio = monitor.__dict__.get("_n_audio")
    if features is not None:
        n_audio = monitor.__dict__["_n_audio"] = audio_frames(features)
        n_enc = features.shape[-1] // 2
        valid = torch.arange(n_enc)[None, :] < n_audio[:, None]
        first = torch.zeros_like(valid)
        first[:, 0] = True
        cache = monitor.__dict__.setdefault("_token_distances", {})
        if n_enc not in cache:
            cache[n_enc] = token_distances(n_enc)
        out["audio-encoder"] = Context(valid, {"first": first}, cache[n_enc])
    if ids is not None:
        ctx = text_context(monitor, ids, kwargs.get("decoder_attention_mask"))
        ctx.masks.pop("padding", None)  # Whisper's pad id is its end-of-text token
        out["audio-decoder"] = ctx
        if n_audio is None:  # no encoder run seen yet: every frame counts as audio
            n_audio = torch.full((ids.shape[0],), features_frames(monitor))
        out["audio-cross"] = CrossContext(ctx.valid, n_audio)
    return out


def features_frames(monitor: Monitor) -> int:
    """Encoder frames of a full window (1 500 for Whisper's 30 s)."""
    config = monitor.model.config
    return int(getattr(config, "max_source_positions", 1500))


def encoder_hooks(monitor: Monitor) -> tuple[Any, Any]:
    """Pre-/post-hooks for Whisper's encoder: ``generate`` runs it outside the model's forward.

    Inside a monitored forward the pre-hook only records the audio length; called on its own
    (``generate``), the encoder's forward is monitored as one ``audio-encoder`` record.
    """
    def before(_module: Any, args: tuple, kwargs: dict) -> None:
        features = kwargs.get("input_features", args[0] if args else None)
        if features is None:
            return
        monitor.__dict__["_n_audio"] = audio_frames(features)
        if monitor._state is None and monitor._sampled():
            contexts = whisper_contexts(monitor, (features,), {})
            monitor._begin(contexts, whisper_route)
            monitor._state["owner"] = "encoder"

    def after(_module: Any, _args: tuple, _output: Any) -> None:
        if monitor._state is not None and monitor._state.get("owner") == "encoder":
            monitor._end()
    return before, after


def whisper_route(name: str) -> str:
    """The record label of a Whisper attention module."""
    if ".encoder." in f".{name}." and "encoder_attn" not in name:
        return "audio-encoder"
    return "audio-cross" if name.endswith("encoder_attn") else "audio-decoder"
