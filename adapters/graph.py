"""Graph attention networks (PyTorch Geometric) and plain edge weights -> sparse AttentionGrid.

A graph grid stores ``edge_index (2, E)`` and ``values (L, H, E)``:
``edge_index[0]`` is the **source** (key) and ``edge_index[1]`` the **target**
(query) of each edge; the target attends to the source, and the weights of
each target's incoming edges sum to one (PyG's softmax over incoming edges).

- :func:`capture` records every ``GATConv`` / ``GATv2Conv`` / ``TransformerConv``
  of a PyG model through a ``propagate`` forward hook: the recorded alpha is
  the tensor the layer itself multiplies its messages with, on the edge list
  it really used (self-loops added by the layer included).
- :func:`from_edges`, :func:`from_dense` and :func:`from_networkx` build the
  same kind of grid from weights you already have.

Self-loop edges are kept; :func:`multiattn.analysis.edges.self_loop_mask`
flags them and ``meta["self_loops"]`` counts them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from multiattn.adapters._hf import eval_mode
from multiattn.axes import NodeAxis
from multiattn.grid import AttentionGrid

__all__ = ["capture", "from_edges", "from_dense", "from_networkx", "graph_data", "read_graph"]

DIRECTION = (
    "edge_index[0] = source (key) -> edge_index[1] = target (query): the target attends to "
    "the source; weights are normalised over each target's incoming edges"
)
"""How to read a graph grid's edges; stored in ``meta["direction"]``."""

ATTENTION_LAYERS = ("GATConv", "GATv2Conv", "TransformerConv")
"""PyG layer classes whose attention :func:`capture` records."""

_MULTI_EDGES = ("error", "sum", "keep")


# -- validation shared by every constructor ----------------------------------------------------
def _check_edge_index(edge_index: Any, num_nodes: int) -> np.ndarray:
    edges = np.asarray(edge_index)
    if edges.ndim != 2 or edges.shape[0] != 2:
        hint = " (transpose it: edge_index.T)" if edges.ndim == 2 and edges.shape[1] == 2 else ""
        raise ValueError(f"edge_index must have shape (2, E), got {edges.shape}{hint}")
    if edges.size and not np.issubdtype(edges.dtype, np.integer):
        if not np.array_equal(edges, np.round(edges)):
            raise ValueError(f"edge_index must hold integer node indices, got dtype {edges.dtype}")
    edges = edges.astype(np.int64)
    if num_nodes <= 0:
        raise ValueError("empty graph: it has no nodes; pass a graph with at least one node")
    if edges.shape[1] == 0:
        raise ValueError("the graph has no edges, so no node attends to any other; add edges "
                         "(graph attention layers add self-loops: add_self_loops=True)")
    bad = np.flatnonzero((edges < 0).any(axis=0) | (edges >= num_nodes).any(axis=0))
    if bad.size:
        e = int(bad[0])
        raise ValueError(
            f"{bad.size} edges refer to missing nodes, first edge {e}: {edges[0, e]} -> {edges[1, e]} "
            f"but the graph has {num_nodes} nodes (indices 0..{num_nodes - 1}); pass num_nodes= or "
            "nodes= covering every node, or drop those edges"
        )
    return edges


def _alpha_lhe(alpha: Any, n_edges: int) -> np.ndarray:
    """Alpha as float32 ``(L, H, E)`` from ``(E,)``, PyG's ``(E, H)`` or ``(L, H, E)``."""
    arr = np.asarray(alpha, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, None, :]
    elif arr.ndim == 2:
        if arr.shape[0] != n_edges and arr.shape[1] == n_edges:
            raise ValueError(
                f"alpha of shape {arr.shape} looks like (heads, E); a 2-D alpha is read in PyG's "
                "(E, heads) layout: pass alpha.T"
            )
        arr = arr.T[None]
    elif arr.ndim != 3:
        raise ValueError(f"alpha must be (E,), (E, heads) or (layers, heads, E), got shape {arr.shape}")
    if arr.shape[-1] != n_edges:
        raise ValueError(
            f"alpha has {arr.shape[-1]} values per head but edge_index has {n_edges} edges; they "
            "must match one to one (did the layer add self-loops? use the edge_index it returned)"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        layer, head, edge = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"alpha has {int(bad.sum())} NaN/inf values, first at layer {layer}, head {head}, "
            f"edge {edge}; check the model's inputs (NaN features) and dtype"
        )
    return arr.astype(np.float32)


def _merge_multi_edges(edges: np.ndarray, values: np.ndarray, policy: str,
                       num_nodes: int) -> tuple[np.ndarray, np.ndarray, int]:
    if policy not in _MULTI_EDGES:
        raise ValueError(f"multi_edges must be one of {_MULTI_EDGES}, got {policy!r}")
    keys = edges[0] * num_nodes + edges[1]
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    n_dup = keys.size - uniq.size
    if n_dup == 0 or policy == "keep":
        return edges, values, n_dup
    if policy == "error":
        dup = np.setdiff1d(np.arange(keys.size), first)[0]
        raise ValueError(
            f"{n_dup} repeated edges (multi-edges), first {edges[0, dup]} -> {edges[1, dup]}; "
            "pass multi_edges='sum' to merge them (what message passing does) or 'keep'"
        )
    merged = np.zeros(values.shape[:2] + (uniq.size,), np.float32)
    np.add.at(merged, (slice(None), slice(None), inverse), values)
    by_appearance = np.argsort(first)  # keep the order in which pairs first appear
    return edges[:, first[by_appearance]], merged[..., by_appearance], n_dup


def _default_nodes(nodes: NodeAxis | None, num_nodes: int | None, edges: np.ndarray) -> NodeAxis:
    if nodes is not None:
        if not isinstance(nodes, NodeAxis):
            raise TypeError(f"nodes must be a NodeAxis, got {type(nodes).__name__}")
        if num_nodes is not None and num_nodes != len(nodes):
            raise ValueError(f"num_nodes={num_nodes} but nodes has {len(nodes)} entries")
        return nodes
    if num_nodes is None:
        num_nodes = int(edges.max()) + 1 if edges.size else 0
    return NodeAxis(range(int(num_nodes)))


def from_edges(edge_index: Any, alpha: Any, *, nodes: NodeAxis | None = None,
               num_nodes: int | None = None, multi_edges: str = "error",
               layers: Sequence | None = None, normalize: bool = False,
               meta: dict | None = None) -> AttentionGrid:
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
    edges = _check_edge_index(arr, int(guess_n))
    axis = _default_nodes(nodes, num_nodes, edges)
    values = _alpha_lhe(alpha, edges.shape[1])
    edges, values, n_dup = _merge_multi_edges(edges, values, multi_edges, len(axis))
    touched = np.zeros(len(axis), bool)
    touched[edges.ravel()] = True
    info = {
        "direction": DIRECTION,
        "self_loops": int((edges[0] == edges[1]).sum()),
        "isolated_nodes": int((~touched).sum()),
        "multi_edges": {"count": n_dup, "policy": multi_edges},
    }
    return AttentionGrid(values, axis, edge_index=edges, layers=layers, normalize=normalize,
                         meta={**info, **(meta or {})})


def from_dense(matrix: Any, *, nodes: NodeAxis | None = None, normalize: bool = False) -> AttentionGrid:
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
        raise ValueError(f"matrix must be square (N, N), (H, N, N) or (L, H, N, N), got {arr.shape}")
    while arr.ndim < 4:
        arr = arr[None]
    if not np.isfinite(arr).all():
        raise ValueError("matrix contains NaN/inf values; fix them before building a graph grid")
    n = arr.shape[-1]
    if n == 0:
        raise ValueError("empty graph: the matrix has no nodes")
    target, source = np.nonzero((arr != 0).any(axis=(0, 1)))
    edges = np.stack([source, target])
    return from_edges(edges, arr[..., target, source], nodes=nodes, num_nodes=n, normalize=normalize,
                      meta={"source": "dense matrix"})


def _group_codes(values: list) -> tuple[list[int], list[str]]:
    names: list[str] = []
    codes = []
    for value in values:
        name = str(value)
        if name not in names:
            names.append(name)
        codes.append(names.index(name))
    return codes, names


def from_networkx(graph: Any, weight: str = "attention", *, group: str | None = None,
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
        raise ValueError("empty graph: it has no nodes")
    index = {node: i for i, node in enumerate(order)}
    rows, weights = [], []
    for u, v, attrs in graph.edges(data=True):
        if weight not in attrs:
            raise ValueError(
                f"edge {u!r} -> {v!r} has no {weight!r} attribute (it has {sorted(attrs)}); "
                "pass weight= the name of the edge attribute that holds the attention"
            )
        w = np.atleast_1d(np.asarray(attrs[weight], dtype=np.float64))
        rows.append((index[u], index[v]))
        weights.append(w)
        if not graph.is_directed() and u != v:
            rows.append((index[v], index[u]))
            weights.append(w)
    if not rows:
        raise ValueError("the graph has no edges, so no node attends to any other")
    if len({w.shape for w in weights}) != 1:
        raise ValueError(f"edges carry {weight!r} values of different lengths (heads); they must agree")
    node_attrs = [graph.nodes[node] for node in order]

    def _attr(name: str) -> list:
        missing = [order[i] for i, attrs in enumerate(node_attrs) if name not in attrs]
        if missing:
            raise ValueError(f"{len(missing)} nodes lack the {name!r} attribute, first {missing[0]!r}")
        return [attrs[name] for attrs in node_attrs]

    meta: dict = {"source": f"networkx.{type(graph).__name__}", "weight_attribute": weight}
    groups = None
    if group is not None:
        groups, meta["group_names"] = _group_codes(_attr(group))
    labels = None if label is None else [str(v) for v in _attr(label)]
    axis = NodeAxis(order, labels=labels, groups=groups)
    return from_edges(np.array(rows).T, np.stack(weights), nodes=axis, multi_edges=multi_edges,
                      normalize=normalize, meta=meta)


# -- PyTorch Geometric ---------------------------------------------------------------------------
def _graph_layers(model: Any) -> list[tuple[str, Any]]:
    """``(name, module)`` of every PyG attention layer in ``model`` (empty without PyG or such layers)."""
    named = getattr(model, "named_modules", None)
    if named is None or not any(type(m).__module__.startswith("torch_geometric") for _, m in named()):
        return []  # not a PyG model: no need to import torch_geometric (slow) at all
    from torch_geometric.nn import GATConv, GATv2Conv, TransformerConv

    kinds = (GATConv, GATv2Conv, TransformerConv)
    return [(name or type(m).__name__, m) for name, m in named() if isinstance(m, kinds)]


def _attention_modules(model: Any, names: Sequence[str] | None) -> list[tuple[str, Any]]:
    found = _graph_layers(model)
    if names is not None:
        wanted = list(names)
        missing = [n for n in wanted if n not in {name for name, _ in found}]
        if missing:
            raise ValueError(f"no attention layer named {missing}; attention layers: {[n for n, _ in found]}")
        found = [(name, m) for name, m in found if name in wanted]
    if not found:
        raise ValueError(
            f"{type(model).__name__} has no attention layer of the supported types {ATTENTION_LAYERS}"
        )
    return found


def _node_axis_of(data: Any, num_nodes: int) -> NodeAxis:
    ids = getattr(data, "node_ids", None)
    labels = getattr(data, "node_labels", None)
    y = getattr(data, "y", None)
    groups = None
    if y is not None and getattr(y, "dim", lambda: 0)() == 1 and len(y) == num_nodes \
            and not y.is_floating_point():
        groups = y.tolist()
    return NodeAxis(range(num_nodes) if ids is None else list(ids), labels=labels, groups=groups)


def _call(model: Any, data: Any) -> None:
    if isinstance(data, (tuple, list)):
        model(*data)
        return
    if not (hasattr(data, "x") and hasattr(data, "edge_index")):
        raise TypeError("data must be a torch_geometric Data (with x and edge_index) or a tuple of "
                        f"forward arguments, got {type(data).__name__}")
    params = [p for p in inspect.signature(model.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(params) == 1:
        model(data)
    else:
        model(data.x, data.edge_index)


def _num_nodes(data: Any) -> int:
    if isinstance(data, (tuple, list)):
        return int(data[0].size(0))
    return int(data.num_nodes)


def capture(model: Any, data: Any, *, layers: Sequence[str] | None = None,
            nodes: NodeAxis | None = None) -> AttentionGrid:
    """Run a PyG model once and record the attention of every graph attention layer.

    Parameters
    ----------
    model : torch.nn.Module
        A model containing ``GATConv``, ``GATv2Conv`` or ``TransformerConv`` layers
        (or one such layer).  It runs in ``eval()`` mode (dropout acts on alpha)
        under ``torch.no_grad()``; its training flag is restored afterwards.
    data : torch_geometric.data.Data or tuple
        A ``Data`` with ``x`` and ``edge_index`` (the model is called as
        ``model(data)`` if its forward takes one argument, else
        ``model(data.x, data.edge_index)``), or the tuple of forward arguments.
    layers : sequence of str, optional
        Module names (``model.named_modules()``) to record; default all.
    nodes : NodeAxis, optional
        Node ids / labels / groups.  Default: ``data.node_ids`` and
        ``data.node_labels`` when present, groups from an integer ``data.y``
        (named by ``data.group_names`` if set, kept in ``meta["group_names"]``).

    Returns
    -------
    AttentionGrid
        Sparse: ``edge_index (2, E)`` as used by the layers (self-loops they
        added included), ``values (L, H, E)`` with one layer per recorded call.

    Raises
    ------
    ValueError
        No supported layer; layers with different head counts or edge lists
        (capture them separately with ``layers=``); a sparse-tensor adjacency.

    Example
    -------
    >>> grid = capture(model, data)  # doctest: +SKIP
    >>> grid.shape                   # doctest: +SKIP
    (2, 4, 190)
    """
    modules = _attention_modules(model, layers)
    records: list[tuple[str, np.ndarray, np.ndarray]] = []
    _run_with_layer_hooks(model, data, modules, lambda *record: records.append(record))
    if not records:
        raise ValueError("the model ran but none of its attention layers was called")
    return _stack_records(records, modules, nodes, data, model)


def _run_with_layer_hooks(model: Any, data: Any, modules: list[tuple[str, Any]],
                         on_layer: Callable[[str, np.ndarray, np.ndarray], None]) -> None:
    """Run the model once (eval, no grad) and call ``on_layer(label, edge_index, alpha)`` per layer call.

    ``alpha`` is ``(E, H)`` as the layer computed it; a layer called twice is
    labelled ``name#2``.  Used by :func:`capture` (which keeps every call) and
    by streaming capture (which summarises and drops each call).
    """
    import torch

    calls: dict[str, int] = {}

    def _hook_for(name: str):
        def hook(module: Any, inputs: tuple, out: Any) -> None:
            edge_index, _size, kwargs = inputs
            if not isinstance(edge_index, torch.Tensor) or edge_index.is_sparse:
                raise ValueError(f"layer {name} got a sparse adjacency; pass edge_index as a (2, E) "
                                 "LongTensor to capture attention")
            alpha = module._alpha if "alpha" not in kwargs else kwargs["alpha"]
            calls[name] = calls.get(name, 0) + 1
            label = name if calls[name] == 1 else f"{name}#{calls[name]}"
            on_layer(label, edge_index.detach().cpu().numpy(), alpha.detach().cpu().numpy())
        return hook

    handles = [m.register_propagate_forward_hook(_hook_for(name)) for name, m in modules]
    try:
        with eval_mode(model), torch.no_grad():
            _call(model, data)
    finally:
        for handle in handles:
            handle.remove()


def _stack_records(records: list, modules: list, nodes: NodeAxis | None, data: Any,
                   model: Any) -> AttentionGrid:
    labels = [label for label, _, _ in records]
    edges = records[0][1]
    heads = {alpha.shape[1] for _, _, alpha in records}
    if len(heads) != 1:
        raise ValueError(
            f"layers have different head counts {[a.shape[1] for _, _, a in records]} ({labels}); "
            "capture them separately with layers=[name]"
        )
    for label, other, _ in records[1:]:
        if other.shape != edges.shape or not np.array_equal(other, edges):
            raise ValueError(
                f"layer {label} used a different edge list than {labels[0]} ({other.shape[1]} vs "
                f"{edges.shape[1]} edges); capture them separately with layers=[name]"
            )
    values = np.stack([alpha.T for _, _, alpha in records])
    axis = nodes if nodes is not None else _node_axis_of(data, _num_nodes(data))
    by_name = dict(modules)
    meta = {
        "source": "torch_geometric",
        "model": type(model).__name__,
        "layer_types": [type(by_name[label.split("#")[0]]).__name__ for label in labels],
        "self_loops_added": [bool(getattr(by_name[label.split("#")[0]], "add_self_loops", False))
                             for label in labels],
        "normalized": "softmax over each target's incoming edges (computed by the layer)",
    }
    if getattr(data, "group_names", None) is not None:
        meta["group_names"] = [str(name) for name in data.group_names]
    return from_edges(edges, values, nodes=axis, num_nodes=len(axis), multi_edges="keep",
                      layers=labels, meta=meta)


# -- graph files ---------------------------------------------------------------------------------
#: Graph file suffixes :func:`read_graph` reads, and the reader each uses.
GRAPH_FILES = {".graphml": "graphml", ".gml": "gml", ".edgelist": "edgelist", ".txt": "edgelist",
               ".csv": "edgelist", ".tsv": "edgelist"}


def read_graph(path: str | Path, *, directed: bool = False) -> Any:
    """Read an edge list, GraphML or GML file (by suffix, see :data:`GRAPH_FILES`) with networkx.

    Parameters
    ----------
    path : str or Path
        ``.edgelist`` / ``.txt`` (whitespace), ``.csv`` (comma), ``.tsv`` (tab), ``.graphml``
        or ``.gml`` (node names from the ``label`` key).
    directed : bool
        Read an edge list as directed (``u v`` = ``u -> v``); GraphML and GML say it themselves.

    Returns
    -------
    networkx.Graph or networkx.DiGraph

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Unknown suffix, an empty or corrupt file, or a graph without nodes (naming the file).

    Examples
    --------
    >>> graph = read_graph("karate.edgelist")  # doctest: +SKIP
    >>> graph.number_of_nodes(), graph.number_of_edges()  # doctest: +SKIP
    (34, 78)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"graph file {path} does not exist")
    kind = GRAPH_FILES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"unknown graph file type {path.suffix!r}; use one of {sorted(GRAPH_FILES)}")
    if path.stat().st_size == 0:
        raise ValueError(f"graph file {path} is empty")
    graph = _read_networkx(path, kind, directed)
    if graph.number_of_nodes() == 0:
        raise ValueError(f"graph file {path} holds no nodes")
    return graph


def _read_networkx(path: Path, kind: str, directed: bool) -> Any:
    import networkx as nx

    try:
        if kind == "graphml":
            return nx.read_graphml(path)
        if kind == "gml":
            return nx.read_gml(path, label="label")
        delimiter = {".csv": ",", ".tsv": "\t"}.get(path.suffix.lower())
        return nx.read_edgelist(path, delimiter=delimiter, data=False,
                                create_using=nx.DiGraph if directed else nx.Graph)
    except (nx.NetworkXError, SyntaxError, ValueError, TypeError, IndexError, KeyError) as err:
        raise ValueError(f"cannot read {path} as {kind}: {err}") from err


def graph_data(graph: Any, features: Any, *, group: str | None = None) -> Any:
    """A networkx graph and its node features as the PyG ``Data`` :func:`capture` takes.

    Parameters
    ----------
    graph : networkx.Graph or DiGraph
        Undirected edges are used in both directions; self-loops are dropped (attention
        layers add their own).
    features : array (N, F)
        Node features in ``graph.nodes`` order (e.g. :func:`multiattn.zoo._graph.structural_features`
        for the embedded GATs).
    group : str, optional
        Node attribute with each node's community; names sorted, carried as ``y`` and
        ``group_names`` so the grid's NodeAxis has groups.

    Raises
    ------
    ValueError
        No edges (nothing attends to anything), or a node without the ``group`` attribute.

    Examples
    --------
    >>> import networkx as nx
    >>> from multiattn.zoo._graph import structural_features
    >>> g = nx.karate_club_graph()
    >>> data = graph_data(g, structural_features(g), group="club")  # doctest: +SKIP
    >>> data.x.shape, data.edge_index.shape, data.group_names  # doctest: +SKIP
    (torch.Size([34, 2]), torch.Size([2, 156]), ['Mr. Hi', 'Officer'])
    """
    import torch
    from torch_geometric.data import Data

    if graph.number_of_edges() == 0:
        raise ValueError("the graph has no edges: there is no attention to draw")
    nodes = list(graph.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    pairs = np.array([(index[u], index[v]) for u, v in graph.edges() if u != v], dtype=np.int64)
    pairs = pairs.reshape(-1, 2).T
    edges = pairs if graph.is_directed() else np.concatenate([pairs, pairs[::-1]], axis=1)
    data = Data(x=torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)),
                edge_index=torch.from_numpy(np.ascontiguousarray(edges)))
    if group is not None:
        values = [graph.nodes[n].get(group) for n in nodes]
        if any(v is None for v in values):
            raise ValueError(f"some nodes have no {group!r} attribute")
        data.group_names = sorted({str(v) for v in values})
        data.y = torch.tensor([data.group_names.index(str(v)) for v in values], dtype=torch.int64)
    data.node_ids = nodes
    return data
