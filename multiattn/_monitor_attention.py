"""A Hugging Face attention implementation for the monitor: eager attention that also hands on its scores.

Registered once as ``attn_implementation="multiattn_monitor"`` (``AttentionInterface`` and
``AttentionMaskInterface``, the eager masks).  It computes what the plain
``eager_attention_forward`` of BERT / RoBERTa / ViT / CLIP / Whisper / VideoMAE computes,
``softmax(q kᵀ · scale + mask) v``, but *transposed*: the scores as ``k qᵀ`` (the same dot
products) and the softmax over the key axis, so the weights come out as ``(B, H, K, Q)`` in
memory, the layout in which the monitor's compiled kernel (:mod:`._monitor_kernels`) puts the
query rows in the SIMD lanes without a copy.  The output matmul reads that layout as a
transposed operand; the model's output equals eager's within float32 rounding (the softmax
sums in another order; ``tests/test_monitor.py`` checks 1e-6).  Each layer's weights *and*
pre-softmax scores go to the monitor as ``(B, H, Q, K)`` views: with the scores, the entropy
needs no log pass.  Models of other families keep the eager implementation and the module hooks.

Example
-------
>>> with monitor_attention(model, {module: callback}):  # doctest: +SKIP
...     model(**inputs)  # callback(weights (B, H, Q, K), scores (B, H, Q, K)) per layer
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

_CALLBACKS: dict[int, Callable[[torch.Tensor, torch.Tensor], None]] = {}


def _attention(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
               **_kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores_t = torch.matmul(key, query.transpose(2, 3)) * scaling  # (B, H, K, Q): eager's scores, transposed
    if attention_mask is not None:
        scores_t = scores_t + attention_mask.transpose(-1, -2)
    weights_t = torch.nn.functional.softmax(scores_t, dim=-2, dtype=torch.float32).to(query.dtype)
    weights_t = torch.nn.functional.dropout(weights_t, p=dropout, training=module.training)
    weights, scores = weights_t.transpose(-1, -2), scores_t.transpose(-1, -2)  # (B, H, Q, K) views
    callback = _CALLBACKS.get(id(module))
    if callback is not None:
        callback(weights, scores)
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
def monitor_attention(model: Model, callbacks: Mapping[Any, Callable[[torch.Tensor, torch.Tensor], None]],
                      ) -> Iterator[None]:
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
