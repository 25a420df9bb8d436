"""Eager attention whose softmax is written straight into the capture's grid.

Under transformers' own eager function a layer holds two ``H × Q × K`` temporaries at once (the
scores and the probabilities, the latter then copied into the grid by a hook).  For models that
call transformers' attention interface, :func:`grid_attention` runs them on an attention function
registered as ``"multiattn_grid"`` (with the eager mask): it makes the scores once, scales and
masks them in place and lets ``torch.softmax(..., out=)`` write the probabilities into the
layer's row of the preallocated grid (:meth:`multiattn.adapters._text_grid.LayerWriter.slot`),
then multiplies that row by the values.  The arithmetic is eager's (``matmul · scaling + mask``,
softmax over keys), so the weights and the model's output are the same numbers.

Only where that arithmetic is the whole story (:func:`writes_in_place`): float32, batch 1, no
padding to drop, no soft-capped scores (Gemma 2) and no sink logit (gpt-oss); every other call
returns its weights as eager does and the capture's hook copies them.

Example
-------
>>> with grid_attention(model, {id(module): writer for module in attention_modules}):  # doctest: +SKIP
...     model(input_ids=ids)
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ._hf import registered_attention

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

    from .._types import Model
    from ._text_grid import LayerWriter

__all__ = ["NAME", "grid_attention", "writes_in_place"]

NAME = "multiattn_grid"
_ACTIVE: dict[int, LayerWriter] = {}  # id(attention module) -> the writer of its grid


def writes_in_place(model: Model) -> bool:
    """Whether the model's attention can run on :data:`NAME` (eager arithmetic, nothing else).

    Example
    -------
    >>> writes_in_place(llama)  # doctest: +SKIP
    True
    """
    from ._hf import _configs

    if not getattr(type(model), "_supports_attention_backend", False):
        return False
    if any(getattr(c, name, None) is not None for c in _configs(model)
           for name in ("attn_logit_softcapping", "attention_window")):
        return False
    if any(getattr(m, "sinks", None) is not None for m in model.modules()):
        return False
    return all(p.dtype.is_floating_point and p.dtype.itemsize == 4 for p in model.parameters())


def _attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Eager attention; the probabilities go into the module's grid row when it has one free."""
    import torch

    heads, n_query, n_key = int(query.shape[1]), int(query.shape[2]), int(key.shape[2])
    if heads != key.shape[1]:  # grouped-query attention: each key head serves heads / kv_heads queries
        key = key.repeat_interleave(heads // key.shape[1], dim=1)
        value = value.repeat_interleave(heads // value.shape[1], dim=1)
    scores = torch.matmul(query, key.transpose(2, 3))
    scores.mul_(query.shape[-1] ** -0.5 if scaling is None else scaling)
    if attention_mask is not None:
        scores.add_(attention_mask[:, :, :, :n_key])
    writer = _ACTIVE.get(id(module))
    fits = writer is not None and query.shape[0] == 1 and scores.dtype == torch.float32  # not under autocast
    row = writer.slot(heads, n_query, n_key) if fits else None
    if row is None:  # the capture's hook copies the weights
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
        weights = probs
    else:
        probs = torch.softmax(scores, dim=-1, out=torch.from_numpy(row)[None])
        writer.written()
        weights = None
    del scores
    probs = torch.nn.functional.dropout(probs, p=dropout, training=module.training)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), weights


def grid_attention(model: Model, writers: Mapping[int, LayerWriter]) -> AbstractContextManager:
    """Run a block with the model on ``"multiattn_grid"``; ``writers``: ``id(module) -> LayerWriter``.

    Every config's attention implementation is restored on exit, even after an error.
    """
    from transformers.masking_utils import eager_mask

    return registered_attention(model, NAME, _attention, eager_mask, _ACTIVE, writers)
