"""Image preprocessing with a record of what it did (resize, centre crop), for exact overlays.

A Hugging Face image processor or a plain resize to the model's size; the transform is kept
on the PatchAxis so maps land on the original pixels.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from multiattn.errors import MultiattnTypeError, MultiattnValueError

from .._axis_base import pair
from ..media import to_rgb
from ._vit_layout import Layout, layout_of

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ImageInput, Model, Processor

__all__ = ["hf_processor_plan", "pixel_tensor", "prepare_image", "run_image_processor"]

_IMAGENET_STANDARD = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
_RESAMPLE = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


def _short_edge(h: int, w: int, short: int) -> tuple[int, int]:
    """torchvision / Hugging Face ``shortest_edge`` resize: long side is truncated."""
    if h <= w:
        return short, int(short * w / h)
    return int(short * h / w), short


def _center(outer: int, inner: int) -> int:
    """Offset of a center crop (negative when the processor pads instead)."""
    return int((outer - inner) / 2.0) if inner <= outer else -((inner - outer) // 2)


def hf_processor_plan(processor: Processor, h: int, w: int,
                      ) -> tuple[tuple[int, int], tuple[int, ...] | None]:
    size = getattr(processor, "size", None)
    resized = (h, w)
    if getattr(processor, "do_resize", False):
        if size is None:
            raise MultiattnValueError(f"{type(processor).__name__} resizes but has no size attribute")
        if getattr(size, "shortest_edge", None) and getattr(size, "longest_edge", None):
            from transformers.image_utils import get_size_with_aspect_ratio

            resized = tuple(get_size_with_aspect_ratio((h, w), size.shortest_edge, size.longest_edge))
        elif getattr(size, "shortest_edge", None):
            resized = _short_edge(h, w, size.shortest_edge)
        elif getattr(size, "height", None) and getattr(size, "width", None):
            resized = (size.height, size.width)
        else:
            raise MultiattnValueError(f"unsupported resize rule {size} in {type(processor).__name__}")
    crop = None
    if getattr(processor, "do_center_crop", False):
        ch, cw = processor.crop_size.height, processor.crop_size.width
        crop = (_center(resized[0], ch), _center(resized[1], cw), ch, cw)
    return resized, crop


def run_image_processor(processor: Processor, rgb: np.ndarray) -> tuple[torch.Tensor, dict]:
    """Run a Hugging Face image processor and record its resize / crop.

    Returns ``(pixel_values, transform)`` where ``transform`` is the PatchAxis
    ``{"original_size", "resize", "crop"}`` so maps land on the original pixels.

    Example
    -------
    >>> pixels, transform = run_image_processor(processor, rgb)  # doctest: +SKIP
    """
    if not callable(processor) or not hasattr(processor, "do_resize"):
        raise MultiattnTypeError(
            f"processor must be a Hugging Face image processor, got {type(processor).__name__}; "
            "for other preprocessing pass processor=None (timm: the model's pretrained_cfg is used)"
        )
    h, w = rgb.shape[:2]
    resized, crop = hf_processor_plan(processor, h, w)
    pixel_values = processor(images=Image.fromarray(rgb), return_tensors="pt")["pixel_values"]
    final = tuple(crop[2:]) if crop else resized
    if tuple(pixel_values.shape[-2:]) != final:
        raise MultiattnValueError(
            f"cannot tell how {type(processor).__name__} mapped a {h}x{w} image to "
            f"{tuple(pixel_values.shape[-2:])} (expected {final}); patch placement would be wrong"
        )
    return pixel_values, {"original_size": (h, w), "resize": resized, "crop": crop}


def _default_plan(model: Model, layout: Layout, h: int, w: int,
                  size: int | tuple[int, int] | None) -> dict:
    if size is not None:
        return {"resize": pair(size, "size"), "crop": None, "norm": _norm_of(model), "resample": "bilinear"}
    if layout.family == "timm":
        cfg = getattr(model, "pretrained_cfg", {}) or {}
        target = layout.input_size  # the model's own size (create_model(img_size=96)), not the cfg's
        crop_pct = float(cfg.get("crop_pct") or 1.0)
        resample = cfg.get("interpolation", "bicubic")
        if cfg.get("crop_mode", "center") == "center" and crop_pct < 1.0:
            scale = math.floor(target[0] / crop_pct)
            resized = _short_edge(h, w, scale) if target[0] == target[1] else \
                (math.floor(target[0] / crop_pct), math.floor(target[1] / crop_pct))
            top = int(round((resized[0] - target[0]) / 2.0))  # torchvision CenterCrop rounds
            left = int(round((resized[1] - target[1]) / 2.0))
            crop = (top, left, *target)
        else:
            resized, crop = target, None
        return {"resize": resized, "crop": crop, "norm": _norm_of(model),
                "resample": resample if resample in _RESAMPLE else "bicubic"}
    return {"resize": layout.input_size, "crop": None, "norm": _norm_of(model), "resample": "bilinear"}


def _norm_of(model: Model) -> tuple[tuple[float, ...], tuple[float, ...]]:
    cfg = getattr(model, "pretrained_cfg", None)
    if isinstance(cfg, dict) and "mean" in cfg:
        return tuple(cfg["mean"]), tuple(cfg["std"])
    return _IMAGENET_STANDARD


def _apply_plan(rgb: np.ndarray, plan: dict) -> tuple[torch.Tensor, dict]:
    h, w = rgb.shape[:2]
    rh, rw = plan["resize"]
    img = np.asarray(Image.fromarray(rgb).resize((rw, rh), _RESAMPLE[plan["resample"]]))
    if plan["crop"] is not None:
        top, left, ch, cw = plan["crop"]
        img = img[top : top + ch, left : left + cw]
    mean, std = (torch.tensor(v, dtype=torch.float32)[:, None, None] for v in plan["norm"])
    pixel_values = (torch.from_numpy(img.copy()).permute(2, 0, 1).float() / 255.0 - mean) / std
    return pixel_values[None], {"original_size": (h, w), "resize": (rh, rw), "crop": plan["crop"]}


def pixel_tensor(pixels: torch.Tensor, layout: Layout, transform: dict | None,
                 ) -> tuple[torch.Tensor, dict]:
    """A ``(1, 3, H, W)`` / ``(3, H, W)`` tensor the caller preprocessed, used as is.

    ``transform`` (``original_size`` / ``resize`` / ``crop``) states what the caller did, so maps
    land on the original pixels; without it the map is in model-input pixels.
    """
    x = pixels[None] if pixels.ndim == 3 else pixels
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise MultiattnValueError(
            f"pixel tensor must be (1, 3, H, W) or (3, H, W) (one preprocessed RGB image), "
            f"got {tuple(pixels.shape)}")
    h, w = (int(v) for v in x.shape[-2:])
    if h < layout.patch_size[0] or w < layout.patch_size[1]:
        raise MultiattnValueError(f"pixel tensor of {h}x{w} is smaller than one patch {layout.patch_size}")
    record = {"original_size": (h, w), "resize": (h, w), "crop": None, **(transform or {})}
    record["preprocessed"] = "pixel tensor preprocessed by the caller" + (
        f" (stated transform {transform})" if transform else " (no transform stated: model-input pixels)")
    return x.float(), record


def prepare_image(
    model: Model, image: ImageInput, processor: Processor = None, *,
    size: int | tuple[int, int] | None = None, transform: dict | None = None,
) -> tuple[torch.Tensor, dict]:
    """Load and preprocess one image; return pixel values and the transform record.

    Parameters
    ----------
    model : ViT (Hugging Face or timm)
        Used for its patch size and, without a processor, its preprocessing facts
        (timm ``pretrained_cfg``: input size, crop_pct, interpolation, mean/std;
        Hugging Face: ``config.image_size`` with mean = std = 0.5).
    image : path, PIL image, array or pixel tensor
        Anything :func:`multiattn.media.to_rgb` accepts (EXIF rotation
        applied; grayscale / RGBA / palette / 16-bit converted), or a ``(1, 3, H, W)``
        tensor already preprocessed by the caller (used as is).
    processor : transformers image processor, optional
        Run as is; its resize / center crop is recorded.
    size : int or (height, width), optional
        Without a processor: resize straight to this size (non-square inputs such
        as ``(224, 320)``; position embeddings are interpolated).
    transform : dict, optional
        With a pixel tensor: the ``original_size`` / ``resize`` / ``crop`` the caller applied
        (recorded on the axis so maps land on the original pixels).

    Returns
    -------
    pixel_values : torch.Tensor (1, 3, h, w)
    transform : dict
        ``{"original_size": (H, W), "resize": (h', w'), "crop": (top, left, h, w) or None}``.

    Example
    -------
    >>> pv, t = prepare_image(model, np.zeros((300, 400, 3), np.uint8), size=(224, 320))  # doctest: +SKIP
    >>> pv.shape, t["resize"]  # doctest: +SKIP
    (torch.Size([1, 3, 224, 320]), (224, 320))
    """
    layout = layout_of(model)
    if isinstance(image, torch.Tensor):
        if processor is not None or size is not None:
            raise MultiattnValueError("a pixel tensor is already preprocessed: drop processor= / size=")
        return pixel_tensor(image, layout, transform)
    if transform is not None:
        raise MultiattnValueError(
            "transform= describes a pixel tensor's preprocessing; pass a tensor or drop it")
    rgb = to_rgb(image)
    h, w = rgb.shape[:2]
    if h < layout.patch_size[0] or w < layout.patch_size[1]:
        raise MultiattnValueError(
            f"image of {h}x{w} pixels is smaller than one {layout.patch_size[0]}x{layout.patch_size[1]} "
            "patch; attention maps of such an image are meaningless. Use a larger image."
        )
    if processor is not None:
        if size is not None:
            raise MultiattnValueError("pass either a processor or size=..., not both")
        return run_image_processor(processor, rgb)
    return _apply_plan(rgb, _default_plan(model, layout, h, w, size))
