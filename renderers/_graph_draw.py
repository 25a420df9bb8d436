"""Drawing primitives for graph attention on an Axes: edge lanes with arrowheads, self-loop rings, nodes.

Edges are one ``LineCollection`` plus one ``PolyCollection`` of arrowheads (never
one artist per edge); above ``BINNED_EDGES`` edges without arrowheads, one compound path per
strength bin.  Each directed edge ``source -> target`` is shifted
slightly to the right of its direction, so the two directions of an undirected
edge show as two parallel lanes.  Sizes are given in typographic points and
converted to data units once the Axes limits are set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D

from multiattn.analysis.edges import attention_received, incoming_entropy, self_loop_mask, top_k_edges
from multiattn.errors import MultiattnValueError
from multiattn.grid import AttentionGrid

from ._edge_raster import RasterEdges
from ._graph_layout import LARGE_NODES
from ._style import ColorScale, color_scale

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike

_NODE_COLORS = ("group", "received", "entropy")


def points_to_data(ax: Axes) -> float:
    """Data units per typographic point along x (limits must be set)."""
    x0, x1 = ax.get_xlim()
    width_pt = ax.get_position().width * ax.get_figure().get_figwidth() * 72.0
    return abs(x1 - x0) / max(width_pt, 1.0)


def set_limits(ax: Axes, xy: np.ndarray) -> None:
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


def edge_geometry(xy: np.ndarray, source: np.ndarray, target: np.ndarray, *, lane: float,
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


def edge_values(grid: AttentionGrid, layer: int | str, head: int | str) -> tuple[np.ndarray, str, str]:
    chosen = grid.select(layer=layer)
    chosen = chosen.reduce("mean", "head") if head == "mean" else chosen.select(head=head)
    head_text = "mean of heads" if head == "mean" else f"head {chosen.heads[0]}"
    return chosen.values[0, 0].astype(float), chosen.layers[0], head_text


def _group_names(grid: AttentionGrid) -> list[str]:
    groups = grid.query.groups or ()
    names = list(grid.meta.get("group_names") or [])
    return [names[g] if 0 <= g < len(names) else f"group {g}" for g in sorted(set(groups))]


def node_colours(grid: AttentionGrid, mode: str | ArrayLike, layer: int | str,
                  head: int | str) -> tuple[Any, str | None]:
    """Node colours: (RGBA / colour spec, None) for categories, or (values, colorbar label)."""
    import matplotlib

    n = len(grid.query)
    if isinstance(mode, str) and mode in _NODE_COLORS:
        if mode == "group":
            if grid.query.groups is None:
                raise MultiattnValueError("node_color='group' needs node groups (NodeAxis(groups=...)); "
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
            raise MultiattnValueError(
                f"node_color must be one of {_NODE_COLORS}, a matplotlib colour, or one "
                             f"value per node; got {mode!r}")
        return mode, None
    values = np.asarray(mode, dtype=float)
    if values.shape != (n,):
        raise MultiattnValueError(f"node_color must be {_NODE_COLORS}, a colour, or one value per node "
                         f"(shape ({n},)), got shape {values.shape}")
    return values, "node value"


#: Above this many edges without arrowheads, edges are drawn in :data:`_EDGE_BINS` strength bins,
#: one compound path each (a few artists instead of one Path object per edge: 10x faster at 10^5).
BINNED_EDGES = 20_000
_EDGE_BINS = 32


def _binned_edges(ax: Axes, segments: np.ndarray, colours: np.ndarray, widths: Any, weights: np.ndarray,
                  scale: ColorScale, norm: Normalize, strength: np.ndarray) -> PathCollection:
    """Edges as one compound path per strength bin (colour, alpha and width of the bin's centre),
    rasterized by OpenCV on an Agg canvas (:class:`~._edge_raster.RasterEdges`)."""
    from matplotlib.path import Path

    bins = np.minimum((np.asarray(strength) * _EDGE_BINS).astype(int), _EDGE_BINS - 1)
    order = np.argsort(bins, kind="stable")  # weak bins first: strong edges on top
    starts = np.searchsorted(bins[order], np.arange(_EDGE_BINS + 1))
    widths = np.broadcast_to(np.asarray(widths, dtype=float), bins.shape)
    paths, path_colours, path_widths, path_values = [], [], [], []
    for b in range(_EDGE_BINS):
        members = order[starts[b]:starts[b + 1]]
        if members.size == 0:
            continue
        codes = np.tile(np.array([Path.MOVETO, Path.LINETO], dtype=np.uint8), members.size)
        paths.append(Path(segments[members].reshape(-1, 2), codes))
        path_colours.append(colours[members].mean(axis=0))
        path_widths.append(float(widths[members].mean()))
        path_values.append(float(weights[members].mean()))
    lines = RasterEdges(paths, facecolors="none", linewidths=path_widths, cmap=scale.cmap, norm=norm,
                        zorder=1, capstyle="butt")
    lines.set_array(np.asarray(path_values))
    lines.set_edgecolor(np.asarray(path_colours))  # keep per-bin alpha; the array feeds the colorbar
    lines.set_facecolor("none")
    ax.add_collection(lines, autolim=False)
    return lines


def edge_artists(ax: Axes, segments: np.ndarray, triangles: np.ndarray | None, colours: np.ndarray,
                  widths: Any, weights: np.ndarray, scale: ColorScale, norm: Normalize,
                  strength: np.ndarray | None = None, **line_kwargs: Any) -> LineCollection | PathCollection:
    """Add edge lines (and arrowheads) coloured per edge; the returned artist feeds a colorbar.

    Many edges without arrowheads (more than :data:`BINNED_EDGES`, ``strength`` given) are drawn
    binned by strength (:func:`_binned_edges`).
    """
    if triangles is None and strength is not None and len(segments) > BINNED_EDGES:
        return _binned_edges(ax, segments, colours, widths, weights, scale, norm, strength)
    lines = LineCollection(segments, colors=colours, linewidths=widths, cmap=scale.cmap, norm=norm,
                           zorder=1, **line_kwargs)
    lines.set_array(weights)
    lines.set_color(colours)  # keep per-edge alpha; the array only feeds the colorbar
    ax.add_collection(lines)
    if triangles is not None:
        ax.add_collection(PolyCollection(triangles, facecolors=colours, edgecolors="none", zorder=1))
    return lines


def _draw_edges(ax: Axes, grid: AttentionGrid, values: np.ndarray, keep: np.ndarray, xy: np.ndarray,
                scale: ColorScale, *, node_size: float, arrows: bool) -> LineCollection:
    """Edges ``keep`` as lanes (strong edges on top), stopped at the node rim; limits must be set."""
    import matplotlib

    keep = keep[np.argsort(values[keep], kind="stable")]  # strong edges on top
    source, target = grid.edge_index[0, keep], grid.edge_index[1, keep]
    weights = values[keep]
    per_pt = points_to_data(ax)
    norm = Normalize(scale.vmin, scale.vmax, clip=True)
    strength = np.ma.filled(norm(weights), 0.0)
    colours = matplotlib.colormaps[scale.cmap](strength)
    large = len(xy) > LARGE_NODES  # thin, translucent edges so 10^5 of them stay readable
    colours[:, 3] = (0.04 + 0.5 * strength) if large else (0.2 + 0.8 * strength)
    widths = (0.1 + 0.7 * strength) if large else (0.4 + 2.6 * strength)
    radius_pt = np.sqrt(node_size) / 2
    heads = (2.5 + 2.5 * strength) * per_pt if arrows else None
    segments, triangles = edge_geometry(xy, source, target, lane=1.2 * per_pt if arrows else 0.0,
                                         gap=(radius_pt + 1.0) * per_pt, head=heads)
    return edge_artists(ax, segments, triangles, colours, widths, weights, scale, norm, strength,
                        capstyle="butt")


def _draw_self_loops(ax: Axes, grid: AttentionGrid, values: np.ndarray, xy: np.ndarray,
                     scale: ColorScale, *, node_size: float) -> None:
    """Self-attention as rings around the nodes, on the edges' colour scale."""
    import matplotlib

    loops = self_loop_mask(grid)
    if not loops.any():
        return
    ring_nodes = grid.edge_index[1, loops]
    ring_strength = np.ma.filled(Normalize(scale.vmin, scale.vmax, clip=True)(values[loops]), 0.0)
    ax.scatter(xy[ring_nodes, 0], xy[ring_nodes, 1], s=node_size * 2.2, facecolors="none",
               edgecolors=matplotlib.colormaps[scale.cmap](ring_strength),
               linewidths=0.4 + 1.4 * ring_strength, zorder=2)


def _draw_nodes(ax: Axes, grid: AttentionGrid, xy: np.ndarray, node_color: str | ArrayLike, *,
                layer: int | str, head: int | str,
                node_size: float, labels: bool, legend: bool) -> tuple[Any, str | None]:
    """Node markers (and labels, group legend); returns (node artist, node colorbar label or None)."""
    import matplotlib

    colour, colour_label = node_colours(grid, node_color, layer, head)
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
        ax.legend(handles=group_handles(grid), loc="upper left", bbox_to_anchor=(0.0, 0.0),
                  fontsize=7, frameon=False, title="node group", title_fontsize=7,
                  ncols=min(len(_group_names(grid)), 6))
    return nodes, colour_label


def draw_graph_parts(ax: Axes, grid: AttentionGrid, *, layer: int | str, head: int | str, xy: np.ndarray,
          node_color: str | ArrayLike,
          top_k: int | None, scale: ColorScale, node_size: float, arrows: bool, labels: bool,
          self_loops: bool, legend: bool) -> tuple[LineCollection, Any, str | None]:
    """Draw edges, rings, nodes and labels; returns (edge artist, node artist, node colorbar label)."""
    values, _, _ = edge_values(grid, layer, head)
    keep = (np.sort(top_k_edges(grid, top_k, layer=layer, head=head, self_loops=False))
            if top_k else np.flatnonzero(~self_loop_mask(grid)))
    set_limits(ax, xy)
    lines = _draw_edges(ax, grid, values, keep, xy, scale, node_size=node_size, arrows=arrows)
    if self_loops and len(xy) <= LARGE_NODES:
        _draw_self_loops(ax, grid, values, xy, scale, node_size=node_size)
    nodes, colour_label = _draw_nodes(ax, grid, xy, node_color, layer=layer, head=head,
                                      node_size=node_size, labels=labels, legend=legend)
    return lines, nodes, colour_label


def group_handles(grid: AttentionGrid) -> list[Line2D]:
    import matplotlib

    palette = matplotlib.colormaps["tab10"]
    return [Line2D([], [], marker="o", linestyle="", color=palette(i % 10), label=name)
            for i, name in enumerate(_group_names(grid))]
