"""Head summary: per-layer / per-head metrics as annotated heatmaps, plus a head-type map.

:func:`head_summary` is figure-level (small multiples): one panel per metric
``(L, H)`` (layers down, heads across, each panel with its own colour scale
and colorbar, every cell printed), and, given a head-types table, a panel of
categorical colours with a legend and each head's score printed.

The panels sit in a layout computed once in inches (no constrained-layout solve), and the
labels and cell numbers of a panel are drawn by one artist each (:class:`~._text_batch.TextBatch`)
instead of one tick or ``Text`` per string: 288 numbers of a 6 x 12 model cost one artist per
panel.

Example
-------
>>> import numpy as np
>>> fig = head_summary({"entropy (nats)": np.ones((2, 3))},
...                    head_types=[{"layer": 0, "head": 1, "type": "previous_token", "score": 0.97}])
>>> [ax.get_title() for ax in fig.axes if ax.get_label() != "<colorbar>"]
['entropy (nats)', 'head type (number = score)']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch

from multiattn.errors import MultiattnTypeError, MultiattnValueError

from ._style import DPI, ColorScale, add_colorbar, color_scale
from ._text_batch import TextBatch, edge_labels, value_strings
from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike

__all__ = ["head_summary"]

_MAX_ANNOTATED_CELLS = 400
_NO_TYPE = "(not in table)"
_NO_TYPE_COLOR = "0.88"
_NAN_COLOR = "0.85"
_CELL_INCHES = 0.5  # cell width
_ROW_INCHES = 0.4  # cell height
_MIN_PANEL_INCHES = 1.4  # panel height at least: room for the colorbar's "(scale: panel min to max)"
_SCALE_NOTE = "scale: panel min to max"
_TITLE_INCHES = 0.32  # above a panel: its title
_BELOW_INCHES = 0.42  # below a panel: head labels and "head"
_BAR_GAP, _BAR_WIDTH = 0.12, 0.15  # colorbar right of its panel
_BAR_INCHES = 1.05  # gap, colorbar, its tick labels and its two-line label
_SUPTITLE_INCHES = 0.42
_TICK_FONT = 7
_PAD = 3.0  # points between a panel and its labels


def _check_metrics(metrics: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    if not isinstance(metrics, Mapping):
        raise MultiattnTypeError("metrics must be a dict of name -> (layers, heads) array, "
                        f"got {type(metrics).__name__}")
    out: dict[str, np.ndarray] = {}
    for name, values in metrics.items():
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 2 or 0 in arr.shape:
            raise MultiattnValueError(
                f"metric {name!r} must be a non-empty (layers, heads) array, got shape {arr.shape}; "
                "per-layer vectors need a head axis: values[:, None]"
            )
        if np.isinf(arr).any():
            raise MultiattnValueError(
                f"metric {name!r} contains inf; use NaN for values that cannot be computed")
        if not np.isfinite(arr).any():
            raise MultiattnValueError(f"metric {name!r} is all NaN: nothing to draw")
        out[str(name)] = arr
    shapes = {name: arr.shape for name, arr in out.items()}
    if len(set(shapes.values())) > 1:
        raise MultiattnValueError(f"all metrics must have the same (layers, heads) shape, got {shapes}")
    return out


def _type_table(head_types: Iterable[Mapping[str, Any]],
                shape: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(type index, score) grids and the type names (index 0 = heads missing from the table)."""
    best: dict[tuple[int, int], tuple[str, float]] = {}
    for n, row in enumerate(head_types):
        missing = {"layer", "head", "type", "score"} - set(row)
        if missing:
            raise MultiattnValueError(
                f"head_types row {n} lacks {sorted(missing)}; each row needs layer, head, "
                             "type and score (as returned by multiattn.analysis.head_types)")
        layer, head = row["layer"], row["head"]
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (layer, head)):
            raise MultiattnValueError(f"head_types row {n}: layer and head must be integer indices, "
                             f"got {layer!r}, {head!r}")
        score = np.nan if row["score"] is None else float(row["score"])
        key = (int(layer), int(head))
        if key not in best or score > best[key][1]:
            best[key] = (str(row["type"]), score)
    if not best:
        raise MultiattnValueError("head_types is empty: pass None to leave out the head-type panel")
    if shape is None:
        shape = (max(k[0] for k in best) + 1, max(k[1] for k in best) + 1)
    outside = [k for k in best if not (0 <= k[0] < shape[0] and 0 <= k[1] < shape[1])]
    if outside:
        raise MultiattnValueError(f"head_types refers to (layer, head) {outside[:3]} outside the metrics' "
                         f"(layers, heads) shape {shape}")
    names = [_NO_TYPE] + sorted({kind for kind, _ in best.values()})
    index = np.zeros(shape, dtype=int)
    scores = np.full(shape, np.nan)
    for (layer, head), (kind, score) in best.items():
        index[layer, head] = names.index(kind)
        scores[layer, head] = score
    return index, scores, names


def _type_color(i: int) -> tuple[float, float, float]:
    """Categorical colour ``i``: tab10 then tab20, skipping the greys (they read as "no type")."""
    palette = [c for n, c in enumerate(plt.get_cmap("tab10").colors) if n != 7]
    palette += [c for n, c in enumerate(plt.get_cmap("tab20").colors) if n % 2 and n not in (15,)]
    return palette[i % len(palette)]


def _cell_numbers(ax: Axes, values: np.ndarray, rgb: np.ndarray) -> None:
    """Print each cell's value in black or white, whichever reads on its colour (one artist)."""
    if values.size > _MAX_ANNOTATED_CELLS:
        return
    luminance = rgb @ np.array([0.299, 0.587, 0.114])
    rows, cols = np.indices(values.shape)
    numbers = TextBatch(np.column_stack([cols.ravel(), rows.ravel()]), value_strings(values),
                       fontsize=7 if values.shape[1] <= 16 else 5.5,
                       colors=np.where(luminance.ravel() > 0.5, "black", "white"))
    numbers.set_label("cell values")
    numbers.set_in_layout(False)  # inside its panel: never widens the picture, not measured
    ax.add_artist(numbers)


def _label_width(labels: list[str], fontsize: float = _TICK_FONT) -> float:
    """Width in points of the widest label (the layer labels: the margin left of a panel)."""
    from matplotlib.textpath import text_to_path

    font = FontProperties(size=fontsize)
    return max(text_to_path.get_text_width_height_descent(s, font, ismath=False)[0] for s in labels)


def _panel_inches(shape: tuple[int, int], bars: bool) -> tuple[float, float]:
    """Width and height of a panel of ``(layers, heads)`` cells (with colorbars: at least as tall
    as the colorbar's two-line label)."""
    return shape[1] * _CELL_INCHES, max(shape[0] * _ROW_INCHES, _MIN_PANEL_INCHES if bars else 0.0)


def _height_inches(ax: Axes) -> float:
    return ax.get_position().height * ax.get_figure().get_figheight()


def _frame(ax: Axes, shape: tuple[int, int], title: str, labels: tuple[list[str], list[str]],
           label_width: float) -> None:
    """Title; layer labels left of and head labels under the panel (one artist each, no ticks)."""
    n_layers, n_heads = shape
    ax.set_title(title, fontsize=9, parse_math=False)
    ax.set_xticks([])
    ax.set_yticks([])
    edge_labels(ax, [(-0.5, i) for i in range(n_layers)], labels[0], "left", fontsize=_TICK_FONT,
                pad=_PAD, name="layer labels")
    edge_labels(ax, [(j, n_layers - 0.5) for j in range(n_heads)], labels[1], "bottom",
                fontsize=_TICK_FONT, pad=_PAD, name="head labels")
    ax.set_xlabel("head", fontsize=8, labelpad=2 * _PAD + 1.2 * _TICK_FONT)
    ax.set_ylabel("layer", fontsize=8, labelpad=2 * _PAD + label_width)


def _metric_panel(ax: Axes, cax: Axes, name: str, values: np.ndarray) -> None:
    scale: ColorScale = color_scale(values, percentiles=(0.0, 100.0))
    cmap = plt.get_cmap(scale.cmap).with_extremes(bad=_NAN_COLOR)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=scale.vmin, vmax=scale.vmax,
                      aspect="auto", interpolation="nearest")
    _cell_numbers(ax, values, image.to_rgba(image.get_array())[..., :3])  # NaN: the grey it shows
    colorbar = add_colorbar(image, ax, name, normalised=_SCALE_NOTE, cax=cax)
    label = colorbar.ax.get_ylabel()
    if "\n" not in label and _label_width([label]) > 72 * _height_inches(cax):
        colorbar.set_label(f"{name}\n({_SCALE_NOTE})")  # one line would run past the panel's height
    colorbar.ax.tick_params(labelsize=7)
    colorbar.ax.yaxis.label.set_fontsize(7)
    colorbar.ax.yaxis.label.set_parse_math(False)


def _type_panel(ax: Axes, index: np.ndarray, scores: np.ndarray, names: list[str]) -> None:
    colors = [to_rgb(_NO_TYPE_COLOR)] + [_type_color(i) for i in range(len(names) - 1)]
    ax.imshow(index, cmap=ListedColormap(colors), vmin=-0.5, vmax=len(names) - 0.5,
              aspect="auto", interpolation="nearest")
    _cell_numbers(ax, np.where(index == 0, np.nan, scores), np.asarray(colors)[index])
    present = sorted(set(index.ravel().tolist()))
    below = (_BELOW_INCHES + 0.05) / _height_inches(ax)  # under the head labels
    legend = ax.legend(handles=[Patch(color=colors[i], label=names[i]) for i in present],
                       loc="upper center", bbox_to_anchor=(0.5, -below), ncol=min(len(present), 4),
                       fontsize=7, frameon=False, title="type", title_fontsize=8)
    for text in legend.get_texts():
        text.set_parse_math(False)


def _panel_axes(fig: Figure, n_panels: int, n_bars: int, n_cols: int, shape: tuple[int, int], left: float,
                legend: float) -> list[tuple[Axes, Axes | None]]:
    """A fixed layout (inches, computed once): per panel its Axes and, for the first ``n_bars``
    panels, the colorbar's Axes beside it."""
    panel_w, panel_h = _panel_inches(shape, n_bars > 0)
    slot_w, slot_h = left + panel_w + _BAR_INCHES, _TITLE_INCHES + panel_h + _BELOW_INCHES
    n_rows = -(-n_panels // n_cols)
    width, height = n_cols * slot_w, _SUPTITLE_INCHES + n_rows * slot_h + legend
    fig.set_size_inches(width, height)
    out = []
    for n in range(n_panels):
        row, col = divmod(n, n_cols)
        x, y = col * slot_w + left, height - _SUPTITLE_INCHES - row * slot_h - _TITLE_INCHES - panel_h
        ax = fig.add_axes((x / width, y / height, panel_w / width, panel_h / height))
        bar = ((x + panel_w + _BAR_GAP) / width, y / height, _BAR_WIDTH / width, panel_h / height)
        out.append((ax, fig.add_axes(bar, label="<colorbar>") if n < n_bars else None))
    return out


@plain_text
def head_summary(metrics: Mapping[str, ArrayLike] | None = None,
                 head_types: Iterable[Mapping[str, Any]] | None = None, *,
                 layer_labels: Iterable[object] | None = None,
                 head_labels: Iterable[object] | None = None) -> Figure:
    """Small multiples of per-head metrics and head types (figure-level: returns a Figure).

    Parameters
    ----------
    metrics : dict of str -> array (L, H)
        Named per-head metrics (entropy, mean distance, share on [CLS]...),
        drawn layers down and heads across with every value printed
        (NaN shows as "n/a" in grey).  Each panel has its own min-to-max scale.
    head_types : list of dict, optional
        Rows with ``layer``, ``head``, ``type`` and ``score`` (e.g.
        :func:`multiattn.analysis.head_types`); drawn as a categorical map with
        a legend.  With several rows for one head, the highest score wins.
    layer_labels, head_labels : sequence, optional
        Tick labels (any values, shown with ``str``); default indices.

    Returns
    -------
    Figure
        One Axes per metric (each with its colorbar) plus one for head types, placed by a
        fixed layout (no layout engine). Each panel's layer labels, head labels and cell values
        are one :class:`~._text_batch.TextBatch` each in ``ax.artists`` (labels ``"layer labels"``,
        ``"head labels"``, ``"cell values"``; values row-major).

    Raises
    ------
    ValueError
        Nothing to draw, metrics not 2-D or of different shapes, all-NaN or inf
        metrics, head-type rows missing keys or outside the metrics' shape,
        label counts that do not match.

    Example
    -------
    >>> fig = head_summary({"entropy": np.zeros((6, 12)), "distance": np.ones((6, 12))})
    >>> len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"])
    2
    """
    panels = _check_metrics(metrics or {})
    if not panels and head_types is None:
        raise MultiattnValueError(
            "nothing to draw: pass metrics (name -> (layers, heads) array) and/or head_types")
    shape = next(iter(panels.values())).shape if panels else None
    types = None if head_types is None else _type_table(head_types, shape)
    shape = shape if shape is not None else types[0].shape
    return _figure(panels, types, _labels(shape, layer_labels, head_labels))


def _labels(shape: tuple[int, int], layer_labels: Iterable[object] | None,
            head_labels: Iterable[object] | None) -> tuple[list[str], list[str]]:
    labels = []
    for given, n, name in ((layer_labels, shape[0], "layer"), (head_labels, shape[1], "head")):
        text = [str(v) for v in range(n)] if given is None else [str(v) for v in given]
        if len(text) != n:
            raise MultiattnValueError(f"{len(text)} {name}_labels for {n} {name}s")
        labels.append(text)
    return labels[0], labels[1]


def _figure(panels: dict[str, np.ndarray], types: tuple[np.ndarray, np.ndarray, list[str]] | None,
            labels: tuple[list[str], list[str]]) -> Figure:
    """The panels (metrics, then head types) in 2 or 3 columns with one suptitle."""
    shape = (len(labels[0]), len(labels[1]))
    n_panels = len(panels) + (types is not None)
    label_width = _label_width(labels[0])
    left = (3 * _PAD + label_width + 1.3 * 8) / 72
    legend = 0.0 if types is None else 0.35 + 0.17 * -(-len(set(types[0].ravel().tolist())) // 4)
    fig = plt.figure(dpi=DPI)
    slots = _panel_axes(fig, n_panels, len(panels), min(n_panels, 2 if shape[1] > 8 else 3), shape,
                        left, legend)
    for (ax, cax), (name, values) in zip(slots, panels.items()):
        _metric_panel(ax, cax, name, values)
    if types is not None:
        _type_panel(slots[-1][0], *types)
    for (ax, _), title in zip(slots, [*panels, "head type (number = score)"]):
        _frame(ax, shape, title, labels, label_width)
    fig.suptitle("per-head summary: layers down, heads across", fontsize=10,
                 y=1 - 0.1 / fig.get_figheight(), va="top")
    return fig
