"""Where a vision transformer keeps its patch layout: grid, patch size, prefix tokens (HF and timm).

Read from the module (timm ``patch_embed.grid_size`` / ``num_prefix_tokens``, Hugging Face
config and embeddings), never guessed.  Families: Hugging Face ViT, DeiT, DINOv2 (+registers),
DINOv3, BEiT, Data2Vec-Vision, ViT-MAE, the CLIP / SigLIP / SigLIP2 vision towers; timm
VisionTransformer, DeiT, EVA / EVA-02, BEiT; Swin lives in :mod:`._swin`.  Convolutional
networks (ConvNeXt, ResNet...) are refused: they have no attention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnTypeError, UnsupportedModelError

from .._axis_base import pair

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is not imported here)
    import torch

    from .._types import Model

__all__ = ["Layout", "is_timm_vit", "layout_of", "vision_config"]

_PATCH_CHILDREN = ("patch_embeddings", "patch_embedding")


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
    kind : {"vit", "mae", "naflex"}
        ``mae``: ViT-MAE's random masking (tokens mapped back to their patches);
        ``naflex``: SigLIP2's pre-patchified input (``pixel_values (B, N, p*p*3)``).
    """

    family: str
    patch_size: tuple[int, int]
    prefix: tuple[str, ...]
    input_size: tuple[int, int]
    kind: str = "vit"


def is_timm_vit(model: object) -> bool:
    """True for timm VisionTransformer-style models (patch_embed + blocks: ViT, DeiT, EVA, BEiT)."""
    return type(model).__module__.startswith("timm.") and hasattr(model, "patch_embed") \
        and hasattr(model, "blocks")


def vision_config(model: Model) -> object:
    """The vision part of a Hugging Face config (``vision_config`` of dual encoders, else the config)."""
    config = model.config
    return getattr(config, "vision_config", None) or config


def _refuse_no_attention(model: Model) -> None:
    has_attention = any("attention" in type(m).__name__.lower() for m in model.modules())
    if not has_attention:
        raise UnsupportedModelError(
            f"{type(model).__name__} has no attention (a convolutional network): attention maps need a "
            "transformer; use a ViT, DeiT, DINOv2, BEiT, Swin, CLIP or SigLIP vision model"
        )


def _hf_embeddings(model: Model) -> torch.nn.Module:
    for module in model.modules():
        if type(module).__name__.endswith("Embeddings") and any(hasattr(module, c) for c in _PATCH_CHILDREN):
            return module
    raise UnsupportedModelError(
        f"{type(model).__name__} has no ViT embeddings module (patch embeddings + position embeddings); "
        "supported: Hugging Face ViT, DeiT, DINOv2/v3, BEiT, Data2Vec-Vision, ViT-MAE, CLIP/SigLIP "
        "vision towers, Swin, and timm VisionTransformer / EVA / BEiT / Swin"
    )


def _hf_prefix(emb: torch.nn.Module) -> list[str]:
    has_cls = getattr(emb, "cls_token", None) is not None or getattr(emb, "class_embedding", None) is not None
    prefix = ["CLS"] if has_cls else []
    if getattr(emb, "distillation_token", None) is not None:
        prefix.append("DIST")
    registers = getattr(emb, "register_tokens", None)
    prefix += [f"REG{i}" for i in range(0 if registers is None else registers.shape[1])]
    return prefix


def _hf_layout(model: Model) -> Layout:
    _refuse_no_attention(model)
    emb = _hf_embeddings(model)
    config = vision_config(model)
    kind = "mae" if type(emb).__name__.startswith("ViTMAE") else "vit"
    if getattr(config, "model_type", "").startswith("siglip2"):
        kind = "naflex"
    side = int(round(getattr(config, "num_patches", 0) ** 0.5)) * int(config.patch_size)
    image_size = getattr(config, "image_size", None) or side
    return Layout("hf", pair(config.patch_size, "patch_size"), tuple(_hf_prefix(emb)),
                  pair(image_size, "image_size"), kind)


def _timm_layout(model: Model) -> Layout:
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


def layout_of(model: Model) -> Layout:
    """Read patch size, prefix tokens and input size from a ViT.

    Example
    -------
    >>> layout_of(timm.create_model("vit_small_patch16_224", reg_tokens=4)).prefix  # doctest: +SKIP
    ('CLS', 'REG0', 'REG1', 'REG2', 'REG3')
    """
    if is_timm_vit(model):
        return _timm_layout(model)
    if type(model).__module__.startswith("timm.") and type(model).__name__.startswith("SwinTransformer"):
        return Layout("timm", pair(model.patch_embed.patch_size, "patch_size"), (),
                      pair(model.patch_embed.img_size, "img_size"))
    if hasattr(model, "config") and hasattr(model, "modules"):
        return _hf_layout(model)
    if type(model).__module__.startswith("timm.") and not any(
            "attn" in name.split(".")[-1] for name, _ in model.named_modules()):
        _refuse_no_attention(model)
    raise MultiattnTypeError(
        f"unsupported model {type(model).__name__}: pass a Hugging Face vision transformer "
        "(ViT, DeiT, DINOv2, BEiT, Swin, CLIP/SigLIP vision) or a timm VisionTransformer / EVA / BEiT / Swin"
    )
