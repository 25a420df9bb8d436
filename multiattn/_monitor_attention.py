"""A Hugging Face attention implementation for the monitor: eager attention, its softmax by the monitor.

Registered once as ``attn_implementation="multiattn_monitor"`` (``AttentionInterface`` and
``AttentionMaskInterface``, the eager masks).  It computes what the plain
``eager_attention_forward`` of BERT / RoBERTa / ViT / CLIP / Whisper / VideoMAE computes,
``softmax(q kᵀ · scale + mask) v``, but *transposed*: the scores as ``k qᵀ`` (the same dot
products, ``(B, H, K, Q)`` in memory) and the softmax over the key axis, the layout in which
the monitor's compiled kernels (:mod:`._monitor_kernels`) hold the query rows in their SIMD
lanes.  The monitor's callback computes that softmax itself, together with the layer's
statistics, in one pass over the scores (:func:`._monitor_stats.softmax_matrix`; values within
4 ulp of torch's softmax); the output matmul reads the weights as a transposed operand.  The
model's output equals eager's within float32 rounding (``tests/test_monitor.py`` checks 1e-6
of its scale).  Models of other families keep the eager implementation and the module hooks.

Example
-------
>>> with monitor_attention(model, {module: callback}):  # doctest: +SKIP
...     model(**inputs)  # per layer: weights_t = callback(scores_t (B, H, K, Q), scale, None)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ._types import Model

__all__ = ["IMPLEMENTATION", "PLAIN_FAMILIES", "monitor_attention", "plain_eager"]

IMPLEMENTATION = "multiattn_monitor"

#: modeling modules whose ``eager_attention_forward`` is the plain one this module reproduces.
PLAIN_FAMILIES = frozenset({"bert", "roberta", "vit", "clip", "whisper", "videomae"})

#: attention module id -> ``callback(scores_t, scale, weights_t)``: given ``weights_t`` it only
#: observes them (training-mode dropout); given ``None`` it returns ``softmax(scores_t · scale)``
#: over the keys, computed with the layer's statistics.
_CALLBACKS: dict[int, Callable[[torch.Tensor, float, torch.Tensor | None], torch.Tensor]] = {}


def _attention(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
               **_kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    scale = query.size(-1) ** -0.5 if scaling is None else scaling
    scores_t = torch.matmul(key, query.transpose(2, 3))  # (B, H, K, Q): eager's q kᵀ, transposed
    if attention_mask is not None:  # eager's order: scale, then add the mask
        scores_t, scale = scores_t * scale + attention_mask.transpose(-1, -2), 1.0
    callback = _CALLBACKS.get(id(module))
    if callback is not None and not (module.training and dropout > 0):
        weights_t = callback(scores_t, scale, None)  # the softmax and the statistics in one pass
    else:
        scores_t = scores_t * scale if scale != 1.0 else scores_t
        weights_t = torch.nn.functional.softmax(scores_t, dim=-2, dtype=torch.float32).to(query.dtype)
        weights_t = torch.nn.functional.dropout(weights_t, p=dropout, training=module.training)
        if callback is not None:
            callback(scores_t, 1.0, weights_t)
    weights = weights_t.transpose(-1, -2)  # (B, H, Q, K), a view
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    if IMPLEMENTATION not in AttentionInterface._global_mapping:
        AttentionInterface.register(IMPLEMENTATION, _attention)
        AttentionMaskInterface.register(IMPLEMENTATION, eager_mask)


def plain_eager(modules: list[tuple[str, Any, int]]) -> bool:
    """Every attention module comes from a family whose eager attention is the plain one."""
    def family(module: Any) -> str:
        return type(module).__module__.rsplit(".", 1)[-1].removeprefix("modeling_")

    return bool(modules) and all(family(m) in PLAIN_FAMILIES for _, m, _ in modules)


@contextlib.contextmanager
def monitor_attention(model: Model, callbacks: Mapping[Any, Callable[..., torch.Tensor]]) -> Iterator[None]:
    """Run a block with ``model`` on the monitoring implementation; ``callbacks`` per attention module."""
    from .adapters._hf import attention_implementation

    _register()
    keys = [id(m) for m in callbacks]
    _CALLBACKS.update({id(m): fn for m, fn in callbacks.items()})
    try:
        with attention_implementation(model, IMPLEMENTATION):
            yield
    finally:
        for key in keys:
            _CALLBACKS.pop(key, None)
