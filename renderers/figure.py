"""Save renderer output: :func:`save_figure` writes the same bytes for the same picture.

Every renderer returns matplotlib objects (an Axes or a Figure); this module
writes them to disk deterministically — a fixed DPI, no timestamp or software
metadata (PNG, SVG, PDF) and a fixed SVG hash salt — so that re-running a script
gives byte-identical files (diffable galleries, cacheable CI artefacts).

Example
-------
>>> import tempfile
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> save_figure(fig, Path(tempfile.mkdtemp()) / "example.png").name
'example.png'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import matplotlib.pyplot as plt
from matplotlib.artist import Artist
from matplotlib.figure import Figure, SubFigure

from multiattn.errors import MultiattnTypeError, MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.axes import Axes

__all__ = ["save_figure"]

P = ParamSpec("P")
R = TypeVar("R")

DPI = 120
"""Fixed resolution of every saved figure (dots per inch)."""

_NO_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def _as_figure(fig: object) -> Figure:
    if isinstance(fig, SubFigure):
        fig = fig.figure
    if isinstance(fig, Figure):
        return fig
    if isinstance(fig, Artist) and isinstance(fig.get_figure(), (Figure, SubFigure)):
        return _as_figure(fig.get_figure())  # an Axes (what the Axes-level renderers return)
    raise MultiattnTypeError(f"save_figure needs a matplotlib Figure or Axes, got {type(fig).__name__}")


def save_figure(fig: Figure | SubFigure | Axes, path: str | Path, *, dpi: int = DPI,
                close: bool = True) -> Path:
    """Save ``fig`` deterministically (fixed DPI, no timestamp/software metadata) and close it.

    Parameters
    ----------
    fig : Figure, SubFigure or Axes
        What to save; a SubFigure or an Axes saves the figure it belongs to.
    path : str or Path
        Output file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``)
        and parent folders are created.
    dpi : int
        Resolution, default :data:`DPI`.
    close : bool
        Close the figure afterwards (frees its memory in loops).

    Returns
    -------
    Path
        The path written.
    """
    figure = _as_figure(fig)
    plain_text_artists(figure)
    path = Path(path)
    if path.is_dir():
        raise MultiattnValueError(
            f"{path} is a folder; give a file name inside it, e.g. {path / 'attention.png'}")
    supported = figure.canvas.get_supported_filetypes()
    if path.suffix.lower()[1:] not in supported:
        raise MultiattnValueError(
            f"cannot write {path.name!r}: the file type comes from the suffix; use one of "
                         f"{', '.join('.' + k for k in sorted(supported))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = _NO_METADATA.get(path.suffix.lower()[1:])
    with plt.rc_context({"svg.hashsalt": "multiattn"}):
        figure.savefig(path, dpi=dpi, bbox_inches="tight", metadata=metadata)
    if close:
        plt.close(figure)
    return path


def plain_text_artists(figure: Figure | SubFigure) -> None:
    """Draw every text of ``figure`` as plain text: a ``$`` in a token, caption, word or node label
    is a character, never matplotlib mathtext (which fails on ``$\\macro$``)."""
    from matplotlib.text import Text

    for text in figure.findobj(Text):
        text.set_parse_math(False)


def plain_text(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator for renderers: the Axes / Figure they return draw every string as plain text."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        out = func(*args, **kwargs)
        figure = out if isinstance(out, (Figure, SubFigure)) else getattr(out, "figure", None)
        if figure is not None:
            plain_text_artists(figure)
        return out

    return wrapper
