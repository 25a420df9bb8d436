"""Node positions for graph drawings: seeded layouts from the structure, or one disc per group.

Positions depend only on the edges, never on the attention weights, so every
layer and head of a grid is drawn on the same layout (as ``networkx``, positions
are computed once and passed to the ``draw_*`` functions as ``pos=``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import CostLimitError, MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionGrid

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike, NxGraph

__all__ = ["LAYOUTS", "node_positions", "group_positions"]

LAYOUTS = ("spring", "kamada_kawai", "spectral")
"""Layouts :func:`node_positions` computes (all deterministic for a given seed)."""

LARGE_NODES = 2000
"""Above this many nodes the defaults switch to the large-graph style (spectral layout, thin edges)."""

_LAYOUT_MAX = {"kamada_kawai": 2000, "spring": 5000}


def check_graph_grid(grid: object) -> AttentionGrid:
    if not isinstance(grid, AttentionGrid) or not grid.is_sparse:
        raise MultiattnTypeError("expected a sparse (graph) AttentionGrid; build one with "
                        "multiattn.adapters.graph.capture / from_edges / from_dense / from_networkx")
    if grid.key is not grid.query and grid.key != grid.query:
        raise MultiattnValueError(
            f"this grid maps {len(grid.key)} source nodes onto {len(grid.query)} targets of another node "
            "type (one edge type of a heterogeneous graph); draw the whole GridSet with "
            "multiattn.renderers.network.draw_hetero(grids)")
    return grid


def _structure(grid: AttentionGrid) -> NxGraph:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(len(grid.query)))
    source, target = grid.edge_index
    keep = source != target
    graph.add_edges_from(zip(source[keep].tolist(), target[keep].tolist()))
    return graph


def node_positions(grid: AttentionGrid, layout: str | None = None, *, seed: int = 0) -> np.ndarray:
    """Deterministic ``(N, 2)`` node positions from the graph structure (not the weights).

    Positions depend only on the edges, so every layer and head is drawn on the
    same layout; they are rotated so the layout's long axis is horizontal.

    Parameters
    ----------
    grid : AttentionGrid
        Sparse graph grid.
    layout : {"spring", "kamada_kawai", "spectral"}, optional
        Default "spring" up to 2 000 nodes, else "spectral".  Spring (networkx,
        seeded) is limited to 5 000 nodes and Kamada-Kawai (all-pairs distances)
        to 2 000; spectral uses the two leading non-trivial eigenvectors of the
        normalised adjacency (scipy ``eigsh`` with a seeded start vector), which
        takes seconds for 10^4 nodes and separates communities.
    seed : int
        Seed of the spring layout and of the eigensolver's start vector.

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> node_positions(from_edges([[0, 1, 2], [1, 2, 0]], [1.0, 1.0, 1.0]), "spectral").shape
    (3, 2)
    """
    import networkx as nx

    grid = check_graph_grid(grid)
    n = len(grid.query)
    layout = layout or ("spring" if n <= LARGE_NODES else "spectral")
    if layout not in LAYOUTS:
        raise MultiattnValueError(f"layout must be one of {LAYOUTS}, got {layout!r} (or pass pos=...)")
    limit = _LAYOUT_MAX.get(layout)
    if limit is not None and n > limit:
        raise MultiattnValueError(
            f"layout={layout!r} is limited to {limit} nodes (it is quadratic in the node "
                         f"count); this graph has {n}: use layout='spectral' or pass pos=...")
    if n <= 2:
        return np.array([[0.0, 0.0], [1.0, 0.0]])[:n]
    if layout == "spectral":
        return _landscape(_spectral(grid, seed))
    graph = _structure(grid)
    if layout == "kamada_kawai":
        pos = nx.kamada_kawai_layout(graph)
    else:
        pos = nx.spring_layout(graph, seed=seed)
    return _landscape(np.array([pos[i] for i in range(n)], dtype=float))


def group_positions(groups: ArrayLike, *, spread: float = 0.8) -> np.ndarray:
    """``(N, 2)`` positions that place each group in its own disc, the discs on a circle.

    Nodes fill their group's disc on a sunflower (Vogel) spiral in index order:
    deterministic, even density, no overlap between groups.  Useful for large
    graphs with known communities (pass as ``pos=``): edges across groups then
    visibly span between discs.

    Parameters
    ----------
    groups : array (N,)
        Group of each node (e.g. ``grid.query.groups``).
    spread : float
        Disc radius relative to the distance between neighbouring disc centres.

    Example
    -------
    >>> group_positions([0, 0, 1, 1, 1]).shape
    (5, 2)
    """
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.size == 0:
        raise MultiattnValueError(f"groups must be a non-empty 1-D array, got shape {groups.shape}")
    names, codes = np.unique(groups, return_inverse=True)
    angle = np.pi / 2 - 2 * np.pi * np.arange(names.size) / names.size
    centres = np.stack([np.cos(angle), np.sin(angle)], axis=1) if names.size > 1 else np.zeros((1, 2))
    radius = spread * (np.sin(np.pi / names.size) if names.size > 1 else 1.0)
    xy = np.empty((groups.size, 2))
    golden = np.pi * (3 - np.sqrt(5))
    for code in range(names.size):
        members = np.flatnonzero(codes == code)
        k = np.arange(members.size)
        r = radius * np.sqrt((k + 0.5) / members.size)
        xy[members] = centres[code] + np.stack([r * np.cos(k * golden), r * np.sin(k * golden)], axis=1)
    return xy


def _spectral(grid: AttentionGrid, seed: int) -> np.ndarray:
    """Eigenvectors 2 and 3 of ``D^-1/2 A D^-1/2`` (A = symmetrised structure), scaled by ``D^-1/2``."""
    import scipy.sparse as sp

    n = len(grid.query)
    source, target = grid.edge_index
    keep = source != target
    adjacency = sp.csr_array((np.ones(int(keep.sum())), (source[keep], target[keep])), shape=(n, n))
    adjacency = ((adjacency + adjacency.T) > 0).astype(float)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    inv_sqrt = np.divide(1.0, np.sqrt(degree), out=np.zeros(n), where=degree > 0)
    walk = sp.diags(inv_sqrt) @ adjacency @ sp.diags(inv_sqrt)
    if n <= 500:
        _, vectors = np.linalg.eigh(walk.toarray())
        vectors = vectors[:, ::-1]
    else:
        values, vectors = bounded_eigsh(walk, 3, seed, n)
        vectors = vectors[:, np.argsort(-values)]
    return vectors[:, 1:3] * inv_sqrt[:, None]


#: Above this many nodes the eigensolver stops at a looser tolerance (a layout needs ~1 % precision).
_LOOSE_NODES = 20_000


def bounded_eigsh(matrix: Any, k: int, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Leading ``k`` eigenpairs of a symmetric sparse matrix with a bounded iteration count.

    Lanczos (ARPACK) on large graphs with many communities (close eigenvalues) can run for
    minutes at full precision: above ``_LOOSE_NODES`` nodes the tolerance is 1e-2, and the
    iterations are capped; a solver that stops early gives its best vectors so far.
    """
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    start = np.random.default_rng(seed).random(n)
    loose = n > _LOOSE_NODES
    try:
        return eigsh(matrix, k=k, which="LA", v0=start, tol=1e-2 if loose else 0.0,
                     maxiter=300 if loose else 10 * n)
    except ArpackNoConvergence as err:
        if err.eigenvectors.shape[1] < k:
            raise CostLimitError(
                f"the spectral layout of {n} nodes did not converge within its iteration bound; "
                "pass pos=... (your own positions) or layout='spring' on a smaller graph") from None
        return err.eigenvalues, err.eigenvectors


def _landscape(xy: np.ndarray) -> np.ndarray:
    """Rotate positions so their main axis is horizontal (fills a landscape panel; signs fixed)."""
    centred = xy - xy.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt * np.where(vt.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)
    return centred @ vt.T


def resolve_positions(grid: AttentionGrid, pos: ArrayLike | Mapping[Hashable, ArrayLike] | None,
               layout: str | None, seed: int) -> np.ndarray:
    n = len(grid.query)
    if pos is None:
        return node_positions(grid, layout, seed=seed)
    if isinstance(pos, dict):
        missing = [i for i in grid.query.ids if i not in pos]
        if missing:
            raise MultiattnValueError(f"pos has no position for {len(missing)} nodes, first {missing[0]!r}")
        pos = [pos[i] for i in grid.query.ids]
    arr = np.asarray(pos, dtype=float)
    if arr.shape != (n, 2) or not np.isfinite(arr).all():
        raise MultiattnValueError(f"pos must be finite (N, 2) = ({n}, 2) positions or a dict by node id, "
                         f"got shape {arr.shape}")
    return arr


def axes_aspect(xy: np.ndarray) -> float:
    """Height / width of the layout, clipped to [0.45, 1.2], for sizing new figures."""
    span = np.ptp(xy, axis=0) if len(xy) > 1 else np.ones(2)
    return float(np.clip(span[1] / max(span[0], 1e-9), 0.45, 1.2))
