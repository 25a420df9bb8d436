"""Streaming capture for Hugging Face models: reducers see one layer at a time.

timm VisionTransformers keep their fused kernel: a forward hook recomputes
softmax(qkᵀ) per block and hands it on (``inputs={"x": pixels}``).  Under eager
attention every Hugging Face attention module returns
``(attn_output, attn_weights)``.  :func:`capture_stream` hooks the innermost
attention modules, hands each layer's weights (first batch item) to the
reducers of :mod:`multiattn.stream` and releases them, and runs the model with
``output_attentions=False`` so that no layer is kept.  Peak memory is one
layer's attention plus the summaries instead of all ``L × H × N × N``.

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
from typing import Any

from ..stream import Reducer, feed
from ._hf import eager_attention

__all__ = ["attention_modules", "capture_stream"]


class _ReducerSink:
    """``append(weights (B, H, N, N))`` feeds the first batch item of each layer to the reducers."""

    def __init__(self, reducers: Mapping[str, Reducer]):
        self.reducers, self.layers = reducers, []

    def append(self, weights: Any) -> None:
        name = f"blocks.{len(self.layers)}.attn"
        self.layers.append(name)
        feed(self.reducers, name, weights[0].detach().float().cpu().numpy())


def _capture_timm(model: Any, inputs: Mapping[str, Any], reducers: Mapping[str, Reducer]) -> dict[str, Any]:
    """timm ViTs keep their fused kernel; a hook recomputes softmax(qkᵀ) one layer at a time."""
    import torch
    from threadpoolctl import threadpool_limits

    from .vit import timm_attention_hooks

    sink = _ReducerSink(reducers)
    with timm_attention_hooks(model, sink), torch.no_grad(), threadpool_limits(1, user_api="blas"):
        model(**inputs)
    return {"layers": sink.layers, **{name: reducer.result() for name, reducer in reducers.items()}}


def attention_modules(model: Any, include: str | None = None) -> list[tuple[str, Any]]:
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
    model: Any,
    inputs: Mapping[str, Any],
    reducers: Mapping[str, Reducer],
    *,
    include: str | None = None,
) -> dict[str, Any]:
    """Run ``model(**inputs)`` once and stream each layer's attention into ``reducers``.

    Parameters
    ----------
    model : transformers.PreTrainedModel
    inputs : mapping
        Keyword arguments of the forward pass (e.g. a tokenizer's output).
    reducers : mapping of name -> Reducer
    include : str, optional
        Restrict to attention modules whose name contains this text.

    Returns
    -------
    dict
        ``{name: reducer.result()}`` plus ``"layers"``: the module names in order.
    """
    import torch
    from threadpoolctl import threadpool_limits

    from .vit import is_timm_vit

    if is_timm_vit(model):
        return _capture_timm(model, inputs, reducers)
    modules = attention_modules(model, include)
    if not modules:
        raise ValueError(
            f"found no attention modules in {type(model).__name__}"
            + (f" matching {include!r}" if include else "")
            + "; streaming needs Hugging Face attention modules (class names ending in 'Attention')"
        )
    seen: list[str] = []

    def _hook(name: str):
        def hook(_module, _args, output):
            weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
            if weights is None or weights.dim() != 4:
                raise RuntimeError(f"{name} returned no attention weights under eager attention")
            seen.append(name)
            feed(reducers, name, weights[0].detach().float().cpu().numpy())
            return (output[0], None) + tuple(output[2:])
        return hook

    handles = [module.register_forward_hook(_hook(name)) for name, module in modules]
    try:
        # reducers run inside the forward: one BLAS thread, so numpy does not fight torch's pool
        with eager_attention(model), torch.no_grad(), threadpool_limits(1, user_api="blas"):
            model(**inputs, output_attentions=False)
    finally:
        for handle in handles:
            handle.remove()
    if not seen:
        raise RuntimeError("the forward pass produced no attention; check the inputs")
    return {"layers": seen, **{name: reducer.result() for name, reducer in reducers.items()}}
