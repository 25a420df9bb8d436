"""timm attention without the fused kernel's blind spot (ViT, DeiT, EVA / EVA-02, BEiT, Swin).

timm's attention blocks call ``torch.nn.functional.scaled_dot_product_attention`` with
whatever the block computed before it: rope-rotated queries and keys (EVA), the relative
position bias as ``attn_mask`` (BEiT, Swin), q/k norms.  While each attention module runs,
that one function is wrapped: the wrapper recomputes ``softmax(q kᵀ · scale + mask)`` from the
very arguments the kernel got, hands it to ``store.append`` and returns the kernel's own
output, so the forward (and the logits) stay untouched.  For gradients the wrapper returns
``weights @ v`` instead, which puts the weights in the autograd graph.  Blocks built with
``fused_attn=False`` are switched to the kernel for the capture and restored after.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

import torch

from multiattn.errors import MultiattnRuntimeError, MultiattnTypeError

if TYPE_CHECKING:  # pragma: no cover - annotations only (timm is imported when a model runs)
    from .._types import Model

__all__ = ["timm_attention_hooks", "timm_attention_modules", "timm_explicit"]


class _Store(Protocol):
    """Where the hooks put each block's weights: a list, or any object with ``append``."""

    def append(self, weights: torch.Tensor, /) -> None: ...


def timm_attention_modules(model: Model) -> list[torch.nn.Module]:
    """The blocks' attention modules (named ``...attn`` with timm's ``fused_attn`` switch), in order."""
    modules = [m for name, m in model.named_modules()
               if name.split(".")[-1] == "attn" and hasattr(m, "fused_attn")]
    if not modules:
        raise MultiattnTypeError(
            f"{type(model).__name__} has no timm attention blocks (modules named 'attn' with fused_attn); "
            "supported: timm VisionTransformer, DeiT, EVA, BEiT and Swin"
        )
    return modules


def explicit_weights(q: torch.Tensor, k: torch.Tensor, attn_mask: torch.Tensor | None = None,
                     is_causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """``softmax(q kᵀ · scale + mask)``: the weights ``scaled_dot_product_attention`` applies.

    Example
    -------
    >>> q = k = torch.zeros(1, 2, 5, 4)
    >>> explicit_weights(q, k).shape
    torch.Size([1, 2, 5, 5])
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q * scale) @ k.transpose(-2, -1)
    if is_causal:
        n_q, n_k = scores.shape[-2:]
        causal = torch.ones(n_q, n_k, dtype=torch.bool, device=q.device).tril(diagonal=n_k - n_q)
        scores = scores.masked_fill(~causal, float("-inf"))
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool \
            else scores + attn_mask
    return scores.softmax(dim=-1)


@contextmanager
def _intercept(model: Model, store: _Store, *, explicit: bool) -> Iterator[None]:
    import torch.nn.functional as F  # noqa: N812  (torch's own alias)

    original = F.scaled_dot_product_attention
    active: list[bool] = []

    def wrapper(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kwargs):
        if not active:
            return original(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                            scale=scale, **kwargs)
        with torch.set_grad_enabled(explicit and torch.is_grad_enabled()):
            weights = explicit_weights(q, k, attn_mask, is_causal, scale)
        store.append(weights)
        if explicit:
            return weights @ v
        return original(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                        scale=scale, **kwargs)

    modules = timm_attention_modules(model)
    fused = [m.fused_attn for m in modules]
    handles = []
    def enter(*_: object) -> None:
        active.append(True)

    def leave(*_: object) -> None:
        active.pop()

    for module in modules:
        module.fused_attn = True
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    F.scaled_dot_product_attention = wrapper
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original
        for handle in handles:
            handle.remove()
        for module, flag in zip(modules, fused):
            module.fused_attn = flag


@contextmanager
def timm_attention_hooks(model: Model, store: _Store) -> Iterator[None]:
    """Record each timm block's attention weights; ``store.append`` gets ``(B, H, Q, K)``.

    The block keeps its fused kernel, so outputs are unchanged.  ``store`` is a list, or
    any object with ``append`` (the streaming capture feeds reducers).

    Example
    -------
    >>> store = []
    >>> with timm_attention_hooks(model, store):  # doctest: +SKIP
    ...     model(pixels)
    """
    with _intercept(model, store, explicit=False):
        yield


@contextmanager
def timm_explicit(model: Model, store: list[torch.Tensor]) -> Iterator[None]:
    """Run each attention block's weights explicitly (``weights @ v``) so they sit in the autograd graph."""
    with _intercept(model, store, explicit=True):
        yield


def check_count(model: Model, store: list) -> None:
    """One weight tensor per attention module, or a clear error (a block that never called the kernel)."""
    n = len(timm_attention_modules(model))
    if len(store) != n:
        raise MultiattnRuntimeError(
            f"{type(model).__name__}: captured {len(store)} attention calls for {n} attention blocks; "
            "a block computed attention without torch's scaled_dot_product_attention (unsupported variant)"
        )
