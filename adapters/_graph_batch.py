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


def split_graphs(grid: AttentionGrid) -> list[AttentionGrid]:
    """One grid per graph of a batched capture, nodes renumbered within each graph.

    Parameters
    ----------
    grid : AttentionGrid
        A sparse grid with ``meta["batch"]`` (``graph.capture`` on a PyG ``Batch``).

    Returns
    -------
    list of AttentionGrid
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
    graph = graph_of_nodes(grid)
    edges = grid.edge_index
    across = graph[edges[0]] != graph[edges[1]]
    if across.any():
        e = int(np.flatnonzero(across)[0])
        raise MultiattnValueError(f"{int(across.sum())} edges join different graphs, first {edges[0, e]} -> "
                                  f"{edges[1, e]}; this is not a batch of separate graphs")
    local = np.zeros(graph.size, np.int64)
    meta = {k: v for k, v in grid.meta.items() if k not in ("batch", "num_graphs")}
    out = []
    for b in range(int(grid.meta.get("num_graphs", graph.max() + 1))):
        keep = np.flatnonzero(graph == b)
        local[keep] = np.arange(keep.size)
        mine = np.flatnonzero(graph[edges[1]] == b)
        sub_edges = local[edges[:, mine]]
        loops = int((sub_edges[0] == sub_edges[1]).sum())
        out.append(AttentionGrid(grid.values[..., mine], _sub_axis(grid.query, keep), edge_index=sub_edges,
                                 layers=grid.layers, heads=grid.heads, check_rows=False,
                                 meta={**meta, "graph": b, "self_loops": loops}))
    return out
