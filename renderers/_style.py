"""Shared plotting style: colour limits, colormap choice, colorbars, axes and saving.

Every renderer uses these helpers so that all pictures follow the same rules
(DESIGN.md, "Renderers: conventions"):

- colour limits are *robust* (2nd-98th percentile by default) so one outlier
  does not wash out the picture; clipped ends show as colorbar arrows;
- a sequential colormap (viridis) for weights, a diverging one (RdBu_r)
  centred on zero only for signed data (relevance, differences);
- every colorbar says what the numbers are and what was normalised;
- figures are saved at a fixed DPI without timestamps, so the same input
  gives the same PNG bytes (:func:`multiattn.renderers.figure.save_figure`,
  re-exported here).

Example
-------
>>> import numpy as np
>>> scale = color_scale(np.array([0.0, 0.2, 0.9, 1.0]), limits=(0, 1))
>>> scale.cmap, scale.signed, scale.clipped
('viridis', False, False)
>>> fig, ax = get_axes()
>>> im = ax.imshow(np.eye(3), **scale.imshow_kwargs())
>>> cbar = add_colorbar(im, ax, "attention weight", normalised="rows sum to 1", scale=scale)
>>> cbar.ax.get_ylabel()
'attention weight (rows sum to 1)'
"""

from __future__ import annotations

import difflib
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure

from multiattn.errors import MultiattnTypeError, MultiattnValueError

from .figure import DPI, save_figure

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.cm import ScalarMappable

    from multiattn._types import ArrayLike

__all__ = [
    "DPI",
    "SEQUENTIAL_CMAP",
    "DIVERGING_CMAP",
    "ColorScale",
    "robust_limits",
    "choose_cmap",
    "color_scale",
    "add_colorbar",
    "get_axes",
    "save_figure",
]

SEQUENTIAL_CMAP = "viridis"
"""Default colormap for non-negative values (attention weights)."""

DIVERGING_CMAP = "RdBu_r"
"""Default colormap for signed values, centred on zero (red positive, blue negative)."""

_ONE_LINE_LABEL = 40  # longer colorbar labels put the notes on a second line
_NOTE_LINE = 48  # characters per line of those notes (about the height of a default colorbar)
_RAINBOW = {"jet", "rainbow", "gist_rainbow", "hsv", "nipy_spectral"}


@dataclass(frozen=True)
class ColorScale:
    """A colormap with its limits, shared by several artists.

    Attributes
    ----------
    cmap : str
        Colormap name.
    vmin, vmax : float
        Colour limits (symmetric around 0 when ``signed``).
    signed : bool
        True when the data has negative values (diverging map).
    clipped_low, clipped_high : bool
        True when some data lies below ``vmin`` / above ``vmax``.
    percentiles : (low, high) or None
        Percentiles the limits came from; None for fixed limits.
    """

    cmap: str
    vmin: float
    vmax: float
    signed: bool
    clipped_low: bool = False
    clipped_high: bool = False
    percentiles: tuple[float, float] | None = None

    def imshow_kwargs(self) -> dict[str, Any]:
        """``cmap``, ``vmin``, ``vmax`` for ``imshow`` / ``pcolormesh`` / ``scatter``."""
        return {"cmap": self.cmap, "vmin": self.vmin, "vmax": self.vmax}

    @property
    def extend(self) -> str:
        """Colorbar ``extend`` value that marks clipped ends with arrows."""
        return {(False, False): "neither", (True, False): "min",
                (False, True): "max", (True, True): "both"}[(self.clipped_low, self.clipped_high)]

    @property
    def clipped(self) -> bool:
        """True when some data lies outside the colour limits."""
        return self.clipped_low or self.clipped_high

    @property
    def centre_note(self) -> str | None:
        """``"signed: centred on 0"`` for a signed scale (colorbar note), else None."""
        return "signed: centred on 0" if self.signed and self.vmin == -self.vmax else None

    def describe(self) -> str:
        """One line stating the scale, for titles and captions.

        Example
        -------
        >>> ColorScale("viridis", 0.0, 0.5, False, clipped_high=True, percentiles=(2, 98)).describe()
        'viridis, limits [0, 0.5] (2-98th percentile, values beyond clipped)'
        """
        text = f"{self.cmap}, limits [{self.vmin:.3g}, {self.vmax:.3g}]"
        if self.signed:
            text += " centred on 0"
        if self.clipped:
            how = f"{_pct_text(self.percentiles)} percentile, " if self.percentiles else ""
            text += f" ({how}values beyond clipped)"
        return text


def _pct_text(percentiles: tuple[float, float]) -> str:
    return f"{percentiles[0]:g}-{percentiles[1]:g}th"


def _finite_values(values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        raise MultiattnValueError("no finite values to colour: the data is empty or all NaN/inf")
    return arr


def robust_limits(values: ArrayLike, percentiles: tuple[float, float] = (2.0, 98.0),
                  signed: bool | None = None) -> tuple[float, float]:
    """Colour limits from percentiles of the finite values.

    Parameters
    ----------
    values : array_like
        Data to colour (any shape; NaN/inf are ignored).
    percentiles : (low, high)
        Percentiles for the limits; ``(0, 100)`` gives the plain min and max.
    signed : bool, optional
        Force symmetric limits ``(-m, m)`` with ``m`` the ``high`` percentile of
        ``|values|``.  Default: symmetric exactly when the data has negative values.

    Returns
    -------
    (vmin, vmax) : tuple of float
        Always ``vmin < vmax`` (constant data gets a small band around its value).

    Example
    -------
    >>> robust_limits(np.arange(101.0))
    (2.0, 98.0)
    >>> robust_limits(np.array([-2.0, 0.5, 1.0]), percentiles=(0, 100))
    (-2.0, 2.0)
    """
    low, high = percentiles
    if not 0 <= low < high <= 100:
        raise MultiattnValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}")
    arr = _finite_values(values)
    if signed is None:
        signed = bool((arr < 0).any())
    if signed:
        bound = float(np.percentile(np.abs(arr), high))
        bound = bound if bound > 0 else 1.0
        return (-bound, bound)
    vmin, vmax = (float(v) for v in np.percentile(arr, [low, high]))
    if vmax <= vmin:
        pad = abs(vmin) * 0.05 or 0.5
        vmin, vmax = vmin - pad, vmax + pad
    return (vmin, vmax)


def choose_cmap(values: ArrayLike, cmap: str | None = None, *, sequential: str = SEQUENTIAL_CMAP) -> str:
    """Colormap name: ``cmap`` if given, else diverging for signed data, ``sequential`` otherwise.

    Rainbow maps (jet, hsv, ...) are refused: they invent edges that are not in the data.
    Renderers whose ``cmap`` parameter defaults to ``None`` get this rule; a renderer
    with its own sequential map for weights (``"inferno"`` on photos) passes ``sequential``.

    Example
    -------
    >>> choose_cmap(np.array([0.1, 0.5])), choose_cmap(np.array([-1.0, 1.0]))
    ('viridis', 'RdBu_r')
    >>> choose_cmap(np.array([0.1, 0.5]), sequential="inferno")
    'inferno'
    """
    if cmap is not None:
        if isinstance(cmap, str) and cmap not in matplotlib.colormaps:
            close = difflib.get_close_matches(str(cmap), list(matplotlib.colormaps), n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise MultiattnValueError(
                f"cmap={cmap!r} is not a matplotlib colormap{hint}; use e.g. 'viridis', 'magma' or 'RdBu_r'")
        if str(cmap) in _RAINBOW:
            raise MultiattnValueError(
                f"cmap={cmap!r} is a rainbow map that distorts magnitudes; use 'viridis', "
                "'magma' or 'inferno' for weights, or 'RdBu_r' / 'coolwarm' for signed values"
            )
        return str(cmap)
    return DIVERGING_CMAP if (_finite_values(values) < 0).any() else str(sequential)


def color_scale(values: ArrayLike, *, cmap: str | None = None,
                limits: tuple[float, float] | None = None,
                percentiles: tuple[float, float] = (2.0, 98.0),
                sequential: str = SEQUENTIAL_CMAP) -> ColorScale:
    """Colormap and limits for ``values`` (robust by default), to share across artists.

    Parameters
    ----------
    values : array_like
        All the data the scale must cover (e.g. every thumbnail of a model view).
    cmap : str, optional
        Colormap; default chosen by :func:`choose_cmap` (``sequential`` for
        non-negative data, RdBu_r for signed data).
    limits : (vmin, vmax), optional
        Fixed limits, e.g. ``(0, 1)`` for probabilities; default :func:`robust_limits`
        (symmetric around 0 for signed data).
    percentiles : (low, high)
        Percentiles for the robust limits.
    sequential : str
        Colormap for non-negative data when ``cmap`` is None.

    Example
    -------
    >>> color_scale(np.array([-3.0, 1.0, 2.0]), percentiles=(0, 100)).imshow_kwargs()
    {'cmap': 'RdBu_r', 'vmin': -3.0, 'vmax': 3.0}
    """
    arr = _finite_values(values)
    signed = bool((arr < 0).any())
    name = choose_cmap(arr, cmap, sequential=sequential)
    if limits is None:
        vmin, vmax = robust_limits(arr, percentiles, signed=signed)
    else:
        vmin, vmax = (float(v) for v in limits)
        if not vmin < vmax:
            raise MultiattnValueError(f"limits must be (vmin, vmax) with vmin < vmax, got {limits}")
    return ColorScale(name, vmin, vmax, signed,
                      clipped_low=bool(arr.min() < vmin), clipped_high=bool(arr.max() > vmax),
                      percentiles=None if limits is not None else tuple(percentiles))


def add_colorbar(mappable: ScalarMappable, ax: Axes | list[Axes] | tuple[Axes, ...] | np.ndarray,
                 label: str, *, normalised: str | None = None,
                 scale: ColorScale | None = None, **kwargs: Any) -> Colorbar:
    """Colorbar next to ``ax`` whose label says what the values are and how they were normalised.

    Parameters
    ----------
    mappable : ScalarMappable
        The image / mesh / collection to describe.
    ax : Axes, or list / tuple / array of Axes
        Axes to take space from.
    label : str
        What the colour encodes, e.g. ``"attention weight"``.
    normalised : str, optional
        What was normalised, appended in brackets: ``"rows sum to 1"``,
        ``"per head"``, ``"max = 1 per frame"``.  Long labels wrap the notes
        onto a second line.
    scale : ColorScale, optional
        Adds arrows at ends clipped by robust limits and says so in the label.
    **kwargs
        Passed to ``Figure.colorbar`` (``fraction``, ``pad``, ``orientation``...).

    Example
    -------
    >>> fig, ax = get_axes()
    >>> im = ax.imshow(np.eye(2))
    >>> add_colorbar(im, ax, "weight", normalised="per head").ax.get_ylabel()
    'weight (per head)'
    """
    notes = [normalised] if normalised else []
    if scale is not None:
        kwargs.setdefault("extend", scale.extend)
        if scale.clipped and scale.percentiles:
            notes.append(f"clipped to {_pct_text(scale.percentiles)} pct")
    joiner = "\n" if len(label) + sum(len(n) for n in notes) > _ONE_LINE_LABEL else " "
    # a note longer than the colorbar is tall would stretch the figure: wrap it onto more lines
    note = textwrap.fill(f"({'; '.join(notes)})", _NOTE_LINE, break_long_words=False)
    text = f"{label}{joiner}{note}" if notes else label
    fig = (ax[0] if isinstance(ax, (list, tuple, np.ndarray)) else ax).get_figure()
    cbar = fig.colorbar(mappable, ax=ax, **kwargs)
    cbar.set_label(text)
    return cbar


def get_axes(ax: Axes | None = None, figsize: tuple[float, float] = (6.0, 5.0)) -> tuple[Figure, Axes]:
    """Return ``(figure, ax)``: the given Axes and its figure, or a new figure with one Axes.

    Example
    -------
    >>> fig, ax = get_axes(figsize=(3, 2))
    >>> fig.get_size_inches().tolist()
    [3.0, 2.0]
    """
    if ax is not None:
        if not isinstance(ax, Axes):
            raise MultiattnTypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        return ax.get_figure(), ax
    fig, new_ax = plt.subplots(figsize=figsize, dpi=DPI)
    return fig, new_ax
