"""Where a ViT keeps its patch layout: grid, patch size, prefix tokens (HF and timm).

Read from the module (timm ``patch_embed.grid_size`` / ``num_prefix_tokens``, Hugging Face
config and embeddings), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnTypeError

from .._axis_base import pair

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is not imported here)
    import torch

    from .._types import Model

__all__ = ["Layout", "is_timm_vit", "layout_of"]


@dataclass(frozen=True)
class Layout:
    """Token layout facts read from a ViT module (never guessed).

    Attributes
    ----------
    family : {"hf", "timm"}
        Which library the model comes from.
    patch_size : (int, int)
        Patch height and width in input pixels.
    prefix : tuple of str
        Names of the tokens before the patches, in the model's order.
    input_size : (int, int)
        Input size the model was built for (position embeddings).
    """

    family: str
    patch_size: tuple[int, int]
    prefix: tuple[str, ...]
    input_size: tuple[int, int]


def is_timm_vit(model: object) -> bool:
    """True for timm VisionTransformer-style models (patch_embed + blocks)."""
    return type(model).__module__.startswith("timm.") and hasattr(model, "patch_embed") \
        and hasattr(model, "blocks")


def _hf_embeddings(model: Model) -> torch.nn.Module:
    for module in model.modules():
        if hasattr(module, "cls_token") and hasattr(module, "patch_embeddings"):
            return module
    raise MultiattnTypeError(
        f"{type(model).__name__} has no ViT embeddings module (cls_token + patch_embeddings); "
        "supported: Hugging Face ViT, DeiT, DINOv2 (with registers) and timm VisionTransformer"
    )


def layout_of(model: Model) -> Layout:
    """Read patch size, prefix tokens and input size from a ViT.

    Example
    -------
    >>> layout_of(timm.create_model("vit_small_patch16_224", reg_tokens=4)).prefix  # doctest: +SKIP
    ('CLS', 'REG0', 'REG1', 'REG2', 'REG3')
    """
    if is_timm_vit(model):
        prefix = ["CLS"] if getattr(model, "cls_token", None) is not None else []
        if getattr(model, "dist_token", None) is not None:
            prefix.append("DIST")
        prefix += [f"REG{i}" for i in range(int(getattr(model, "num_reg_tokens", 0) or 0))]
        if len(prefix) != model.num_prefix_tokens:
            raise MultiattnTypeError(
                f"cannot name the {model.num_prefix_tokens} prefix tokens of {type(model).__name__} "
                f"(found {prefix}); unsupported timm variant"
            )
        return Layout("timm", pair(model.patch_embed.patch_size, "patch_size"), tuple(prefix),
                      pair(model.patch_embed.img_size, "img_size"))
    if hasattr(model, "config") and hasattr(model, "modules"):
        emb = _hf_embeddings(model)
        prefix = ["CLS"]
        if getattr(emb, "distillation_token", None) is not None:
            prefix.append("DIST")
        registers = getattr(emb, "register_tokens", None)
        prefix += [f"REG{i}" for i in range(0 if registers is None else registers.shape[1])]
        return Layout("hf", pair(emb.patch_embeddings.patch_size, "patch_size"), tuple(prefix),
                      pair(model.config.image_size, "image_size"))
    raise MultiattnTypeError(
        f"unsupported model {type(model).__name__}: pass a Hugging Face ViT / DeiT / DINOv2 model "
        "or a timm VisionTransformer"
    )
