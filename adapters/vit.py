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
from typing import TYPE_CHECKING

import numpy as np
import torch

from multiattn.errors import MultiattnRuntimeError, MultiattnValueError

from ..axes import PatchAxis
from ..grid import AttentionGrid, AttentionMap
from ._hf import eager_attention, eval_mode, require_attentions
from ._image_input import prepare_image
from ._timm_hooks import timm_attention_hooks, timm_explicit
from ._vit_layout import Layout, is_timm_vit, layout_of

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ImageInput, Model, Processor

__all__ = ["capture", "capture_with_gradients", "explain", "prepare"]


#: Explanation methods understood by :func:`explain`.
METHODS = ("raw", "rollout", "grad-rollout", "relevance")


def _hf_forward(model: Model, pixel_values: torch.Tensor, layout: Layout,
                ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    kwargs = {"pixel_values": pixel_values, "output_attentions": True}
    if tuple(pixel_values.shape[-2:]) != layout.input_size and \
            "interpolate_pos_encoding" in inspect.signature(model.forward).parameters:
        kwargs["interpolate_pos_encoding"] = True
    with eager_attention(model):
        out = model(**kwargs)
    return require_attentions(out.attentions, "self", model), getattr(out, "logits", None)


def _forward(model: Model, pixel_values: torch.Tensor, layout: Layout, *, explicit: bool,
             ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    param = next(model.parameters())
    pixel_values = pixel_values.to(device=param.device, dtype=param.dtype)
    if layout.family == "hf":
        return _hf_forward(model, pixel_values, layout)
    store: list[torch.Tensor] = []
    with (timm_explicit if explicit else timm_attention_hooks)(model, store):
        logits = model(pixel_values)
    return store, logits


def _class_names(model: Model) -> dict[int, str]:
    id2label = getattr(getattr(model, "config", None), "id2label", None) or {}
    return {int(k): str(v) for k, v in id2label.items()}


def _resolve_target(model: Model, logits: torch.Tensor | None, target: int | str | None) -> int:
    if logits is None or logits.ndim != 2:
        raise MultiattnValueError(
            f"{type(model).__name__} returns no class logits; gradient explanations need a "
            "classification head (e.g. ViTForImageClassification or a timm model with num_classes > 0)"
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
    h, w = (int(v) for v in pixel_values.shape[-2:])
    rows, cols = h // layout.patch_size[0], w // layout.patch_size[1]
    axis = PatchAxis(rows, cols, layout.patch_size, (h, w), prefix=layout.prefix, transform=transform)
    values = np.stack([a[0].detach().float().cpu().numpy() for a in attentions])
    if values.shape[-1] != len(axis):
        raise MultiattnRuntimeError(
            f"captured {values.shape[-1]} tokens but the layout gives {len(axis)} "
            f"({len(layout.prefix)} prefix + {rows}x{cols} patches); unsupported model variant"
        )
    name = "encoder" if layout.family == "hf" else "blocks"
    return AttentionGrid(values, axis, layers=[f"{name}.{i}" for i in range(len(values))], meta=meta)


def _meta(model: Model, logits: torch.Tensor | None) -> dict:
    meta = {"model": type(model).__name__, "source": f"multiattn.adapters.vit ({layout_of(model).family})"}
    if logits is not None and logits.ndim == 2:
        pred = int(logits[0].argmax())
        meta["predicted"] = pred
        meta["predicted_label"] = _class_names(model).get(pred, str(pred))
    return meta


# -- public API -------------------------------------------------------------------------
def capture(model: Model, image: ImageInput, *, processor: Processor = None,
            size: int | tuple[int, int] | None = None) -> AttentionGrid:
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
    >>> grid = capture(model, "cat.jpg", processor=processor)  # doctest: +SKIP
    >>> grid.shape, grid.query.prefix  # doctest: +SKIP
    ((12, 12, 197, 197), ('CLS',))
    """
    layout = layout_of(model)
    pixel_values, transform = prepare_image(model, image, processor, size=size)
    with eval_mode(model), torch.no_grad():
        attentions, logits = _forward(model, pixel_values, layout, explicit=False)
    return _grid(attentions, layout, pixel_values, transform, _meta(model, logits))


def prepare(model: Model, image: ImageInput, *, processor: Processor = None,
            size: int | tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """The forward pass's keyword arguments for ``image`` (``pixel_values``; ``x`` for timm).

    Example
    -------
    >>> prepare(model, "cat.jpg", processor=processor)["pixel_values"].shape  # doctest: +SKIP
    torch.Size([1, 3, 224, 224])
    """
    pixel_values, _ = prepare_image(model, image, processor, size=size)
    return {"x": pixel_values} if is_timm_vit(model) else {"pixel_values": pixel_values}


def capture_with_gradients(
    model: Model, image: ImageInput, *, processor: Processor = None, target: int | str | None = None,
    size: int | tuple[int, int] | None = None,
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
    layout = layout_of(model)
    pixel_values, transform = prepare_image(model, image, processor, size=size)
    with eval_mode(model), torch.enable_grad():
        attentions, logits = _forward(model, pixel_values, layout, explicit=True)
        index = _resolve_target(model, logits, target)
        grads = torch.autograd.grad(logits[0, index], attentions, allow_unused=True)
    if any(g is None for g in grads):
        raise MultiattnRuntimeError(f"{type(model).__name__}: some attention matrices are not in the graph")
    meta = _meta(model, logits)
    meta.update(target=index, target_label=_class_names(model).get(index, str(index)))
    grid = _grid(attentions, layout, pixel_values, transform, meta)
    return grid, np.stack([g[0].float().cpu().numpy() for g in grads])


def explain(
    model: Model,
    image: ImageInput,
    *,
    processor: Processor = None,
    method: str = "relevance",
    target: int | str | None = None,
    size: int | tuple[int, int] | None = None,
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
    >>> m = explain(model, "cat.jpg", processor=processor, method="rollout")  # doctest: +SKIP
    >>> m.to_image().shape  # doctest: +SKIP
    (14, 14)
    """
    from ..analysis.relevance import chefer_relevance, gradient_rollout
    from ..analysis.rollout import rollout

    if method not in METHODS:
        raise MultiattnValueError(f"method must be one of {METHODS}, got {method!r}")
    if method in ("raw", "rollout"):
        if target is not None:
            raise MultiattnValueError(f"method {method!r} does not depend on a target class; drop target=")
        grid = capture(model, image, processor=processor, size=size)
        if method == "raw":
            values = grid.values[-1].mean(axis=0)[0]
            what = f"CLS attention, {grid.layers[-1]}, mean of heads (rows sum to 1)"
        else:
            values = rollout(grid)[0]
            what = "attention rollout of CLS (mean of heads, residual 0.5; rows sum to 1)"
    else:
        grid, grads = capture_with_gradients(model, image, processor=processor, target=target, size=size)
        if method == "grad-rollout":
            values = gradient_rollout(grid, grads)[0]
            what = f"gradient rollout of CLS for class {grid.meta['target_label']!r}"
        else:
            values = chefer_relevance(grid, grads)[0]
            what = f"Chefer relevance of CLS for class {grid.meta['target_label']!r}"
    meta = {**grid.meta, "method": method, "values": what}
    return AttentionMap(values, grid.key, meta)
