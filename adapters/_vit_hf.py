"""Hugging Face vision forwards that return every layer's attention weights.

- Eager attention for the capture (restored after); modules that fixed an SDPA class at
  construction (BEiT, Data2Vec-Vision: ``...SdpaSelfAttention``) run their eager parent class
  for the pass.
- ViT-MAE: its random masking runs with a seeded noise (deterministic); the kept tokens are
  scattered back onto their patches (masked patches get zero rows and columns, listed in
  ``meta["masked_patches"]``).
- SigLIP2 (NaFlex): pixels are patchified as its processor does; padded patches are cut off.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import torch

from ._hf import eager_attention, require_attentions

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import Model
    from ._vit_layout import Layout

__all__ = ["eager_classes", "hf_vision_forward", "mae_noise", "naflex_inputs", "scatter_mae"]

#: Seed of ViT-MAE's masking noise (two captures of one image agree).
MAE_SEED = 0


@contextmanager
def eager_classes(model: Model) -> Iterator[None]:
    """Swap modules built as ``XSdpaSelfAttention`` to their eager parent ``XSelfAttention`` for a pass."""
    swapped = []
    for module in model.modules():
        cls = type(module)
        if "Sdpa" in cls.__name__:
            eager_name = cls.__name__.replace("Sdpa", "")
            parent = next((b for b in cls.__mro__[1:] if b.__name__ == eager_name), None)
            if parent is not None:
                swapped.append((module, cls))
                module.__class__ = parent
    try:
        yield
    finally:
        for module, cls in swapped:
            module.__class__ = cls


def naflex_inputs(pixel_values: torch.Tensor, patch: int) -> dict[str, torch.Tensor]:
    """SigLIP2's pre-patchified input from ``(1, 3, H, W)`` pixels (its processor's patch order).

    Example
    -------
    >>> naflex_inputs(torch.zeros(1, 3, 32, 48), 16)["pixel_values"].shape
    torch.Size([1, 6, 768])
    """
    _, c, h, w = pixel_values.shape
    rows, cols = h // patch, w // patch
    x = pixel_values[0, :, : rows * patch, : cols * patch].reshape(c, rows, patch, cols, patch)
    patches = x.permute(1, 3, 2, 4, 0).reshape(rows * cols, patch * patch * c)
    mask = torch.ones(1, rows * cols, dtype=torch.long)
    return {"pixel_values": patches[None], "pixel_attention_mask": mask,
            "spatial_shapes": torch.tensor([[rows, cols]])}


def mae_noise(n_patches: int) -> torch.Tensor:
    """ViT-MAE's masking noise ``(1, n_patches)``, seeded: captures (and streams) of an image repeat."""
    generator = torch.Generator().manual_seed(MAE_SEED)
    return torch.rand(1, n_patches, generator=generator)


def scatter_mae(attentions: list[torch.Tensor], keep: np.ndarray, n_patches: int, n_prefix: int,
                ) -> list[torch.Tensor]:
    """Kept tokens back onto their patch positions; masked patches get zero rows and columns."""
    index = torch.as_tensor(np.concatenate([np.arange(n_prefix), n_prefix + keep]))
    out = []
    for att in attentions:
        full = att.new_zeros(att.shape[:2] + (n_prefix + n_patches,) * 2)
        full[:, :, index[:, None], index[None, :]] = att
        out.append(full)
    return out


def hf_vision_forward(model: Model, pixel_values: torch.Tensor, layout: Layout, *,
                      mask_ratio: float | None = None,
                      ) -> tuple[list[torch.Tensor], torch.Tensor | None, dict]:
    """``(attentions per layer (B, H, N, N), logits or None, meta extras)`` of one HF vision forward."""
    kwargs: dict = {"pixel_values": pixel_values, "output_attentions": True}
    params = inspect.signature(model.forward).parameters
    h, w = (int(v) for v in pixel_values.shape[-2:])
    rows, cols = h // layout.patch_size[0], w // layout.patch_size[1]
    extra: dict = {}
    if layout.kind == "naflex":
        kwargs.update(naflex_inputs(pixel_values, layout.patch_size[0]))
    elif (h, w) != layout.input_size and "interpolate_pos_encoding" in params:
        kwargs["interpolate_pos_encoding"] = True
    config = getattr(model, "config", None)
    saved_ratio = getattr(config, "mask_ratio", None)
    if layout.kind == "mae":
        kwargs["noise"] = mae_noise(rows * cols)
        if mask_ratio is not None:
            config.mask_ratio = float(mask_ratio)
    try:
        with eager_attention(model), eager_classes(model):
            out = model(**kwargs)
    finally:
        if layout.kind == "mae":
            config.mask_ratio = saved_ratio
    attentions = require_attentions(out.attentions, "self", model)
    if layout.kind == "mae":
        order = torch.argsort(kwargs["noise"][0]).numpy()
        n_keep = attentions[0].shape[-1] - len(layout.prefix)
        keep, masked = order[:n_keep], np.sort(order[n_keep:])
        attentions = scatter_mae(attentions, keep, rows * cols, len(layout.prefix))
        extra["masked_patches"] = [int(i) for i in masked]
        ratio = config.mask_ratio if mask_ratio is None else mask_ratio
        extra["notes"] = [f"ViT-MAE masking (ratio {ratio}, seed {MAE_SEED}): {len(masked)} of "
                          f"{rows * cols} patches masked (zero rows/columns)"]
    return attentions, getattr(out, "logits", None), extra
