"""X-CLIP's video tower: per-frame attention with message tokens, cross-frame messages, the MIT.

Each layer of X-CLIP's vision encoder (``XCLIPVisionEncoderLayer``, the original
``CrossFramelAttentionBlock``) first lets one *message token* per frame (``message_fc`` of the
frame's CLS) attend over the ``T`` frames' message tokens (``message_attn``: the cross-frame
communication), then appends each frame's message token to that frame and runs self-attention
over ``[CLS, patches, MSG]`` within the frame (``self_attn``; the MSG output is dropped after).
The multi-frame integration transformer (``mit``) then attends over the ``T`` frame embeddings.

All three are mapped onto one :class:`~multiattn.VideoAxis` ``(T, rows, cols, tubelet=(1, p, p))``
whose prefix is the per-frame tokens ``CLS.0 .. CLS.{T-1}, MSG.0 .. MSG.{T-1}``, then the
patches time-major.  Not mapped: the text tower and the prompt generator's cross-attention
(caption -> frame-averaged patches); they need captions and are not positions of the clip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..gridset import GridSet

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import torch

    from .._types import Model
    from ..axes import VideoAxis

__all__ = ["CLIP_MEAN", "CLIP_STD", "capture_xclip", "prefix", "xclip_edges"]

#: The normalisation X-CLIP's processor uses (OpenAI CLIP's).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def prefix(n_frames: int) -> tuple[str, ...]:
    """``("CLS.0", ..., "CLS.{T-1}", "MSG.0", ..., "MSG.{T-1}")``."""
    return tuple(f"CLS.{t}" for t in range(n_frames)) + tuple(f"MSG.{t}" for t in range(n_frames))


def xclip_edges(axis: VideoAxis) -> dict[str, np.ndarray]:
    """Edge lists ``(2, E)`` (key row 0, query row 1) of the three steps on the time-major axis.

    ``spatial``: per frame ``t`` the ``(2 + N)^2`` pairs of ``[CLS.t, patches of t, MSG.t]`` in
    the model's per-frame order; ``message``: ``MSG.s -> MSG.t``; ``mit``: ``CLS.s -> CLS.t``.
    """
    n_t, n_p = axis.n_time, axis.rows * axis.cols
    frame = np.arange(n_t)[:, None]
    local = np.concatenate([frame, 2 * n_t + frame * n_p + np.arange(n_p)[None], n_t + frame], axis=1)
    width = local.shape[1]
    queries = np.broadcast_to(local[:, :, None], (n_t, width, width)).reshape(-1)
    keys = np.broadcast_to(local[:, None, :], (n_t, width, width)).reshape(-1)
    pairs_q = np.repeat(np.arange(n_t), n_t)
    pairs_k = np.tile(np.arange(n_t), n_t)
    return {"spatial": np.stack([keys, queries]),
            "message": np.stack([n_t + pairs_k, n_t + pairs_q]),
            "mit": np.stack([pairs_k, pairs_q])}


def _attention_modules(model: Model) -> dict[str, list[torch.nn.Module]]:
    found: dict[str, list] = {"spatial": [], "message": [], "mit": []}
    for name, module in model.named_modules():
        if type(module).__name__ != "XCLIPAttention":
            continue
        if name.startswith("vision_model.") and name.endswith(".self_attn"):
            found["spatial"].append(module)
        elif name.startswith("vision_model.") and name.endswith(".message_attn"):
            found["message"].append(module)
        elif name.startswith("mit.") and name.endswith(".self_attn"):
            found["mit"].append(module)
    return found


def run_xclip(model: Model, pixels: torch.Tensor) -> tuple[dict[str, list[torch.Tensor]], torch.Tensor]:
    """``get_video_features`` with every attention module hooked: the weights of each step, the embedding."""
    from ._hf import eager_attention, require_attentions

    store: dict[str, list] = {}
    handles = []
    for step, modules in _attention_modules(model).items():
        store[step] = []
        for module in modules:
            handles.append(module.register_forward_hook(
                lambda _m, _a, out, bucket=store[step]: bucket.append(out[1])))
    try:
        with eager_attention(model):
            embedding = model.get_video_features(pixel_values=pixels)
    finally:
        for handle in handles:
            handle.remove()
    embedding = getattr(embedding, "pooler_output", embedding)
    return {step: require_attentions(weights, step, model) for step, weights in store.items()}, embedding


def capture_xclip(model: Model, pixels: torch.Tensor, axis: VideoAxis, meta: dict) -> GridSet:
    """Run the video tower once; a GridSet ``spatial`` / ``message`` / ``mit`` of sparse grids."""
    import torch

    from multiattn.grid import AttentionGrid

    from ._hf import eval_mode

    with eval_mode(model), torch.no_grad():
        weights, _ = run_xclip(model, pixels)
    edges = xclip_edges(axis)
    n_t = axis.n_time
    values = {
        # (T, H, 2+N, 2+N) per layer -> (H, T * (2+N)^2) in the edge order
        "spatial": [w.float().numpy().transpose(1, 0, 2, 3).reshape(w.shape[1], -1)
                    for w in weights["spatial"]],
        "message": [w[0].float().numpy().reshape(w.shape[1], n_t * n_t) for w in weights["message"]],
        "mit": [w[0].float().numpy().reshape(w.shape[1], n_t * n_t) for w in weights["mit"]],
    }
    grids = {}
    for step, vals in values.items():
        prefix_name = "mit" if step == "mit" else "encoder"
        grids[step] = AttentionGrid(np.stack(vals), axis, edge_index=edges[step], check_rows=False,
                                    layers=[f"{prefix_name}.{i}" for i in range(len(vals))],
                                    meta={**meta, "step": step})
    return GridSet(grids, meta=meta)
