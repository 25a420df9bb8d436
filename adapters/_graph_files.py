"""Graph files in (edge list, GraphML, GML) and a networkx graph with features out as a PyG Data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - annotations only (networkx / PyG are imported when used)
    from torch_geometric.data import Data

    from .._types import ArrayLike, NxGraph, PathInput

__all__ = [
    "GRAPH_FILES",
    "graph_data",
    "read_graph",
    "read_networkx",
]


# -- graph files ---------------------------------------------------------------------------------
#: Graph file suffixes :func:`read_graph` reads, and the reader each uses.
GRAPH_FILES = {".graphml": "graphml", ".gml": "gml", ".edgelist": "edgelist", ".txt": "edgelist",
               ".csv": "edgelist", ".tsv": "edgelist"}


def read_graph(path: PathInput, *, directed: bool = False) -> NxGraph:
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
    graph = read_networkx(path, kind, directed)
    if graph.number_of_nodes() == 0:
        raise ValueError(f"graph file {path} holds no nodes")
    return graph


def read_networkx(path: Path, kind: str, directed: bool) -> NxGraph:
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


def graph_data(graph: NxGraph, features: ArrayLike, *, group: str | None = None) -> Data:
    """A networkx graph and its node features as the PyG ``Data`` :func:`capture` takes.

    Parameters
    ----------
    graph : networkx.Graph or DiGraph
        Undirected edges are used in both directions; self-loops are dropped (attention
        layers add their own).
    features : array (N, F)
        Node features in ``graph.nodes`` order (e.g. :func:`multiattn.zoo.graph_features`
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
    >>> from multiattn.zoo import graph_features
    >>> g = nx.karate_club_graph()
    >>> data = graph_data(g, graph_features(g), group="club")  # doctest: +SKIP
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
