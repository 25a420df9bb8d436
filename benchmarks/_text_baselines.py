"""The text renderers as they were, kept as baselines for ``bench_render_text.py`` (same run).

- ``model_view_axes``: the model view as 72 Axes (before the tiled image);
- ``summary_texts``, ``label_ticks``, ``annotate_texts``: the head summary in constrained layout
  with ticks and one ``Text`` per cell, and the model view's tick labels and one ``Text`` + box
  per score (before :class:`multiattn.renderers._text_batch.TextBatch`);
- :func:`renderers`: swaps them into the writer (``"previous"``: the state before the text
  artists; ``"before"``: also the 72-Axes model view and the two-draw ``save_figure``);
- :func:`import_all_analyses`: what ``import multiattn.analysis`` loaded before it was lazy.

Nothing here imports pyplot at import time (the cold-start process times that import).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

import numpy as np


def model_view_axes(grid: Any, scores: np.ndarray | None = None, score_name: str = "") -> Any:
    """The model view as it was drawn before the tiled image: one Axes per head."""
    import matplotlib.pyplot as plt

    from multiattn.renderers import modelview as mv
    from multiattn.renderers._style import DPI, add_colorbar, color_scale
    from multiattn.renderers.heatmap import dim_title

    thumbs, note = mv._thumbnails(grid, 48)
    scale = color_scale(thumbs)
    n_layers, n_heads = grid.n_layers, grid.n_heads
    width = n_heads * mv._THUMB_INCHES + 1.4
    title = mv._title(grid, score_name if scores is not None else None, note, width)
    height = max(n_layers * mv._THUMB_INCHES, 2.0) + 0.35 + 0.16 * title.count("\n")
    fig = plt.figure(figsize=(width, height), dpi=DPI)
    fig.suptitle(title, fontsize=9, y=1 - 0.06 / height, va="top")
    axes = fig.subplots(n_layers, n_heads, squeeze=False, gridspec_kw={
        "wspace": 0.08, "hspace": 0.08, "bottom": 0.1 / height,
        "top": 1 - (0.45 + 0.16 * title.count("\n")) / height})
    for (lay, head), ax in np.ndenumerate(axes):
        image = ax.imshow(thumbs[lay, head], aspect="auto", interpolation="nearest", **scale.imshow_kwargs())
        ax.set_xticks([])
        ax.set_yticks([])
        if head == 0:
            ax.set_ylabel(dim_title("layer", grid.layers[lay]), fontsize=8)
        if lay == 0:
            ax.set_title(dim_title("head", grid.heads[head]), fontsize=8)
        if scores is not None:
            ax.text(0.97, 0.97, f"{scores[lay, head]:.2f}", transform=ax.transAxes, ha="right", va="top",
                    fontsize=6.5, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                                        "alpha": 0.8})
    add_colorbar(image, axes.ravel().tolist(), "attention weight", normalised="rows sum to 1", scale=scale,
                 fraction=0.03, pad=0.015)
    return fig


def label_ticks(ax: Any, row_labels: list[str], col_labels: list[str], fontsize: float = 8) -> None:
    """The tiles' labels as ticks (row labels left, column labels on top)."""
    ax.set_yticks(np.arange(len(row_labels)) + 0.5, list(row_labels), fontsize=fontsize)
    ax.set_xticks(np.arange(len(col_labels)) + 0.5, list(col_labels), fontsize=fontsize)
    ax.tick_params(length=0, top=True, bottom=False, labeltop=True, labelbottom=False, pad=2)


def annotate_texts(ax: Any, values: np.ndarray, fontsize: float = 6.5) -> None:
    """One ``Text`` on a white box patch per score, top-right of its tile."""
    box = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8}
    for (row, col), value in np.ndenumerate(values):
        ax.text(col + 0.97, row + 0.04, "n/a" if np.isnan(value) else f"{value:.2f}",
                ha="right", va="top", fontsize=fontsize, bbox=box, parse_math=False, in_layout=False)


def _cell_texts(ax: Any, values: np.ndarray, rgb: np.ndarray) -> None:
    luminance = rgb @ np.array([0.299, 0.587, 0.114])
    size = 7 if values.shape[1] <= 16 else 5.5
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center", va="center",
                fontsize=size, color="black" if luminance[i, j] > 0.5 else "white", in_layout=False)


def _ticks(ax: Any, title: str, labels: tuple[list[str], list[str]]) -> None:
    ax.set_title(title, fontsize=9, parse_math=False)
    ax.set_xticks(range(len(labels[1])), labels[1], fontsize=7)
    ax.set_yticks(range(len(labels[0])), labels[0], fontsize=7)
    ax.set_xlabel("head", fontsize=8)
    ax.set_ylabel("layer", fontsize=8)


def summary_texts(metrics: dict | None = None, head_types: list | None = None, *,
                  layer_labels: Any = None, head_labels: Any = None) -> Any:
    """The head summary as it was: constrained layout, tick labels, one ``Text`` per cell."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap, to_rgb
    from matplotlib.patches import Patch

    from multiattn.renderers import summary as sm
    from multiattn.renderers._style import DPI, add_colorbar, color_scale

    panels = sm._check_metrics(metrics or {})
    shape = next(iter(panels.values())).shape if panels else None
    types = None if head_types is None else sm._type_table(head_types, shape)
    shape = shape if shape is not None else types[0].shape
    labels = sm._labels(shape, layer_labels, head_labels)
    n_panels = len(panels) + (types is not None)
    n_cols = min(n_panels, 2 if shape[1] > 8 else 3)
    n_rows = int(np.ceil(n_panels / n_cols))
    panel_w, panel_h = shape[1] * 0.5 + 2.6, shape[0] * 0.4 + 1.3
    fig = plt.figure(figsize=(n_cols * panel_w, n_rows * panel_h + 0.5), dpi=DPI, layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax, (name, values) in zip(axes, panels.items()):
        scale = color_scale(values, percentiles=(0.0, 100.0))
        cmap = plt.get_cmap(scale.cmap).with_extremes(bad="0.85")
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=scale.vmin, vmax=scale.vmax,
                          aspect="auto", interpolation="nearest")
        _ticks(ax, name, labels)
        _cell_texts(ax, values, image.to_rgba(np.nan_to_num(values, nan=scale.vmin))[..., :3])
        bar = add_colorbar(image, ax, name, normalised="scale: panel min to max", fraction=0.05, pad=0.03)
        bar.ax.tick_params(labelsize=7)
        bar.ax.yaxis.label.set_fontsize(7)
    if types is not None:
        index, scores, names = types
        ax = axes[len(panels)]
        colors = [to_rgb("0.88")] + [sm._type_color(i) for i in range(len(names) - 1)]
        ax.imshow(index, cmap=ListedColormap(colors), vmin=-0.5, vmax=len(names) - 0.5, aspect="auto",
                  interpolation="nearest")
        _ticks(ax, "head type (number = score)", labels)
        _cell_texts(ax, np.where(index == 0, np.nan, scores), np.asarray(colors)[index])
        present = sorted(set(index.ravel().tolist()))
        ax.legend(handles=[Patch(color=colors[i], label=names[i]) for i in present], loc="upper center",
                  bbox_to_anchor=(0.5, -0.14), ncol=min(len(present), 4), fontsize=7, frameon=False,
                  title="type", title_fontsize=8)
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    fig.suptitle("per-head summary: layers down, heads across", fontsize=10)
    return fig


@contextlib.contextmanager
def renderers(state: str) -> Iterator[None]:
    """Within the block the writer draws as in ``state``: ``"after"`` (as shipped), ``"previous"``
    (ticks and one Text per string) or ``"before"`` (also 72 Axes and two-draw saving)."""
    from multiattn.renderers import _write_text, modelview, summary
    from multiattn.renderers.figure import save_figure

    shipped = (modelview.label_tiles, modelview.annotate_tiles, summary.head_summary, modelview.model_view,
               _write_text.save_once)
    if state in ("previous", "before"):
        modelview.label_tiles, modelview.annotate_tiles, summary.head_summary = (
            label_ticks, annotate_texts, summary_texts)
    if state == "before":
        modelview.model_view, _write_text.save_once = model_view_axes, save_figure
    try:
        yield
    finally:
        (modelview.label_tiles, modelview.annotate_tiles, summary.head_summary, modelview.model_view,
         _write_text.save_once) = shipped


def import_all_analyses() -> None:
    """Import the submodules ``import multiattn.analysis`` loaded before it was lazy."""
    import multiattn.analysis

    for name in multiattn.analysis._WHERE:
        importlib.import_module(f"multiattn.analysis.{name}")
