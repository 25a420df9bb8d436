"""From a Hugging Face ``output_attentions`` tuple to the dense values of one text grid.

What :func:`multiattn.adapters.text.capture` needs beyond stacking ``(1, H, Q, K)`` tensors:

- checks before the forward: a model with no attention at all (Mamba), a forward without
  ``output_attentions``, and the memory guard (``L × H × Q × K × 4`` bytes times the measured
  peak factor, from the config and the token count);
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

__all__ = ["PEAK_FACTOR", "capture_bytes", "check_capturable", "check_memory", "check_shapes",
           "layer_array", "sink_mass"]

#: Peak resident memory of a capture divided by the grid's size: 2.5 measured on a small Llama at
#: 1024 tokens (``benchmarks/bench_text_memory.py``; the model's tuple of per-layer tensors, the
#: float32 grid, one layer's softmax temporaries and the finiteness check), rounded up.
PEAK_FACTOR = 3.0


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


def _layout(config: object) -> tuple[int, int, int, int]:
    """``(encoder or only layers, heads, decoder layers, decoder heads)`` read from a config."""
    def first(*names: str, default: int = 0) -> int:
        for source in (config, getattr(config, "get_text_config", lambda: None)()):
            for name in names:
                value = getattr(source, name, None)
                if isinstance(value, int) and value > 0:
                    return value
        return default

    layers = first("num_hidden_layers", "encoder_layers", "num_layers", "n_layer", "n_layers")
    heads = first("num_attention_heads", "encoder_attention_heads", "num_heads", "n_head", "n_heads")
    dec_layers = first("decoder_layers", "num_decoder_layers", default=layers)
    dec_heads = first("decoder_attention_heads", default=heads)
    return layers, heads, dec_layers, dec_heads


def capture_bytes(config: object, n_tokens: int, n_target: int | None = None) -> int:
    """Bytes of float32 attention a capture returns: ``L × H × Q × K × 4`` summed over the grids.

    Example
    -------
    >>> from transformers import LlamaConfig
    >>> capture_bytes(LlamaConfig(num_hidden_layers=32, num_attention_heads=32), 2048) / 2**30
    16.0
    """
    layers, heads, dec_layers, dec_heads = _layout(config)
    total = layers * heads * n_tokens * n_tokens
    if n_target is not None:  # decoder self-attention and cross-attention
        total += dec_layers * dec_heads * (n_target * n_target + n_target * n_tokens)
    return 4 * total


def check_memory(model: Model, n_tokens: int, n_target: int | None = None) -> None:
    """Refuse a capture whose attention would not fit, before the forward runs.

    Raises
    ------
    AttentionTooLargeError
        With the grid's layout, its size, the estimated peak and the streaming advice.

    Example
    -------
    >>> check_memory(llama_8b_layout, 2048)  # doctest: +SKIP
    Traceback (most recent call last):
    AttentionTooLargeError: capturing LlamaForCausalLM at 2048 tokens (32 layers × 32 heads ...
    """
    from multiattn import _memory

    config = model.config
    grid = capture_bytes(config, n_tokens, n_target)
    layers, heads, *_ = _layout(config)
    what = (f"capturing {type(model).__name__} at {n_tokens} tokens ({layers} layers × {heads} heads × "
            f"{n_tokens} × {n_tokens}{' + decoder and cross' if n_target else ''}, float32: "
            f"{_memory.human(grid)}, peak ~{PEAK_FACTOR}×)")
    _memory.check_fits(int(grid * PEAK_FACTOR), what, advice=(
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
