"""Analyses of sparse (graph) attention grids: entropy, received attention, top-k, groups, flow.

Every function takes a sparse :class:`~multiattn.grid.AttentionGrid` with
``edge_index (2, E)`` (row 0 = source/key, row 1 = target/query: the target
attends to the source) and ``values (L, H, E)``, and works edge-wise with
numpy / scipy.sparse, so graphs with 10^5 edges never become dense matrices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from multiattn.errors import MultiattnTypeError, MultiattnValueError

from ..grid import AttentionGrid
from ..labelled import LabelledArray

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Sequence

    from .._types import ArrayLike
    from ..axes import Axis

__all__ = [
    "self_loop_mask",
    "incoming_entropy",
    "attention_received",
    "top_k_edges",
    "GroupShare",
    "group_share",
    "head_agreement",
    "layer_matrix",
    "propagate_attention",
]


def _sparse(grid: object) -> AttentionGrid:
    if not isinstance(grid, AttentionGrid):
        raise MultiattnTypeError(f"expected a sparse AttentionGrid, got {type(grid).__name__}")
    if not grid.is_sparse:
        raise MultiattnValueError("this analysis needs a sparse (graph) grid; build one with "
                         "multiattn.adapters.graph.from_dense(values) or capture()")
    return grid


def _per_node(grid: AttentionGrid, index: np.ndarray, weights: np.ndarray, node: str = "query") -> np.ndarray:
    """Sum ``weights (L, H, E)`` into ``(L, H, N)`` bins given by ``index (E,)`` over the ``node`` axis."""
    n = len(grid.query if node == "query" else grid.key)
    flat = weights.reshape(-1, weights.shape[-1])
    out = np.stack([np.bincount(index, weights=row, minlength=n) for row in flat])
    return out.reshape(weights.shape[:-1] + (n,))


def _per_node_labelled(grid: AttentionGrid, values: np.ndarray, name: str, node: str) -> LabelledArray:
    """``(L, H, N)`` values labelled by the grid's layers, heads and its ``node`` axis (query or key)."""
    axis = grid.query if node == "query" else grid.key
    coords: dict[str, Axis | Sequence[str]] = {"layer": grid.layers, "head": grid.heads, node: axis}
    return LabelledArray(values, ("layer", "head", node), coords, name=name)


def _edge_values(grid: AttentionGrid, layer: int | str, head: int | str) -> np.ndarray:
    """One ``(E,)`` weight vector: a layer and a head (or the mean of the heads)."""
    chosen = grid.select(layer=layer)
    chosen = chosen.reduce("mean", "head") if head == "mean" else chosen.select(head=head)
    return chosen.values[0, 0].astype(np.float64)


def self_loop_mask(grid: AttentionGrid) -> np.ndarray:
    """Boolean ``(E,)``: True for self-loop edges (a node attending to itself).

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> self_loop_mask(from_edges([[0, 1], [1, 1]], [0.5, 0.5])).tolist()
    [False, True]
    """
    edges = _sparse(grid).edge_index
    return edges[0] == edges[1]


def incoming_entropy(grid: AttentionGrid) -> LabelledArray:
    """Shannon entropy (nats) of each node's attention over its incoming edges.

    Each target's incoming weights are renormalised to sum to one first.  Uniform
    attention over ``d`` incoming edges gives ``log(d)``; attention on one edge
    gives 0.  Nodes without incoming edges get NaN (no distribution).

    Returns
    -------
    LabelledArray (L, H, N)
        Dims ``("layer", "head", "query")`` (the target nodes).

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> grid = from_edges([[0, 1, 0], [1, 1, 0]], [0.5, 0.5, 1.0])
    >>> np.round(incoming_entropy(grid)[0, 0], 4).tolist()
    [0.0, 0.6931]
    """
    grid = _sparse(grid)
    target = grid.edge_index[1]
    values = grid.values.astype(np.float64)
    totals = _per_node(grid, target, values)
    p = np.divide(values, totals[..., target], out=np.zeros_like(values), where=totals[..., target] > 0)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    entropy = 0.0 - _per_node(grid, target, plogp)
    has_in = np.bincount(target, minlength=len(grid.query)) > 0
    entropy[..., ~has_in] = np.nan
    return _per_node_labelled(grid, entropy, "incoming_entropy", "query")


def attention_received(grid: AttentionGrid, *, self_loops: bool = True) -> LabelledArray:
    """Total attention each node receives: the sum over its outgoing edges (as a source).

    With row-stochastic layers the values over all nodes sum to the number of
    nodes that have incoming edges, so 1 is "a node's worth" and hubs exceed it.

    Parameters
    ----------
    grid : AttentionGrid
        Sparse grid.
    self_loops : bool
        Count the attention a node gives itself.

    Returns
    -------
    LabelledArray (L, H, N)
        Dims ``("layer", "head", "key")`` (the source nodes).

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> grid = from_edges([[0, 1, 0], [1, 1, 0]], [0.5, 0.5, 1.0])
    >>> attention_received(grid)[0, 0].tolist(), attention_received(grid, self_loops=False)[0, 0].tolist()
    ([1.5, 0.5], [0.5, 0.0])
    """
    grid = _sparse(grid)
    values = grid.values.astype(np.float64)
    if not self_loops:
        values = np.where(self_loop_mask(grid), 0.0, values)
    return _per_node_labelled(grid, _per_node(grid, grid.edge_index[0], values, "key"), "attention_received",
                              "key")


def top_k_edges(grid: AttentionGrid, k: int, *, layer: int | str = -1, head: int | str = "mean",
                self_loops: bool = True) -> np.ndarray:
    """Indices of the ``k`` strongest incoming edges of every node.

    Parameters
    ----------
    grid : AttentionGrid
        Sparse grid.
    k : int
        Edges kept per target node (all of them for nodes with fewer).
    layer : int or str
        Layer index or label.
    head : "mean", int or str
        A head, or the mean over heads.
    self_loops : bool
        Rank self-loop edges too; if False they are neither ranked nor returned.

    Returns
    -------
    array (M,) of int
        Edge indices into ``grid.edge_index``, grouped by target, strongest first;
        ties keep the edge order.

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> grid = from_edges([[0, 1, 2, 0], [2, 2, 2, 1]], [0.2, 0.5, 0.3, 1.0])
    >>> top_k_edges(grid, 1).tolist()
    [3, 1]
    """
    if int(k) < 1:
        raise MultiattnValueError(f"k must be at least 1, got {k}")
    grid = _sparse(grid)
    values = _edge_values(grid, layer, head)
    target = grid.edge_index[1]
    order = np.lexsort((np.arange(values.size), -values, target))
    if not self_loops:
        order = order[~self_loop_mask(grid)[order]]
    sorted_targets = target[order]
    group_start = np.searchsorted(sorted_targets, sorted_targets, side="left")
    rank = np.arange(order.size) - group_start
    return order[rank < int(k)]


@dataclass(frozen=True)
class GroupShare:
    """Share of attention that stays inside each node's own group, vs the edges-alone share.

    Attributes
    ----------
    attention : array (L, H)
        Mean over nodes of the share of a node's incoming attention that comes
        from neighbours of its own group.
    edges : float
        The same mean if every node attended uniformly to its neighbours: the
        share of its incoming edges that come from its own group (the baseline).
    per_node : array (L, H, N)
        Each node's attention share (NaN for nodes without counted incoming edges).
    per_node_edges : array (N,)
        Each node's edges-alone share (NaN likewise).
    self_loops : bool
        Whether self-loop edges were counted (they are always inside the group).
    """

    attention: np.ndarray
    edges: float
    per_node: np.ndarray
    per_node_edges: np.ndarray
    self_loops: bool

    @property
    def lift(self) -> np.ndarray:
        """``attention - edges`` per (layer, head): > 0 means attention favours the own group."""
        return self.attention - self.edges


def group_share(grid: AttentionGrid, groups: ArrayLike | None = None, *,
                self_loops: bool = False) -> GroupShare:
    """How much attention stays inside node groups, against uniform attention on the same edges.

    Parameters
    ----------
    grid : AttentionGrid
        Sparse grid.
    groups : array (N,), optional
        Group (community, class) of each node; default ``grid.query.groups``.
    self_loops : bool
        Count self-loop edges.  Default False: a self-loop is trivially inside
        the group and would inflate both numbers.

    Returns
    -------
    GroupShare
        Means over the nodes that have counted incoming edges.

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> grid = from_edges([[1, 2], [0, 0]], [0.9, 0.1], num_nodes=3)
    >>> share = group_share(grid, groups=[0, 0, 1])
    >>> round(float(share.attention[0, 0]), 4), share.edges
    (0.9, 0.5)
    """
    grid = _sparse(grid)
    n = len(grid.query)
    groups = grid.query.groups if groups is None else groups
    if groups is None:
        raise MultiattnValueError("no node groups: pass groups=[...] or build the NodeAxis with groups=")
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise MultiattnValueError(f"groups must have one entry per node, shape ({n},), got {groups.shape}")
    source, target = grid.edge_index
    counted = np.ones(source.size, bool) if self_loops else source != target
    same = (groups[source] == groups[target]) & counted
    values = grid.values.astype(np.float64)
    inside = _per_node(grid, target, np.where(same, values, 0.0))
    total = _per_node(grid, target, np.where(counted, values, 0.0))
    per_node = np.divide(inside, total, out=np.full_like(total, np.nan), where=total > 0)
    n_same = np.bincount(target, weights=same.astype(float), minlength=n)
    n_all = np.bincount(target, weights=counted.astype(float), minlength=n)
    per_node_edges = np.divide(n_same, n_all, out=np.full(n, np.nan), where=n_all > 0)
    has = n_all > 0
    if not has.any():
        raise MultiattnValueError(
            "no node has counted incoming edges (only self-loops?); pass self_loops=True")
    return GroupShare(
        attention=np.nanmean(per_node[..., has], axis=-1),
        edges=float(per_node_edges[has].mean()),
        per_node=per_node,
        per_node_edges=per_node_edges,
        self_loops=self_loops,
    )


def head_agreement(grid: AttentionGrid) -> np.ndarray:
    """How alike the heads of each layer attend: mean over nodes of ``1 - total variation``.

    For heads ``h`` and ``g`` and a target node, the agreement is
    ``sum_e min(p_h(e), p_g(e))`` over its incoming edges (each head's weights
    renormalised to sum to one): 1 for identical distributions, 0 for disjoint
    ones.  The result averages it over nodes with incoming edges.

    Returns
    -------
    array (L, H, H)
        Symmetric, ones on the diagonal.

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> grid = from_edges([[0, 1], [1, 1]], [[1.0, 0.5], [0.0, 0.5]])
    >>> head_agreement(grid)[0].tolist()
    [[1.0, 0.5], [0.5, 1.0]]
    """
    grid = _sparse(grid)
    target = grid.edge_index[1]
    values = grid.values.astype(np.float64)
    totals = _per_node(grid, target, values)[..., target]
    p = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    has_in = np.bincount(target, minlength=len(grid.query)) > 0
    n_layers, n_heads = values.shape[:2]
    out = np.ones((n_layers, n_heads, n_heads))
    for h in range(n_heads):
        for g in range(h + 1, n_heads):
            overlap = _per_node(grid, target, np.minimum(p[:, h], p[:, g])[:, None])[:, 0]
            out[:, h, g] = out[:, g, h] = overlap[:, has_in].mean(axis=-1)
    return out


def layer_matrix(grid: AttentionGrid, layer: int | str = -1, head: int | str = "mean") -> sp.csr_array:
    """One layer as a sparse ``(N, N)`` matrix ``A[target, source]`` (repeated edges summed).

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> layer_matrix(from_edges([[0, 1], [1, 1]], [0.4, 0.6])).toarray().tolist()
    [[0.0, 0.0], [0.4000000059604645, 0.6000000238418579]]
    """
    grid = _sparse(grid)
    n = len(grid.query)
    values = _edge_values(grid, layer, head)
    source, target = grid.edge_index
    return sp.csr_array((values, (target, source)), shape=(n, n))


def propagate_attention(grid: AttentionGrid, *, head: int | str = "mean",
                        residual: float = 0.0) -> sp.csr_array:
    """Attention flow through all layers: the graph analogue of attention rollout.

    ``P = A_L' ... A_2' A_1'`` with ``A_l' = (1 - residual) A_l + residual I`` and
    ``A_l[i, j]`` the (head-averaged) weight node ``i`` gives node ``j`` in layer
    ``l``.  ``P[i, j]`` sums, over every path ``j -> ... -> i`` of length ``L``
    in the attention graph, the product of the weights along it: the share of
    node ``j``'s input features that attention mixes into node ``i``'s output,
    ignoring the learned value transforms and non-linearities (like rollout,
    Abnar & Zuidema 2020).  The self-loops GAT layers add play the role of the
    residual stream, so ``residual`` defaults to 0; rows of ``P`` sum to one when
    every layer is row-stochastic.  ``P`` is non-zero only within ``L`` hops.

    Parameters
    ----------
    grid : AttentionGrid
        Sparse grid, layers in forward order.
    head : "mean", int or str
        A head of every layer, or the mean over heads.
    residual : float in [0, 1)
        Identity mixed into every layer.

    Returns
    -------
    scipy.sparse.csr_array (N, N)
        Row ``i`` = where node ``i``'s output draws from.

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> grid = from_edges([[0, 0, 1], [0, 1, 1]], np.array([[[1.0, 0.5, 0.5]]] * 2))
    >>> propagate_attention(grid).toarray().tolist()
    [[1.0, 0.0], [0.75, 0.25]]
    """
    grid = _sparse(grid)
    if not 0.0 <= float(residual) < 1.0:
        raise MultiattnValueError(f"residual must be in [0, 1), got {residual}")
    n = len(grid.query)
    identity = sp.identity(n, format="csr")
    flow = identity
    for layer in range(grid.n_layers):
        step = (1.0 - residual) * layer_matrix(grid, layer, head) + residual * identity
        flow = sp.csr_array(step @ flow)
    return flow
