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

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from multiattn.errors import MultiattnRuntimeError, MultiattnValueError, UnsupportedModelError

from ..stream import Reducer, feed
from ._hf import eager_attention, recorded_attentions

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import numpy as np
    import torch
    from transformers.models.timesformer.modeling_timesformer import TimesformerSelfAttention

    from .._types import GraphInput, Model

__all__ = ["attention_modules", "capture_stream", "hf_attention_hooks"]


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


def attention_modules(model: Model, include: str | None = None) -> list[tuple[str, torch.nn.Module, int]]:
    """The modules whose output holds each layer's attention weights: ``(name, module, index)``.

    Where the model declares them (transformers >= 5 ``_can_record_outputs``: the modules and
    the output index its own ``output_attentions`` reads, e.g. index -1 of T5's layers, whose
    index 1 is the position bias), those; otherwise the innermost modules whose class name ends
    in ``Attention``, weights at index 1.

    Parameters
    ----------
    model : torch.nn.Module
    include : str, optional
        Keep only modules whose dotted path has this component (or run of components):
        ``"encoder"`` keeps ``encoder.layers.0.self_attn`` but not the decoder's
        ``decoder.layers.0.encoder_attn``; ``"encoder_attn"`` keeps BART / Whisper cross-attention.

    Example
    -------
    >>> [(name, index) for name, _, index in attention_modules(t5, include="decoder")][:2]  # doctest: +SKIP
    [('decoder.block.0.layer.0', -1), ('decoder.block.0.layer.1', -1)]
    """
    from ._hf import recorded_attentions

    found = [(name, module, index) for _, name, module, index in recorded_attentions(model)]
    if not found:
        for name, module in model.named_modules():
            if not type(module).__name__.endswith("Attention"):
                continue
            nested = any(type(child).__name__.endswith("Attention") for _, child in module.named_modules()
                         if child is not module)
            if not nested:
                found.append((name, module, 1))
    return [entry for entry in found if include is None or _has_component(entry[0], include)]


def _has_component(name: str, include: str) -> bool:
    """``include``'s dotted components appear in a row among ``name``'s (not a substring match)."""
    parts, wanted = name.split("."), include.strip(".").split(".")
    return any(parts[i:i + len(wanted)] == wanted for i in range(len(parts) - len(wanted) + 1))


def capture_stream(
    model: Model,
    inputs: Mapping[str, torch.Tensor] | GraphInput,
    reducers: Mapping[str, Reducer],
    *,
    include: str | None = None,
    block_rows: int | None = None,
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
        Restrict to attention modules whose dotted path has this component (e.g.
        ``"encoder"``, ``"encoder_attn"`` for Whisper cross-attention); for PyG models, whose
        name contains this text (``"conv2"`` for one GAT layer).
    block_rows : int, optional
        Hugging Face models on SDPA: recompute each layer from its queries and keys in blocks of
        this many query rows inside the reducers (``adapters._blockwise``: never an ``N × N``
        matrix per head, e.g. a 32k-token input); the reducers must take row blocks
        (``HeadMean``, ``TopK``, ``Entropy``, ``SinkShare``).  ``0``: the default block size
        (16 MB of scores).

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

    from ._swin import is_swin, swin_stream
    from ._vit_layout import is_timm_vit
    from .graph import graph_layers

    if block_rows is not None:
        from ._blockwise import capture_blocks

        with torch.no_grad(), threadpool_limits(1, user_api="blas"):
            seen = capture_blocks(model, inputs, reducers, block_rows=block_rows or None, include=include)
        return {"layers": seen, **{name: reducer.result() for name, reducer in reducers.items()}}
    if is_swin(model):  # every window of every block, mapped onto its stage grid (adapters._swin)
        with threadpool_limits(1, user_api="blas"):
            seen = swin_stream(model, inputs, reducers)
        return {"layers": seen, **{name: reducer.result() for name, reducer in reducers.items()}}
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
            from ._vit_hf import eager_classes  # BEiT / Data2Vec-Vision: SDPA classes fixed at build

            with eager_classes(model):
                seen = _capture_hf(model, inputs, reducers, include)
    if not seen:
        raise MultiattnRuntimeError("the forward pass produced no attention; check the inputs")
    return {"layers": seen, **{name: reducer.result() for name, reducer in reducers.items()}}


def _capture_hf(model: Model, inputs: Mapping[str, torch.Tensor], reducers: Mapping[str, Reducer],
                include: str | None) -> list[str]:
    """Hugging Face eager attention modules return their weights; hook and feed them."""
    if getattr(getattr(model, "config", None), "attention_window", None) is not None:
        raise UnsupportedModelError(
            f"{type(model).__name__}'s modules return local band attention (tokens × window), not "
            "(query, key) weights, so streaming cannot feed them to reducers; multiattn.capture "
            "writes the band out on the dense grid")
    modules = attention_modules(model, include)
    if not modules:
        raise MultiattnValueError(
            f"found no attention modules in {type(model).__name__}"
            + (f" matching {include!r}" if include else "")
            + "; streaming needs Hugging Face attention modules (class names ending in 'Attention')"
        )
    _check_layer_fits(model, inputs)
    seen: list[str] = []

    def on_layer(name: str, weights: torch.Tensor) -> None:
        seen.append(name)
        feed(reducers, name, weights[0].detach().float().cpu().numpy())

    # models that declare their recorders return weights anyway; older code only when asked (the
    # hooks drop them, so the model's own tuple collects None)
    asked = not recorded_attentions(model)
    with hf_attention_hooks(modules, on_layer, drop=True), eager_attention(model):
        model(**inputs, output_attentions=asked)
    return seen


def _check_layer_fits(model: Model, inputs: Mapping[str, Any]) -> None:
    """Refuse, before the forward, a text input whose one eager layer (scores and probabilities of
    ``H × N × N``) would not fit; the advice is ``block_rows``."""
    from multiattn import _memory

    from ._guard import layers_and_heads

    ids = inputs.get("input_ids") if isinstance(inputs, Mapping) else None
    heads = layers_and_heads(model)[1]
    if ids is None or not hasattr(ids, "shape") or not heads:
        return
    n = int(ids.shape[-1])
    _memory.check_fits(2 * 4 * heads * n * n, f"one eager attention layer ({heads} heads × {n} × {n}, scores "
                       "and probabilities)", advice=(
        "Recompute each layer from its queries and keys in blocks instead: capture_stream(..., "
        "block_rows=0) with Entropy / TopK / SinkShare reducers (multiattn.adapters._stream)"))


@contextmanager
def hf_attention_hooks(modules: list[tuple[str, torch.nn.Module, int]],
                       on_layer: Callable[[str, torch.Tensor], None], *,
                       drop: bool = False, strict: bool = True) -> Iterator[None]:
    """Forward hooks on eager attention ``modules``: ``on_layer(name, weights (B, H, Q, K))`` per call.

    ``modules`` come from :func:`attention_modules` (``index``: where the weights sit in the output).

    ``drop=True`` replaces the weights in the module's output by ``None`` (nothing keeps them);
    the monitor (:mod:`multiattn.monitor`) leaves the output alone.  Hooks are removed on exit.
    """
    def _hook(name: str, index: int):
        def hook(_module, _args, output):
            weights = output[index] if isinstance(output, tuple) and len(output) > 1 else None
            if weights is None or weights.dim() != 4:
                if not strict:  # the monitor: a forward it does not sample runs on a fused kernel
                    return None
                raise MultiattnRuntimeError(
                    f"{name} ({type(_module).__name__}) returned no (B, H, Q, K) attention weights at "
                    f"output index {index} under eager attention: streaming cannot read this model's "
                    "attention modules; capture the full grid with multiattn.capture instead")
            on_layer(name, weights)
            if not drop:
                return None
            kept = list(output)
            kept[index] = None
            return tuple(kept)
        return hook

    handles = [module.register_forward_hook(_hook(name, index)) for name, module, index in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
