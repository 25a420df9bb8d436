"""Heterogeneous graph attention drawn together: every edge type's grid of a GridSet on one layout.

Nodes of each type get their own colour and marker; edges of every type share one colour
scale (attention weight) and differ by line style, so the strength of ``author -> paper``
and ``paper -> paper`` attention can be compared at a glance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D

from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionGrid

from ._graph_draw import edge_artists, edge_geometry, edge_values, points_to_data, set_limits
from ._style import add_colorbar, color_scale, get_axes

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Mapping

__all__ = ["draw_hetero", "hetero_layout"]

_MARKERS = "osD^vPX*"
_STYLES = ["solid", (0, (5, 2)), (0, (1, 1.5)), (0, (5, 2, 1, 2)), (0, (8, 3))]
_LABEL_MAX = 60


def _types(grids: Mapping[str, AttentionGrid]) -> dict[str, int]:
    """Node type -> node count, checked across the edge types that share a node type."""
    counts: dict[str, int] = {}
    for name, grid in grids.items():
        if not isinstance(grid, AttentionGrid) or not grid.is_sparse or "target_type" not in grid.meta:
            raise MultiattnTypeError(
                f"grid {name!r} is not a heterogeneous graph grid (sparse, with meta source_type / "
                "target_type); pass the GridSet of graph.capture on a HeteroData")
        for node_type, axis in ((grid.meta["source_type"], grid.key), (grid.meta["target_type"], grid.query)):
            if counts.setdefault(node_type, len(axis)) != len(axis):
                raise MultiattnValueError(f"node type {node_type!r} has {counts[node_type]} nodes in one "
                                          f"grid and {len(axis)} in {name!r}")
    return counts


def hetero_layout(grids: Mapping[str, AttentionGrid], *, seed: int = 0) -> dict[str, np.ndarray]:
    """Positions ``(n, 2)`` per node type from one seeded spring layout of all edge types together.

    Examples
    --------
    >>> pos = hetero_layout(grids)  # doctest: +SKIP
    >>> {t: xy.shape for t, xy in pos.items()}  # doctest: +SKIP
    {'author': (4, 2), 'paper': (6, 2)}
    """
    import networkx as nx

    counts = _types(grids)
    offset = dict(zip(counts, np.cumsum([0] + list(counts.values()))[:-1]))
    graph = nx.Graph()
    graph.add_nodes_from(range(sum(counts.values())))
    for grid in grids.values():
        src = grid.edge_index[0] + offset[grid.meta["source_type"]]
        dst = grid.edge_index[1] + offset[grid.meta["target_type"]]
        graph.add_edges_from(zip(src.tolist(), dst.tolist()))
    graph.remove_edges_from(nx.selfloop_edges(graph))
    every = np.zeros((graph.number_of_nodes(), 2))
    alone = [node for node, degree in graph.degree() if degree == 0]
    linked = graph.subgraph([node for node in graph if graph.degree(node) > 0])
    if linked.number_of_nodes():
        n = linked.number_of_nodes()
        xy = nx.spring_layout(linked, seed=seed, k=1.6 / np.sqrt(n)) if n <= 2000 else \
            nx.spectral_layout(linked)
        nodes = list(xy)
        every[nodes] = np.array([xy[node] for node in nodes])
    if alone:  # nodes without any attended edge: a row under the graph, not flung to the margins
        lo, hi = every.min(axis=0), every.max(axis=0)
        every[alone, 0] = np.linspace(lo[0], hi[0], len(alone)) if len(alone) > 1 else (lo[0] + hi[0]) / 2
        every[alone, 1] = lo[1] - 0.12 * max(hi[1] - lo[1], 1.0)
    return {t: every[offset[t]: offset[t] + c] for t, c in counts.items()}


def _layer_of(grid: AttentionGrid, layer: int | str, name: str) -> int | str:
    if isinstance(layer, str) and layer not in grid.layers:
        raise MultiattnValueError(f"grid {name!r} has no layer {layer!r}; it has {list(grid.layers)}")
    if isinstance(layer, (int, np.integer)) and not -grid.n_layers <= layer < grid.n_layers:
        raise MultiattnValueError(f"grid {name!r} has {grid.n_layers} layers; layer {layer} is out of range")
    return layer


def _draw_type_edges(ax: Axes, grid: AttentionGrid, values: np.ndarray, xy_src: np.ndarray,
                     xy_dst: np.ndarray, scale: Any, style: Any, node_size: float) -> Any:
    import matplotlib

    keep = np.flatnonzero(~((grid.meta["source_type"] == grid.meta["target_type"])
                            & (grid.edge_index[0] == grid.edge_index[1])))
    keep = keep[np.argsort(values[keep], kind="stable")]
    xy = np.vstack([xy_src, xy_dst])
    source, target = grid.edge_index[0, keep], grid.edge_index[1, keep] + len(xy_src)
    norm = Normalize(scale.vmin, scale.vmax, clip=True)
    strength = np.ma.filled(norm(values[keep]), 0.0)
    colours = matplotlib.colormaps[scale.cmap](strength)
    colours[:, 3] = 0.25 + 0.75 * strength
    per_pt = points_to_data(ax)
    segments, triangles = edge_geometry(xy, source, target, lane=1.2 * per_pt,
                                        gap=(np.sqrt(node_size) / 2 + 1.0) * per_pt,
                                        head=(2.5 + 2.5 * strength) * per_pt)
    return edge_artists(ax, segments, triangles, colours, 0.6 + 2.4 * strength, values[keep], scale, norm,
                        linestyles=[style])


def draw_hetero(grids: Mapping[str, AttentionGrid], layer: int | str = -1, head: int | str = "mean", *,
                pos: Mapping[str, np.ndarray] | None = None, seed: int = 0, ax: Axes | None = None,
                edge_cmap: str = "magma_r", edge_limits: tuple[float, float] | None = None,
                node_size: float | None = None, labels: bool | None = None, colorbar: bool = True,
                title: str | None = None) -> Axes:
    """Draw every edge type of a heterogeneous capture on one graph (Axes-level).

    Parameters
    ----------
    grids : GridSet
        ``graph.capture`` on a ``HeteroData``: one sparse grid per edge type.
    layer : int or str
        Layer index (per edge type: ``-1`` is each type's last layer) or label.
    head : "mean", int or str
        One head, or the mean over heads.
    pos : dict of node type -> array (n, 2), optional
        Node positions; default :func:`hetero_layout` (seeded spring layout of all types).
    seed : int
        Layout seed.
    ax : Axes, optional
        Where to draw; default a new figure.
    edge_cmap : str
        Sequential colormap shared by the edges of every type.
    edge_limits : (vmin, vmax), optional
        Fixed colour limits; default robust 2-98 % of all drawn weights.
    node_size : float, optional
        Marker area in pt^2; default shrinks with the node count.
    labels : bool, optional
        Node ids on the markers; default on up to 60 nodes.
    colorbar : bool
        The edge weight colorbar.
    title : str, optional
        Default names the layer, head and counts.

    Returns
    -------
    Axes

    Examples
    --------
    >>> grids = graph.capture(model, hetero_data)  # doctest: +SKIP
    >>> ax = draw_hetero(grids)  # doctest: +SKIP
    >>> len(ax.get_legend().get_texts())  # doctest: +SKIP
    5
    """
    import matplotlib

    counts = _types(grids)
    pos_given = pos is not None
    pos = hetero_layout(grids, seed=seed) if pos is None else {t: np.asarray(pos[t], float) for t in counts}
    total = sum(counts.values())
    size = float(node_size) if node_size is not None else float(np.clip(6000.0 / total, 4.0, 260.0))
    picked = {name: edge_values(g, _layer_of(g, layer, name), head) for name, g in grids.items()}
    every = np.concatenate([v for v, _, _ in picked.values()])
    scale = color_scale(every, cmap=edge_cmap, limits=edge_limits)
    fig, ax = get_axes(ax, figsize=(8.5, 7.0))
    set_limits(ax, np.vstack(list(pos.values())))
    handles, lines = [], None
    for i, (name, grid) in enumerate(grids.items()):
        style = _STYLES[i % len(_STYLES)]
        lines = _draw_type_edges(ax, grid, picked[name][0], pos[grid.meta["source_type"]],
                                 pos[grid.meta["target_type"]], scale, style, size)
        handles.append(Line2D([], [], color="0.3", linestyle=style, lw=1.5,
                              label=f"{' → '.join((grid.meta['source_type'], grid.meta['target_type']))} "
                                    f"({grid.meta['edge_type'][1]}, {grid.shape[2]} edges)"))
    palette = matplotlib.colormaps["tab10"]
    show_labels = total <= _LABEL_MAX if labels is None else bool(labels)
    for i, (node_type, xy) in enumerate(pos.items()):
        marker = _MARKERS[i % len(_MARKERS)]
        ax.scatter(xy[:, 0], xy[:, 1], s=size, c=[palette(i % 10)], marker=marker, edgecolors="white",
                   linewidths=0.5, zorder=3)
        handles.insert(i, Line2D([], [], color=palette(i % 10), marker=marker, linestyle="none",
                                 label=f"{node_type} ({len(xy)} nodes)"))
        if show_labels:
            for (x, y), text in zip(xy, range(len(xy))):
                ax.text(x, y, str(text), ha="center", va="center", fontsize=6, color="white", zorder=4)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, 0.0), fontsize=7, frameon=False,
              ncols=2, title="nodes by type; edges source → target by type", title_fontsize=7)
    across = any("all edge types" in str(g.meta.get("normalized", "")) for g in grids.values())
    if colorbar and lines is not None:
        add_colorbar(lines, ax, "edge: attention weight", scale=scale, fraction=0.04, pad=0.02, shrink=0.8,
                     normalised="softmax over all incoming edge types together" if across
                     else "per-node softmax over each edge type's incoming edges")
    touched = {t: np.zeros(c, bool) for t, c in counts.items()}
    for grid in grids.values():
        real = grid.edge_index[0] != grid.edge_index[1] if grid.kind == "self" else slice(None)
        touched[grid.meta["source_type"]][grid.edge_index[0][real]] = True
        touched[grid.meta["target_type"]][grid.edge_index[1][real]] = True
    alone = sum(int((~t).sum()) for t in touched.values())
    row = f"; bottom row: {alone} nodes without edges" if alone and pos_given is False else ""
    first = next(iter(picked.values()))
    names = sorted({label for _, label, _ in picked.values()})
    which = f"layer {names[0]}" if len(names) == 1 else f"layers {', '.join(names)} (index {layer} per type)"
    ax.set_title(title if title is not None else
                 f"{which}, {first[2]} — "
                 f"{len(grids)} edge types, {total} nodes of {len(counts)} types\n"
                 "edge colour = attention weight (one scale for all types); target attends to source\n"
                 f"self-loops not drawn{row}", fontsize=9)
    return ax
