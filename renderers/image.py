"""Attention on images: patch maps placed on the original pixels and blended.

:func:`overlay` is the array-level primitive (uint8 RGB in, uint8 RGB out, the
size of the *original* image); :func:`overlay_plot` draws it on a matplotlib
Axes with a colorbar.  Figure-level small multiples: :func:`attention_grid_plot`
(one query's attention per head or per layer), :func:`compare_plot` (several
explanation maps side by side, own or shared scale); :func:`query_patch_plot`
shows where one patch looks.  :func:`to_rgb` is the one place where any image input
(path, PIL image, grayscale / RGBA / palette / 16-bit / float array, BGR from
OpenCV) becomes ``uint8 RGB (H, W, 3)``.

A map over a :class:`~multiattn.axes.PatchAxis` is placed with the axis'
recorded ``transform`` (``original_size``, ``resize``, ``crop``): patch
``(r, c)`` covers the model-input pixels ``[r*ph, (r+1)*ph) x [c*pw, (c+1)*pw)``,
which are shifted by the crop offset and scaled back by the resize factor.
Pixels the model never saw (outside a center crop) keep their original colour.
A plain 2-D ``(rows, cols)`` array is stretched over the whole image.

The small multiples are defined here; placing maps on pixels
(:func:`patch_values_to_pixels`, ``renderers._image_pixels``) and blending
(:func:`overlay`, :func:`overlay_plot`, ``renderers._image_overlay``) are
re-exported from their own modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionMap
from multiattn.media import to_rgb

from ._explanation import explanation_figure
from ._image_overlay import overlay, overlay_plot, overlay_scale
from ._image_pixels import patch_grid, patch_values_to_pixels
from ._style import ColorScale, add_colorbar
from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from pathlib import Path

    import PIL.Image
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from multiattn._types import ArrayLike
    from multiattn.grid import AttentionGrid

__all__ = [
    "attention_grid_plot", "compare_plot", "explanation_figure", "overlay", "overlay_plot",
    "query_patch_plot", "sink_overlay_plot",
]


# -- small multiples -----------------------------------------------------------------
def _panel_grid(n: int, ncols: int | None, size: float, aspect: float) -> tuple[Figure, np.ndarray]:
    import matplotlib.pyplot as plt

    from ._style import DPI

    ncols = min(n, ncols or n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols * aspect + 1.2, size * nrows + 0.6),
                             dpi=DPI, squeeze=False, layout="constrained")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def _shared_colorbar(fig: Figure, axes: Sequence[Axes] | np.ndarray, scale: ColorScale, label: str,
                     normalised: str | None) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    mappable = ScalarMappable(norm=Normalize(scale.vmin, scale.vmax), cmap=scale.cmap)
    bar = add_colorbar(mappable, list(axes), label, normalised=normalised, scale=scale,
                       fraction=0.025, pad=0.02)
    bar.ax.tick_params(labelsize=7)
    bar.ax.yaxis.label.set_fontsize(8)


def _check_patch_grid(grid: object) -> None:
    from ..axes import PatchAxis
    from ..grid import AttentionGrid

    if not isinstance(grid, AttentionGrid) or not isinstance(grid.key, PatchAxis):
        raise MultiattnTypeError(
            "expected an AttentionGrid over a PatchAxis (from multiattn.adapters.vit.capture)")


@plain_text
def attention_grid_plot(
    image: str | Path | PIL.Image.Image | ArrayLike,
    grid: AttentionGrid,
    *,
    over: str = "head",
    layer: int | str = -1,
    query: int | str = 0,
    ncols: int | None = 6,
    alpha: float = 0.6,
    cmap: str | None = None,
    upsample: str = "nearest",
    size: float = 2.0,
) -> Figure:
    """Small multiples of one query's attention on the image, per head or per layer (figure-level).

    Parameters
    ----------
    image : path, PIL image or array
        The original image the grid was captured on.
    grid : AttentionGrid
        Over a PatchAxis (:func:`multiattn.adapters.vit.capture`).
    over : {"head", "layer"}
        ``"head"``: every head of ``layer``; ``"layer"``: every layer, mean of heads.
    layer : int or str
        Layer for ``over="head"``.
    query : int or str
        Query position (``0`` / ``"CLS"`` for the class token, or a patch label like ``"r3c5"``).
    ncols : int, optional
        Panels per row.
    alpha, cmap, upsample
        As in :func:`overlay`; all panels share one colour scale.
    size : float
        Panel height in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Example
    -------
    >>> fig = attention_grid_plot("cat.jpg", grid, over="head", layer=-1)  # doctest: +SKIP
    """
    _check_patch_grid(grid)
    if over not in ("head", "layer"):
        raise MultiattnValueError(f"over must be 'head' or 'layer', got {over!r}")
    rgb = to_rgb(image)
    if over == "head":
        sub = grid.select(layer=layer)
        maps = [sub.row(query, layer=0, head=h) for h in range(sub.n_heads)]
        titles = [f"head {h}" for h in sub.heads]
        what = f"{grid.query.labels[maps[0].meta['query']]} attention, {sub.layers[0]}"
    else:
        maps = [grid.row(query, layer=i, head="mean") for i in range(grid.n_layers)]
        titles = list(grid.layers)
        what = f"{grid.query.labels[maps[0].meta['query']]} attention, mean of heads"
    patch_maps = [m.to_image() for m in maps]
    scale = overlay_scale(np.stack(patch_maps), cmap, None, None)
    fig, axes = _panel_grid(len(maps), ncols, size, rgb.shape[1] / rgb.shape[0])
    for ax, amap, title in zip(axes, maps, titles):
        overlay_plot(rgb, amap, ax=ax, alpha=alpha, cmap=scale.cmap, upsample=upsample,
                     vmin=scale.vmin, vmax=scale.vmax, title=title, colorbar=False)
    _shared_colorbar(fig, axes, scale, "attention weight", "rows sum to 1 over all tokens; shared scale")
    fig.suptitle(what, fontsize=10)
    return fig


@plain_text
def query_patch_plot(
    image: str | Path | PIL.Image.Image | ArrayLike,
    grid: AttentionGrid,
    patch: tuple[int, int],
    *,
    layer: int | str = -1,
    head: int | str = "mean",
    ax: Axes | None = None,
    alpha: float = 0.6,
    cmap: str | None = None,
    upsample: str = "nearest",
) -> Axes:
    """"Where does this patch look": one patch's attention, with the query patch outlined (Axes-level).

    Parameters
    ----------
    image : path, PIL image or array
        The original image.
    grid : AttentionGrid
        Over a PatchAxis.
    patch : (row, col)
        Query patch in the patch grid.
    layer, head
        Which layer; ``"mean"`` of heads or one head.
    ax : Axes, optional
        Where to draw.
    alpha, cmap, upsample
        As in :func:`overlay`.

    Returns
    -------
    matplotlib.axes.Axes

    Example
    -------
    >>> ax = query_patch_plot("cat.jpg", grid, (5, 7))  # doctest: +SKIP
    """
    from matplotlib.patches import Rectangle

    _check_patch_grid(grid)
    axis = grid.query
    r, c = (int(v) for v in patch)
    if not (0 <= r < axis.rows and 0 <= c < axis.cols):
        raise MultiattnValueError(f"patch {patch} outside the {axis.rows}x{axis.cols} patch grid")
    rgb = to_rgb(image)
    amap = grid.row(axis.n_prefix + r * axis.cols + c, layer=layer, head=head)
    heads = "mean of heads" if head == "mean" else f"head {amap.meta['head']}"
    ax = overlay_plot(rgb, amap, ax=ax, alpha=alpha, cmap=cmap, upsample=upsample,
                      title=f"patch ({r}, {c}) looks at ... ({amap.meta['layer']}, {heads})",
                      label="attention weight", normalised="row sums to 1 over all tokens")
    hot = np.zeros(len(axis))
    hot[axis.n_prefix + r * axis.cols + c] = 1.0
    box = patch_values_to_pixels(AttentionMap(hot, axis), rgb.shape[:2], upsample="nearest") == 1
    ys, xs = np.nonzero(box)
    ax.add_patch(Rectangle((xs.min() - 0.5, ys.min() - 0.5), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1,
                           fill=False, edgecolor="cyan", linewidth=2))
    return ax


@plain_text
def compare_plot(
    image: str | Path | PIL.Image.Image | ArrayLike,
    maps: Mapping[str, AttentionMap | ArrayLike],
    *,
    shared_scale: bool = False,
    alpha: float = 0.6,
    cmap: str | None = None,
    upsample: str = "bilinear",
    threshold: float | None = None,
    size: float = 2.6,
    title: str | None = None,
) -> Figure:
    """The image next to several explanation maps, side by side (figure-level).

    Parameters
    ----------
    image : path, PIL image or array
        The original image.
    maps : dict of str -> AttentionMap or array (rows, cols)
        Panel title -> map, e.g. ``{"raw": ..., "rollout": ..., "grad-rollout": ..., "relevance": ...}``.
    shared_scale : bool
        False: each panel uses its own robust limits and colorbar (methods live on
        different scales).  True: every map is divided by its total positive patch
        mass, so panels show *shares of the map* on one common colour scale.
    alpha, cmap, upsample, threshold
        As in :func:`overlay`.
    size : float
        Panel height in inches.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Example
    -------
    >>> fig = compare_plot(img, {"rollout": m1, "relevance": m2}, shared_scale=True)  # doctest: +SKIP
    """
    if not maps:
        raise MultiattnValueError("maps is empty: pass {title: map} for at least one method")
    rgb = to_rgb(image)
    grids = {name: patch_grid(m) for name, m in maps.items()}
    if shared_scale:
        shares = {}
        for name, g in grids.items():
            total = np.clip(g, 0, None).sum()
            if total <= 0:
                raise MultiattnValueError(f"map {name!r} has no positive mass to share")
            shares[name] = total
        pooled = np.concatenate([np.clip(g, 0, None).ravel() / shares[n] for n, g in grids.items()])
        scale = overlay_scale(pooled, cmap, None, None)
    fig, axes = _panel_grid(len(maps) + 1, None, size, rgb.shape[1] / rgb.shape[0])
    axes[0].imshow(rgb)
    axes[0].set_title("image", fontsize=9)
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    for ax, (name, amap) in zip(axes[1:], maps.items()):
        if shared_scale:
            shown = _scaled_map(amap, 1.0 / shares[name])
            overlay_plot(rgb, shown, ax=ax, alpha=alpha, cmap=scale.cmap, upsample=upsample,
                         threshold=threshold, vmin=scale.vmin, vmax=scale.vmax, title=name, colorbar=False)
        else:
            overlay_plot(rgb, amap, ax=ax, alpha=alpha, cmap=cmap, upsample=upsample, threshold=threshold,
                         title=name, label="")
    if shared_scale:
        _shared_colorbar(fig, axes[1:], scale, "share of map", "each map / its positive patch mass")
    note = "one shared colour scale" if shared_scale else "each panel on its own robust (2-98 %) colour scale"
    fig.suptitle(f"{title}\n({note})" if title else f"({note})", fontsize=10)
    return fig


def _scaled_map(amap: AttentionMap | ArrayLike, factor: float) -> AttentionMap | np.ndarray:
    """The positive part of a map times ``factor``, keeping its axis."""
    if isinstance(amap, AttentionMap):
        return AttentionMap(np.clip(amap.values, 0, None) * factor, amap.axis, amap.meta)
    return np.clip(np.asarray(amap, dtype=np.float64), 0, None) * factor


# -- attention sinks / artifact tokens -----------------------------------------------------
def _sink_positions(attention: AttentionMap, sinks: Sequence[int] | Sequence[Mapping]) -> list[int]:
    """Content positions (no prefix token) of ``sinks``: records of ``sink_tokens`` or positions."""
    positions = [int(s["position"]) if isinstance(s, Mapping) else int(s) for s in sinks]
    n_prefix = getattr(attention.axis, "n_prefix", 0)
    return [p for p in positions if n_prefix <= p < len(attention.axis)]


@plain_text
def sink_overlay_plot(
    image: str | Path | PIL.Image.Image | ArrayLike,
    attention: AttentionMap,
    sinks: Sequence[int] | Sequence[Mapping],
    *,
    mode: str = "mark",
    ax: Axes | None = None,
    color: str = "cyan",
    **kwargs: object,
) -> Axes:
    """:func:`overlay_plot` with attention-sink / artifact patches outlined, or masked first.

    One saturated artifact patch (DINOv2's high-norm background tokens) sets the colour scale
    and reads as "the object"; ``mode="mask"`` replaces the sinks' values by the median of
    the other patches before drawing (so the scale shows the rest), ``mode="mark"`` keeps the
    values.  Either way the sink patches are outlined and named in a legend.

    Parameters
    ----------
    image : path, PIL image or array
    attention : AttentionMap
        Over a PatchAxis (prefix tokens have no pixels and are skipped).
    sinks : sequence of int or of dict
        Key positions, or the records of :func:`multiattn.analysis.diagnostics.sink_tokens`.
    mode : {"mark", "mask"}
    ax : matplotlib.axes.Axes, optional
    color : str
        Outline colour.
    **kwargs
        Passed to :func:`overlay_plot` (``alpha``, ``cmap``, ``upsample``, ``title``...).

    Returns
    -------
    matplotlib.axes.Axes

    Example
    -------
    >>> from multiattn.axes import PatchAxis
    >>> amap = AttentionMap(np.r_[0.0, np.eye(2).ravel()], PatchAxis(2, 2, 16, (32, 32)))
    >>> ax = sink_overlay_plot(np.zeros((32, 32, 3), np.uint8), amap, [1], mode="mask")
    >>> ax.get_legend().get_texts()[0].get_text()
    'masked sink (1 patch)'
    """
    if mode not in ("mark", "mask"):
        raise MultiattnValueError(f"mode must be 'mark' or 'mask', got {mode!r}")
    if not isinstance(attention, AttentionMap):
        raise MultiattnTypeError("sink_overlay_plot needs an AttentionMap over a PatchAxis")
    positions = _sink_positions(attention, sinks)
    shown = attention
    if mode == "mask" and positions:
        values = np.array(attention.values, dtype=np.float64)
        rest = np.setdiff1d(np.arange(getattr(attention.axis, "n_prefix", 0), len(values)), positions)
        values[positions] = np.median(values[rest]) if rest.size else 0.0
        shown = AttentionMap(values, attention.axis, {**attention.meta, "masked_sinks": positions})
    ax = overlay_plot(image, shown, ax=ax, **kwargs)
    if positions:
        rgb = to_rgb(image)
        marks = np.zeros(len(attention.axis))
        marks[positions] = 1.0
        marked = AttentionMap(marks, attention.axis, {})
        pixels = patch_values_to_pixels(marked, rgb.shape[:2], upsample="nearest")
        ax.contour(np.nan_to_num(pixels), levels=[0.5], colors=[color], linewidths=1.2)
        what = "masked sink" if mode == "mask" else "attention sink"
        plural = "es" if len(positions) > 1 else ""
        ax.plot([], [], color=color, label=f"{what} ({len(positions)} patch{plural})")
        # below the image, so the legend never hides a marked patch
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=7, frameon=False)
    return ax
