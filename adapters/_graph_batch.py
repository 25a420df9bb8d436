"""Batched graphs: which node is in which graph, and one grid per graph (numpy only).

A grid captured on a PyG ``Batch`` (or any ``Data`` with a ``batch`` vector) keeps the
graph of every node in ``meta["batch"]`` (one graph index per node, PyG's ``batch``) and
``meta["num_graphs"]``; :func:`split_graphs` cuts it into one grid per graph, with the
nodes renumbered ``0..n_b - 1`` as a capture of that graph alone would number them.
"""

from __future__ import annotations

import numpy as np

from multiattn.axes import NodeAxis
from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionGrid
from multiattn.gridset import GridSet

__all__ = ["batch_meta", "graph_of_nodes", "split_graphs"]


def batch_meta(batch: np.ndarray | None, num_nodes: int) -> dict:
    """``{"batch": [...], "num_graphs": B}`` for a PyG batch vector (empty without one).

    Examples
    --------
    >>> batch_meta(np.array([0, 0, 1]), 3)
    {'batch': [0, 0, 1], 'num_graphs': 2}
    """
    if batch is None:
        return {}
    batch = np.asarray(batch).astype(np.int64).ravel()
    if batch.shape != (num_nodes,):
        raise MultiattnValueError(f"data.batch has {batch.size} entries for {num_nodes} nodes; it must hold "
                                  "one graph index per node")
    return {"batch": batch.tolist(), "num_graphs": int(batch.max()) + 1 if batch.size else 0}


def graph_of_nodes(grid: AttentionGrid) -> np.ndarray:
    """The graph index of every node of a batched graph grid, ``(N,)`` int64.

    Examples
    --------
    >>> graph_of_nodes(grid).shape  # doctest: +SKIP
    (30,)
    """
    if not isinstance(grid, AttentionGrid) or not grid.is_sparse:
        raise MultiattnTypeError(f"expected a sparse graph AttentionGrid, got {type(grid).__name__}")
    if "batch" not in grid.meta:
        raise MultiattnValueError("this grid was not captured on a batch of graphs (no meta['batch']); "
                                  "capture a PyG Batch (torch_geometric.data.Batch.from_data_list)")
    return np.asarray(grid.meta["batch"], dtype=np.int64)


def _sub_axis(axis: NodeAxis, keep: np.ndarray) -> NodeAxis:
    global_ids = axis.ids == tuple(range(len(axis)))
    ids = list(range(keep.size)) if global_ids else [axis.ids[i] for i in keep]
    labels = None if axis.node_labels is None else [axis.node_labels[i] for i in keep]
    if labels is not None and global_ids and labels == [str(i) for i in keep]:
        labels = None
    groups = None if axis.groups is None else [axis.groups[i] for i in keep]
    return NodeAxis(ids, labels=labels, groups=groups)


def split_graphs(grid: AttentionGrid | GridSet) -> list[AttentionGrid] | list[GridSet]:
    """One grid per graph of a batched capture, nodes renumbered within each graph.

    Parameters
    ----------
    grid : AttentionGrid or GridSet
        A sparse grid with ``meta["batch"]`` (``graph.capture`` on a PyG ``Batch``), or the
        GridSet of a batched ``HeteroData`` (each edge type's grid split alike).

    Returns
    -------
    list of AttentionGrid, or list of GridSet
        ``num_graphs`` grids ``(L, H, E_b)``; ``meta["graph"]`` is the graph's index.

    Raises
    ------
    ValueError
        The grid has no batch record, or an edge joins two graphs.

    Examples
    --------
    >>> grids = split_graphs(capture(model, Batch.from_data_list([g0, g1, g2])))  # doctest: +SKIP
    >>> [g.shape for g in grids]  # doctest: +SKIP
    [(2, 4, 26), (2, 4, 31), (2, 4, 19)]
    """
    if isinstance(grid, GridSet):
        parts = {name: split_graphs(one) for name, one in grid.items()}
        counts = {len(p) for p in parts.values()}
        if len(counts) != 1:
            raise MultiattnValueError(f"the edge types of this GridSet hold different numbers of graphs "
                                      f"{ {n: len(p) for n, p in parts.items()} }")
        return [GridSet({name: p[b] for name, p in parts.items()}, meta={**grid.meta, "graph": b})
                for b in range(counts.pop())]
    target = graph_of_nodes(grid)
    source = np.asarray(grid.meta.get("source_batch", grid.meta["batch"]), dtype=np.int64)
    edges = grid.edge_index
    across = source[edges[0]] != target[edges[1]]
    if across.any():
        e = int(np.flatnonzero(across)[0])
        raise MultiattnValueError(f"{int(across.sum())} edges join different graphs, first {edges[0, e]} -> "
                                  f"{edges[1, e]}; this is not a batch of separate graphs")
    meta = {k: v for k, v in grid.meta.items() if k not in ("batch", "source_batch", "num_graphs")}
    out = []
    for b in range(int(grid.meta.get("num_graphs", target.max() + 1))):
        keep_t, keep_s = np.flatnonzero(target == b), np.flatnonzero(source == b)
        local_t, local_s = np.zeros(target.size, np.int64), np.zeros(source.size, np.int64)
        local_t[keep_t], local_s[keep_s] = np.arange(keep_t.size), np.arange(keep_s.size)
        mine = np.flatnonzero(target[edges[1]] == b)
        sub_edges = np.stack([local_s[edges[0, mine]], local_t[edges[1, mine]]])
        key = None if grid.key is grid.query else _sub_axis(grid.key, keep_s)
        if grid.kind == "self":
            meta["self_loops"] = int((sub_edges[0] == sub_edges[1]).sum())
        out.append(AttentionGrid(grid.values[..., mine], _sub_axis(grid.query, keep_t), key, kind=grid.kind,
                                 edge_index=sub_edges, layers=grid.layers, heads=grid.heads, check_rows=False,
                                 meta={**meta, "graph": b}))
    return out
