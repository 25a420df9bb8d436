"""Vision transformers: patch attention from Hugging Face and timm models.

:func:`capture` runs one image through a ViT and returns an
:class:`~multiattn.AttentionGrid` ``(L, H, N, N)`` over a
:class:`~multiattn.PatchAxis` that records the patch grid, the patch size,
the prefix tokens (CLS, DeiT's distillation token, registers) and the resize /
center crop applied to the image, so maps land on the original pixels.
:func:`capture_with_gradients` adds the gradient of one class score with
respect to every attention matrix, and :func:`explain` turns either into one
map (raw CLS attention, rollout, gradient rollout or Chefer relevance).

Supported: Hugging Face ViT, DeiT (incl. distilled), DINOv2, DINOv2 with
registers (switched to eager attention for the capture), and timm
``VisionTransformer`` models incl. register and distilled variants.  timm's
fused kernel never materialises weights: :func:`capture` recomputes
``softmax(q k^T * scale)`` from the block's own ``qkv`` / ``q_norm`` /
``k_norm`` in a forward hook, leaving the forward pass (and the logits)
untouched; gradients need the weights inside the graph, so for them each
attention block runs its explicit (unfused) formula for that one pass.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..axes import PatchAxis
from ..grid import AttentionGrid, AttentionMap
from ..media import to_rgb
from ._hf import eager_attention, require_attentions

__all__ = [
    "METHODS",
    "Layout",
    "layout_of",
    "prepare_image",
    "run_image_processor",
    "is_timm_vit",
    "timm_attention_hooks",
    "capture",
    "capture_with_gradients",
    "explain",
    "load_model",
]

#: Explanation methods understood by :func:`explain`.
METHODS = ("raw", "rollout", "grad-rollout", "relevance")

_IMAGENET_STANDARD = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
_RESAMPLE = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


# -- model layout -------------------------------------------------------------------
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


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    return (int(value[0]), int(value[1]))


def is_timm_vit(model: Any) -> bool:
    """True for timm VisionTransformer-style models (patch_embed + blocks)."""
    return type(model).__module__.startswith("timm.") and hasattr(model, "patch_embed") \
        and hasattr(model, "blocks")


def _hf_embeddings(model: Any) -> Any:
    for module in model.modules():
        if hasattr(module, "cls_token") and hasattr(module, "patch_embeddings"):
            return module
    raise TypeError(
        f"{type(model).__name__} has no ViT embeddings module (cls_token + patch_embeddings); "
        "supported: Hugging Face ViT, DeiT, DINOv2 (with registers) and timm VisionTransformer"
    )


def layout_of(model: Any) -> Layout:
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
            raise TypeError(
                f"cannot name the {model.num_prefix_tokens} prefix tokens of {type(model).__name__} "
                f"(found {prefix}); unsupported timm variant"
            )
        return Layout("timm", _pair(model.patch_embed.patch_size), tuple(prefix),
                      _pair(model.patch_embed.img_size))
    if hasattr(model, "config") and hasattr(model, "modules"):
        emb = _hf_embeddings(model)
        prefix = ["CLS"]
        if getattr(emb, "distillation_token", None) is not None:
            prefix.append("DIST")
        registers = getattr(emb, "register_tokens", None)
        prefix += [f"REG{i}" for i in range(0 if registers is None else registers.shape[1])]
        return Layout("hf", _pair(emb.patch_embeddings.patch_size), tuple(prefix),
                      _pair(model.config.image_size))
    raise TypeError(
        f"unsupported model {type(model).__name__}: pass a Hugging Face ViT / DeiT / DINOv2 model "
        "or a timm VisionTransformer"
    )


# -- preprocessing --------------------------------------------------------------------
def _short_edge(h: int, w: int, short: int) -> tuple[int, int]:
    """torchvision / Hugging Face ``shortest_edge`` resize: long side is truncated."""
    if h <= w:
        return short, int(short * w / h)
    return int(short * h / w), short


def _center(outer: int, inner: int) -> int:
    """Offset of a center crop (negative when the processor pads instead)."""
    return int((outer - inner) / 2.0) if inner <= outer else -((inner - outer) // 2)


def _hf_processor_plan(processor: Any, h: int, w: int) -> tuple[tuple[int, int], tuple[int, ...] | None]:
    size = getattr(processor, "size", None)
    resized = (h, w)
    if getattr(processor, "do_resize", False):
        if size is None:
            raise ValueError(f"{type(processor).__name__} resizes but has no size attribute")
        if getattr(size, "shortest_edge", None) and getattr(size, "longest_edge", None):
            from transformers.image_utils import get_size_with_aspect_ratio

            resized = tuple(get_size_with_aspect_ratio((h, w), size.shortest_edge, size.longest_edge))
        elif getattr(size, "shortest_edge", None):
            resized = _short_edge(h, w, size.shortest_edge)
        elif getattr(size, "height", None) and getattr(size, "width", None):
            resized = (size.height, size.width)
        else:
            raise ValueError(f"unsupported resize rule {size} in {type(processor).__name__}")
    crop = None
    if getattr(processor, "do_center_crop", False):
        ch, cw = processor.crop_size.height, processor.crop_size.width
        crop = (_center(resized[0], ch), _center(resized[1], cw), ch, cw)
    return resized, crop


def run_image_processor(processor: Any, rgb: np.ndarray) -> tuple[torch.Tensor, dict]:
    """Run a Hugging Face image processor and record its resize / crop.

    Returns ``(pixel_values, transform)`` where ``transform`` is the PatchAxis
    ``{"original_size", "resize", "crop"}`` so maps land on the original pixels.

    Example
    -------
    >>> pixels, transform = run_image_processor(processor, rgb)  # doctest: +SKIP
    """
    if not callable(processor) or not hasattr(processor, "do_resize"):
        raise TypeError(
            f"processor must be a Hugging Face image processor, got {type(processor).__name__}; "
            "for other preprocessing pass processor=None (timm: the model's pretrained_cfg is used)"
        )
    h, w = rgb.shape[:2]
    resized, crop = _hf_processor_plan(processor, h, w)
    pixel_values = processor(images=Image.fromarray(rgb), return_tensors="pt")["pixel_values"]
    final = tuple(crop[2:]) if crop else resized
    if tuple(pixel_values.shape[-2:]) != final:
        raise ValueError(
            f"cannot tell how {type(processor).__name__} mapped a {h}x{w} image to "
            f"{tuple(pixel_values.shape[-2:])} (expected {final}); patch placement would be wrong"
        )
    return pixel_values, {"original_size": (h, w), "resize": resized, "crop": crop}


def _default_plan(model: Any, layout: Layout, h: int, w: int, size: Any) -> dict:
    if size is not None:
        return {"resize": _pair(size), "crop": None, "norm": _norm_of(model), "resample": "bilinear"}
    if layout.family == "timm":
        cfg = getattr(model, "pretrained_cfg", {}) or {}
        target = _pair(cfg.get("input_size", (3, *layout.input_size))[1:])
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


def _norm_of(model: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
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


def prepare_image(
    model: Any, image: Any, processor: Any = None, *, size: Any = None
) -> tuple[torch.Tensor, dict]:
    """Load and preprocess one image; return pixel values and the transform record.

    Parameters
    ----------
    model : ViT (Hugging Face or timm)
        Used for its patch size and, without a processor, its preprocessing facts
        (timm ``pretrained_cfg``: input size, crop_pct, interpolation, mean/std;
        Hugging Face: ``config.image_size`` with mean = std = 0.5).
    image : path, PIL image or array
        Anything :func:`multiattn.media.to_rgb` accepts (EXIF rotation
        applied; grayscale / RGBA / palette / 16-bit converted).
    processor : transformers image processor, optional
        Run as is; its resize / center crop is recorded.
    size : int or (height, width), optional
        Without a processor: resize straight to this size (non-square inputs such
        as ``(224, 320)``; position embeddings are interpolated).

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
    rgb = to_rgb(image)
    h, w = rgb.shape[:2]
    if h < layout.patch_size[0] or w < layout.patch_size[1]:
        raise ValueError(
            f"image of {h}x{w} pixels is smaller than one {layout.patch_size[0]}x{layout.patch_size[1]} "
            "patch; attention maps of such an image are meaningless. Use a larger image."
        )
    if processor is not None:
        if size is not None:
            raise ValueError("pass either a processor or size=..., not both")
        return run_image_processor(processor, rgb)
    return _apply_plan(rgb, _default_plan(model, layout, h, w, size))


# -- forward passes ---------------------------------------------------------------------
@contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _timm_attention_modules(model: Any) -> list[Any]:
    from timm.models.vision_transformer import Attention

    modules = [block.attn for block in model.blocks]
    for module in modules:
        if not isinstance(module, Attention):
            raise TypeError(
                f"timm block attention {type(module).__name__} is not timm's ViT Attention; "
                "only VisionTransformer-style blocks are supported"
            )
    return modules


def _timm_qkv(module: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    b, n, _ = x.shape
    qkv = module.qkv(x).reshape(b, n, 3, module.num_heads, module.head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    return module.q_norm(q), module.k_norm(k), v


def _timm_weights(module: Any, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T * scale) exactly as the block's unfused path computes it."""
    return ((q * module.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


def _no_mask(args: tuple, kwargs: dict) -> None:
    mask = args[1] if len(args) > 1 else kwargs.get("attn_mask")
    if mask is not None or kwargs.get("is_causal"):
        raise NotImplementedError("attention masks in timm blocks are not supported by the capture")


@contextmanager
def timm_attention_hooks(model: Any, store: Any) -> Iterator[None]:
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
def _timm_explicit(model: Any, store: list) -> Iterator[None]:
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
        module.forward = make(module)
    try:
        yield
    finally:
        for module in modules:
            del module.forward


def _hf_forward(model: Any, pixel_values: torch.Tensor, layout: Layout) -> tuple[list, Any]:
    kwargs = {"pixel_values": pixel_values, "output_attentions": True}
    if tuple(pixel_values.shape[-2:]) != layout.input_size and \
            "interpolate_pos_encoding" in inspect.signature(model.forward).parameters:
        kwargs["interpolate_pos_encoding"] = True
    with eager_attention(model):
        out = model(**kwargs)
    return require_attentions(out.attentions, "self", model), getattr(out, "logits", None)


def _forward(model: Any, pixel_values: torch.Tensor, layout: Layout, *, explicit: bool) -> tuple[list, Any]:
    param = next(model.parameters())
    pixel_values = pixel_values.to(device=param.device, dtype=param.dtype)
    if layout.family == "hf":
        return _hf_forward(model, pixel_values, layout)
    store: list = []
    with (_timm_explicit if explicit else timm_attention_hooks)(model, store):
        logits = model(pixel_values)
    return store, logits


def _class_names(model: Any) -> dict[int, str]:
    id2label = getattr(getattr(model, "config", None), "id2label", None) or {}
    return {int(k): str(v) for k, v in id2label.items()}


def _resolve_target(model: Any, logits: Any, target: Any) -> int:
    if logits is None or logits.ndim != 2:
        raise ValueError(
            f"{type(model).__name__} returns no class logits; gradient explanations need a "
            "classification head (e.g. ViTForImageClassification or a timm model with num_classes > 0)"
        )
    n_classes = logits.shape[-1]
    if target is None:
        return int(logits[0].argmax())
    if isinstance(target, str):
        by_name = {v.lower(): k for k, v in _class_names(model).items()}
        if target.lower() not in by_name:
            raise ValueError(f"unknown class {target!r}; known: {sorted(by_name)[:20]}")
        return by_name[target.lower()]
    if not 0 <= int(target) < n_classes:
        raise ValueError(f"target class {target} out of range for {n_classes} classes")
    return int(target)


def _grid(attentions: list, layout: Layout, pixel_values: torch.Tensor, transform: dict,
          meta: dict) -> AttentionGrid:
    h, w = (int(v) for v in pixel_values.shape[-2:])
    rows, cols = h // layout.patch_size[0], w // layout.patch_size[1]
    axis = PatchAxis(rows, cols, layout.patch_size, (h, w), prefix=layout.prefix, transform=transform)
    values = np.stack([a[0].detach().float().cpu().numpy() for a in attentions])
    if values.shape[-1] != len(axis):
        raise RuntimeError(
            f"captured {values.shape[-1]} tokens but the layout gives {len(axis)} "
            f"({len(layout.prefix)} prefix + {rows}x{cols} patches); unsupported model variant"
        )
    name = "encoder" if layout.family == "hf" else "blocks"
    return AttentionGrid(values, axis, layers=[f"{name}.{i}" for i in range(len(values))], meta=meta)


def _meta(model: Any, logits: Any) -> dict:
    meta = {"model": type(model).__name__, "source": f"multiattn.adapters.vit ({layout_of(model).family})"}
    if logits is not None and logits.ndim == 2:
        pred = int(logits[0].argmax())
        meta["predicted"] = pred
        meta["predicted_label"] = _class_names(model).get(pred, str(pred))
    return meta


# -- public API -------------------------------------------------------------------------
def capture(model: Any, image: Any, processor: Any = None, *, size: Any = None) -> AttentionGrid:
    """Attention of every layer and head of a ViT on one image.

    Parameters
    ----------
    model : Hugging Face ViT / DeiT / DINOv2 (with registers) or timm VisionTransformer
        Run in eval mode (its previous mode is restored); weights are not changed.
    image : path, PIL image or array
        See :func:`prepare_image`.
    processor : transformers image processor, optional
        Preprocessing to apply (its resize / center crop is recorded on the axis).
    size : int or (height, width), optional
        Without a processor: resize the image straight to this size.

    Returns
    -------
    AttentionGrid
        ``(L, H, N, N)`` with ``N = len(prefix) + rows * cols`` over a PatchAxis;
        ``meta`` holds the predicted class when the model has a head.

    Example
    -------
    >>> grid = capture(model, "cat.jpg", processor)  # doctest: +SKIP
    >>> grid.shape, grid.query.prefix  # doctest: +SKIP
    ((12, 12, 197, 197), ('CLS',))
    """
    layout = layout_of(model)
    pixel_values, transform = prepare_image(model, image, processor, size=size)
    with _eval_mode(model), torch.no_grad():
        attentions, logits = _forward(model, pixel_values, layout, explicit=False)
    return _grid(attentions, layout, pixel_values, transform, _meta(model, logits))


def capture_with_gradients(
    model: Any, image: Any, processor: Any = None, *, target: Any = None, size: Any = None
) -> tuple[AttentionGrid, np.ndarray]:
    """Attention plus the gradient of one class logit with respect to each attention matrix.

    Parameters
    ----------
    model, image, processor, size
        As in :func:`capture`; the model needs a classification head.
    target : int or str, optional
        Class index or label (``config.id2label``); default the predicted class.

    Returns
    -------
    grid : AttentionGrid
        As :func:`capture`; ``meta["target"]`` / ``meta["target_label"]`` name the class.
    grads : numpy.ndarray
        float32 ``(L, H, N, N)``: ``d logit[target] / d A[l, h, i, j]``, layer-aligned with the grid.

    Example
    -------
    >>> grid, grads = capture_with_gradients(model, img, processor, target="circle")  # doctest: +SKIP
    >>> grads.shape == grid.shape  # doctest: +SKIP
    True
    """
    layout = layout_of(model)
    pixel_values, transform = prepare_image(model, image, processor, size=size)
    with _eval_mode(model), torch.enable_grad():
        attentions, logits = _forward(model, pixel_values, layout, explicit=True)
        index = _resolve_target(model, logits, target)
        grads = torch.autograd.grad(logits[0, index], attentions, allow_unused=True)
    if any(g is None for g in grads):
        raise RuntimeError(f"{type(model).__name__}: some attention matrices are not in the graph")
    meta = _meta(model, logits)
    meta.update(target=index, target_label=_class_names(model).get(index, str(index)))
    grid = _grid(attentions, layout, pixel_values, transform, meta)
    return grid, np.stack([g[0].float().cpu().numpy() for g in grads])


def explain(
    model: Any,
    image: Any,
    processor: Any = None,
    method: str = "relevance",
    target: Any = None,
    *,
    size: Any = None,
) -> AttentionMap:
    """One explanation map of the first prefix token (CLS) over the patches.

    Parameters
    ----------
    model, image, processor, size
        As in :func:`capture`.
    method : {"raw", "rollout", "grad-rollout", "relevance"}
        ``raw``: last layer's CLS attention, mean of heads; ``rollout``:
        :func:`multiattn.analysis.rollout.rollout` (mean of heads, residual 0.5);
        ``grad-rollout``: :func:`~multiattn.analysis.relevance.gradient_rollout`;
        ``relevance``: :func:`~multiattn.analysis.relevance.chefer_relevance`.
    target : int or str, optional
        Class to explain (gradient methods); default the predicted class.

    Returns
    -------
    AttentionMap
        Over the grid's PatchAxis (prefix entries included; renderers drop them);
        ``meta`` records method, class and what the values are.

    Example
    -------
    >>> m = explain(model, "cat.jpg", processor, method="rollout")  # doctest: +SKIP
    >>> m.to_image().shape  # doctest: +SKIP
    (14, 14)
    """
    from ..analysis.relevance import chefer_relevance, gradient_rollout
    from ..analysis.rollout import rollout

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method in ("raw", "rollout"):
        if target is not None:
            raise ValueError(f"method {method!r} does not depend on a target class; drop target=")
        grid = capture(model, image, processor, size=size)
        if method == "raw":
            values = grid.values[-1].mean(axis=0)[0]
            what = f"CLS attention, {grid.layers[-1]}, mean of heads (rows sum to 1)"
        else:
            values = rollout(grid)[0]
            what = "attention rollout of CLS (mean of heads, residual 0.5; rows sum to 1)"
    else:
        grid, grads = capture_with_gradients(model, image, processor, target=target, size=size)
        if method == "grad-rollout":
            values = gradient_rollout(grid, grads)[0]
            what = f"gradient rollout of CLS for class {grid.meta['target_label']!r}"
        else:
            values = chefer_relevance(grid, grads)[0]
            what = f"Chefer relevance of CLS for class {grid.meta['target_label']!r}"
    meta = {**grid.meta, "method": method, "values": what}
    return AttentionMap(values, grid.key, meta)


def load_model(spec: str, weights: str | None = None) -> tuple[Any, Any]:
    """Load a ViT from local files only; return ``(model, processor or None)``.

    Parameters
    ----------
    spec : str
        ``"shapes-vit"`` (the embedded default), a Hugging Face model directory
        (``config.json`` + weights, ``preprocessor_config.json`` optional) or
        ``"timm:NAME"`` (architecture built without downloading).
    weights : str, optional
        ``.safetensors`` state dict for a ``timm:`` model (required there: a
        random-init model explains nothing).

    Raises
    ------
    FileNotFoundError
        Missing directory or weights file.
    ValueError
        An unknown spec.

    Example
    -------
    >>> model, processor = load_model("shapes-vit")  # doctest: +SKIP
    """
    from pathlib import Path

    if spec == "shapes-vit":
        from ..zoo.vision import load_shapes_vit

        return load_shapes_vit()
    if spec.startswith("timm:"):
        import timm
        from safetensors.torch import load_file

        if weights is None or not Path(weights).is_file():
            raise FileNotFoundError(
                f"timm models need local weights: pass --weights FILE.safetensors (got {weights})"
            )
        state = load_file(weights)
        head = state.get("head.weight")
        model = timm.create_model(spec[5:], pretrained=False,
                                  num_classes=0 if head is None else head.shape[0])
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(
                f"the weights in {weights} do not fit the timm architecture {spec[5:]!r}: "
                f"{str(err).splitlines()[0]}"
            ) from err
        return model.eval(), None
    path = Path(spec)
    if path.is_dir():
        from transformers import AutoImageProcessor, AutoModel, AutoModelForImageClassification

        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} has no config.json; is it a Hugging Face model directory?")
        try:
            model = AutoModelForImageClassification.from_pretrained(path, local_files_only=True)
        except ValueError:  # no classification head registered for this architecture
            model = AutoModel.from_pretrained(path, local_files_only=True)
        processor = None
        if (path / "preprocessor_config.json").is_file():
            processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        return model.eval(), processor
    raise ValueError(
        f"unknown model {spec!r}: use 'shapes-vit', a Hugging Face model directory, "
        "or 'timm:NAME' with --weights FILE.safetensors"
    )
