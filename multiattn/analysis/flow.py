"""Attention flow (Abnar & Zuidema 2020) as exact maximum flow, fast.

The layered attention graph has one node per token per layer; an edge from
token ``q`` at layer ``i`` to token ``k`` at layer ``i - 1`` has capacity
``Â_i[q, k]``, the residual-adjusted, head-fused attention of layer ``i``
(``Â = residual·I + (1 − residual)·mean_h A``, rows renormalised — the same
matrices rollout multiplies).  The flow from output token ``u`` (top layer)
to input token ``v`` (layer 0) is the value of a maximum ``u → v`` flow in
that graph; each output row is then divided by its sum, as the paper's
networkx reference code does.

Speed comes from three facts: the graph's structure is the same for every
``(u, v)`` pair (only the source row and the sink column change, so one CSR
matrix is built once and its data patched in place), scipy's Dinic solver
runs in C, and the output rows are independent (spread over processes).

Capacities are scaled to integers: ``c' = round(c · scale)``.  Each max-flow
value is then within ``E / (2 · scale)`` of the exact real-valued one, where
``E`` is the number of edges of the layered graph (``(L − 2)·N² + 2N``);
with the default ``scale = 2**30`` this is below ``1e-4`` for 12 layers ×
128 tokens and below ``1e-6`` for the small cases checked against networkx
in the tests (in practice the error is far smaller than the bound).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from ._arrays import as_dense

__all__ = ["attention_flow", "residual_attention", "flow_error_bound"]

_DEFAULT_SCALE = 2**30


def residual_attention(attn: Any, residual: float = 0.5, head_fusion: str = "mean") -> np.ndarray:
    """Head-fused attention mixed with the identity, rows renormalised: (L, N, N).

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
    residual : float
        Weight of the identity (the residual connection); 0.5 as in the paper.
    head_fusion : {"mean", "max", "min"}

    Example
    -------
    >>> residual_attention(np.full((1, 2, 2, 2), 0.5))[0]
    array([[0.75, 0.25],
           [0.25, 0.75]])
    """
    values = as_dense(attn)
    if values.shape[-1] != values.shape[-2]:
        raise ValueError(
            f"attention flow needs square self-attention (N, N); got {values.shape[-2:]} "
            "(cross-attention has no layered token graph)"
        )
    if not 0.0 <= residual <= 1.0:
        raise ValueError(f"residual must be in [0, 1], got {residual}")
    fuse = {"mean": np.mean, "max": np.max, "min": np.min}
    if head_fusion not in fuse:
        raise ValueError(f"head_fusion must be one of {sorted(fuse)}, got {head_fusion!r}")
    fused = fuse[head_fusion](values, axis=1)
    mixed = residual * np.eye(fused.shape[-1]) + (1.0 - residual) * fused
    sums = mixed.sum(-1, keepdims=True)
    return np.divide(mixed, sums, out=np.zeros_like(mixed), where=sums > 0)


def flow_error_bound(n_layers: int, n_tokens: int, scale: int = _DEFAULT_SCALE) -> float:
    """Upper bound on the absolute error of one max-flow value from integer scaling."""
    edges = max(n_layers - 2, 0) * n_tokens**2 + 2 * n_tokens
    return edges / (2.0 * scale)


class _LayeredGraph:
    """CSR layered graph with patchable source row and sink column.

    Node 0 is the source (an output token at the top layer), node 1 the sink
    (an input token at layer 0); layers 1..L-1 follow, ``N`` nodes each.
    """

    def __init__(self, layers: np.ndarray, scale: int):
        import scipy.sparse as sp

        n_layers, n_tok, _ = layers.shape
        self.layers, self.scale, self.n_tok = layers, scale, n_tok
        first = 2  # index of layer-1 token 0
        ids = np.arange(n_tok)
        rows, cols, caps = [], [], []
        for level in range(2, n_layers):  # edges layer `level` -> layer `level - 1`
            q, k = np.meshgrid(ids, ids, indexing="ij")
            rows.append(first + (level - 1) * n_tok + q.ravel())
            cols.append(first + (level - 2) * n_tok + k.ravel())
            caps.append(layers[level - 1].ravel())
        top = first + (n_layers - 2) * n_tok
        rows += [np.zeros(n_tok, int), first + ids]
        cols += [top + ids, np.ones(n_tok, int)]
        caps += [np.ones(n_tok), np.ones(n_tok)]
        n_nodes = first + (n_layers - 1) * n_tok
        data = np.round(np.concatenate(caps) * scale).astype(np.int32)
        graph = sp.csr_matrix((data, (np.concatenate(rows), np.concatenate(cols))), shape=(n_nodes, n_nodes))
        graph.sort_indices()
        self.graph = graph
        self.source_slots = np.arange(graph.indptr[0], graph.indptr[1])
        self.source_targets = graph.indices[self.source_slots] - top
        # layer-1 rows hold exactly one entry: their edge to the sink
        self.sink_slots = graph.indptr[first + ids]

    def flows_from(self, out_token: int) -> np.ndarray:
        """Max-flow values from one top-layer token to every input token, shape (N,)."""
        from scipy.sparse.csgraph import maximum_flow

        data = self.graph.data
        data[self.source_slots] = np.round(self.layers[-1][out_token][self.source_targets] * self.scale)
        values = np.empty(self.n_tok)
        for v in range(self.n_tok):
            data[self.sink_slots] = np.round(self.layers[0][:, v] * self.scale)
            values[v] = maximum_flow(self.graph, 0, 1, method="dinic").flow_value / self.scale
        return values


_WORKER: dict = {}


def _init_worker(layers: np.ndarray, scale: int) -> None:
    _WORKER["graph"] = _LayeredGraph(layers, scale)


def _worker_rows(out_tokens: list[int]) -> list[np.ndarray]:
    return [_WORKER["graph"].flows_from(u) for u in out_tokens]


def attention_flow(
    attn: Any,
    residual: float = 0.5,
    head_fusion: str = "mean",
    *,
    n_jobs: int | None = None,
    scale: int = _DEFAULT_SCALE,
) -> np.ndarray:
    """Exact attention flow from every output token to every input token.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Self-attention of all layers, bottom first (same conventions as rollout).
    residual : float
        Identity weight mixed into each layer (0.5 as in the paper).
    head_fusion : {"mean", "max", "min"}
        How heads are fused per layer.
    n_jobs : int, optional
        Worker processes; default all cores for N >= 48, else 1.
    scale : int
        Integer scaling of capacities (see the module docstring for the error bound).

    Returns
    -------
    numpy.ndarray (N, N)
        Row ``u``: flow from output token ``u`` to each input token, rows summing to 1.

    Example
    -------
    >>> attention_flow(np.full((2, 1, 3, 3), 1 / 3)).shape
    (3, 3)
    """
    layers = residual_attention(attn, residual, head_fusion)
    if not 1 <= scale < 2**31:
        raise ValueError(f"scale must be in [1, 2**31), got {scale}")
    n_tok = layers.shape[-1]
    if layers.shape[0] == 1:
        flows = layers[0].copy()
    else:
        jobs = (os.cpu_count() or 1) if n_jobs is None and n_tok >= 48 else (n_jobs or 1)
        if jobs <= 1:
            graph = _LayeredGraph(layers, scale)
            flows = np.stack([graph.flows_from(u) for u in range(n_tok)])
        else:
            chunks = [list(range(n_tok))[i::jobs] for i in range(jobs)]
            with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(layers, scale)) as pool:
                parts = list(pool.map(_worker_rows, chunks))
            flows = np.empty((n_tok, n_tok))
            for chunk, rows in zip(chunks, parts):
                flows[chunk] = np.stack(rows)
    sums = flows.sum(-1, keepdims=True)
    return np.divide(flows, sums, out=np.zeros_like(flows), where=sums > 0)
