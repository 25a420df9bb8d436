"""GPSConv's global attention: a ``torch.nn.MultiheadAttention`` over the padded nodes of each graph.

The block is called with ``need_weights=False`` (the fast path); its weights are recomputed
by calling the same module's ``forward`` once more with ``need_weights=True``, so the model's
own output is untouched.  The dense ``(B, H, N, N)`` weights become one edge per pair of nodes
of the same graph, in node order (``to_dense_batch`` keeps each graph's nodes first, in order).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from multiattn._memory import check_fits
from multiattn.errors import UnsupportedModelError

from ._graph_layers import DENSE_NOTE, LayerCall

__all__ = ["dense_call", "pairs_of_graphs"]


def pairs_of_graphs(counts: np.ndarray) -> np.ndarray:
    """``edge_index (2, sum n_b**2)``: every (source, target) pair inside each graph, target-major.

    Examples
    --------
    >>> pairs_of_graphs(np.array([2, 1])).tolist()
    [[0, 1, 0, 1, 2], [0, 0, 1, 1, 2]]
    """
    ptr = np.concatenate([[0], np.cumsum(counts)])
    parts = []
    for start, n in zip(ptr[:-1], counts):
        idx = np.arange(n, dtype=np.int64) + start
        parts.append(np.stack([np.tile(idx, n), np.repeat(idx, n)]))
    return np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), np.int64)


def dense_call(name: str, module: Any, args: tuple, kwargs: dict, limit_bytes: int | None) -> LayerCall:
    """The weights of one ``MultiheadAttention`` call as a :class:`LayerCall` over node pairs."""
    import inspect

    import torch

    bound = inspect.signature(module.forward).bind(*args, **kwargs).arguments  # positional or keyword
    query = bound["query"]
    batch_first = getattr(module, "batch_first", False)
    n_batch, n_max = (query.shape[0], query.shape[1]) if batch_first else (query.shape[1], query.shape[0])
    check_fits(4 * n_batch * module.num_heads * n_max * n_max,
               f"dense attention of {name} ({n_batch} graphs x {module.num_heads} heads x {n_max}^2 nodes)",
               limit_bytes)
    pad = bound.get("key_padding_mask")
    valid = np.ones((n_batch, n_max), bool) if pad is None else ~pad.detach().cpu().numpy().astype(bool)
    counts = valid.sum(axis=1)
    if any(not valid[b, :n].all() for b, n in enumerate(counts)):
        raise UnsupportedModelError(f"layer {name}: padding is not at the end of each graph; cannot map the "
                                    "dense attention back to nodes")
    with torch.no_grad():
        _, weights = module.forward(**{**bound, "need_weights": True, "average_attn_weights": False})
    weights = weights.detach().float().cpu().numpy()  # (B, H, N, N)
    alpha = np.concatenate([weights[b, :, :n, :n].reshape(weights.shape[1], n * n)
                            for b, n in enumerate(counts)], axis=1)
    total = int(counts.sum())
    return LayerCall(name, module, pairs_of_graphs(counts), alpha.T, DENSE_NOTE, sizes=(total, total))
