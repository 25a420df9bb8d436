"""Sankey-style diagram of attention flowing through the layers to one output token.

Columns are levels: the input embeddings, then the output of every layer.
The chosen output token sits in the top level.  Going down, each layer's
residual-adjusted, head-averaged attention ``Â = r·I + (1 − r)·mean_h A``
(the matrices rollout multiplies) splits a token's share among the tokens of
the level below, so a token's share at a level is its rollout weight for the
output token.  Drawn: for every token holding at least ``threshold`` of the
output, its ``top_k`` strongest edges whose share reaches ``threshold``.
Edge width and colour are the share of the output token carried by the edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes

from multiattn.analysis.rollout import residual_layers
from multiattn.errors import MultiattnIndexError, MultiattnValueError
from multiattn.grid import AttentionGrid

from ._style import SEQUENTIAL_CMAP, add_colorbar, choose_cmap, get_axes
from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.path import Path as MplPath

    from multiattn._types import AttentionInput

__all__ = ["flow_diagram"]

_MAX_WIDTH = 9.0  # points, for an edge carrying the whole output token


def flow_edges(
    attn: AttentionInput, output_token: int, *, top_k: int = 3, threshold: float = 0.02, residual: float = 0.5
) -> tuple[np.ndarray, list[tuple[int, int, int, float]]]:
    """Shares of the output token per level and the edges the diagram draws.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Self-attention, bottom layer first.
    output_token : int
        Query position at the top (negative counts from the end).
    top_k : int
        Strongest edges kept per token.
    threshold : float
        Smallest share of the output token for a token to spread and for an edge to be drawn.
    residual : float
        Identity weight of each layer (as in rollout).

    Returns
    -------
    shares : ndarray (L + 1, N)
        ``shares[l]``: the share of the output token held by each token at level ``l``
        (level 0 = embeddings; ``shares[0]`` is the rollout row).
    edges : list of (layer, query, key, share)
        Edge from ``query`` at level ``layer + 1`` to ``key`` at level ``layer``.

    Example
    -------
    >>> shares, edges = flow_edges(np.full((2, 1, 3, 3), 1 / 3), 0, top_k=1)
    >>> shares.shape, edges[0][:3]
    ((3, 3), (1, 0, 0))
    """
    if not isinstance(top_k, int) or top_k < 1:
        raise MultiattnValueError(f"top_k must be a positive int, got {top_k!r}")
    if not 0.0 <= threshold < 1.0:
        raise MultiattnValueError(f"threshold must be in [0, 1), got {threshold}")
    layers = np.asarray(residual_layers(attn, "mean", residual))  # checks the rows; (L, N, N)
    n_layers, n_tok = layers.shape[0], layers.shape[-1]
    if not -n_tok <= output_token < n_tok:
        raise MultiattnIndexError(f"output_token {output_token} out of range for {n_tok} tokens")
    shares = np.zeros((n_layers + 1, n_tok))
    shares[-1, output_token % n_tok] = 1.0
    edges = []
    for layer in range(n_layers - 1, -1, -1):
        shares[layer] = shares[layer + 1] @ layers[layer]
        for query in np.flatnonzero(shares[layer + 1] >= max(threshold, 1e-12)):
            carried = shares[layer + 1, query] * layers[layer, query]
            for key in np.argsort(-carried, kind="stable")[:top_k]:
                if carried[key] >= max(threshold, 1e-12):
                    edges.append((layer, int(query), int(key), float(carried[key])))
    return shares, edges


def _edge_path(x0: float, y0: float, x1: float, y1: float) -> MplPath:
    from matplotlib.path import Path as MplPath

    mid = (x0 + x1) / 2
    return MplPath([(x0, y0), (mid, y0), (mid, y1), (x1, y1)],
                   [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4])


@plain_text
def flow_diagram(
    attn: AttentionInput,
    output_token: int,
    *,
    top_k: int = 3,
    threshold: float = 0.02,
    residual: float = 0.5,
    labels: Sequence[str] | None = None,
    cmap: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw attention flowing through every layer into one output token (Axes-level).

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Self-attention, bottom layer first.
    output_token : int
        Query position explained (top right of the diagram).
    top_k, threshold, residual
        As in :func:`flow_edges`.
    labels : sequence of str, optional
        Token labels (default: the grid's query axis labels, else indices).
    cmap : str, optional
        Sequential colormap of the edge share (default viridis).
    ax : Axes, optional
        Where to draw; default a new figure sized to the grid.

    Returns
    -------
    Axes

    Example
    -------
    >>> ax = flow_diagram(np.full((2, 1, 3, 3), 1 / 3), 0, labels=["a", "b", "c"])
    >>> ax.get_title().startswith("attention flow into 'a'")
    True
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize
    from matplotlib.patches import PathPatch

    shares, edges = flow_edges(attn, output_token, top_k=top_k, threshold=threshold, residual=residual)
    n_layers, n_tok = shares.shape[0] - 1, shares.shape[-1]
    if labels is None:
        labels = attn.query.labels if isinstance(attn, AttentionGrid) else [str(i) for i in range(n_tok)]
    labels = [str(v) for v in labels]
    if len(labels) != n_tok:
        raise MultiattnValueError(f"{len(labels)} labels for {n_tok} tokens")
    fig, ax = get_axes(ax, figsize=(2.0 + 1.5 * (n_layers + 1), 1.2 + 0.32 * n_tok))
    colormap = plt.get_cmap(choose_cmap(shares, cmap or SEQUENTIAL_CMAP))
    norm = Normalize(0.0, 1.0)
    for layer, query, key, share in sorted(edges, key=lambda e: e[3]):
        ax.add_patch(PathPatch(_edge_path(layer + 1, query, layer, key), fill=False, capstyle="butt",
                               lw=max(0.4, _MAX_WIDTH * share), edgecolor=colormap(norm(share)), alpha=0.85))
    levels, tokens = np.meshgrid(np.arange(n_layers + 1), np.arange(n_tok), indexing="ij")
    active = shares >= max(threshold, 1e-12)
    ax.scatter(levels[~active], tokens[~active], s=6, color="0.75", zorder=3)
    ax.scatter(levels[active], tokens[active], s=20 + 180 * shares[active], c=shares[active],
               cmap=colormap, norm=norm, edgecolors="black", linewidths=0.5, zorder=4)
    target = output_token % n_tok
    for level in range(n_layers + 1):
        for tok in range(n_tok):
            strong = active[level, tok]
            ax.text(level + 0.07, tok - 0.18, labels[tok], fontsize=7, va="bottom", ha="left", zorder=5,
                    color="black" if strong else "0.6", fontweight="bold" if strong else "normal",
                    clip_on=False)
    ax.set_xlim(-0.3, n_layers + 0.6)
    ax.set_ylim(n_tok - 0.5, -0.7)
    ax.set_yticks(range(n_tok), labels, fontsize=7)
    ax.set_xticks(range(n_layers + 1), ["embeddings"] + [f"after L{i}" for i in range(n_layers)], fontsize=8)
    ax.set_xlabel("level (token representations after each layer)")
    ax.set_title(f"attention flow into {labels[target]!r} (token {target}): top-{top_k} edges "
                 f"per token, share >= {threshold:g}", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=colormap)
    add_colorbar(mappable, ax, "share of the output token",
                 normalised=f"head mean, residual {residual:g}, output = 1", fraction=0.03, pad=0.02)
    return ax
