"""Graph attention grids from edges, dense matrices or networkx graphs (numpy; no PyG needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn.axes import NodeAxis
from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionGrid

if TYPE_CHECKING:  # pragma: no cover - annotations only (networkx is imported by the caller)
    from multiattn._types import ArrayLike, NxGraph

__all__ = [
    "DIRECTION",
    "MULTI_EDGES",
    "alpha_lhe",
    "check_edge_index",
    "default_nodes",
    "from_dense",
    "from_edges",
    "from_networkx",
    "group_codes",
    "merge_multi_edges",
]

DIRECTION = (
    "edge_index[0] = source (key) -> edge_index[1] = target (query): the target attends to "
    "the source; weights are normalised over each target's incoming edges"
)
"""How to read a graph grid's edges; stored in ``meta["direction"]``."""


MULTI_EDGES = ("error", "sum", "keep")



# -- validation shared by every constructor ----------------------------------------------------
def check_edge_index(edge_index: ArrayLike, num_nodes: int) -> np.ndarray:
    edges = np.asarray(edge_index)
    if edges.ndim != 2 or edges.shape[0] != 2:
        hint = " (transpose it: edge_index.T)" if edges.ndim == 2 and edges.shape[1] == 2 else ""
        raise MultiattnValueError(f"edge_index must have shape (2, E), got {edges.shape}{hint}")
    if edges.size and not np.issubdtype(edges.dtype, np.integer):
        if not np.array_equal(edges, np.round(edges)):
            raise MultiattnValueError(f"edge_index must hold integer node indices, got dtype {edges.dtype}")
    edges = edges.astype(np.int64)
    if num_nodes <= 0:
        raise MultiattnValueError("empty graph: it has no nodes; pass a graph with at least one node")
    if edges.shape[1] == 0:
        raise MultiattnValueError("the graph has no edges, so no node attends to any other; add edges "
                         "(graph attention layers add self-loops: add_self_loops=True)")
    bad = np.flatnonzero((edges < 0).any(axis=0) | (edges >= num_nodes).any(axis=0))
    if bad.size:
        e = int(bad[0])
        raise MultiattnValueError(
            f"{bad.size} edges refer to missing nodes, first edge {e}: {edges[0, e]} -> {edges[1, e]} "
            f"but the graph has {num_nodes} nodes (indices 0..{num_nodes - 1}); pass num_nodes= or "
            "nodes= covering every node, or drop those edges"
        )
    return edges


def alpha_lhe(alpha: ArrayLike, n_edges: int) -> np.ndarray:
    """Alpha as float32 ``(L, H, E)`` from ``(E,)``, PyG's ``(E, H)`` or ``(L, H, E)``."""
    arr = np.asarray(alpha, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, None, :]
    elif arr.ndim == 2:
        if arr.shape[0] != n_edges and arr.shape[1] == n_edges:
            raise MultiattnValueError(
                f"alpha of shape {arr.shape} looks like (heads, E); a 2-D alpha is read in PyG's "
                "(E, heads) layout: pass alpha.T"
            )
        arr = arr.T[None]
    elif arr.ndim != 3:
        raise MultiattnValueError(
            f"alpha must be (E,), (E, heads) or (layers, heads, E), got shape {arr.shape}")
    if arr.shape[-1] != n_edges:
        raise MultiattnValueError(
            f"alpha has {arr.shape[-1]} values per head but edge_index has {n_edges} edges; they "
            "must match one to one (did the layer add self-loops? use the edge_index it returned)"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        layer, head, edge = (int(i) for i in np.argwhere(bad)[0])
        raise MultiattnValueError(
            f"alpha has {int(bad.sum())} NaN/inf values, first at layer {layer}, head {head}, "
            f"edge {edge}; check the model's inputs (NaN features) and dtype"
        )
    return arr.astype(np.float32)


def merge_multi_edges(edges: np.ndarray, values: np.ndarray, policy: str,
                       num_nodes: int) -> tuple[np.ndarray, np.ndarray, int]:
    if policy not in MULTI_EDGES:
        raise MultiattnValueError(f"multi_edges must be one of {MULTI_EDGES}, got {policy!r}")
    keys = edges[0] * num_nodes + edges[1]
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    n_dup = keys.size - uniq.size
    if n_dup == 0 or policy == "keep":
        return edges, values, n_dup
    if policy == "error":
        dup = np.setdiff1d(np.arange(keys.size), first)[0]
        raise MultiattnValueError(
            f"{n_dup} repeated edges (multi-edges), first {edges[0, dup]} -> {edges[1, dup]}; "
            "pass multi_edges='sum' to merge them (what message passing does) or 'keep'"
        )
    merged = np.zeros(values.shape[:2] + (uniq.size,), np.float32)
    np.add.at(merged, (slice(None), slice(None), inverse), values)
    by_appearance = np.argsort(first)  # keep the order in which pairs first appear
    return edges[:, first[by_appearance]], merged[..., by_appearance], n_dup


def default_nodes(nodes: NodeAxis | None, num_nodes: int | None, edges: np.ndarray) -> NodeAxis:
    if nodes is not None:
        if not isinstance(nodes, NodeAxis):
            raise MultiattnTypeError(f"nodes must be a NodeAxis, got {type(nodes).__name__}")
        if num_nodes is not None and num_nodes != len(nodes):
            raise MultiattnValueError(f"num_nodes={num_nodes} but nodes has {len(nodes)} entries")
        return nodes
    if num_nodes is None:
        num_nodes = int(edges.max()) + 1 if edges.size else 0
    return NodeAxis(range(int(num_nodes)))


def from_edges(edge_index: ArrayLike, alpha: ArrayLike, *, nodes: NodeAxis | None = None,
               num_nodes: int | None = None, multi_edges: str = "error",
               layers: Sequence[str] | None = None, normalize: bool = False,
               meta: dict | None = None, check_rows: bool = True) -> AttentionGrid:
    """Sparse grid from an ``(edge_index, alpha)`` pair, e.g. a layer's ``return_attention_weights``.

    Parameters
    ----------
    edge_index : array (2, E)
        Row 0 = source (key), row 1 = target (query): the target attends to the source.
    alpha : array (E,), (E, heads) or (layers, heads, E)
        One weight per edge (and head); a 2-D alpha is read in PyG's ``(E, heads)`` layout.
    nodes : NodeAxis, optional
        Node ids / labels / groups; default ``NodeAxis(range(num_nodes))``.
    num_nodes : int, optional
        Number of nodes, so isolated nodes after the largest index are kept;
        default ``max(edge_index) + 1`` (or ``len(nodes)``).
    multi_edges : {"error", "sum", "keep"}
        Repeated ``(source, target)`` pairs: refuse them, merge them by summing
        their weights, or keep them as separate edges.
    layers : sequence of str, optional
        Layer labels.
    normalize : bool
        Renormalise each target's incoming weights to sum to one.
    meta : dict, optional
        Extra provenance merged into the grid's ``meta``.
    check_rows : bool
        Warn when a target's weights do not sum to one; False for layers whose rows do
        not by design (e.g. HGTConv's softmax across edge types), said in ``meta``.

    Returns
    -------
    AttentionGrid
        Sparse, ``values (L, H, E)``, query = key = the NodeAxis.  Isolated nodes
        (no edge at all) are kept, with no attention row, and counted in
        ``meta["isolated_nodes"]``.

    Example
    -------
    >>> grid = from_edges([[0, 1, 1], [1, 0, 1]], [0.3, 1.0, 0.7])
    >>> grid.shape, grid.meta["self_loops"]
    ((1, 1, 3), 1)
    """
    arr = np.asarray(edge_index)
    guess_n = len(nodes) if nodes is not None else num_nodes
    if guess_n is None:
        guess_n = int(arr.max()) + 1 if arr.size and arr.ndim == 2 and arr.shape[0] == 2 else 0
    edges = check_edge_index(arr, int(guess_n))
    axis = default_nodes(nodes, num_nodes, edges)
    values = alpha_lhe(alpha, edges.shape[1])
    edges, values, n_dup = merge_multi_edges(edges, values, multi_edges, len(axis))
    touched = np.zeros(len(axis), bool)
    touched[edges.ravel()] = True
    info = {
        "direction": DIRECTION,
        "self_loops": int((edges[0] == edges[1]).sum()),
        "isolated_nodes": int((~touched).sum()),
        "multi_edges": {"count": n_dup, "policy": multi_edges},
    }
    return AttentionGrid(values, axis, edge_index=edges, layers=layers, normalize=normalize,
                         meta={**info, **(meta or {})}, check_rows=check_rows)


def from_dense(matrix: ArrayLike, *, nodes: NodeAxis | None = None, normalize: bool = False) -> AttentionGrid:
    """Sparse grid from a dense attention matrix; zero entries are not edges.

    Parameters
    ----------
    matrix : array (N, N), (H, N, N) or (L, H, N, N)
        ``matrix[..., q, k]`` = weight node ``q`` gives node ``k`` (row = target/query).
    nodes : NodeAxis, optional
        Node ids / labels / groups; default ``0..N-1``.
    normalize : bool
        Renormalise rows to sum to one.

    Example
    -------
    >>> grid = from_dense([[0.5, 0.5], [0.0, 1.0]])
    >>> grid.edge_index.tolist(), grid.values[0, 0].tolist()
    ([[0, 1, 1], [0, 0, 1]], [0.5, 0.5, 1.0])
    """
    arr = np.asarray(matrix, dtype=np.float64)
    if arr.ndim < 2 or arr.ndim > 4 or arr.shape[-1] != arr.shape[-2]:
        raise MultiattnValueError(f"matrix must be square (N, N), (H, N, N) or (L, H, N, N), got {arr.shape}")
    while arr.ndim < 4:
        arr = arr[None]
    if not np.isfinite(arr).all():
        raise MultiattnValueError("matrix contains NaN/inf values; fix them before building a graph grid")
    n = arr.shape[-1]
    if n == 0:
        raise MultiattnValueError("empty graph: the matrix has no nodes")
    target, source = np.nonzero((arr != 0).any(axis=(0, 1)))
    edges = np.stack([source, target])
    return from_edges(edges, arr[..., target, source], nodes=nodes, num_nodes=n, normalize=normalize,
                      meta={"source": "dense matrix"})


def group_codes(values: list) -> tuple[list[int], list[str]]:
    names: list[str] = []
    codes = []
    for value in values:
        name = str(value)
        if name not in names:
            names.append(name)
        codes.append(names.index(name))
    return codes, names


def from_networkx(graph: NxGraph, weight: str = "attention", *, group: str | None = None,
                  label: str | None = None, multi_edges: str = "error",
                  normalize: bool = False) -> AttentionGrid:
    """Sparse grid from a networkx graph whose edges carry an attention attribute.

    Parameters
    ----------
    graph : networkx.Graph / DiGraph / MultiGraph / MultiDiGraph
        A directed edge ``u -> v`` means ``v`` attends to ``u``; an undirected
        edge gives both directions the same weight (and a self-loop one edge).
    weight : str
        Edge attribute holding the weight: a number, or a sequence (one per head).
    group : str, optional
        Node attribute with each node's group (community, class); names are
        numbered in order of first appearance and listed in ``meta["group_names"]``.
    label : str, optional
        Node attribute with display labels; default ``str(node)``.
    multi_edges : {"error", "sum", "keep"}
        See :func:`from_edges`.
    normalize : bool
        Renormalise each target's incoming weights to sum to one.

    Example
    -------
    >>> import networkx as nx
    >>> g = nx.DiGraph([("a", "b", {"attention": 1.0})])
    >>> grid = from_networkx(g)
    >>> grid.query.ids, grid.edge_index.tolist()
    (('a', 'b'), [[0], [1]])
    """
    order = list(graph.nodes)
    if not order:
        raise MultiattnValueError("empty graph: it has no nodes")
    index = {node: i for i, node in enumerate(order)}
    rows, weights = [], []
    for u, v, attrs in graph.edges(data=True):
        if weight not in attrs:
            raise MultiattnValueError(
                f"edge {u!r} -> {v!r} has no {weight!r} attribute (it has {sorted(attrs)}); "
                "pass weight= the name of the edge attribute that holds the attention"
            )
        w = np.atleast_1d(np.asarray(attrs[weight], dtype=np.float64))
        if not np.isfinite(w).all() or (w < 0).any():
            raise MultiattnValueError(
                f"edge {u!r} -> {v!r} has {weight!r} = {attrs[weight]!r}: attention weights are "
                             "finite and non-negative (signed scores are not attention; draw them as a "
                             "plain weighted graph)")
        rows.append((index[u], index[v]))
        weights.append(w)
        if not graph.is_directed() and u != v:
            rows.append((index[v], index[u]))
            weights.append(w)
    if not rows:
        raise MultiattnValueError("the graph has no edges, so no node attends to any other")
    if len({w.shape for w in weights}) != 1:
        raise MultiattnValueError(
            f"edges carry {weight!r} values of different lengths (heads); they must agree")
    node_attrs = [graph.nodes[node] for node in order]

    def _attr(name: str) -> list:
        missing = [order[i] for i, attrs in enumerate(node_attrs) if name not in attrs]
        if missing:
            raise MultiattnValueError(
                f"{len(missing)} nodes lack the {name!r} attribute, first {missing[0]!r}")
        return [attrs[name] for attrs in node_attrs]

    meta: dict = {"source": f"networkx.{type(graph).__name__}", "weight_attribute": weight}
    groups = None
    if group is not None:
        groups, meta["group_names"] = group_codes(_attr(group))
    labels = None if label is None else [str(v) for v in _attr(label)]
    axis = NodeAxis(order, labels=labels, groups=groups)
    return from_edges(np.array(rows).T, np.stack(weights), nodes=axis, multi_edges=multi_edges,
                      normalize=normalize, meta=meta)
