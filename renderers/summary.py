"""Head summary: per-layer / per-head metrics as annotated heatmaps, plus a head-type map.

:func:`head_summary` is figure-level (small multiples): one panel per metric
``(L, H)`` (layers down, heads across, each panel with its own colour scale
and colorbar, every cell printed), and, given a head-types table, a panel of
categorical colours with a legend and each head's score printed.

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
from matplotlib.patches import Patch

from multiattn.errors import MultiattnTypeError, MultiattnValueError

from ._style import DPI, ColorScale, add_colorbar, color_scale
from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike

__all__ = ["head_summary"]

_MAX_ANNOTATED_CELLS = 400
_NO_TYPE = "(not in table)"
_NO_TYPE_COLOR = "0.88"
_NAN_COLOR = "0.85"
_CELL_INCHES = 0.5


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


def _annotate(ax: Axes, values: np.ndarray, rgb: np.ndarray) -> None:
    """Print each cell's value in black or white, whichever reads on its colour."""
    if values.size > _MAX_ANNOTATED_CELLS:
        return
    size = 7 if values.shape[1] <= 16 else 5.5
    luminance = rgb @ np.array([0.299, 0.587, 0.114])
    for (i, j), value in np.ndenumerate(values):  # inside its cell: never widens the layout, not measured
        ax.text(j, i, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center", va="center",
                fontsize=size, color="black" if luminance[i, j] > 0.5 else "white", in_layout=False)


def _frame(ax: Axes, shape: tuple[int, int], title: str, layer_labels: list[str],
           head_labels: list[str]) -> None:
    ax.set_title(title, fontsize=9, parse_math=False)
    ax.set_xticks(range(shape[1]), head_labels, fontsize=7, parse_math=False)
    ax.set_yticks(range(shape[0]), layer_labels, fontsize=7, parse_math=False)
    ax.set_xlabel("head", fontsize=8)
    ax.set_ylabel("layer", fontsize=8)


def _metric_panel(ax: Axes, name: str, values: np.ndarray, labels: tuple[list[str], list[str]]) -> None:
    scale: ColorScale = color_scale(values, percentiles=(0.0, 100.0))
    cmap = plt.get_cmap(scale.cmap).with_extremes(bad=_NAN_COLOR)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=scale.vmin, vmax=scale.vmax,
                      aspect="auto", interpolation="nearest")
    _frame(ax, values.shape, name, *labels)
    _annotate(ax, values, image.to_rgba(np.nan_to_num(values, nan=scale.vmin))[..., :3])
    colorbar = add_colorbar(image, ax, name, normalised="scale: panel min to max", fraction=0.05, pad=0.03)
    colorbar.ax.tick_params(labelsize=7)
    colorbar.ax.yaxis.label.set_fontsize(7)
    colorbar.ax.yaxis.label.set_parse_math(False)


def _type_panel(ax: Axes, index: np.ndarray, scores: np.ndarray, names: list[str],
                labels: tuple[list[str], list[str]]) -> None:
    colors = [to_rgb(_NO_TYPE_COLOR)] + [_type_color(i) for i in range(len(names) - 1)]
    ax.imshow(index, cmap=ListedColormap(colors), vmin=-0.5, vmax=len(names) - 0.5,
              aspect="auto", interpolation="nearest")
    _frame(ax, index.shape, "head type (number = score)", *labels)
    _annotate(ax, np.where(index == 0, np.nan, scores), np.asarray(colors)[index])
    present = sorted(set(index.ravel().tolist()))
    legend = ax.legend(handles=[Patch(color=colors[i], label=names[i]) for i in present],
                       loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(len(present), 4),
                       fontsize=7, frameon=False, title="type", title_fontsize=8)
    for text in legend.get_texts():
        text.set_parse_math(False)


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
        One Axes per metric (each with its colorbar) plus one for head types.

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
    labels = []
    for given, n, name in ((layer_labels, shape[0], "layer"), (head_labels, shape[1], "head")):
        text = [str(v) for v in range(n)] if given is None else [str(v) for v in given]
        if len(text) != n:
            raise MultiattnValueError(f"{len(text)} {name}_labels for {n} {name}s")
        labels.append(text)

    n_panels = len(panels) + (types is not None)
    n_cols = min(n_panels, 2 if shape[1] > 8 else 3)
    n_rows = int(np.ceil(n_panels / n_cols))
    panel_w, panel_h = shape[1] * _CELL_INCHES + 2.6, shape[0] * _CELL_INCHES * 0.8 + 1.3
    fig = plt.figure(figsize=(n_cols * panel_w, n_rows * panel_h + 0.5), dpi=DPI, layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax, (name, values) in zip(axes, panels.items()):
        _metric_panel(ax, name, values, (labels[0], labels[1]))
    if types is not None:
        _type_panel(axes[len(panels)], *types, (labels[0], labels[1]))
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    fig.suptitle("per-head summary: layers down, heads across", fontsize=10)
    return fig
