"""Attention recomputed from queries and keys in blocks of query rows, while the model runs.

For inputs whose ``H × N × N`` layer is too large to make at all (a 32k-token input: 4 GB per head
in float32), the model runs on its own SDPA kernel (which never makes the matrix) through an
attention function registered with transformers' ``AttentionInterface`` as
``"multiattn_blocks"``: it returns SDPA's output unchanged and hands the layer's queries and keys
(after RoPE, as the kernel saw them) to the reducers, which receive ``softmax(q kᵀ · scale +
mask)`` one block of ``block_rows`` query rows at a time (:func:`row_blocks`).  Under causal
attention a block stops at its last query's key, so the work is half the square.

Models: those whose attention modules call transformers' attention interface and that support
SDPA (Llama, Mistral, Qwen, Gemma, GPT-NeoX, BERT...).  A learned sink logit (gpt-oss) or
soft-capped scores (Gemma 2) are refused: SDPA does not compute them.

Example
-------
>>> from multiattn.stream import Entropy, SinkShare
>>> out = capture_blocks(llama, {"input_ids": ids}, {"e": Entropy(), "s": SinkShare()},
...                      block_rows=128)  # doctest: +SKIP
>>> out["e"].shape, out["s"].shape  # doctest: +SKIP
((4, 8), (4, 8, 32768))
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnRuntimeError, MultiattnValueError, UnsupportedModelError

from ..stream import Reducer, feed_rows
from ._hf import registered_attention

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

    from .._types import Model

__all__ = ["NAME", "block_attention", "capture_blocks", "default_block_rows", "row_blocks"]

NAME = "multiattn_blocks"
#: Elements of one block of scores (``H × block_rows × K``): 16 MB of float32.
BLOCK_ELEMENTS = 1 << 22
_ACTIVE: dict[int, Any] = {}  # id(attention module) -> callback(module, query, key, mask, scaling, kwargs)


def _attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """SDPA's output; the queries and keys go to the callback of a module being captured."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    callback = _ACTIVE.get(id(module))
    if callback is not None:
        callback(module, query, key, attention_mask, kwargs)
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def block_attention(model: Model, callbacks: Mapping[int, Any]) -> AbstractContextManager:
    """Run a block with the model on ``"multiattn_blocks"`` (SDPA's masks, :func:`_attention`);
    ``callbacks``: ``id(module) -> callback``.

    Every config's attention implementation is restored on exit, even after an error.
    """
    from transformers.masking_utils import sdpa_mask

    return registered_attention(model, NAME, _attention, sdpa_mask, _ACTIVE, callbacks)


def default_block_rows(n_heads: int, n_keys: int) -> int:
    """Query rows per block so that one block of scores holds at most :data:`BLOCK_ELEMENTS`.

    Example
    -------
    >>> default_block_rows(8, 32768)
    16
    """
    return max(1, BLOCK_ELEMENTS // max(n_heads * n_keys, 1))


def row_blocks(query: torch.Tensor, key: torch.Tensor, mask: torch.Tensor | None, scaling: float,
               causal: bool, block_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, rows)`` blocks of ``softmax(q kᵀ · scaling + mask)`` for batch item 0.

    Parameters
    ----------
    query, key : tensors ``(B, H, Q, d)`` and ``(B, H_kv, K, d)``
        Grouped-query keys serve ``H / H_kv`` query heads each (as ``repeat_kv`` does).
    mask : tensor ``(B, 1 or H, Q, K)``, optional
        Boolean (True: attend) or additive float; None: ``causal`` or full attention.
    causal : bool
        Without a mask: query ``i`` sees keys ``0..i`` (a block's rows stop at its last key).
    block_rows : int
        Query rows per block.

    Yields
    ------
    (int, ndarray)
        The first query of the block and its float32 rows ``(H, b, K')``; ``K' = K`` with a mask
        or full attention, the block's last query + 1 under causal attention.

    Example
    -------
    >>> import torch
    >>> q, k = torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4)
    >>> [(start, rows.shape) for start, rows in row_blocks(q, k, None, 0.5, True, 2)]
    [(0, (2, 2, 2)), (2, (2, 2, 4)), (4, (2, 1, 5))]
    """
    import torch

    heads, n_query, dim = query.shape[1:]
    kv_heads, n_key = key.shape[1], key.shape[2]
    if heads % kv_heads:
        raise MultiattnValueError(f"{heads} query heads cannot share {kv_heads} key heads")
    groups, offset = heads // kv_heads, n_key - n_query  # queries are the last n_query positions
    q = query[0].float().view(kv_heads, groups, n_query, dim)
    keys_t = key[0].float().transpose(-1, -2)  # (H_kv, d, K)
    for start in range(0, n_query, block_rows):
        stop = min(start + block_rows, n_query)
        width = stop + offset if causal and mask is None else n_key
        scores = torch.matmul(q[:, :, start:stop].reshape(kv_heads, groups * (stop - start), dim),
                              keys_t[:, :, :width]).view(heads, stop - start, width)
        scores *= scaling
        if mask is not None:
            block = mask[0, :, start:stop, :width]
            if block.dtype == torch.bool:
                scores.masked_fill_(~block, float("-inf"))
            else:
                scores += block
        elif causal:  # only the block's own b × b corner has keys after its queries
            corner = torch.ones(stop - start, stop - start, dtype=torch.bool).triu_(1)
            scores[:, :, start + offset: width].masked_fill_(corner, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        del scores
        if mask is not None:  # a row with no key allowed (padding) is NaN: zeros
            probs = torch.nan_to_num_(probs, nan=0.0)
        yield start, probs.numpy()


def capture_blocks(model: Model, inputs: Mapping[str, torch.Tensor], reducers: Mapping[str, Reducer], *,
                   block_rows: int | None = None, include: str | None = None) -> list[str]:
    """Run ``model`` once on SDPA; each attention layer reaches ``reducers`` as blocks of query rows.

    Parameters
    ----------
    model : transformers model
        Its attention modules call transformers' attention interface (see the module notes).
    inputs : mapping
        The forward's keyword arguments (batch item 0 is summarised).
    reducers : mapping of str to Reducer
        Reducers that take row blocks (``HeadMean``, ``TopK``, ``Entropy``, ``SinkShare``).
    block_rows : int, optional
        Query rows per block (default: :func:`default_block_rows`, 16 MB of scores per block).
    include : str, optional
        Only attention modules whose dotted path has this component.

    Returns
    -------
    list of str
        The attention modules fed, in forward order.
    """
    from ._stream import attention_modules

    modules = _check_model(model, reducers, include, attention_modules)
    if block_rows is not None and int(block_rows) < 1:  # capture_stream passes None for 0
        raise MultiattnValueError(f"block_rows must be >= 1 query rows, got {block_rows}")
    seen: list[str] = []

    def callback_for(name: str):
        def callback(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor,
                     mask: torch.Tensor | None, kwargs: dict) -> None:
            if kwargs.get("softcap") is not None or getattr(module, "sinks", None) is not None:
                raise UnsupportedModelError(
                    f"{name} ({type(module).__name__}) uses soft-capped scores or a sink logit, which SDPA "
                    "does not compute: stream it without block_rows (eager attention, one layer at a time)")
            flag = kwargs.get("is_causal")
            flag = getattr(module, "is_causal", False) if flag is None else flag
            causal = bool(flag) and query.shape[2] > 1
            scaling = kwargs.get("scaling") or query.shape[-1] ** -0.5
            heads, n_key = int(query.shape[1]), int(key.shape[2])
            rows = block_rows or default_block_rows(heads, n_key)
            seen.append(name)
            feed_rows(reducers, name, (heads, int(query.shape[2]), n_key),
                      row_blocks(query, key, mask, float(scaling), causal and mask is None, int(rows)))
        return callback

    with block_attention(model, {id(module): callback_for(name) for name, module, _ in modules}):
        model(**inputs, output_attentions=False)
    if len(seen) < len(modules):
        missing = sorted({name for name, _, _ in modules} - set(seen))
        raise UnsupportedModelError(
            f"{type(model).__name__}'s attention modules {missing[:3]} did not call transformers' attention "
            "interface, so their queries and keys cannot be read: stream without block_rows")
    return seen


def _check_model(model: Model, reducers: Mapping[str, Reducer], include: str | None,
                 attention_modules: Any) -> list:
    """The attention modules to hook; refuse models and reducers the block path cannot serve."""
    if not getattr(type(model), "_supports_sdpa", False):
        raise UnsupportedModelError(
            f"{type(model).__name__} does not run on SDPA, so block_rows cannot recompute its attention "
            "from queries and keys; stream it without block_rows")
    wrong = [name for name, r in reducers.items() if type(r).begin_layer is Reducer.begin_layer]
    if wrong:
        raise MultiattnValueError(
            f"reducers {wrong} need whole layers; with block_rows use HeadMean, TopK, Entropy or SinkShare")
    modules = attention_modules(model, include)
    if not modules:
        matching = f" matching {include!r}" if include else ""
        raise MultiattnRuntimeError(f"found no attention modules in {type(model).__name__}{matching}")
    return modules
