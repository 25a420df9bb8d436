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

Positions are computed once (``renderers._graph_layout``) and shared by every
panel; the edge / ring / node primitives live in ``renderers._graph_draw``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from multiattn.errors import MultiattnIndexError, MultiattnValueError
from multiattn.grid import AttentionGrid

from ._graph_draw import (
    draw_graph_parts,
    edge_artists,
    edge_geometry,
    edge_values,
    group_handles,
    node_colours,
    points_to_data,
    set_limits,
)
from ._graph_layout import (
    LARGE_NODES,
    axes_aspect,
    check_graph_grid,
    group_positions,
    node_positions,
    resolve_positions,
)
from ._style import DPI, add_colorbar, color_scale, get_axes
from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.typing import ColorType

    from multiattn._types import ArrayLike

__all__ = ["node_positions", "group_positions", "draw", "draw_heads", "draw_ego", "draw_hetero"]

EDGE_CMAP = "magma_r"
"""Sequential edge colormap: light for weak edges (they fade into the page), dark for strong ones."""

_LARGE_TOP_K = 3
_LABEL_MAX = 60
_EDGE_NORMALISED = "per-node softmax over incoming edges"


def _defaults(grid: AttentionGrid, node_color: str | ArrayLike | None, top_k: int | None,
              node_size: float | None, arrows: bool | None,
              labels: bool | None) -> tuple[Any, int | None, float, bool, bool]:
    # the colour comes back as given (or a default name): Any so that draw_heads keeps its str
    n = len(grid.query)
    large = n > LARGE_NODES
    if node_color is None:
        node_color = "group" if grid.query.groups is not None else "received"
    if top_k is None and large:
        top_k = _LARGE_TOP_K
    if top_k is not None and int(top_k) < 1:
        raise MultiattnValueError(f"top_k must be at least 1 (or None for all edges), got {top_k}")
    size = float(node_size) if node_size is not None else float(np.clip(6000.0 / n, 1.0, 220.0))
    return (node_color, top_k, size, (not large) if arrows is None else bool(arrows),
            (n <= _LABEL_MAX) if labels is None else bool(labels))


@plain_text
def draw(grid: AttentionGrid, layer: int | str = 0, head: int | str = "mean", *,
         pos: ArrayLike | Mapping[Hashable, ArrayLike] | None = None, layout: str | None = None,
         seed: int = 0, ax: Axes | None = None, node_color: str | ArrayLike | None = None,
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
    grid = check_graph_grid(grid)
    node_color, top_k, size, arrows, labels = _defaults(grid, node_color, top_k, node_size, arrows, labels)
    xy = resolve_positions(grid, pos, layout, seed)
    values, layer_label, head_text = edge_values(grid, layer, head)
    scale = color_scale(values, cmap=edge_cmap, limits=edge_limits)
    fig, ax = get_axes(ax, figsize=(8.0, 1.6 + 6.4 * axes_aspect(xy)))
    lines, nodes, node_label = draw_graph_parts(
        ax, grid, layer=layer, head=head, xy=xy, node_color=node_color, top_k=top_k, scale=scale,
        node_size=size, arrows=arrows, labels=labels, self_loops=self_loops, legend=legend)
    if colorbar:
        add_colorbar(lines, ax, "edge: attention weight", normalised=_EDGE_NORMALISED, scale=scale,
                     fraction=0.04, pad=0.02, shrink=0.8)
        if node_label is not None:
            add_colorbar(nodes, ax, f"node: {node_label}", location="bottom", fraction=0.04, pad=0.02,
                         shrink=0.6)
    kept = f"top {top_k} incoming edges per node" if top_k else "all edges"
    ring = "; rings = self-attention" if self_loops and len(xy) <= LARGE_NODES else ""
    ax.set_title(title if title is not None else
                 f"layer {layer_label}, {head_text} — {kept}{ring}\n"
                 f"{len(grid.query)} nodes; edge source → target (target attends to source)",
                 fontsize=9)
    return ax


@plain_text
def draw_heads(grid: AttentionGrid, *, layers: int | str | Sequence[int | str] | None = None,
               heads: int | str | Sequence[int | str] | None = None,
               pos: ArrayLike | Mapping[Hashable, ArrayLike] | None = None, layout: str | None = None,
               seed: int = 0, node_color: str | None = None,
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

    grid = check_graph_grid(grid).select(layer=layers, head=heads)
    if node_color is None:
        node_color = "group" if grid.query.groups is not None else "lightsteelblue"
    if not isinstance(node_color, str) or node_color in ("received", "entropy"):
        raise MultiattnValueError(
            "draw_heads colours nodes by 'group' or one colour (each panel would need its "
                         "own node colorbar otherwise); use draw() for node_color='received'")
    node_color, top_k, size, arrows, _ = _defaults(grid, node_color, top_k, node_size, arrows, False)
    xy = resolve_positions(grid, pos, layout, seed)
    scale = color_scale(grid.values, cmap=edge_cmap)
    fig, axes = plt.subplots(grid.n_layers, grid.n_heads, squeeze=False, dpi=DPI,
                             figsize=(panel_size * grid.n_heads + 1.2,
                                      (panel_size * axes_aspect(xy) + 0.5) * grid.n_layers + 1.0))
    lines = None
    for li in range(grid.n_layers):
        for hi in range(grid.n_heads):
            ax = axes[li, hi]
            lines, _, _ = draw_graph_parts(ax, grid, layer=li, head=hi, xy=xy, node_color=node_color,
                                top_k=top_k, scale=scale, node_size=size * 0.3, arrows=arrows,
                                labels=labels, self_loops=self_loops, legend=False)
            ax.set_title(f"layer {grid.layers[li]} · head {grid.heads[hi]}", fontsize=9)
    if node_color == "group":
        fig.legend(handles=group_handles(grid), loc="lower center", ncols=6, fontsize=8,
                   frameon=False, title="node group", title_fontsize=8)
    add_colorbar(lines, list(axes.ravel()), "attention weight", normalised=_EDGE_NORMALISED,
                 scale=scale, fraction=0.03, pad=0.02)
    kept = f"top {top_k} incoming edges per node" if top_k else "all edges"
    fig.suptitle(f"graph attention per layer (rows) and head (columns): {kept}, one colour scale; "
                 "rings = self-attention", fontsize=10)
    return fig


@plain_text
def draw_ego(grid: AttentionGrid, node: int | str, layer: int | str = -1, head: int | str = "mean", *,
             ax: Axes | None = None, top_k: int | None = 12, edge_cmap: str = EDGE_CMAP,
             node_color: ColorType | None = None, colorbar: bool = True) -> Axes:
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

    grid = check_graph_grid(grid)
    labels = grid.query.labels
    if isinstance(node, str):
        if node not in labels:
            raise MultiattnValueError(f"no node labelled {node!r}; labels include {list(labels[:10])}")
        index = labels.index(node)
    else:
        index = int(node)
    if not 0 <= index < len(labels):
        raise MultiattnIndexError(f"node {node} out of range for {len(labels)} nodes")
    values, layer_label, head_text = edge_values(grid, layer, head)
    source, target = grid.edge_index
    incoming = np.flatnonzero((target == index) & (source != index))
    if incoming.size == 0:
        raise MultiattnValueError(f"node {labels[index]!r} has no incoming edges besides a self-loop; "
                         "pick a node with neighbours")
    incoming = incoming[np.argsort(-values[incoming], kind="stable")]
    shown = incoming[:top_k] if top_k else incoming
    hidden_mass = float(values[incoming[len(shown):]].sum())
    self_weight = float(values[(target == index) & (source == index)].sum())
    angles = np.pi / 2 - 2 * np.pi * np.arange(shown.size) / max(shown.size, 1)
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    scale = color_scale(values[shown], cmap=edge_cmap, limits=(0.0, max(float(values[shown].max()), 1e-9)))
    fig, ax = get_axes(ax, figsize=(6.5, 6.0))
    set_limits(ax, np.vstack([ring * 1.25, [[0.0, 0.0]]]))
    cmap = matplotlib.colormaps[scale.cmap]
    norm = Normalize(scale.vmin, scale.vmax, clip=True)
    strength = np.ma.filled(norm(values[shown]), 0.0)
    per_pt = points_to_data(ax)
    segments, triangles = edge_geometry(np.vstack([[0.0, 0.0], ring]), np.arange(1, shown.size + 1),
                                         np.zeros(shown.size, int), lane=0.0, gap=17 * per_pt,
                                         source_gap=12 * per_pt, head=(5 + 5 * strength) * per_pt)
    lines = edge_artists(ax, segments, triangles, cmap(strength), 0.8 + 5 * strength, values[shown], scale,
                          norm)
    node_color = node_color or ("group" if grid.query.groups is not None else "lightsteelblue")
    if node_color == "group":
        if grid.query.groups is None:
            raise MultiattnValueError("node_color='group' needs node groups (NodeAxis(groups=...))")
        colours, _ = node_colours(grid, "group", layer, head)
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
        ax.legend(handles=group_handles(grid), loc="lower left", fontsize=7, frameon=False,
                  title="node group", title_fontsize=7)
    if colorbar:
        add_colorbar(lines, ax, "attention weight", normalised=_EDGE_NORMALISED, scale=scale,
                     fraction=0.046, pad=0.02)
    rest = f"; {incoming.size - shown.size} weaker sources hold {hidden_mass:.2f}" if hidden_mass else ""
    ax.set_title(f"incoming attention of node {labels[index]} — layer {layer_label}, {head_text}\n"
                 f"sources clockwise from the top by weight{rest}", fontsize=9)
    return ax


@plain_text
def draw_hetero(grids: Mapping[str, AttentionGrid], layer: int | str = -1, head: int | str = "mean",
                **kwargs: Any) -> Axes:
    """Draw every edge type of a heterogeneous capture on one graph (Axes-level).

    Nodes are coloured and shaped by node type; the edges of all types share one colour
    scale (attention weight) and differ by line style.  ``grids`` is the GridSet
    ``multiattn.adapters.graph.capture`` returns for a ``HeteroData`` (one grid per edge
    type); keyword arguments (``pos``, ``seed``, ``ax``, ``edge_cmap``, ``edge_limits``,
    ``node_size``, ``labels``, ``colorbar``, ``title``) are those of
    ``renderers._network_hetero.draw_hetero``; unknown ones are refused.

    Examples
    --------
    >>> grids = multiattn.capture(hetero_model, hetero_data)  # doctest: +SKIP
    >>> ax = draw_hetero(grids, layer=-1)  # doctest: +SKIP
    >>> ax.get_title().startswith("layer")  # doctest: +SKIP
    True
    """
    from ._network_hetero import draw_hetero as _draw_hetero

    return _draw_hetero(grids, layer, head, **kwargs)
