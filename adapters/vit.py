"""Vision transformers: patch attention from Hugging Face and timm models.

:func:`capture` runs one image through a ViT and returns an
:class:`~multiattn.AttentionGrid` ``(L, H, N, N)`` over a
:class:`~multiattn.PatchAxis` that records the patch grid, the patch size,
the prefix tokens (CLS, DeiT's distillation token, registers) and the resize /
center crop applied to the image, so maps land on the original pixels.
:func:`capture_with_gradients` adds the gradient of one class score with
respect to every attention matrix, and :func:`explain` turns either into one
map (raw CLS attention, rollout, gradient rollout or Chefer relevance).

Supported: Hugging Face ViT, DeiT (incl. distilled), DINOv2 (+ registers), DINOv3, BEiT,
Data2Vec-Vision, ViT-MAE (seeded masking, kept tokens on their patches), the CLIP / SigLIP /
SigLIP2 vision towers (no prefix token: read out as the mean row), Swin / Swinv2 (one
block-sparse grid per stage, :mod:`._swin`); timm ``VisionTransformer`` (registers, distilled),
EVA / EVA-02 and BEiT (switched to eager attention / the kernel's own arguments for the capture).
timm's fused kernel never materialises weights: while each block runs, ``softmax(q kᵀ · scale +
mask)`` is recomputed from the arguments the block hands ``scaled_dot_product_attention`` (rope,
relative position bias included), leaving the forward pass (and the logits) untouched; for
gradients the block uses ``weights @ v`` for that one pass.  Convolutional networks are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from multiattn.errors import MultiattnRuntimeError, MultiattnValueError, UnsupportedModelError

from ..axes import PatchAxis
from ..grid import AttentionGrid, AttentionMap
from ..gridset import GridSet
from ._guard import check_image_memory
from ._hf import eval_mode
from ._image_input import prepare_image
from ._swin import is_swin, swin_capture, swin_prepare
from ._timm_hooks import check_count, timm_attention_hooks, timm_explicit
from ._vit_hf import hf_vision_forward, mae_noise, naflex_inputs
from ._vit_layout import Layout, is_timm_vit, layout_of

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ImageInput, Model, Processor

__all__ = ["capture", "capture_with_gradients", "explain", "has_class_head", "prepare"]


#: Explanation methods understood by :func:`explain`.
METHODS = ("raw", "rollout", "grad-rollout", "relevance")


def _forward(model: Model, pixel_values: torch.Tensor, layout: Layout, *, explicit: bool,
             mask_ratio: float | None = None) -> tuple[list[torch.Tensor], torch.Tensor | None, dict]:
    param = next(model.parameters())
    pixel_values = pixel_values.to(device=param.device, dtype=param.dtype)
    if layout.family == "hf":
        return hf_vision_forward(model, pixel_values, layout, mask_ratio=mask_ratio)
    store: list[torch.Tensor] = []
    with (timm_explicit if explicit else timm_attention_hooks)(model, store):
        logits = model(pixel_values)
    check_count(model, store)
    if getattr(model, "num_classes", None) == 0:  # a feature extractor: its output is no class score
        logits = None
    return store, logits, {}


def _class_names(model: Model) -> dict[int, str]:
    id2label = getattr(getattr(model, "config", None), "id2label", None) or {}
    return {int(k): str(v) for k, v in id2label.items()}


def _resolve_target(model: Model, logits: torch.Tensor | None, target: int | str | None) -> int:
    if logits is None or logits.ndim != 2:
        raise MultiattnValueError(
            f"{type(model).__name__} has no classification head (a backbone), so there is no class to "
            "explain; use method='raw' or 'rollout' (target-free), or a model with a head "
            "(e.g. ViTForImageClassification, a timm model with num_classes > 0)"
        )
    n_classes = logits.shape[-1]
    if target is None:
        return int(logits[0].argmax())
    if isinstance(target, str):
        by_name = {v.lower(): k for k, v in _class_names(model).items()}
        if target.lower() not in by_name:
            raise MultiattnValueError(f"unknown class {target!r}; known: {sorted(by_name)[:20]}")
        return by_name[target.lower()]
    if not 0 <= int(target) < n_classes:
        raise MultiattnValueError(f"target class {target} out of range for {n_classes} classes")
    return int(target)


def _grid(attentions: list, layout: Layout, pixel_values: torch.Tensor, transform: dict,
          meta: dict) -> AttentionGrid:
    values = np.stack([a[0].detach().float().cpu().numpy() for a in attentions])
    return grid_from_values(values, layout, pixel_values, transform, meta)


def grid_from_values(values: np.ndarray, layout: Layout, pixel_values: torch.Tensor, transform: dict,
                     meta: dict) -> AttentionGrid:
    """The ``(L, H, N, N)`` values over the PatchAxis of ``pixel_values`` (token count checked)."""
    h, w = (int(v) for v in pixel_values.shape[-2:])
    rows, cols = h // layout.patch_size[0], w // layout.patch_size[1]
    transform = {k: v for k, v in transform.items() if k != "preprocessed"}
    axis = PatchAxis(rows, cols, layout.patch_size, (h, w), prefix=layout.prefix, transform=transform)
    if values.shape[-1] != len(axis):
        raise MultiattnRuntimeError(
            f"captured {values.shape[-1]} tokens but the layout gives {len(axis)} "
            f"({len(layout.prefix)} prefix + {rows}x{cols} patches); unsupported model variant"
        )
    name = "encoder" if layout.family == "hf" else "blocks"
    return AttentionGrid(values, axis, layers=[f"{name}.{i}" for i in range(len(values))], meta=meta,
                         check_rows="masked_patches" not in meta)


def _meta(model: Model, logits: torch.Tensor | None, extra: dict, transform: dict) -> dict:
    meta = {"model": type(model).__name__, "source": f"multiattn.adapters.vit ({layout_of(model).family})",
            **extra}
    if "preprocessed" in transform:
        meta["notes"] = [*meta.get("notes", []), transform["preprocessed"]]
    if logits is not None and logits.ndim == 2:
        pred = int(logits[0].argmax())
        meta["predicted"] = pred
        meta["predicted_label"] = _class_names(model).get(pred, str(pred))
    else:
        meta["head"] = "none (backbone: no class scores)"
    return meta


def has_class_head(model: Model) -> bool:
    """True when the model ends in class scores (HF ``...ForImageClassification``, timm ``num_classes > 0``).

    Example
    -------
    >>> has_class_head(timm.create_model("vit_tiny_patch16_224", num_classes=0))  # doctest: +SKIP
    False
    """
    if type(model).__module__.startswith("timm."):
        return int(getattr(model, "num_classes", 0) or 0) > 0
    return "ForImageClassification" in type(model).__name__


def _reader(axis: PatchAxis) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """The row that reads the image out: the first prefix token, or (no prefix, e.g. SigLIP) the mean row."""
    if axis.n_prefix:
        return axis.prefix[0], lambda m: m[0]
    return "the mean of all patches (no CLS token)", lambda m: m.mean(axis=0)


def _read_out(axis: PatchAxis, analysis: Callable[..., Any], *args: Any) -> np.ndarray:
    """:func:`_reader`'s row of a rollout / relevance: the first prefix token's row alone
    (``outputs=0``: one vector-matrix product per layer, not the ``N x N`` product), or the mean row."""
    if axis.n_prefix:
        return analysis(*args, outputs=0)
    return np.asarray(analysis(*args)).mean(axis=0)


# -- public API -------------------------------------------------------------------------
def capture(model: Model, image: ImageInput, *, processor: Processor = None,
            size: int | tuple[int, int] | None = None, transform: dict | None = None,
            mask_ratio: float | None = None) -> AttentionGrid | GridSet:
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
    transform : dict, optional
        With a pixel tensor ``(1, 3, H, W)``: the resize / crop the caller applied.
    mask_ratio : float, optional
        ViT-MAE only: masking ratio for the capture (default the model's; ``0.0`` keeps every
        patch).  The masking noise is seeded, so captures repeat.

    Returns
    -------
    AttentionGrid
        ``(L, H, N, N)`` with ``N = len(prefix) + rows * cols`` over a PatchAxis;
        ``meta`` holds the predicted class when the model has a head.  Swin: a GridSet of one
        block-sparse grid per stage (see :mod:`multiattn.adapters._swin`).

    Example
    -------
    >>> grid = capture(model, "cat.jpg", processor=processor)  # doctest: +SKIP
    >>> grid.shape, grid.query.prefix  # doctest: +SKIP
    ((12, 12, 197, 197), ('CLS',))
    """
    if is_swin(model):
        return swin_capture(model, image, processor=processor, size=size, transform=transform)
    layout = layout_of(model)
    pixel_values, record = prepare_image(model, image, processor, size=size, transform=transform)
    check_image_memory(model, layout, pixel_values)  # refuse before the forward what would not fit
    with eval_mode(model), torch.no_grad():
        attentions, logits, extra = _forward(model, pixel_values, layout, explicit=False,
                                             mask_ratio=mask_ratio)
    return _grid(attentions, layout, pixel_values, record, _meta(model, logits, extra, record))


def prepare(model: Model, image: ImageInput, *, processor: Processor = None,
            size: int | tuple[int, int] | None = None, transform: dict | None = None,
            ) -> dict[str, torch.Tensor]:
    """The forward pass's keyword arguments for ``image`` (``pixel_values``; ``x`` for timm).

    Example
    -------
    >>> prepare(model, "cat.jpg", processor=processor)["pixel_values"].shape  # doctest: +SKIP
    torch.Size([1, 3, 224, 224])
    """
    if is_swin(model):
        return swin_prepare(model, image, processor=processor, size=size, transform=transform)
    pixel_values, _ = prepare_image(model, image, processor, size=size, transform=transform)
    if is_timm_vit(model):
        return {"x": pixel_values}
    if layout_of(model).kind == "naflex":
        return naflex_inputs(pixel_values, layout_of(model).patch_size[0])
    if layout_of(model).kind == "mae":  # the seeded masking noise of capture: the same kept patches
        rows, cols = (s // p for s, p in zip(pixel_values.shape[-2:], layout_of(model).patch_size))
        return {"pixel_values": pixel_values, "noise": mae_noise(rows * cols)}
    return {"pixel_values": pixel_values}


def capture_with_gradients(
    model: Model, image: ImageInput, *, processor: Processor = None, target: int | str | None = None,
    size: int | tuple[int, int] | None = None, transform: dict | None = None,
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
    >>> grid, grads = capture_with_gradients(model, img, processor=proc, target="circle")  # doctest: +SKIP
    >>> grads.shape == grid.shape  # doctest: +SKIP
    True
    """
    if is_swin(model):
        raise UnsupportedModelError(
            f"{type(model).__name__}: gradient explanations of Swin's windowed stages are not supported; "
            "use multiattn.capture (one block-sparse grid per stage) or method='raw'")
    layout = layout_of(model)
    pixel_values, record = prepare_image(model, image, processor, size=size, transform=transform)
    with eval_mode(model), torch.enable_grad():
        attentions, logits, extra = _forward(model, pixel_values, layout, explicit=True)
        index = _resolve_target(model, logits, target)
        grads = torch.autograd.grad(logits[0, index], attentions, allow_unused=True)
    if any(g is None for g in grads):
        raise MultiattnRuntimeError(f"{type(model).__name__}: some attention matrices are not in the graph")
    meta = _meta(model, logits, extra, record)
    meta.update(target=index, target_label=_class_names(model).get(index, str(index)))
    grid = _grid(attentions, layout, pixel_values, record, meta)
    return grid, np.stack([g[0].float().cpu().numpy() for g in grads])


def explain(
    model: Model,
    image: ImageInput,
    *,
    processor: Processor = None,
    method: str | None = None,
    target: int | str | None = None,
    size: int | tuple[int, int] | None = None,
    transform: dict | None = None,
) -> AttentionMap:
    """One explanation map of the first prefix token (CLS) over the patches.

    Models without a prefix token (SigLIP's vision tower pools with an attention head) read
    out as the mean of all query rows; ``meta["values"]`` says which.

    Parameters
    ----------
    model, image, processor, size, transform
        As in :func:`capture`.
    method : {"raw", "rollout", "grad-rollout", "relevance"}, optional
        Default ``relevance`` for a model with a class head, ``rollout`` for a backbone
        without one (``Dinov2Model``, timm ``num_classes=0``): a backbone has no class to
        explain, so its map never comes from a randomly initialised head.
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
    >>> m = explain(model, "cat.jpg", processor=processor, method="rollout")  # doctest: +SKIP
    >>> m.to_image().shape  # doctest: +SKIP
    (14, 14)
    """
    from ..analysis.relevance import chefer_relevance, gradient_rollout
    from ..analysis.rollout import rollout

    if method is None:
        method = "relevance" if has_class_head(model) and not is_swin(model) else "rollout"
    if method not in METHODS:
        raise MultiattnValueError(f"method must be one of {METHODS}, got {method!r}")
    if method in ("raw", "rollout"):
        if target is not None:
            raise MultiattnValueError(f"method {method!r} does not depend on a target class; drop target=")
        grid = capture(model, image, processor=processor, size=size, transform=transform)
        stage = ""
        if isinstance(grid, GridSet):  # Swin: the model mean-pools its last stage; explain within it
            name = sorted(grid, key=lambda k: int(k.split(".")[-1]))[-1]
            grid, stage = grid[name].to_dense(), f" within {name} (Swin stages do not compose)"
        reader, rows = _reader(grid.query)
        if method == "raw":
            values = rows(grid.values[-1].mean(axis=0))
            what = f"{reader} attention, {grid.layers[-1]}, mean of heads (rows sum to 1)"
        else:
            values = _read_out(grid.query, rollout, grid)
            what = f"attention rollout of {reader}{stage} (mean of heads, residual 0.5; rows sum to 1)"
    else:
        grid, grads = capture_with_gradients(model, image, processor=processor, target=target, size=size,
                                             transform=transform)
        reader, _ = _reader(grid.query)
        if method == "grad-rollout":
            values = _read_out(grid.query, gradient_rollout, grid, grads)
            what = f"gradient rollout of {reader} for class {grid.meta['target_label']!r}"
        else:
            values = _read_out(grid.query, chefer_relevance, grid, grads)
            what = f"Chefer relevance of {reader} for class {grid.meta['target_label']!r}"
    meta = {**grid.meta, "method": method, "values": what}
    return AttentionMap(values, grid.key, meta)
