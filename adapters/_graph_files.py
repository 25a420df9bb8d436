"""Graph files in (edge list, GraphML, GML) and a networkx graph with features out as a PyG Data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

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
        raise MultiattnFileNotFoundError(f"graph file {path} does not exist")
    kind = GRAPH_FILES.get(path.suffix.lower())
    if kind is None:
        raise MultiattnValueError(
            f"unknown graph file type {path.suffix!r}; use one of {sorted(GRAPH_FILES)}")
    if path.stat().st_size == 0:
        raise MultiattnValueError(f"graph file {path} is empty")
    graph = read_networkx(path, kind, directed)
    if graph.number_of_nodes() == 0:
        raise MultiattnValueError(f"graph file {path} holds no nodes")
    return graph


def read_networkx(path: Path, kind: str, directed: bool) -> NxGraph:
    import networkx as nx

    try:
        if kind == "graphml":
            return nx.read_graphml(path)
        if kind == "gml":
            return nx.read_gml(path, label="label")
        return read_edge_list(path, directed)
    except (nx.NetworkXError, SyntaxError, ValueError, TypeError, IndexError, KeyError) as err:
        raise MultiattnValueError(f"cannot read {path} as {kind}: {err}") from err


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
        raise MultiattnValueError("the graph has no edges: there is no attention to draw")
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
            raise MultiattnValueError(f"some nodes have no {group!r} attribute")
        data.group_names = sorted({str(v) for v in values})
        data.y = torch.tensor([data.group_names.index(str(v)) for v in values], dtype=torch.int64)
    data.node_ids = nodes
    return data


#: Column names that mark the first row of an edge list as a header, not an edge.
HEADER_WORDS = {"source", "target", "from", "to", "src", "dst", "u", "v", "node1", "node2", "head", "tail",
                "weight", "attention", "alpha", "value"}


def read_edge_list(path: Path, directed: bool) -> NxGraph:
    """An edge list (whitespace, ``.csv`` or ``.tsv``): ``u v [value ...]`` per line, ``#`` comments.

    A first row of column names (``source,target[,weight]`` ...) is a header, not an edge; named
    extra columns become numeric edge attributes (a third unnamed column is ``weight``).
    Files whose rows all have the same columns are parsed column-wise (one ``float`` pass per
    column, one ``add_edges_from``); ragged files, networkx's ``u v {dict}`` lines and bad numbers
    go row by row, which names the offending line. Python's cyclic garbage collector is paused
    while the millions of small strings, tuples and dicts are made (none of them can form a cycle
    it would have to find; re-scanning them all at every collection cost a third of the time).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "g.csv"
    >>> _ = f.write_text("source,target,attention\na,b,0.7\nb,c,0.3\n")
    >>> g = read_edge_list(f, directed=True)
    >>> sorted(g.edges(data=True))
    [('a', 'b', {'attention': 0.7}), ('b', 'c', {'attention': 0.3})]
    """
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_edge_list(path, directed)
    finally:
        if collecting:
            gc.enable()


def _read_edge_list(path: Path, directed: bool) -> NxGraph:
    import networkx as nx

    names, rows = _edge_rows(path)
    graph = nx.DiGraph() if directed else nx.Graph()
    edges = _column_edges(rows, names)
    if edges is not None:
        graph.add_edges_from(edges)
        return graph
    for number, row in enumerate(rows, start=2 if names else 1):
        if len(row) < 2:
            raise MultiattnValueError(f"line {number} has {len(row)} column; an edge needs 'source target'")
        extra = row[2:]
        if extra and extra[0].startswith("{"):  # networkx's own `u v {'weight': 0.5}` lines
            graph.add_edge(row[0], row[1], **_literal_attrs(" ".join(extra), number))
            continue
        keys = _attr_keys(names, len(extra))
        try:
            attrs = {key: float(value) for key, value in zip(keys, extra)}
        except ValueError:
            raise MultiattnValueError(f"line {number}: {extra} are not numbers (columns {keys})") from None
        graph.add_edge(row[0], row[1], **attrs)
    return graph


def _edge_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header's extra column names (lower case; ``[]`` without a header) and the rows of cells."""
    import csv

    delimiter = {".csv": ",", ".tsv": "\t"}.get(path.suffix.lower())
    with path.open(encoding="utf-8", errors="strict", newline="") as handle:
        lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    if delimiter is None:
        rows = [line.split() for line in lines]  # cells come stripped, rows non-empty
    else:
        quoted = any('"' in line for line in lines)
        split = (csv.reader(lines, delimiter=delimiter) if quoted
                 else (line.split(delimiter) for line in lines))
        rows = [[cell.strip() for cell in row] for row in split if row]
    if rows and len(rows[0]) >= 2 and {cell.lower() for cell in rows[0]} <= HEADER_WORDS:
        return [cell.lower() for cell in rows[0][2:]], rows[1:]
    return [], rows


def _attr_keys(names: list[str], n_extra: int) -> list[str]:
    """Attribute names of ``n_extra`` value columns: the header's, else ``weight`` for one column."""
    return names[:n_extra] if names else (["weight"] if n_extra == 1 else [])


def _column_edges(rows: list[list[str]], names: list[str]) -> list[tuple] | None:
    """``(u, v[, attrs])`` edges parsed column-wise, or None when the rows need the row-by-row path."""
    widths = {len(row) for row in rows}
    if not rows:
        return []
    if len(widths) != 1 or (width := widths.pop()) < 2:
        return None
    columns = list(zip(*rows))
    if width > 2 and any(cell.startswith("{") for cell in columns[2]):
        return None
    keys = _attr_keys(names, width - 2)
    try:
        values = [list(map(float, columns[2 + i])) for i in range(len(keys))]
    except ValueError:
        return None  # the row-by-row path names the line
    if not keys:
        return list(zip(columns[0], columns[1]))
    attrs = [dict(zip(keys, cells)) for cells in zip(*values)]
    return list(zip(columns[0], columns[1], attrs))


def _literal_attrs(text: str, number: int) -> dict:
    """Edge attributes written as a Python dict literal (parsed as a literal, never evaluated)."""
    import ast

    try:
        attrs = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        attrs = None
    if not isinstance(attrs, dict):
        raise MultiattnValueError(f"line {number}: {text!r} is not an edge attribute dict")
    return attrs
