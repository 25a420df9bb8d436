"""Figures about heads as a population: dendrogram, 2-D projection, pruning curve, agreement table.

Heads are indexed layer-major (``(l, h)`` is ``l * H + h``) and labelled ``"L{l}H{h}"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from multiattn.errors import MultiattnValueError

from ._style import DIVERGING_CMAP, DPI, add_colorbar, get_axes
from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike

__all__ = ["agreement_table", "head_dendrogram", "head_projection", "pruning_plot"]


def head_labels(n_layers: int, n_heads: int) -> list[str]:
    """``["L0H0", "L0H1", ...]`` layer-major.

    Example
    -------
    >>> head_labels(2, 2)
    ['L0H0', 'L0H1', 'L1H0', 'L1H1']
    """
    return [f"L{layer}H{head}" for layer in range(n_layers) for head in range(n_heads)]


@plain_text
def head_dendrogram(clusters: Mapping[str, ArrayLike], n_heads: int, *, ax: Axes | None = None) -> Axes:
    """Dendrogram of :func:`multiattn.analysis.clustering.cluster_heads`, leaves labelled ``L{l}H{h}``.

    Leaves are coloured by layer (the colour legend is the layer number in the label).

    Example
    -------
    >>> from multiattn.analysis.clustering import cluster_heads
    >>> c = cluster_heads(np.array([[1, .9, .1, .1], [.9, 1, .2, .1], [.1, .2, 1, .5], [.1, .1, .5, 1]]))
    >>> head_dendrogram(c, n_heads=2).get_ylabel()
    'distance (1 - similarity, average linkage)'
    """
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import dendrogram

    tree = np.asarray(clusters["linkage"])
    n_total = tree.shape[0] + 1
    if n_total % n_heads:
        raise MultiattnValueError(f"{n_total} heads in the clustering is not a multiple of n_heads={n_heads}")
    labels = head_labels(n_total // n_heads, n_heads)
    fig, ax = get_axes(ax, figsize=(max(6.0, 0.16 * n_total + 2), 4.2))
    dendrogram(tree, labels=labels, ax=ax, color_threshold=0, above_threshold_color="0.35",
               leaf_font_size=7 if n_total > 24 else 9)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.8, max(1, n_total // n_heads)))
    for tick in ax.get_xticklabels():
        tick.set_color(colours[int(tick.get_text()[1:].split("H")[0])])
    ax.set_ylabel("distance (1 - similarity, average linkage)")
    ax.set_title(f"head clustering ({n_total} heads; label colour = layer, "
                 f"{len(set(np.asarray(clusters['labels']).tolist()))} clusters at the cut)", fontsize=9)
    return ax


@plain_text
def head_projection(coords: ArrayLike, n_heads: int, head_types: Sequence[str], *,
                    explained: Sequence[float] | None = None) -> Figure:
    """Two panels of the same 2-D head projection: coloured by layer, and by detected type (figure-level).

    Parameters
    ----------
    coords : array (n_total, 2)
        E.g. from :func:`multiattn.analysis.clustering.project_heads`.
    n_heads : int
        Heads per layer.
    head_types : sequence of str
        Detected type of each head (``row["type"]`` of :func:`multiattn.analysis.head_types`).
    explained : (2,), optional
        Variance share of each axis, shown in the axis labels.

    Returns
    -------
    Figure

    Example
    -------
    >>> fig = head_projection(np.arange(8.0).reshape(4, 2), 2, ["broad", "broad", "self", "local"])
    >>> len(fig.axes)
    3
    """
    import matplotlib.pyplot as plt

    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise MultiattnValueError(f"coords must be (n_heads, 2), got {xy.shape}")
    if len(head_types) != xy.shape[0] or xy.shape[0] % n_heads:
        raise MultiattnValueError(
            f"{len(head_types)} head types and {xy.shape[0]} points for {n_heads} heads per layer"
        )
    n_layers = xy.shape[0] // n_heads
    layer_of = np.repeat(np.arange(n_layers), n_heads)
    fig, (by_layer, by_type) = plt.subplots(1, 2, figsize=(11, 4.6), dpi=DPI, layout="constrained")
    points = by_layer.scatter(xy[:, 0], xy[:, 1], c=layer_of, cmap="viridis", s=40, edgecolors="black",
                              linewidths=0.4, vmin=-0.5, vmax=n_layers - 0.5)
    cbar = add_colorbar(points, by_layer, "layer", ticks=range(n_layers))
    cbar.ax.tick_params(labelsize=8)
    kinds = sorted(set(head_types))
    palette = plt.get_cmap("tab10")
    for index, kind in enumerate(kinds):
        sel = np.array([t == kind for t in head_types])
        by_type.scatter(xy[sel, 0], xy[sel, 1], s=40, color=palette(index % 10), edgecolors="black",
                        linewidths=0.4, label=f"{kind} ({int(sel.sum())})")
    by_type.legend(fontsize=8, title="detected type", title_fontsize=8, loc="best")
    names = ("PC1", "PC2") if explained is None else tuple(
        f"PC{i + 1} ({100 * float(v):.0f}% of variance)" for i, v in enumerate(explained))
    for ax, title in ((by_layer, "heads by layer"), (by_type, "heads by detected type")):
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_title(title, fontsize=10)
    return fig


@plain_text
def pruning_plot(curve: Mapping[str, ArrayLike], metric_name: str, *, ax: Axes | None = None) -> Axes:
    """Metric vs fraction of heads removed: importance order against random orders (mean and range).

    ``curve`` is the dict of :func:`multiattn.adapters.ablation.pruning_curve`.

    Example
    -------
    >>> curve = {"fraction": np.linspace(0, 1, 3), "by_importance": np.array([1., 1.2, 3]),
    ...          "random": np.array([[1., 2, 3], [1, 2.5, 3]])}
    >>> len(pruning_plot(curve, "loss").lines)
    2
    """
    fraction = np.asarray(curve["fraction"], dtype=np.float64)
    ordered = np.asarray(curve["by_importance"], dtype=np.float64)
    random = np.asarray(curve["random"], dtype=np.float64).reshape(-1, fraction.size)
    if ordered.shape != fraction.shape:
        raise MultiattnValueError(f"by_importance has shape {ordered.shape}, fraction {fraction.shape}")
    fig, ax = get_axes(ax, figsize=(6.0, 4.0))
    ax.plot(100 * fraction, ordered, "o-", color="tab:blue", label="least important removed first")
    if random.shape[0]:
        ax.plot(100 * fraction, random.mean(0), "s--", color="tab:orange",
                label=f"random order (mean of {random.shape[0]})")
        ax.fill_between(100 * fraction, random.min(0), random.max(0), color="tab:orange", alpha=0.2,
                        label="random order (min-max)")
    ax.set_xlabel("heads removed (%)")
    ax.set_ylabel(metric_name)
    ax.set_title("pruning curve: heads ablated by importance (Michel et al. 2019)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


@plain_text
def agreement_table(table: Sequence[Mapping[str, str | float]], *, ax: Axes | None = None) -> Axes:
    """Heatmap of the attention-vs-attribution Spearman table (rows: maps, columns: attributions).

    ``table`` is the output of :func:`multiattn.analysis.attribution.attribution_agreement`.

    Example
    -------
    >>> ax = agreement_table([{"map": "raw L0", "grad": 0.5}, {"map": "raw L1", "grad": -0.2}])
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['raw L0', 'raw L1']
    """
    if not table:
        raise MultiattnValueError("the agreement table is empty")
    columns = [k for k in table[0] if k != "map"]
    if not columns:
        raise MultiattnValueError("the agreement table has no attribution columns")
    values = np.array([[float(row[c]) for c in columns] for row in table])
    fig, ax = get_axes(ax, figsize=(2.2 + 1.6 * len(columns), 1.2 + 0.3 * len(table)))
    image = ax.imshow(values, cmap=DIVERGING_CMAP, vmin=-1, vmax=1, aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        text = "n/a" if not np.isfinite(value) else f"{value:+.2f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=8,
                color="white" if np.isfinite(value) and abs(value) > 0.6 else "black")
    ax.set_xticks(range(len(columns)), [c.replace("_", " ") for c in columns], fontsize=8)
    ax.set_yticks(range(len(table)), [str(row["map"]) for row in table], fontsize=8)
    ax.set_title("is attention explanation? Spearman rank correlation", fontsize=9)
    add_colorbar(image, ax, "Spearman rho", normalised="|attribution| vs attention weight")
    return ax
