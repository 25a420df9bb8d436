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
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from ..grid import AttentionMap
from ..media import to_rgb
from ._style import DIVERGING_CMAP, ColorScale, add_colorbar, color_scale, get_axes

__all__ = [
    "to_rgb",
    "patch_values_to_pixels",
    "overlay",
    "overlay_plot",
    "attention_grid_plot",
    "query_patch_plot",
    "compare_plot",
]

_RESAMPLE = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
_ASPECT_TOLERANCE = 0.02


# -- placing a map on pixels ---------------------------------------------------
def _patch_grid(attention: Any) -> np.ndarray:
    if isinstance(attention, AttentionMap):
        return attention.to_image().astype(np.float64)
    grid = np.asarray(attention, dtype=np.float64)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(
            f"attention must be an AttentionMap over a PatchAxis or a 2-D (rows, cols) array, "
            f"got shape {grid.shape}"
        )
    if not np.isfinite(grid).all():
        raise ValueError("attention contains NaN or inf values")
    return grid


def _pixel_box(attention: Any, height: int, width: int) -> tuple[float, float, float, float]:
    """``(top, left, bottom, right)`` of the patch grid in image pixels (floats)."""
    if not isinstance(attention, AttentionMap):
        return 0.0, 0.0, float(height), float(width)
    axis = attention.axis
    t = axis.transform
    resized = t.get("resize", axis.image_size)
    top, left = t.get("crop", (0, 0))[:2]
    if "original_size" in t:
        oh, ow = t["original_size"]
        if abs((height / width) / (oh / ow) - 1) > _ASPECT_TOLERANCE:
            raise ValueError(
                f"the map was captured on a {oh}x{ow} image but the image given is {height}x{width} "
                "(different aspect ratio); pass the image the map was computed on"
            )
    sy, sx = height / resized[0], width / resized[1]
    ph, pw = axis.patch_size
    return top * sy, left * sx, (top + axis.rows * ph) * sy, (left + axis.cols * pw) * sx


def patch_values_to_pixels(
    attention: Any, size: tuple[int, int], *, upsample: str = "bilinear"
) -> np.ndarray:
    """Upsample a patch map to an image's pixels; NaN where the model saw nothing.

    Parameters
    ----------
    attention : AttentionMap or array (rows, cols)
        A map over a PatchAxis (placed with its recorded resize / crop) or a
        plain patch grid (stretched over the whole image).
    size : (height, width)
        Size of the original image.
    upsample : {"nearest", "bilinear", "bicubic"}
        ``nearest`` keeps patch edges exact; the smooth modes interpolate
        between patch centres (bicubic overshoot is clipped to the map's range).

    Returns
    -------
    numpy.ndarray
        float64 ``(height, width)``.

    Example
    -------
    >>> patch_values_to_pixels(np.eye(2), (4, 4), upsample="nearest")[:, 0]
    array([1., 1., 0., 0.])
    """
    if upsample not in _RESAMPLE:
        raise ValueError(f"upsample must be one of {sorted(_RESAMPLE)}, got {upsample!r}")
    height, width = int(size[0]), int(size[1])
    grid = _patch_grid(attention)
    top, left, bottom, right = _pixel_box(attention, height, width)
    out = np.full((height, width), np.nan)
    if upsample == "nearest":
        rows = np.floor((np.arange(height) + 0.5 - top) / (bottom - top) * grid.shape[0]).astype(int)
        cols = np.floor((np.arange(width) + 0.5 - left) / (right - left) * grid.shape[1]).astype(int)
        ok_r = (rows >= 0) & (rows < grid.shape[0])
        ok_c = (cols >= 0) & (cols < grid.shape[1])
        out[np.ix_(ok_r, ok_c)] = grid[np.ix_(rows[ok_r], cols[ok_c])]
        return out
    y0, x0 = max(int(round(top)), 0), max(int(round(left)), 0)
    y1, x1 = min(int(round(bottom)), height), min(int(round(right)), width)
    if y1 <= y0 or x1 <= x0:
        return out
    # resize the full box, then cut the part that lies inside the image
    box_h, box_w = int(round(bottom)) - int(round(top)), int(round(right)) - int(round(left))
    img = Image.fromarray(grid.astype(np.float32), mode="F")
    smooth = np.asarray(img.resize((box_w, box_h), _RESAMPLE[upsample]), dtype=np.float64)
    smooth = np.clip(smooth, grid.min(), grid.max())
    oy, ox = y0 - int(round(top)), x0 - int(round(left))
    out[y0:y1, x0:x1] = smooth[oy : oy + y1 - y0, ox : ox + x1 - x0]
    return out


# -- colour --------------------------------------------------------------------
def _scale(grid: np.ndarray, cmap: str | None, vmin: float | None, vmax: float | None) -> ColorScale:
    """Robust 2-98 % limits (symmetric for signed maps) unless fixed; inferno / RdBu_r by default."""
    signed = bool((grid < 0).any())
    scale = color_scale(grid, cmap=cmap or (DIVERGING_CMAP if signed else "inferno"))
    if vmin is None and vmax is None:
        return scale
    lo = scale.vmin if vmin is None else float(vmin)
    hi = scale.vmax if vmax is None else float(vmax)
    return color_scale(grid, cmap=scale.cmap, limits=(lo, hi))


def _mass_mask(grid: np.ndarray, threshold: float) -> np.ndarray:
    """Patches holding the top ``threshold`` share of the (positive) mass, as DINO shows it."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold is a share of the map's mass in (0, 1], got {threshold}")
    pos = np.clip(grid, 0, None).ravel()
    total = pos.sum()
    if total == 0:
        return np.zeros(grid.shape, dtype=bool)
    order = np.argsort(pos, kind="stable")
    keep = np.cumsum(pos[order]) / total > 1 - threshold
    mask = np.zeros(pos.shape, dtype=bool)
    mask[order[keep]] = True
    return mask.reshape(grid.shape)


def _outline(mask: np.ndarray, width: int) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    return mask & ~binary_erosion(mask, iterations=max(width, 1), border_value=0)


def _render(image, attention, *, alpha, cmap, upsample, threshold, vmin, vmax, channels):
    from matplotlib import colormaps

    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    rgb = to_rgb(image, channels=channels)
    grid = _patch_grid(attention)
    scale = _scale(grid, cmap, vmin, vmax)
    lo, hi = scale.vmin, scale.vmax
    pixels = patch_values_to_pixels(attention, rgb.shape[:2], upsample=upsample)
    seen = np.isfinite(pixels)
    show = seen
    if threshold is not None:
        mask_px = patch_values_to_pixels(_mass_mask(grid, threshold).astype(float),
                                         rgb.shape[:2], upsample="nearest")
        show = seen & (mask_px > 0.5)
    scaled = np.clip((np.where(seen, pixels, lo) - lo) / (hi - lo), 0, 1)
    lut = (colormaps[scale.cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.float32)
    colour = lut[np.round(scaled * 255).astype(np.intp)]
    out = rgb.astype(np.float32)
    out[show] = (1 - alpha) * out[show] + alpha * colour[show]
    if threshold is not None:
        out[_outline(show, max(1, round(min(rgb.shape[:2]) / 150)))] = 255.0
    out = np.round(out).astype(np.uint8)
    if channels == "BGR":
        out = np.ascontiguousarray(out[..., ::-1])
    return out, scale


# -- public drawing ------------------------------------------------------------
def overlay(
    image: Any,
    attention: Any,
    *,
    alpha: float = 0.5,
    cmap: str | None = None,
    upsample: str = "bilinear",
    threshold: float | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    channels: str = "RGB",
) -> np.ndarray:
    """Blend an attention map onto an image; returns an array of the image's size.

    Parameters
    ----------
    image : path, PIL image or array
        Anything :func:`to_rgb` accepts (grayscale, RGBA, palette, 16-bit ...).
    attention : AttentionMap or array (rows, cols)
        A map over a :class:`~multiattn.axes.PatchAxis` -- placed on the original
        pixels through the axis' resize / center-crop record; pixels outside the
        crop get no colour -- or a plain patch grid stretched over the image.
    alpha : float
        Opacity of the colour layer (0 = image only, 1 = colour only).
    cmap : str, optional
        Matplotlib colormap; default ``"inferno"`` for weights and ``"RdBu_r"``
        (symmetric limits) for signed maps such as relevance differences.
    upsample : {"bilinear", "nearest", "bicubic"}
        ``nearest`` for patch-exact squares, the others for smooth maps.
    threshold : float, optional
        Colour only the patches holding the top ``threshold`` share of the map's
        (positive) mass and outline them in white (DINO uses 0.6).
    vmin, vmax : float, optional
        Colour limits; default robust 2nd-98th percentiles of the patch values.
    channels : {"RGB", "BGR"}
        Channel order of an array ``image`` and of the result (``"BGR"`` for OpenCV).

    Returns
    -------
    numpy.ndarray
        ``uint8 (H, W, 3)``, the original image's size.

    Example
    -------
    >>> img = np.zeros((64, 96, 3), dtype=np.uint8)
    >>> overlay(img, np.random.rand(4, 6), upsample="nearest").shape
    (64, 96, 3)
    """
    out, *_ = _render(image, attention, alpha=alpha, cmap=cmap, upsample=upsample,
                      threshold=threshold, vmin=vmin, vmax=vmax, channels=channels)
    return out


def overlay_plot(
    image: Any,
    attention: Any,
    *,
    ax: Any = None,
    alpha: float = 0.5,
    cmap: str | None = None,
    upsample: str = "bilinear",
    threshold: float | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    colorbar: bool = True,
    label: str = "attention",
    normalised: str | None = None,
) -> Any:
    """Draw :func:`overlay` on a matplotlib Axes with a colorbar (Axes-level).

    Parameters
    ----------
    image, attention, alpha, cmap, upsample, threshold, vmin, vmax
        As in :func:`overlay`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.
    title : str, optional
        Axes title.
    colorbar : bool
        Add a colorbar showing the colour limits used (arrows mark clipped ends).
    label : str
        What the colours are, e.g. ``"CLS attention, layer 11"``; ``""`` draws an
        unlabelled colorbar (for small multiples whose figure title states the scale).
    normalised : str, optional
        What was normalised, appended to the colorbar label (``"mean of heads"``).

    Returns
    -------
    matplotlib.axes.Axes

    Example
    -------
    >>> ax = overlay_plot(np.zeros((32, 32, 3), np.uint8), np.eye(2))
    >>> len(ax.figure.axes)  # image + colorbar
    2
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    _, ax = get_axes(ax)
    out, scale = _render(image, attention, alpha=alpha, cmap=cmap, upsample=upsample,
                         threshold=threshold, vmin=vmin, vmax=vmax, channels="RGB")
    ax.imshow(out, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    if colorbar:
        mappable = ScalarMappable(norm=Normalize(scale.vmin, scale.vmax), cmap=scale.cmap)
        # as tall as the image: matplotlib's fraction is relative to the Axes' width
        size = {"fraction": 0.046 * min(1.0, out.shape[0] / out.shape[1]), "pad": 0.02}
        if label:
            bar = add_colorbar(mappable, ax, label, normalised=normalised, scale=scale, **size)
        else:  # the figure states the scale; keep narrow panels readable
            bar = add_colorbar(mappable, ax, "", extend=scale.extend, **size)
        bar.ax.tick_params(labelsize=7)
        bar.ax.yaxis.label.set_fontsize(8)
    return ax


# -- small multiples -----------------------------------------------------------------
def _panel_grid(n: int, ncols: int | None, size: float, aspect: float) -> tuple[Any, np.ndarray]:
    import matplotlib.pyplot as plt

    from ._style import DPI

    ncols = min(n, ncols or n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols * aspect + 1.2, size * nrows + 0.6),
                             dpi=DPI, squeeze=False, layout="constrained")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def _shared_colorbar(fig: Any, axes: Any, scale: ColorScale, label: str, normalised: str | None) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    mappable = ScalarMappable(norm=Normalize(scale.vmin, scale.vmax), cmap=scale.cmap)
    bar = add_colorbar(mappable, list(axes), label, normalised=normalised, scale=scale,
                       fraction=0.025, pad=0.02)
    bar.ax.tick_params(labelsize=7)
    bar.ax.yaxis.label.set_fontsize(8)


def _check_patch_grid(grid: Any) -> None:
    from ..axes import PatchAxis
    from ..grid import AttentionGrid

    if not isinstance(grid, AttentionGrid) or not isinstance(grid.key, PatchAxis):
        raise TypeError("expected an AttentionGrid over a PatchAxis (from multiattn.adapters.vit.capture)")


def attention_grid_plot(
    image: Any,
    grid: Any,
    *,
    over: str = "head",
    layer: Any = -1,
    query: int | str = 0,
    ncols: int | None = 6,
    alpha: float = 0.6,
    cmap: str | None = None,
    upsample: str = "nearest",
    size: float = 2.0,
) -> Any:
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
        raise ValueError(f"over must be 'head' or 'layer', got {over!r}")
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
    scale = _scale(np.stack(patch_maps), cmap, None, None)
    fig, axes = _panel_grid(len(maps), ncols, size, rgb.shape[1] / rgb.shape[0])
    for ax, amap, title in zip(axes, maps, titles):
        overlay_plot(rgb, amap, ax=ax, alpha=alpha, cmap=scale.cmap, upsample=upsample,
                     vmin=scale.vmin, vmax=scale.vmax, title=title, colorbar=False)
    _shared_colorbar(fig, axes, scale, "attention weight", "rows sum to 1 over all tokens; shared scale")
    fig.suptitle(what, fontsize=10)
    return fig


def query_patch_plot(
    image: Any,
    grid: Any,
    patch: tuple[int, int],
    *,
    layer: Any = -1,
    head: Any = "mean",
    ax: Any = None,
    alpha: float = 0.6,
    cmap: str | None = None,
    upsample: str = "nearest",
) -> Any:
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
        raise ValueError(f"patch {patch} outside the {axis.rows}x{axis.cols} patch grid")
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


def compare_plot(
    image: Any,
    maps: dict[str, Any],
    *,
    shared_scale: bool = False,
    alpha: float = 0.6,
    cmap: str | None = None,
    upsample: str = "bilinear",
    threshold: float | None = None,
    size: float = 2.6,
    title: str | None = None,
) -> Any:
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
        raise ValueError("maps is empty: pass {title: map} for at least one method")
    rgb = to_rgb(image)
    grids = {name: _patch_grid(m) for name, m in maps.items()}
    if shared_scale:
        shares = {}
        for name, g in grids.items():
            total = np.clip(g, 0, None).sum()
            if total <= 0:
                raise ValueError(f"map {name!r} has no positive mass to share")
            shares[name] = total
        pooled = np.concatenate([np.clip(g, 0, None).ravel() / shares[n] for n, g in grids.items()])
        scale = _scale(pooled, cmap, None, None)
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


def _scaled_map(amap: Any, factor: float) -> Any:
    """The positive part of a map times ``factor``, keeping its axis."""
    if isinstance(amap, AttentionMap):
        return AttentionMap(np.clip(amap.values, 0, None) * factor, amap.axis, amap.meta)
    return np.clip(np.asarray(amap, dtype=np.float64), 0, None) * factor
