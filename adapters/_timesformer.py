"""TimeSformer's divided attention: the temporal step HF does not return, hooked and re-ordered time-major."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..gridset import GridSet
from . import _video_inputs as _vin

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    from collections.abc import Callable

    import torch
    from transformers.models.timesformer.modeling_timesformer import TimesformerSelfAttention

    from .._types import Model
    from ..axes import VideoAxis

    #: A forward hook ``(module, args, output) -> output``.
    ForwardHook = Callable[[TimesformerSelfAttention, tuple, tuple], tuple]

__all__ = [
    "capture_timesformer",
    "divided_edges",
    "run_timesformer",
    "temporal_hook",
    "timesformer_grids",
]


def temporal_hook(store: list[torch.Tensor]) -> ForwardHook:
    """Forward hook for a TimeSformer temporal ``TimesformerSelfAttention``.

    It recomputes the step exactly (``softmax(q k^T * scale) @ v``, dropout is
    off in eval) and returns that output, so the stored probabilities are the
    ones the model used and stay in the autograd graph (for relevance).
    """

    def hook(module: TimesformerSelfAttention, args: tuple, output: tuple) -> tuple:
        hidden = args[0]  # (B * patches, frames, C)
        batch, seq, channels = hidden.shape
        qkv = (module.qkv(hidden).reshape(batch, seq, 3, module.num_heads, channels // module.num_heads)
               .permute(2, 0, 3, 1, 4))
        probs = ((qkv[0] @ qkv[1].transpose(-2, -1)) * module.scale).softmax(dim=-1)
        store.append(probs)
        context = (probs @ qkv[2]).transpose(1, 2).reshape(batch, seq, channels)
        return (context,) + tuple(output[1:])

    return hook


def run_timesformer(model: Model, pixels: torch.Tensor,
                    ) -> tuple[Any, list[torch.Tensor], list[torch.Tensor]]:
    """Forward with spatial attentions returned and temporal ones hooked.

    The output is the model's ``ModelOutput`` (``logits`` only for the classification head), hence ``Any``.
    """
    from multiattn.adapters._hf import eager_attention, require_attentions

    temporal: list[torch.Tensor] = []
    layers = model.base_model.encoder.layer
    handles = [layer.temporal_attention.attention.register_forward_hook(temporal_hook(temporal))
               for layer in layers]
    try:
        with eager_attention(model):
            out = model(pixel_values=pixels, output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
    spatial = require_attentions(out.attentions, "spatial", model)
    return out, spatial, require_attentions(temporal, "temporal", model)


def divided_edges(axis: VideoAxis) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edge lists (query, key) of the spatial and temporal steps in time-major order.

    Spatial edges enumerate, per frame, the ``(1 + N)^2`` (query, key) pairs in
    the model's per-frame order except CLS->CLS, which is one shared edge
    appended last.  Temporal edges enumerate ``(patch, t_query, t_key)`` then
    the CLS self-edge.
    """
    n_t, n_p = axis.n_time, axis.rows * axis.cols
    local = np.concatenate([np.zeros((n_t, 1), np.int64),
                            1 + np.arange(n_t)[:, None] * n_p + np.arange(n_p)[None]], axis=1)
    sq = np.broadcast_to(local[:, :, None], (n_t, n_p + 1, n_p + 1)).reshape(-1)
    sk = np.broadcast_to(local[:, None, :], (n_t, n_p + 1, n_p + 1)).reshape(-1)
    keep = ~((sq == 0) & (sk == 0))
    spatial = (np.append(sq[keep], 0), np.append(sk[keep], 0))
    patch = np.arange(n_p)[:, None, None]
    tq = np.arange(n_t)[None, :, None]
    tk = np.arange(n_t)[None, None, :]
    shape = (n_p, n_t, n_t)
    temporal = (np.append(np.broadcast_to(1 + tq * n_p + patch, shape).reshape(-1), 0),
                np.append(np.broadcast_to(1 + tk * n_p + patch, shape).reshape(-1), 0))
    return spatial + temporal


def timesformer_grids(spatial: list[torch.Tensor], temporal: list[torch.Tensor], axis: VideoAxis, meta: dict,
                      cls_self: float = 1.0) -> GridSet:
    """Build the sparse spatial and temporal grids from per-layer torch tensors.

    ``cls_self`` is the CLS row of the temporal step (1: identity for attention;
    0 for gradient-weighted maps, where CLS takes no part in that step).
    """
    from multiattn.grid import AttentionGrid

    n_t = axis.n_time
    sq, sk, tq, tk = divided_edges(axis)
    keep = ~((np.arange(spatial[0].shape[-1]) == 0)[:, None] & (np.arange(spatial[0].shape[-1]) == 0)[None])
    s_values, t_values = [], []
    for s_layer, t_layer in zip(spatial, temporal):
        s = s_layer.detach().float().numpy().transpose(1, 0, 2, 3).copy()  # (H, T, 1+N, 1+N)
        s[:, :, 0, :] /= n_t  # the CLS output is the mean over frames
        cls_cls = s[:, :, 0, 0].sum(axis=1, keepdims=True)
        s_values.append(np.concatenate([s[:, :, keep].reshape(s.shape[0], -1), cls_cls], axis=1))
        t = t_layer.detach().float().numpy().transpose(1, 0, 2, 3)  # (H, N, T, T)
        cls_row = np.full((t.shape[0], 1), cls_self)
        t_values.append(np.concatenate([t.reshape(t.shape[0], -1), cls_row], axis=1))
    layers = [f"encoder.{i}" for i in range(len(spatial))]
    return GridSet({
        "spatial": AttentionGrid(np.stack(s_values), axis, layers=layers, edge_index=np.stack([sk, sq]),
                                 meta={**meta, "step": "spatial"}, check_rows=False),
        "temporal": AttentionGrid(np.stack(t_values), axis, layers=layers, edge_index=np.stack([tk, tq]),
                                  meta={**meta, "step": "temporal"}, check_rows=False),
    }, meta=meta)


def capture_timesformer(model: Model, pixels: torch.Tensor, axis: VideoAxis, fps: float | None) -> GridSet:
    import torch

    from multiattn.adapters._hf import eval_mode

    config = model.config
    n_p = axis.rows * axis.cols
    _vin.check_memory(config.num_hidden_layers, config.num_attention_heads, axis.n_time * (n_p + 1), n_p + 1,
                  "TimeSformer spatial attention")
    with eval_mode(model), torch.no_grad():
        out, spatial, temporal = run_timesformer(model, pixels)
    meta = _vin.meta(model, "timesformer", fps, readout="cls", **_vin.prediction(model, out))
    return timesformer_grids(spatial, temporal, axis, meta)
