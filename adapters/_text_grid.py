"""From a Hugging Face ``output_attentions`` tuple to the dense values of one text grid.

What :func:`multiattn.adapters.text.capture` needs beyond stacking ``(1, H, Q, K)`` tensors:

- checks before the forward: a model with no attention at all (Mamba), a forward without
  ``output_attentions``, and the memory guard (:mod:`._guard`: ``L × H × Q × K × 4`` bytes times
  the measured peak factor, from the config and the token count);
- Longformer's banded local attention ``(1, H, T, w + 1)`` put back on the dense ``(T, T)`` grid;
- layers of different shapes (Funnel pools the sequence between blocks) refused with the shapes;
- attention sinks (gpt-oss: a learned per-head logit that takes part in the softmax but is no
  key) reported as ``meta["sink_mass"]`` ``(L, H, Q)`` so that rows + sink = 1.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnRuntimeError, UnsupportedModelError

from ._hf import has_attention, recorded_attentions

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

    from .._types import Model

__all__ = ["capture_bytes", "check_capturable", "check_memory", "check_shapes", "layer_array", "sink_mass"]

def check_capturable(model: Model) -> None:
    """Refuse, before any forward, models that cannot return attention weights.

    Example
    -------
    >>> check_capturable(mamba_model)  # doctest: +SKIP
    Traceback (most recent call last):
    UnsupportedModelError: MambaModel has no attention layers ...
    """
    name = type(model).__name__
    if not has_attention(model):
        raise UnsupportedModelError(
            f"{name} has no attention layers (model_type {getattr(model.config, 'model_type', '?')!r}: "
            "a state-space, recurrent or convolutional model), so there are no attention weights to "
            "capture; use a transformer with attention layers")
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if "output_attentions" not in params and not takes_kwargs:
        raise UnsupportedModelError(
            f"{name}.forward takes no output_attentions argument, so it cannot return attention "
            "weights; capture from the model class that does (e.g. the base model of the checkpoint)")


def _grids(model: Model, n_tokens: int, n_target: int | None) -> list[tuple[int, int, int, int]]:
    """``(layers, heads, queries, keys)`` of each grid a capture returns (decoder and cross too)."""
    from ._guard import layers_and_heads

    layers, heads = layers_and_heads(model)
    grids = [(layers, heads, n_tokens, n_tokens)]
    if n_target is not None:
        config = model.config
        found = (getattr(config, name, None) for name in ("decoder_layers", "num_decoder_layers"))
        dec_layers = next((v for v in found if isinstance(v, int) and v > 0), layers)
        dec_heads = getattr(config, "decoder_attention_heads", None) or heads
        grids += [(dec_layers, dec_heads, n_target, n_target), (dec_layers, dec_heads, n_target, n_tokens)]
    return grids


def capture_bytes(model: Model, n_tokens: int, n_target: int | None = None) -> int:
    """Bytes of float32 attention a capture returns: ``L × H × Q × K × 4`` summed over the grids.

    Example
    -------
    >>> capture_bytes(llama_8b, 2048) / 2**30  # doctest: +SKIP
    16.0
    """
    return 4 * sum(layers * heads * q * k for layers, heads, q, k in _grids(model, n_tokens, n_target))


def check_memory(model: Model, n_tokens: int, n_target: int | None = None) -> None:
    """Refuse a capture whose attention would not fit, before the forward runs.

    Raises
    ------
    AttentionTooLargeError
        With the grids' layout, their size, the estimated peak and the streaming advice.

    Example
    -------
    >>> check_memory(llama_8b_layout, 2048)  # doctest: +SKIP
    Traceback (most recent call last):
    AttentionTooLargeError: capturing LlamaForCausalLM at 2048 tokens (32 layers × 32 heads ...
    """
    from ._guard import check_attention_memory

    check_attention_memory(model, _grids(model, n_tokens, n_target),
                           f"{type(model).__name__} at {n_tokens} tokens", advice=(
        "Stream summaries instead of the full grid: multiattn.capture_stream(model, text, "
        "{'mean': multiattn.stream.HeadMean()}, processor=tokenizer) keeps one layer at a time; "
        "or shorten the input (max_length=...)"))


def _banded(layer: np.ndarray, n_keys: int) -> np.ndarray:
    """Longformer local attention ``(H, T, w + 1)`` -> dense ``(H, T, T)``.

    Column ``j`` of query ``i`` is key ``i - w/2 + j`` (keys outside ``0..T-1`` carry no weight).
    """
    heads, n_query, width = layer.shape
    half = (width - 1) // 2
    dense = np.zeros((heads, n_query, n_keys), dtype=np.float32)
    rows = np.arange(n_query)[:, None]
    cols = rows - half + np.arange(width)[None, :]
    inside = (cols >= 0) & (cols < n_keys)
    q_idx, band = np.nonzero(inside)
    dense[:, q_idx, cols[q_idx, band]] = layer[:, q_idx, band]
    return dense


def check_shapes(attentions: Sequence[torch.Tensor], n_query: int, n_key: int, model: Model,
                 what: str) -> None:
    """Every layer must attend ``n_query × n_key`` input tokens (Longformer's band counts as that).

    Raises
    ------
    UnsupportedModelError
        Layers of different shapes (a model that pools or merges tokens between layers).
    """
    shapes = [tuple(a.shape[-2:]) for a in attentions]
    banded = getattr(model.config, "attention_window", None) is not None
    ok = all(q >= n_query and (k == n_key or banded) for q, k in shapes) if banded else \
        all(shape == (n_query, n_key) for shape in shapes)
    if not ok:
        raise UnsupportedModelError(
            f"{type(model).__name__}'s {what} attention has shapes {shapes} (query, key) for {n_query} "
            f"× {n_key} input tokens: its layers do not attend from every input token to every input "
            "token (pooling, landmarks, local blocks or no softmax attention), and one (layer, head, "
            "query, key) grid over the input tokens cannot hold that; capture a model whose attention "
            "is over the input tokens")


def layer_array(layer: torch.Tensor, n_query: int, n_key: int, model: Model) -> np.ndarray:
    """Batch item 0 of one layer as float32 ``(H, Q, K)``; a Longformer band made dense.

    Raises
    ------
    UnsupportedModelError
        Negative values: the model returns scores (pre-softmax), not attention weights.
    """
    values = layer[0, :, :n_query].detach().float().cpu().numpy()
    low = float(values.min()) if values.size else 0.0
    if low < -1e-6:
        raise UnsupportedModelError(
            f"{type(model).__name__} returns attention scores, not weights (a value of {low:.4g}; weights "
            "are >= 0 and rows sum to 1): its output_attentions holds the pre-softmax scores, so there "
            "are no weights multiattn could report truthfully")
    if values.shape[-1] != n_key:
        return _banded(values, n_key)
    return values


def sink_mass(model: Model, values: np.ndarray) -> np.ndarray | None:
    """Attention mass a learned sink logit took, ``1 - row sum`` ``(L, H, Q)``, or None.

    A model has sinks when its attention modules carry a ``sinks`` parameter (gpt-oss: one
    logit per head concatenated to the scores before the softmax, then dropped).

    Raises
    ------
    MultiattnRuntimeError
        Rows that sum to more than 1 (the values are not the model's softmax).
    """
    modules = [module for key, _, module, _ in recorded_attentions(model) if key == "attentions"]
    if not any(getattr(m, "sinks", None) is not None for m in modules):
        return None
    mass = 1.0 - values.sum(axis=-1, dtype=np.float64)
    if mass.min() < -1e-4:
        raise MultiattnRuntimeError(
            f"{type(model).__name__} has attention sinks but a row sums to {1 - mass.min():.4f} > 1")
    return np.clip(mass, 0.0, 1.0)
