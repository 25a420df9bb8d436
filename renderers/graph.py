"""Graph attention as weighted graph drawings, from 30 to 10 000 nodes.

Edges are drawn as one ``LineCollection`` plus one ``PolyCollection`` of
arrowheads (never one artist per edge), so 100 000 edges draw in seconds.
Each directed edge ``source -> target`` (the target attends to the source) is
shifted slightly to the right of its direction, so the two directions of an
undirected edge show as two parallel lanes with their own colour.  Width,
opacity and colour grow with the attention weight; self-attention (self-loop
edges) is drawn as a coloured ring around the node on the same scale.

- :func:`node_positions` — seeded, deterministic layouts (spring, Kamada-Kawai, spectral);
  :func:`group_positions` — one disc per community, for large graphs.
- :func:`draw` — one layer / head on an Axes (Axes-level).
- :func:`draw_heads` — layers x heads small multiples on a shared scale (figure-level).
- :func:`draw_ego` — one node's incoming attention, neighbours ordered by weight (Axes-level).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from multiattn.analysis.graph import attention_received, incoming_entropy, self_loop_mask, top_k_edges
from multiattn.grid import AttentionGrid

from ._style import DPI, ColorScale, add_colorbar, color_scale, get_axes

__all__ = ["LAYOUTS", "EDGE_CMAP", "node_positions", "group_positions", "draw", "draw_heads", "draw_ego"]

LAYOUTS = ("spring", "kamada_kawai", "spectral")
"""Layouts :func:`node_positions` computes (all deterministic for a given seed)."""

EDGE_CMAP = "magma_r"
"""Sequential edge colormap: light for weak edges (they fade into the page), dark for strong ones."""

_NODE_COLORS = ("group", "received", "entropy")
_LAYOUT_MAX = {"kamada_kawai": 2000, "spring": 5000}
_LARGE_NODES = 2000
_LARGE_TOP_K = 3
_LABEL_MAX = 60
_EDGE_NORMALISED = "per-node softmax over incoming edges"


# -- positions -------------------------------------------------------------------------------------
def _check_grid(grid: Any) -> AttentionGrid:
    if not isinstance(grid, AttentionGrid) or not grid.is_sparse:
        raise TypeError("expected a sparse (graph) AttentionGrid; build one with "
                        "multiattn.adapters.graph.capture / from_edges / from_dense / from_networkx")
    return grid


def _structure(grid: AttentionGrid) -> Any:
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

    grid = _check_grid(grid)
    n = len(grid.query)
    layout = layout or ("spring" if n <= _LARGE_NODES else "spectral")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r} (or pass pos=...)")
    limit = _LAYOUT_MAX.get(layout)
    if limit is not None and n > limit:
        raise ValueError(f"layout={layout!r} is limited to {limit} nodes (it is quadratic in the node "
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


def group_positions(groups: Any, *, spread: float = 0.8) -> np.ndarray:
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
        raise ValueError(f"groups must be a non-empty 1-D array, got shape {groups.shape}")
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
    from scipy.sparse.linalg import eigsh

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
        start = np.random.default_rng(seed).random(n)
        values, vectors = eigsh(walk, k=3, which="LA", v0=start)
        vectors = vectors[:, np.argsort(-values)]
    return vectors[:, 1:3] * inv_sqrt[:, None]


def _landscape(xy: np.ndarray) -> np.ndarray:
    """Rotate positions so their main axis is horizontal (fills a landscape panel; signs fixed)."""
    centred = xy - xy.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt * np.where(vt.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)
    return centred @ vt.T


def _positions(grid: AttentionGrid, pos: Any, layout: str | None, seed: int) -> np.ndarray:
    n = len(grid.query)
    if pos is None:
        return node_positions(grid, layout, seed=seed)
    if isinstance(pos, dict):
        missing = [i for i in grid.query.ids if i not in pos]
        if missing:
            raise ValueError(f"pos has no position for {len(missing)} nodes, first {missing[0]!r}")
        pos = [pos[i] for i in grid.query.ids]
    arr = np.asarray(pos, dtype=float)
    if arr.shape != (n, 2) or not np.isfinite(arr).all():
        raise ValueError(f"pos must be finite (N, 2) = ({n}, 2) positions or a dict by node id, "
                         f"got shape {arr.shape}")
    return arr


# -- geometry ---------------------------------------------------------------------------------------
def _points_to_data(ax: Axes) -> float:
    """Data units per typographic point along x (limits must be set)."""
    x0, x1 = ax.get_xlim()
    width_pt = ax.get_position().width * ax.get_figure().get_figwidth() * 72.0
    return abs(x1 - x0) / max(width_pt, 1.0)


def _aspect(xy: np.ndarray) -> float:
    """Height / width of the layout, clipped to [0.45, 1.2], for sizing new figures."""
    span = np.ptp(xy, axis=0) if len(xy) > 1 else np.ones(2)
    return float(np.clip(span[1] / max(span[0], 1e-9), 0.45, 1.2))


def _set_limits(ax: Axes, xy: np.ndarray) -> None:
    """Limits around ``xy`` with the Axes box's aspect ratio, so equal aspect wastes no space."""
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.maximum(hi - lo, 1e-9) * 1.12
    box = ax.get_position()
    width_in, height_in = ax.get_figure().get_size_inches()
    ratio = (box.height * height_in) / max(box.width * width_in, 1e-9)
    span = np.array([max(span[0], span[1] / ratio), max(span[1], span[0] * ratio)])
    centre = (lo + hi) / 2
    ax.set_xlim(centre[0] - span[0] / 2, centre[0] + span[0] / 2)
    ax.set_ylim(centre[1] - span[1] / 2, centre[1] + span[1] / 2)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()


def _edge_geometry(xy: np.ndarray, source: np.ndarray, target: np.ndarray, *, lane: float,
                   gap: float, head: np.ndarray | None,
                   source_gap: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Segments ``(E, 2, 2)`` shifted right by ``lane`` and stopped ``gap`` short of the target
    (``source_gap``, default ``gap``, after the source), and arrowhead triangles ``(E, 3, 2)``
    of length ``head`` (per edge) at the target end."""
    start, end = xy[source], xy[target]
    delta = end - start
    length = np.linalg.norm(delta, axis=1, keepdims=True)
    unit = np.divide(delta, length, out=np.zeros_like(delta), where=length > 0)
    right = np.stack([unit[:, 1], -unit[:, 0]], axis=1)
    stop = np.minimum(gap, 0.45 * length)
    start = start + right * lane + unit * np.minimum(gap if source_gap is None else source_gap,
                                                     0.45 * length)
    tip = end + right * lane - unit * stop
    if head is None:
        return np.stack([start, tip], axis=1), None
    size = np.minimum(head[:, None], 0.4 * length)
    base = tip - unit * size
    triangles = np.stack([tip, base + right * size * 0.45, base - right * size * 0.45], axis=1)
    return np.stack([start, base], axis=1), triangles


# -- drawing ---------------------------------------------------------------------------------------
def _edge_values(grid: AttentionGrid, layer: Any, head: Any) -> tuple[np.ndarray, str, str]:
    chosen = grid.select(layer=layer)
    chosen = chosen.reduce("mean", "head") if head == "mean" else chosen.select(head=head)
    head_text = "mean of heads" if head == "mean" else f"head {chosen.heads[0]}"
    return chosen.values[0, 0].astype(float), chosen.layers[0], head_text


def _group_names(grid: AttentionGrid) -> list[str]:
    groups = grid.query.groups or ()
    names = list(grid.meta.get("group_names") or [])
    return [names[g] if 0 <= g < len(names) else f"group {g}" for g in sorted(set(groups))]


def _node_colours(grid: AttentionGrid, mode: Any, layer: Any, head: Any) -> tuple[Any, str | None]:
    """Node colours: (RGBA / colour spec, None) for categories, or (values, colorbar label)."""
    import matplotlib

    n = len(grid.query)
    if isinstance(mode, str) and mode in _NODE_COLORS:
        if mode == "group":
            if grid.query.groups is None:
                raise ValueError("node_color='group' needs node groups (NodeAxis(groups=...)); "
                                 "use node_color='received' or a colour")
            groups = np.asarray(grid.query.groups)
            codes = np.searchsorted(np.unique(groups), groups)
            return matplotlib.colormaps["tab10"](codes % 10), None
        one = grid.select(layer=layer)
        one = one.reduce("mean", "head") if head == "mean" else one.select(head=head)
        if mode == "received":
            return attention_received(one)[0, 0], "attention received (sum over outgoing edges)"
        return incoming_entropy(one)[0, 0], "entropy of incoming attention (nats)"
    if isinstance(mode, str):
        if not matplotlib.colors.is_color_like(mode):
            raise ValueError(f"node_color must be one of {_NODE_COLORS}, a matplotlib colour, or one "
                             f"value per node; got {mode!r}")
        return mode, None
    values = np.asarray(mode, dtype=float)
    if values.shape != (n,):
        raise ValueError(f"node_color must be {_NODE_COLORS}, a colour, or one value per node "
                         f"(shape ({n},)), got shape {values.shape}")
    return values, "node value"


def _plot(ax: Axes, grid: AttentionGrid, *, layer: Any, head: Any, xy: np.ndarray, node_color: Any,
          top_k: int | None, scale: ColorScale, node_size: float, arrows: bool, labels: bool,
          self_loops: bool, legend: bool) -> tuple[LineCollection, Any, str | None]:
    """Draw edges, rings, nodes and labels; returns (edge artist, node artist, node colorbar label)."""
    import matplotlib

    values, _, _ = _edge_values(grid, layer, head)
    loops = self_loop_mask(grid)
    keep = (np.sort(top_k_edges(grid, top_k, layer=layer, head=head, self_loops=False))
            if top_k else np.flatnonzero(~loops))
    keep = keep[np.argsort(values[keep], kind="stable")]  # strong edges on top
    source, target = grid.edge_index[0, keep], grid.edge_index[1, keep]
    weights = values[keep]
    _set_limits(ax, xy)
    per_pt = _points_to_data(ax)
    cmap = matplotlib.colormaps[scale.cmap]
    norm = Normalize(scale.vmin, scale.vmax, clip=True)
    strength = np.ma.filled(norm(weights), 0.0)
    colours = cmap(strength)
    large = len(xy) > _LARGE_NODES  # thin, translucent edges so 10^5 of them stay readable
    colours[:, 3] = (0.04 + 0.5 * strength) if large else (0.2 + 0.8 * strength)
    widths = (0.1 + 0.7 * strength) if large else (0.4 + 2.6 * strength)
    radius_pt = np.sqrt(node_size) / 2
    heads = (2.5 + 2.5 * strength) * per_pt if arrows else None
    segments, triangles = _edge_geometry(xy, source, target, lane=1.2 * per_pt if arrows else 0.0,
                                         gap=(radius_pt + 1.0) * per_pt, head=heads)
    lines = LineCollection(segments, colors=colours, linewidths=widths, cmap=scale.cmap, norm=norm,
                           capstyle="butt", zorder=1)
    lines.set_array(weights)
    lines.set_color(colours)  # keep per-edge alpha; the array only feeds the colorbar
    ax.add_collection(lines)
    if triangles is not None:
        ax.add_collection(PolyCollection(triangles, facecolors=colours, edgecolors="none", zorder=1))
    if self_loops and loops.any() and not large:
        ring_nodes = grid.edge_index[1, loops]
        ring_strength = np.ma.filled(norm(values[loops]), 0.0)
        ax.scatter(xy[ring_nodes, 0], xy[ring_nodes, 1], s=node_size * 2.2, facecolors="none",
                   edgecolors=cmap(ring_strength), linewidths=0.4 + 1.4 * ring_strength, zorder=2)
    colour, colour_label = _node_colours(grid, node_color, layer, head)
    node_kwargs: dict[str, Any] = {"s": node_size, "zorder": 3, "edgecolors": "white",
                                   "linewidths": 0.5 if node_size >= 20 else 0.0}
    if colour_label is None:
        nodes = ax.scatter(xy[:, 0], xy[:, 1], c=colour, **node_kwargs)
    else:
        node_scale = color_scale(np.nan_to_num(colour, nan=0.0), cmap="viridis")
        node_cmap = matplotlib.colormaps[node_scale.cmap].with_extremes(bad="lightgrey")
        nodes = ax.scatter(xy[:, 0], xy[:, 1], c=colour, plotnonfinite=True, cmap=node_cmap,
                           vmin=node_scale.vmin, vmax=node_scale.vmax, **node_kwargs)
    if labels:
        for (x, y), text in zip(xy, grid.query.labels):
            ax.text(x, y, text, ha="center", va="center", fontsize=7, zorder=4,
                    color="black" if colour_label else "white")
    if legend and isinstance(node_color, str) and node_color == "group":
        ax.legend(handles=_group_handles(grid), loc="upper left", bbox_to_anchor=(0.0, 0.0),
                  fontsize=7, frameon=False, title="node group", title_fontsize=7,
                  ncols=min(len(_group_names(grid)), 6))
    return lines, nodes, colour_label


def _group_handles(grid: AttentionGrid) -> list[Line2D]:
    import matplotlib

    palette = matplotlib.colormaps["tab10"]
    return [Line2D([], [], marker="o", linestyle="", color=palette(i % 10), label=name)
            for i, name in enumerate(_group_names(grid))]


def _defaults(grid: AttentionGrid, node_color: Any, top_k: int | None, node_size: float | None,
              arrows: bool | None, labels: bool | None) -> tuple[Any, int | None, float, bool, bool]:
    n = len(grid.query)
    large = n > _LARGE_NODES
    if node_color is None:
        node_color = "group" if grid.query.groups is not None else "received"
    if top_k is None and large:
        top_k = _LARGE_TOP_K
    if top_k is not None and int(top_k) < 1:
        raise ValueError(f"top_k must be at least 1 (or None for all edges), got {top_k}")
    size = float(node_size) if node_size is not None else float(np.clip(6000.0 / n, 1.0, 220.0))
    return (node_color, top_k, size, (not large) if arrows is None else bool(arrows),
            (n <= _LABEL_MAX) if labels is None else bool(labels))


def draw(grid: AttentionGrid, layer: Any = 0, head: Any = "mean", *, pos: Any = None,
         layout: str | None = None, seed: int = 0, ax: Axes | None = None, node_color: Any = None,
         top_k: int | None = None, node_size: float | None = None, edge_cmap: str = EDGE_CMAP,
         edge_limits: tuple[float, float] | None = None, arrows: bool | None = None,
         labels: bool | None = None, self_loops: bool = True, legend: bool = True,
         colorbar: bool = True, title: str | None = None) -> Axes:
    """Draw one layer's attention on the graph (Axes-level).

    Parameters
    ----------
    grid : AttentionGrid
        Sparse graph grid (``multiattn.adapters.graph``).
    layer : int or str
        Layer index or label.
    head : "mean", int or str
        One head, or the mean over heads.
    pos : array (N, 2) or dict, optional
        Node positions (by index, or a dict keyed by node id); default from ``layout``.
    layout : {"spring", "kamada_kawai", "spectral"}, optional
        Layout used when ``pos`` is None (:func:`node_positions`, seeded by ``seed``);
        default spring up to 2 000 nodes, spectral above.
    seed : int
        Layout seed.
    ax : Axes, optional
        Where to draw; default a new figure.
    node_color : "group", "received", "entropy", a colour, or array (N,)
        Nodes by group (legend), by attention received or incoming entropy
        (colorbar), one colour, or your values.  Default: "group" when the
        nodes have groups, else "received".
    top_k : int, optional
        Keep only each node's ``top_k`` strongest incoming edges (self-loops
        aside).  Default: all edges, or 3 for graphs over 2 000 nodes.
    node_size : float, optional
        Marker area in pt^2; default shrinks with the node count.
    edge_cmap : str
        Sequential colormap for the edge weights.
    edge_limits : (vmin, vmax), optional
        Fixed colour limits (e.g. shared by several panels); default robust 2-98 %.
    arrows : bool, optional
        Arrowheads at the target end; default on up to 2 000 nodes.
    labels : bool, optional
        Node labels; default on up to 60 nodes.
    self_loops : bool
        Draw self-attention as rings around the nodes (not over 2 000 nodes:
        the rings would hide the nodes).
    legend, colorbar : bool
        Group legend and colorbars.
    title : str, optional
        Default names the layer, head, and what was kept.

    Returns
    -------
    Axes

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> grid = from_edges([[0, 1, 1, 2], [1, 0, 2, 1]], [0.3, 1.0, 1.0, 0.7])
    >>> ax = draw(grid, layout="spectral")
    >>> ax.get_title().startswith("layer 0")
    True
    """
    grid = _check_grid(grid)
    node_color, top_k, size, arrows, labels = _defaults(grid, node_color, top_k, node_size, arrows, labels)
    xy = _positions(grid, pos, layout, seed)
    values, layer_label, head_text = _edge_values(grid, layer, head)
    scale = color_scale(values, cmap=edge_cmap, limits=edge_limits)
    fig, ax = get_axes(ax, figsize=(8.0, 1.6 + 6.4 * _aspect(xy)))
    lines, nodes, node_label = _plot(ax, grid, layer=layer, head=head, xy=xy, node_color=node_color,
                                     top_k=top_k, scale=scale, node_size=size, arrows=arrows,
                                     labels=labels, self_loops=self_loops, legend=legend)
    if colorbar:
        add_colorbar(lines, ax, "edge: attention weight", normalised=_EDGE_NORMALISED, scale=scale,
                     fraction=0.04, pad=0.02, shrink=0.8)
        if node_label is not None:
            add_colorbar(nodes, ax, f"node: {node_label}", location="bottom", fraction=0.04, pad=0.02,
                         shrink=0.6)
    kept = f"top {top_k} incoming edges per node" if top_k else "all edges"
    ring = "; rings = self-attention" if self_loops and len(xy) <= _LARGE_NODES else ""
    ax.set_title(title if title is not None else
                 f"layer {layer_label}, {head_text} — {kept}{ring}\n"
                 f"{len(grid.query)} nodes; edge source → target (target attends to source)",
                 fontsize=9)
    return ax


def draw_heads(grid: AttentionGrid, *, layers: Any = None, heads: Any = None, pos: Any = None,
               layout: str | None = None, seed: int = 0, node_color: Any = None,
               top_k: int | None = None, node_size: float | None = None, edge_cmap: str = EDGE_CMAP,
               arrows: bool | None = None, labels: bool = False, self_loops: bool = True,
               panel_size: float = 3.4) -> Figure:
    """Small multiples: one panel per (layer, head) on one layout and one colour scale (figure-level).

    Parameters
    ----------
    grid : AttentionGrid
        Sparse graph grid.
    layers, heads : int, str or list, optional
        Which layers (rows) and heads (columns); default all.
    pos, layout, seed, top_k, node_size, edge_cmap, arrows, self_loops
        As in :func:`draw`.
    node_color : "group" or a colour, optional
        Default "group" when the nodes have groups.
    labels : bool
        Node labels in every panel (off by default: panels are small).
    panel_size : float
        Inches per panel.

    Returns
    -------
    Figure
        Rows = layers, columns = heads, one shared colorbar.

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> grid = from_edges([[0, 1], [1, 0]], np.ones((2, 3, 2)))
    >>> len(draw_heads(grid, layout="spectral").axes)  # 2 x 3 panels + colorbar
    7
    """
    import matplotlib.pyplot as plt

    grid = _check_grid(grid).select(layer=layers, head=heads)
    if node_color is None:
        node_color = "group" if grid.query.groups is not None else "lightsteelblue"
    if not isinstance(node_color, str) or node_color in ("received", "entropy"):
        raise ValueError("draw_heads colours nodes by 'group' or one colour (each panel would need its "
                         "own node colorbar otherwise); use draw() for node_color='received'")
    node_color, top_k, size, arrows, _ = _defaults(grid, node_color, top_k, node_size, arrows, False)
    xy = _positions(grid, pos, layout, seed)
    scale = color_scale(grid.values, cmap=edge_cmap)
    fig, axes = plt.subplots(grid.n_layers, grid.n_heads, squeeze=False, dpi=DPI,
                             figsize=(panel_size * grid.n_heads + 1.2,
                                      (panel_size * _aspect(xy) + 0.5) * grid.n_layers + 1.0))
    lines = None
    for li in range(grid.n_layers):
        for hi in range(grid.n_heads):
            ax = axes[li, hi]
            lines, _, _ = _plot(ax, grid, layer=li, head=hi, xy=xy, node_color=node_color,
                                top_k=top_k, scale=scale, node_size=size * 0.3, arrows=arrows,
                                labels=labels, self_loops=self_loops, legend=False)
            ax.set_title(f"layer {grid.layers[li]} · head {grid.heads[hi]}", fontsize=9)
    if node_color == "group":
        fig.legend(handles=_group_handles(grid), loc="lower center", ncols=6, fontsize=8,
                   frameon=False, title="node group", title_fontsize=8)
    add_colorbar(lines, list(axes.ravel()), "attention weight", normalised=_EDGE_NORMALISED,
                 scale=scale, fraction=0.03, pad=0.02)
    kept = f"top {top_k} incoming edges per node" if top_k else "all edges"
    fig.suptitle(f"graph attention per layer (rows) and head (columns): {kept}, one colour scale; "
                 "rings = self-attention", fontsize=10)
    return fig


def draw_ego(grid: AttentionGrid, node: Any, layer: Any = -1, head: Any = "mean", *,
             ax: Axes | None = None, top_k: int | None = 12, edge_cmap: str = EDGE_CMAP,
             node_color: Any = None, colorbar: bool = True) -> Axes:
    """One node's incoming attention: the node in the centre, its sources around it (Axes-level).

    Sources are placed on a circle clockwise from the top in decreasing order of
    weight, each edge labelled with its weight; the self-loop weight is written
    under the centre node.

    Parameters
    ----------
    grid : AttentionGrid
        Sparse graph grid.
    node : int or str
        Node index, or node label.
    layer, head
        As in :func:`draw` (default: the last layer, mean of heads).
    ax : Axes, optional
        Where to draw.
    top_k : int, optional
        Show the ``top_k`` strongest sources (the rest are summed in the title).
    edge_cmap : str
        Sequential colormap for the weights.
    node_color : "group" or a colour, optional
        Default: by group when the nodes have groups.
    colorbar : bool
        Add the weight colorbar.

    Returns
    -------
    Axes

    Example
    -------
    >>> from multiattn.adapters.graph import from_edges
    >>> grid = from_edges([[0, 1, 2, 0], [0, 0, 0, 1]], [0.5, 0.3, 0.2, 1.0])
    >>> draw_ego(grid, 0).get_title().startswith("incoming attention of node 0")
    True
    """
    import matplotlib

    grid = _check_grid(grid)
    labels = grid.query.labels
    if isinstance(node, str):
        if node not in labels:
            raise ValueError(f"no node labelled {node!r}; labels include {list(labels[:10])}")
        index = labels.index(node)
    else:
        index = int(node)
    if not 0 <= index < len(labels):
        raise IndexError(f"node {node} out of range for {len(labels)} nodes")
    values, layer_label, head_text = _edge_values(grid, layer, head)
    source, target = grid.edge_index
    incoming = np.flatnonzero((target == index) & (source != index))
    if incoming.size == 0:
        raise ValueError(f"node {labels[index]!r} has no incoming edges besides a self-loop; "
                         "pick a node with neighbours")
    incoming = incoming[np.argsort(-values[incoming], kind="stable")]
    shown = incoming[:top_k] if top_k else incoming
    hidden_mass = float(values[incoming[len(shown):]].sum())
    self_weight = float(values[(target == index) & (source == index)].sum())
    angles = np.pi / 2 - 2 * np.pi * np.arange(shown.size) / max(shown.size, 1)
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    scale = color_scale(values[shown], cmap=edge_cmap, limits=(0.0, max(float(values[shown].max()), 1e-9)))
    fig, ax = get_axes(ax, figsize=(6.5, 6.0))
    _set_limits(ax, np.vstack([ring * 1.25, [[0.0, 0.0]]]))
    cmap = matplotlib.colormaps[scale.cmap]
    norm = Normalize(scale.vmin, scale.vmax, clip=True)
    strength = np.ma.filled(norm(values[shown]), 0.0)
    per_pt = _points_to_data(ax)
    segments, triangles = _edge_geometry(np.vstack([[0.0, 0.0], ring]), np.arange(1, shown.size + 1),
                                         np.zeros(shown.size, int), lane=0.0, gap=17 * per_pt,
                                         source_gap=12 * per_pt, head=(5 + 5 * strength) * per_pt)
    lines = LineCollection(segments, colors=cmap(strength), linewidths=0.8 + 5 * strength,
                           cmap=scale.cmap, norm=norm, zorder=1)
    lines.set_array(values[shown])
    lines.set_color(cmap(strength))
    ax.add_collection(lines)
    ax.add_collection(PolyCollection(triangles, facecolors=cmap(strength), edgecolors="none", zorder=1))
    node_color = node_color or ("group" if grid.query.groups is not None else "lightsteelblue")
    if node_color == "group":
        if grid.query.groups is None:
            raise ValueError("node_color='group' needs node groups (NodeAxis(groups=...))")
        colours, _ = _node_colours(grid, "group", layer, head)
    else:
        colours = np.array([matplotlib.colors.to_rgba(node_color)] * len(labels))
    members = np.concatenate([[index], source[shown]])
    xy = np.vstack([[0.0, 0.0], ring])
    ax.scatter(xy[:, 0], xy[:, 1], s=[900] + [420] * shown.size, c=colours[members],
               edgecolors="black", linewidths=[2.0] + [0.5] * shown.size, zorder=3)
    for (x, y), member in zip(xy, members):
        ax.text(x, y, labels[member], ha="center", va="center", fontsize=8, zorder=4, color="white",
                fontweight="bold")
    for (x, y), weight in zip(ring * 0.55, values[shown]):
        ax.text(x, y, f"{weight:.2f}", ha="center", va="center", fontsize=7, zorder=4,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.annotate(f"self-loop {self_weight:.2f}", (0.0, 0.0), xytext=(0, -24), textcoords="offset points",
                ha="center", va="top", fontsize=8, zorder=4,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    if node_color == "group":
        ax.legend(handles=_group_handles(grid), loc="lower left", fontsize=7, frameon=False,
                  title="node group", title_fontsize=7)
    if colorbar:
        add_colorbar(lines, ax, "attention weight", normalised=_EDGE_NORMALISED, scale=scale,
                     fraction=0.046, pad=0.02)
    rest = f"; {incoming.size - shown.size} weaker sources hold {hidden_mass:.2f}" if hidden_mass else ""
    ax.set_title(f"incoming attention of node {labels[index]} — layer {layer_label}, {head_text}\n"
                 f"sources clockwise from the top by weight{rest}", fontsize=9)
    return ax
