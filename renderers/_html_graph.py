"""Payload of the graph view: nodes laid out once, per-edge weights of every layer and head.

Dense grids over a ``NodeAxis`` are turned into their non-zero edges first, so
both kinds of grid reach the browser as ``(source, target)`` lists plus uint8
weights relative to the largest weight of each (layer, head).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn.axes import NodeAxis
from multiattn.errors import MultiattnValueError
from multiattn.grid import AttentionGrid

from ._encode import b64
from ._html_pack import quantise

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike

__all__ = ["graph_payload", "graph_layout"]

_GRAPH_SIZE = 560
_MAX_GRAPH_NODES = 3000
_MAX_NODE_LABELS = 80  # draw node labels next to the nodes up to this many nodes


def _given_positions(grid: AttentionGrid,
                     pos: ArrayLike | Mapping[Hashable, ArrayLike] | Sequence[ArrayLike]) -> np.ndarray:
    n_nodes = len(grid.query)
    if isinstance(pos, Mapping):
        missing = [i for i in grid.query.ids if i not in pos]
        if missing:
            raise MultiattnValueError(f"pos has no position for {len(missing)} nodes, e.g. {missing[:3]}")
        pos = [pos[i] for i in grid.query.ids]
    coords = np.asarray(pos, dtype=np.float64)
    if coords.shape != (n_nodes, 2) or not np.isfinite(coords).all():
        raise MultiattnValueError(f"pos must hold finite (x, y) for each of the {n_nodes} nodes, "
                         f"got shape {coords.shape}")
    return coords


def _spring_positions(grid: AttentionGrid) -> np.ndarray:
    import networkx as nx

    n_nodes = len(grid.query)
    graph = nx.Graph()
    graph.add_nodes_from(range(n_nodes))
    graph.add_edges_from(zip(grid.edge_index[0].tolist(), grid.edge_index[1].tolist()))
    layout = nx.spring_layout(graph, seed=0)
    return np.array([layout[i] for i in range(n_nodes)], dtype=np.float64)


def graph_layout(grid: AttentionGrid, pos: ArrayLike | Mapping[Hashable, ArrayLike] | None) -> np.ndarray:
    """``(N, 2)`` float32 node positions in ``[0, 1]``, y pointing down (SVG); spring layout if no ``pos``."""
    coords = _spring_positions(grid) if pos is None else _given_positions(grid, pos)
    low, span = coords.min(axis=0), np.ptp(coords, axis=0)
    coords = (coords - low) / np.where(span > 0, span, 1.0)
    coords[:, 1] = 1.0 - coords[:, 1]  # SVG y grows downwards
    return coords.astype(np.float32)


def _as_sparse(grid: AttentionGrid) -> AttentionGrid:
    if grid.is_sparse:
        return grid
    dense = grid.values
    targets, sources = np.nonzero(dense.max(axis=(0, 1)))
    return AttentionGrid(dense[:, :, targets, sources], grid.query, layers=grid.layers,
                         heads=grid.heads, meta=grid.meta, check_rows=False,
                         edge_index=np.stack([sources, targets]))


def _notes(grid: AttentionGrid, grouped: bool, laid_out: bool) -> list[str]:
    counts = (f"{grid.n_layers} layers x {grid.n_heads} heads, {len(grid.query)} nodes, "
              f"{grid.edge_index.shape[1]} attention edges (source -> target")
    return [
        counts + ("; a target's incoming weights sum to 1). Node colour = group." if grouped else ")."),
        "Weights stored as uint8 relative to the largest weight of each layer and head. "
        "Layout: " + ("given positions." if laid_out else "spring layout, seed 0."),
    ]


def graph_payload(grid: AttentionGrid, pos: ArrayLike | Mapping[Hashable, ArrayLike] | None) -> dict:
    """Nodes (SVG circles) and their incoming attention edges, per layer and head."""
    if not isinstance(grid.key, NodeAxis) or grid.key != grid.query:
        raise MultiattnValueError("the graph view needs self-attention over one NodeAxis")
    grid = _as_sparse(grid)
    n_nodes = len(grid.query)
    if n_nodes > _MAX_GRAPH_NODES:
        raise MultiattnValueError(f"the graph view draws at most {_MAX_GRAPH_NODES} nodes, this graph has "
                         f"{n_nodes}; take a subgraph (e.g. an ego network) first")
    flat = grid.values.reshape(grid.n_layers * grid.n_heads, -1)
    scale = flat.max(axis=1).astype(np.float32) if flat.size else np.zeros(len(flat), np.float32)
    groups = grid.query.groups
    return {
        "view": "graph", "labels": list(grid.query.labels), "n_edges": int(grid.edge_index.shape[1]),
        "src": b64(grid.edge_index[0].astype(np.uint32)), "dst": b64(grid.edge_index[1].astype(np.uint32)),
        "q": b64(quantise(flat, scale)), "scale": b64(scale), "pos": b64(graph_layout(grid, pos)),
        "groups": None if groups is None else list(groups), "size": _GRAPH_SIZE,
        "max_labels": _MAX_NODE_LABELS,
        "radius": float(np.clip(260 / np.sqrt(max(n_nodes, 1)), 2.5, 9)),
        "notes": _notes(grid, groups is not None, pos is not None),
    }
