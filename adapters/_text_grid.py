"""From a Hugging Face ``output_attentions`` tuple to the dense values of one text grid.

What :func:`multiattn.adapters.text.capture` needs beyond stacking ``(1, H, Q, K)`` tensors:

- checks before the forward: a model with no attention at all (Mamba), a forward without
  ``output_attentions``, and the memory guard (:mod:`._guard`: ``L × H × Q × K × 4`` bytes times
  the measured peak factor, from the config and the token count);
- Longformer's banded local attention ``(1, H, T, w + 1)`` put back on the dense ``(T, T)`` grid;
- layers of different shapes (Funnel pools the sequence between blocks) refused with the shapes;
- attention sinks (gpt-oss: a learned per-head logit that takes part in the softmax but is no
  key) reported as ``meta["sink_mass"]`` ``(L, H, Q)`` so that rows + sink = 1;
- :class:`LayerWriter`: each layer written into one preallocated float32 grid as the model makes
  it (copied from a hook on the attention module, or written in place by the capture's attention
  function through :meth:`LayerWriter.slot`; encoder-decoders have one writer each for encoder
  self, decoder self and cross attention), so the model's own tuple of layers is never kept and the
  capture peaks near the grids' size plus one or two layers of the softmax's temporaries
  (``benchmarks/bench_text_memory.py``).
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

__all__ = ["LayerWriter", "capture_bytes", "check_capturable", "check_memory", "check_shapes", "layer_array",
           "sink_mass"]


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


def check_memory(model: Model, n_tokens: int, n_target: int | None = None, *, written: bool = False) -> None:
    """Refuse a capture whose attention would not fit, before the forward runs.

    ``written``: the layers go into the grid as they are made (:class:`LayerWriter` from hooks),
    a lower peak than copying the model's tuple (:func:`multiattn.adapters._guard.peak_bytes`).

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
        "or shorten the input (max_length=...)"), written=written)


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


class LayerWriter:
    """Write each layer's ``(1, H, Q, K)`` weights into one float32 ``(L, H, Q', K')`` grid as it comes.

    ``Q'`` / ``K'`` are the kept (non-padding) positions.  The grid is allocated once, at the
    first layer (its head count), with room for ``capacity`` layers; pages of layers never
    written are never touched.  A model that calls its attention more often than ``capacity``
    (shared layers) still gets every call, appended at the end.

    Parameters
    ----------
    model : transformers model
        For the messages and Longformer's band.
    capacity : int
        The number of layers expected.
    keeps : (bool array, bool array)
        The query and key positions kept.
    causal : bool
        Check whether every layer leaves the upper triangle 0 (:attr:`causal` reads the answer).

    Example
    -------
    >>> import torch
    >>> writer = LayerWriter(None, 2, (np.ones(3, bool), np.ones(3, bool)), causal=True)
    >>> for _ in range(2):
    ...     writer("layer", torch.tril(torch.ones(1, 4, 3, 3)) / torch.arange(1, 4)[:, None])
    >>> writer.result().shape, writer.causal
    ((2, 4, 3, 3), True)
    """

    def __init__(self, model: Model, capacity: int, keeps: tuple[np.ndarray, np.ndarray], *,
                 causal: bool = False, what: str = "self") -> None:
        self.model, self.capacity, self.what = model, max(int(capacity), 1), what
        self.q_keep, self.k_keep = keeps
        self.padded = not (self.q_keep.all() and self.k_keep.all())
        self.causal, self.count = causal, 0
        self.values: np.ndarray | None = None
        self._extra: list[np.ndarray] = []

    def __call__(self, _name: str, weights: torch.Tensor) -> None:
        """Take one layer (the ``on_layer`` callback of ``adapters._stream.hf_attention_hooks``)."""
        n_query, n_key = len(self.q_keep), len(self.k_keep)
        if self.model is not None:
            check_shapes([weights], n_query, n_key, self.model, self.what)
        array = layer_array(weights, n_query, n_key, self.model)
        if self.padded:
            array = array[:, self.q_keep][:, :, self.k_keep]
        if self.values is None:
            self.values = np.empty((self.capacity, *array.shape), dtype=np.float32)
        if self.count < self.capacity:
            self.values[self.count] = array
        else:
            self._extra.append(np.array(array, dtype=np.float32))
        self.causal = self.causal and _lower_triangular(array)
        self.count += 1

    def slot(self, heads: int, n_query: int, n_key: int) -> np.ndarray | None:
        """The next layer's ``(H, Q, K)`` row of the grid, for an attention function to write in place
        (then :meth:`written`); None when the layer cannot go there as it comes (padding to drop,
        another shape, every row taken): its weights are then copied by :meth:`__call__`."""
        if self.padded or (n_query, n_key) != (len(self.q_keep), len(self.k_keep)) \
                or self.count >= self.capacity:
            return None
        if self.values is None:
            self.values = np.empty((self.capacity, heads, n_query, n_key), dtype=np.float32)
        return self.values[self.count] if self.values.shape[1] == heads else None

    def written(self) -> None:
        """Count the row :meth:`slot` handed out as written."""
        self.causal = self.causal and _lower_triangular(self.values[self.count])
        self.count += 1

    def result(self) -> np.ndarray:
        """The ``(layers, H, Q', K')`` grid of the layers written (a view when fewer than ``capacity``)."""
        if self.values is None:
            raise MultiattnRuntimeError(f"the forward pass produced no {self.what} attention weights")
        if self._extra:
            return np.concatenate([self.values, np.stack(self._extra)])
        return self.values[: self.count]


def _lower_triangular(layer: np.ndarray, chunk: int = 1 << 18) -> bool:
    """Whether ``(H, Q, K)`` is 0 above the diagonal (a decoder's mask), in row blocks (no N × N mask)."""
    heads, n_query, n_key = layer.shape
    step = max(1, chunk // max(heads * n_key, 1))
    cols = np.arange(n_key)
    for start in range(0, n_query, step):
        rows = np.arange(start, min(start + step, n_query))
        if layer[:, rows[0]: rows[-1] + 1][:, cols[None, :] > rows[:, None]].any():
            return False
    return True
