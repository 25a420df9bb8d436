"""Drift pictures: a layer × head map of how far attention moved, and before/after distributions.

Both take a :class:`multiattn.drift.DriftReport` (its arrays; no model runs here).
:func:`drift_heatmap` is Axes-level (``ax=None`` in, Axes out); :func:`drift_distributions`
is figure-level (one panel per drifted head, a Figure out).

Example
-------
>>> from multiattn.drift import drift
>>> report = drift("reference.npz", "new.npz")  # doctest: +SKIP
>>> ax = drift_heatmap(report)  # doctest: +SKIP
>>> fig = drift_distributions(report, top=4)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from multiattn.errors import MultiattnValueError

from ._style import DPI, SEQUENTIAL_CMAP, add_colorbar, get_axes
from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover
    from multiattn.drift import DriftReport

__all__ = ["drift_distributions", "drift_heatmap"]


@plain_text
def drift_heatmap(report: DriftReport, statistic: str | None = None, *, ax: Axes | None = None,
                  cmap: str | None = None, **kwargs: Any) -> Axes:
    """Layer × head map of the KS distance (max over statistics, or one ``statistic``).

    Drifted cells (flagged by the report's thresholds) carry a dot; the colour scale is
    fixed to [0, 1], the range of a KS distance.  ``kwargs`` go to ``imshow``.

    Returns
    -------
    Axes
    """
    if statistic is None:
        values, flagged, what = report.ks.max(0), report.flagged.any(0), "max over statistics"
    elif statistic in report.statistics:
        s = report.statistics.index(statistic)
        values, flagged, what = report.ks[s], report.flagged[s], statistic
    else:
        raise MultiattnValueError(f"statistic {statistic!r} is not in the report; choose from "
                                  f"{', '.join(report.statistics)}")
    n_layers, n_heads = values.shape
    fig, ax = get_axes(ax, figsize=(max(4.0, 0.45 * n_heads + 2), max(3.0, 0.45 * n_layers + 1.5)))
    kwargs.setdefault("aspect", "auto")
    image = ax.imshow(values, cmap=cmap or SEQUENTIAL_CMAP, vmin=0.0, vmax=1.0, **kwargs)
    rows, cols = np.nonzero(flagged)
    ax.scatter(cols, rows, s=14, c="white", edgecolors="black", linewidths=0.6, label="drifted")
    ax.set_xticks(range(n_heads))
    ax.set_yticks(range(n_layers))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(f"attention drift: {int(flagged.sum())} of {values.size} heads drifted "
                 f"({report.n_reference} vs {report.n_new} requests)", fontsize=9)
    add_colorbar(image, ax, "KS distance", normalised=what)
    return ax


@plain_text
def drift_distributions(report: DriftReport, top: int = 4, *, bins: int = 30,
                        figsize: tuple[float, float] | None = None) -> Figure:
    """Before/after distributions of the ``top`` most drifted heads (their most drifted statistic).

    Each panel shows the share of requests per bin (from the sketches) for the reference and
    the new requests, and the report's verdict as its title.

    Returns
    -------
    Figure
    """
    cells = report.top(top)
    if not cells:
        raise MultiattnValueError("the report found no drift: there are no drifted heads to draw "
                                  "(lower min_ks / raise alpha to look closer)")
    fig = Figure(figsize=figsize or (5.2, 2.3 * len(cells)), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(cells), 1, squeeze=False)[:, 0]
    for ax, (stat, layer, head) in zip(axes, cells):
        edges, before, after = report.distribution(stat, layer, head, bins=bins)
        ax.stairs(before, edges, fill=True, alpha=0.45, color="tab:blue", label="reference")
        ax.stairs(after, edges, color="tab:red", linewidth=1.6, label="new")
        ax.set_xlabel(stat)
        ax.set_ylabel("share of requests")
        ax.set_title(report.verdict(layer, head), fontsize=7.5, loc="left", wrap=True)
        ax.legend(fontsize=7, frameon=False)
    return fig
