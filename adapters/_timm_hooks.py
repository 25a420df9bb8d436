"""timm ViT attention without the fused kernel's blind spot.

timm's fused ``scaled_dot_product_attention`` never materialises the weights: a forward hook
recomputes ``softmax(q k^T * scale)`` from the block's own ``qkv`` / ``q_norm`` / ``k_norm``
(the forward and the logits stay untouched); for gradients each block runs its explicit
formula for that one pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

import torch

from multiattn.errors import MultiattnTypeError

if TYPE_CHECKING:  # pragma: no cover - annotations only (timm is imported when a model runs)
    from timm.models.vision_transformer import Attention

    from .._types import Model

__all__ = ["timm_attention_hooks"]


class _Store(Protocol):
    """Where the hooks put each block's weights: a list, or any object with ``append``."""

    def append(self, weights: torch.Tensor, /) -> None: ...


def _timm_attention_modules(model: Model) -> list[Attention]:
    from timm.models.vision_transformer import Attention

    modules = [block.attn for block in model.blocks]
    for module in modules:
        if not isinstance(module, Attention):
            raise MultiattnTypeError(
                f"timm block attention {type(module).__name__} is not timm's ViT Attention; "
                "only VisionTransformer-style blocks are supported"
            )
    return modules


def _timm_qkv(module: Attention, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    b, n, _ = x.shape
    qkv = module.qkv(x).reshape(b, n, 3, module.num_heads, module.head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    return module.q_norm(q), module.k_norm(k), v


def _timm_weights(module: Attention, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T * scale) exactly as the block's unfused path computes it."""
    return ((q * module.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


def _no_mask(args: tuple, kwargs: dict) -> None:
    mask = args[1] if len(args) > 1 else kwargs.get("attn_mask")
    if mask is not None or kwargs.get("is_causal"):
        raise NotImplementedError("attention masks in timm blocks are not supported by the capture")


@contextmanager
def timm_attention_hooks(model: Model, store: _Store) -> Iterator[None]:
    """Recompute each timm block's softmax(qkᵀ) in a forward hook; ``store.append`` gets (B, H, N, N).

    The block itself keeps its fused kernel, so outputs are unchanged.  ``store``
    is a list, or any object with ``append`` (the streaming capture feeds reducers).

    Example
    -------
    >>> store = []
    >>> with timm_attention_hooks(model, store):  # doctest: +SKIP
    ...     model(pixels)
    """
    def hook(module, args, kwargs, output):
        _no_mask(args, kwargs)
        with torch.no_grad():
            q, k, _ = _timm_qkv(module, args[0] if args else kwargs["x"])
            store.append(_timm_weights(module, q, k))

    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in _timm_attention_modules(model)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def timm_explicit(model: Model, store: list[torch.Tensor]) -> Iterator[None]:
    """Run each attention block's unfused formula so its weights sit in the autograd graph."""

    def make(module):
        def forward(x, attn_mask=None, is_causal=False):
            _no_mask((x, attn_mask), {"is_causal": is_causal})
            b, n, _ = x.shape
            gate = module.gate(x).sigmoid() if getattr(module, "gate", None) is not None else None
            q, k, v = _timm_qkv(module, x)
            attn = _timm_weights(module, q, k)
            store.append(attn)
            out = (module.attn_drop(attn) @ v).transpose(1, 2).reshape(b, n, module.attn_dim)
            out = module.norm(out)
            if gate is not None:
                out = out * gate
            return module.proj_drop(module.proj(out))

        return forward

    modules = _timm_attention_modules(model)
    for module in modules:
        module.forward = make(module)  # type: ignore[method-assign]  # the unfused path, for this pass
    try:
        yield
    finally:
        for module in modules:
            del module.forward
