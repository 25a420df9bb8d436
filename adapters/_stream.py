"""Streaming capture: reducers see one layer at a time, whatever the model.

- Hugging Face models (text, ViT, CLIP, Whisper, VideoMAE, ViViT): under eager
  attention every attention module returns ``(attn_output, attn_weights)``;
  the innermost attention modules are hooked, each layer's weights (first
  batch item) go to the reducers of :mod:`multiattn.stream` and are released,
  and the model runs with ``output_attentions=False`` so no layer is kept.
- timm VisionTransformers keep their fused kernel: a forward hook recomputes
  softmax(qkᵀ) per block and hands it on (``inputs={"x": pixels}``).
- TimeSformer (divided space-time attention): hooks recompute the temporal
  and the spatial step of each layer; each step reaches the reducers as a
  one-layer sparse grid over the VideoAxis, named ``encoder.{i}.temporal`` then
  ``encoder.{i}.spatial`` (forward order, so a rollout reducer composes them as
  :func:`multiattn.adapters.video.space_time_rollout` does).
- PyTorch Geometric models (``GATConv``, ``GATv2Conv``, ``TransformerConv``):
  each layer call reaches the reducers as a one-layer sparse grid over its
  edges (``inputs`` is the ``Data`` or the tuple of forward arguments).

Peak memory is one layer's attention plus the summaries instead of all ``L × H × N × N``.

Example
-------
>>> from multiattn.stream import LayerMetric, RolloutReducer
>>> from multiattn.analysis import head_entropy
>>> out = capture_stream(model, inputs, {"entropy": LayerMetric(head_entropy),
...                                      "rollout": RolloutReducer()})  # doctest: +SKIP
>>> out["entropy"].shape  # doctest: +SKIP
(12, 12)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from multiattn.errors import MultiattnRuntimeError, MultiattnValueError

from ..stream import Reducer, feed
from ._hf import eager_attention

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import numpy as np
    import torch
    from transformers.models.timesformer.modeling_timesformer import TimesformerSelfAttention

    from .._types import GraphInput, Model

__all__ = ["attention_modules", "capture_stream"]


class _ReducerSink:
    """``append(weights (B, H, N, N))`` feeds the first batch item of each layer to the reducers."""

    def __init__(self, reducers: Mapping[str, Reducer]):
        self.reducers, self.layers = reducers, []

    def append(self, weights: torch.Tensor) -> None:
        name = f"blocks.{len(self.layers)}.attn"
        self.layers.append(name)
        feed(self.reducers, name, weights[0].detach().float().cpu().numpy())


def _capture_timm(model: Model, inputs: Mapping[str, torch.Tensor], reducers: Mapping[str, Reducer],
                  ) -> dict[str, Any]:
    """timm ViTs keep their fused kernel; a hook recomputes softmax(qkᵀ) one layer at a time."""
    import torch
    from threadpoolctl import threadpool_limits

    from ._timm_hooks import timm_attention_hooks

    sink = _ReducerSink(reducers)
    with timm_attention_hooks(model, sink), torch.no_grad(), threadpool_limits(1, user_api="blas"):
        model(**inputs)
    return {"layers": sink.layers, **{name: reducer.result() for name, reducer in reducers.items()}}


def _capture_timesformer(model: Model, inputs: Mapping[str, torch.Tensor], reducers: Mapping[str, Reducer],
                         ) -> list[str]:
    """Divided attention: per layer, the temporal then the spatial step as one-layer sparse grids."""
    from . import _timesformer as _tsf
    from . import _video_inputs as _vin

    if "pixel_values" not in inputs:
        raise MultiattnValueError(
            "TimeSformer streaming needs inputs={'pixel_values': (B, T, 3, H, W) tensor}")
    axis = _vin.axis(_vin.layout(model.config, "timesformer"), inputs["pixel_values"], None)
    meta = _vin.meta(model, "timesformer", None, readout="cls")
    n_patches = axis.rows * axis.cols
    seen: list[str] = []
    steps: list = []  # the recompute hook appends probabilities: temporal first, then spatial

    def spatial_hook(index: int):
        recompute = _tsf.temporal_hook(steps)

        def hook(module: TimesformerSelfAttention, args: tuple, output: tuple) -> tuple:
            result = recompute(module, args, output)
            temporal, spatial = steps
            steps.clear()
            grids = _tsf.timesformer_grids([spatial[: axis.n_time]], [temporal[:n_patches]], axis, meta)
            for step in ("temporal", "spatial"):
                seen.append(f"encoder.{index}.{step}")
                feed(reducers, seen[-1], grids[step])
            return result
        return hook

    handles = []
    for index, layer in enumerate(model.base_model.encoder.layer):
        handles.append(layer.temporal_attention.attention.register_forward_hook(_tsf.temporal_hook(steps)))
        handles.append(layer.attention.attention.register_forward_hook(spatial_hook(index)))
    try:
        model(**inputs, output_attentions=False)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def _capture_graph(model: Model, data: GraphInput, reducers: Mapping[str, Reducer],
                   include: str | None) -> list[str]:
    """PyG layers: each call's alpha as a one-layer sparse grid over the edges it used."""
    from .graph import graph_layers, run_with_layer_hooks, stack_records

    modules = [(name, m) for name, m in graph_layers(model) if include is None or include in name]
    if not modules:
        raise MultiattnValueError(f"no graph attention layer matching {include!r} in {type(model).__name__}")
    seen: list[str] = []

    def on_layer(label: str, edge_index: np.ndarray, alpha: np.ndarray) -> None:
        seen.append(label)
        feed(reducers, label, stack_records([(label, edge_index, alpha)], modules, None, data, model))

    run_with_layer_hooks(model, data, modules, on_layer)
    return seen


def attention_modules(model: Model, include: str | None = None) -> list[tuple[str, torch.nn.Module]]:
    """Innermost modules whose class name ends in ``Attention`` (one per layer and kind).

    Parameters
    ----------
    model : torch.nn.Module
    include : str, optional
        Keep only modules whose dotted name contains this text (e.g. ``"encoder"``,
        ``"encoder_attn"`` for Whisper / BART cross-attention).
    """
    found = []
    for name, module in model.named_modules():
        if not type(module).__name__.endswith("Attention"):
            continue
        nested = any(type(child).__name__.endswith("Attention") for _, child in module.named_modules()
                     if child is not module)
        if not nested and (include is None or include in name):
            found.append((name, module))
    return found


def capture_stream(
    model: Model,
    inputs: Mapping[str, torch.Tensor] | GraphInput,
    reducers: Mapping[str, Reducer],
    *,
    include: str | None = None,
) -> dict[str, Any]:
    """Run the model once and stream each layer's attention into ``reducers``.

    Parameters
    ----------
    model : transformers model, timm VisionTransformer, or PyG model
        Hugging Face models of any modality (incl. TimeSformer's divided
        attention), timm ViTs, and models with PyG graph attention layers.
    inputs : mapping or torch_geometric Data
        Keyword arguments of the forward pass (a tokenizer's or processor's
        output; ``{"x": pixels}`` for timm); for PyG models the ``Data`` (or
        the tuple of forward arguments), as for :func:`multiattn.adapters.graph.capture`.
    reducers : mapping of name -> Reducer
    include : str, optional
        Restrict to attention modules whose name contains this text (e.g.
        ``"encoder_attn"`` for Whisper cross-attention, ``"conv2"`` for one GAT layer).

    Returns
    -------
    dict
        ``{name: reducer.result()}`` plus ``"layers"``: the names fed, in order.

    Example
    -------
    >>> from multiattn.stream import HeadMean
    >>> capture_stream(gat, data, {"mean": HeadMean()})["layers"]  # doctest: +SKIP
    ['conv1', 'conv2']
    """
    import torch
    from threadpoolctl import threadpool_limits

    from ._vit_layout import is_timm_vit
    from .graph import graph_layers

    if is_timm_vit(model):
        return _capture_timm(model, inputs, reducers)
    # reducers run inside the forward: one BLAS thread, so numpy does not fight torch's pool
    with torch.no_grad(), threadpool_limits(1, user_api="blas"):
        if graph_layers(model):
            seen = _capture_graph(model, inputs, reducers, include)
        elif getattr(getattr(model, "config", None), "model_type", None) == "timesformer":
            with eager_attention(model):
                seen = _capture_timesformer(model, inputs, reducers)
        else:
            seen = _capture_hf(model, inputs, reducers, include)
    if not seen:
        raise MultiattnRuntimeError("the forward pass produced no attention; check the inputs")
    return {"layers": seen, **{name: reducer.result() for name, reducer in reducers.items()}}


def _capture_hf(model: Model, inputs: Mapping[str, torch.Tensor], reducers: Mapping[str, Reducer],
                include: str | None) -> list[str]:
    """Hugging Face eager attention modules return their weights; hook and feed them."""
    modules = attention_modules(model, include)
    if not modules:
        raise MultiattnValueError(
            f"found no attention modules in {type(model).__name__}"
            + (f" matching {include!r}" if include else "")
            + "; streaming needs Hugging Face attention modules (class names ending in 'Attention')"
        )
    seen: list[str] = []

    def _hook(name: str):
        def hook(_module, _args, output):
            weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
            if weights is None or weights.dim() != 4:
                raise MultiattnRuntimeError(f"{name} returned no attention weights under eager attention")
            seen.append(name)
            feed(reducers, name, weights[0].detach().float().cpu().numpy())
            return (output[0], None) + tuple(output[2:])
        return hook

    handles = [module.register_forward_hook(_hook(name)) for name, module in modules]
    try:
        with eager_attention(model):
            model(**inputs, output_attentions=False)
    finally:
        for handle in handles:
            handle.remove()
    return seen
