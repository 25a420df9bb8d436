r"""Interactive, offline, self-contained HTML views of an AttentionGrid.

One HTML file holds the data, the CSS and the script (no CDN, no network): it
works opened from disk, inside notebooks (``_repr_html_`` via
:func:`repr_html`) and embedded in a web page.  The view follows the grid's axes:

- tokens (``TokenAxis``): head view (two token columns joined by lines, one
  colour per head, hover or Tab to a token to focus it) and model view
  (layer x head thumbnails; click one to open it);
- patches (``PatchAxis``): the image with the attention of the hovered /
  clicked patch (or of CLS, or of extra maps such as rollout) overlaid;
- graph nodes (``NodeAxis``, sparse or dense): hover a node to see its
  incoming attention edges and their weights;
- audio (tokens attending to a ``TimeAxis``, e.g. Whisper cross-attention):
  log-mel spectrogram with word spans, hover a token or word to draw its
  attention over time, click to play that segment of the embedded audio;
- video (self-attention over a ``VideoAxis``): frame slider and play button,
  the attention of the chosen query overlaid on each frame.

Weights are stored compactly: each attention row is quantised to uint8 relative
to its own maximum; when the dense rows would exceed ``max_bytes`` each row
keeps its largest keys until they hold 90 % of its mass (a per-row cap is
lowered only if the deflated rows would still exceed ``max_bytes``), the rows
are deflated and the page inflates them with the browser's
``DecompressionStream``; the notes state the keys kept per row and the exact
kept mass (min, median), and hovering a query shows the mass its row left out.
``top_k`` instead keeps exactly the ``k`` largest entries of every row.  Every token, label and
caption travels as JSON inside ``<script type="application/json">`` with ``<``,
``>`` and ``&`` escaped, and the script builds the page with ``textContent``.

This module holds the public entry points only.  Row packing lives in
``_html_pack`` (adaptive rows in ``_html_mass``), the payload of each view in ``_html_payload`` (text, image,
video), ``_html_graph`` and ``_html_audio``, the media encoders in ``_encode``
and the page template in ``_html_page``; the JavaScript and CSS are package data
in ``renderers/assets/`` (``core.js`` is the DOM-free logic, unit-tested under
node in ``tests/js/``).

Example
-------
>>> import numpy as np
>>> from multiattn import AttentionGrid, TokenAxis
>>> weights = np.full((1, 2, 3, 3), 1 / 3, dtype=np.float32)
>>> page = to_html(AttentionGrid(weights, TokenAxis(["a", "<b>", "c"])))
>>> "<b>" in page, "\\u003cb\\u003e" in page
(False, True)
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from multiattn.axes import NodeAxis, PatchAxis, TimeAxis, TokenAxis, VideoAxis
from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionGrid

from ._html_audio import audio_payload
from ._html_graph import graph_payload
from ._html_mass import DEFAULT_MASS
from ._html_pack import DEFAULT_MAX_BYTES
from ._html_page import PALETTE, document, viridis_lut
from ._html_payload import image_payload, text_payload, video_payload

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Hashable, Mapping, Sequence
    from typing import TypedDict

    from typing_extensions import Unpack

    from multiattn._types import ArrayLike
    from multiattn.grid import AttentionMap

    class HtmlOptions(TypedDict, total=False):
        """The keyword options of :func:`to_html` / :func:`save`; which view takes which: ``_OPTIONS``."""

        title: str
        max_bytes: int
        top_k: int | None
        mass: float  # share of each row's mass kept when dense rows exceed max_bytes
        image: ArrayLike  # uint8 RGB (H, W, 3) the patches cover
        maps: Mapping[str, AttentionMap]
        pos: ArrayLike | Mapping[Hashable, ArrayLike]  # (N, 2) or {node id: (x, y)}
        audio: tuple[ArrayLike, int]  # (waveform, sample_rate)
        words: Sequence[Mapping[str, str | float]]  # [{"word", "start", "end"}], seconds
        frames: ArrayLike  # uint8 (T, H, W, 3)

__all__ = ["to_html", "save"]

_OPTIONS = {
    "text": {"title", "max_bytes", "top_k", "mass"},
    "image": {"title", "max_bytes", "top_k", "mass", "image", "maps"},
    "graph": {"title", "pos"},
    "audio": {"title", "max_bytes", "top_k", "mass", "audio", "words"},
    "video": {"title", "max_bytes", "top_k", "mass", "frames"},
}


def _check_non_negative(grid: AttentionGrid) -> None:
    if grid.values.size and float(grid.values.min()) < 0:
        raise MultiattnValueError(
            "HTML views draw non-negative attention weights, but this grid has negative values "
            f"(min {float(grid.values.min()):.3g}); pass signed relevance maps to the static "
            "renderers, or take abs() first"
        )


def _view_of(grid: AttentionGrid) -> str:
    if isinstance(grid.query, TokenAxis) and isinstance(grid.key, TokenAxis):
        return "text"
    if isinstance(grid.query, PatchAxis):
        return "image"
    if isinstance(grid.query, NodeAxis):
        return "graph"
    if isinstance(grid.query, TokenAxis) and isinstance(grid.key, TimeAxis):
        return "audio"
    if isinstance(grid.query, VideoAxis):
        return "video"
    raise MultiattnValueError(
        f"no HTML view for {type(grid.query).__name__} -> {type(grid.key).__name__} grids yet; "
        "supported: TokenAxis (text), PatchAxis (image), NodeAxis (graph), TokenAxis -> TimeAxis "
        "(audio cross-attention), VideoAxis (video). Use the static renderers (e.g. "
        "renderers.audio) for the others"
    )


def _checked_options(grid: AttentionGrid, options: HtmlOptions) -> str:
    """The view of ``grid``, after rejecting unknown options, negative weights and a bad ``top_k``."""
    if not isinstance(grid, AttentionGrid):
        raise MultiattnTypeError(f"to_html takes an AttentionGrid, got {type(grid).__name__}")
    view = _view_of(grid)
    unknown = set(options) - _OPTIONS[view]
    if unknown:
        raise MultiattnTypeError(f"unknown options for the {view} view: {sorted(unknown)}; "
                        f"allowed: {sorted(_OPTIONS[view])}")
    _check_non_negative(grid)
    top_k = options.get("top_k")
    if top_k is not None and int(top_k) < 1:
        raise MultiattnValueError(f"top_k must be a positive number of keys per row, got {top_k}")
    mass = options.get("mass", DEFAULT_MASS)
    if not 0 < float(mass) <= 1:
        raise MultiattnValueError(f"mass must be the share of each row's attention to keep, in (0, 1], "
                                  f"got {mass}")
    return view


def _payload(view: str, grid: AttentionGrid, options: HtmlOptions) -> dict:
    if view == "graph":
        return graph_payload(grid, options.get("pos"))
    max_bytes = int(options.get("max_bytes", DEFAULT_MAX_BYTES))
    top_k, mass = options.get("top_k"), float(options.get("mass", DEFAULT_MASS))
    if view == "text":
        return text_payload(grid, max_bytes, top_k, mass=mass)
    if view == "image":
        return image_payload(grid, max_bytes, top_k, options.get("image"), options.get("maps"), mass=mass)
    if view == "audio":
        return audio_payload(grid, max_bytes, top_k, options.get("audio"), options.get("words"), mass=mass)
    return video_payload(grid, max_bytes, top_k, options.get("frames"), mass=mass)


def to_html(obj: AttentionGrid, **options: Unpack[HtmlOptions]) -> str:
    """A complete, self-contained HTML document showing ``obj`` interactively.

    Parameters
    ----------
    obj : AttentionGrid
        The view follows its axes: tokens -> head/model view, patches -> image
        view, graph nodes -> graph view, tokens -> audio frames (``TimeAxis``)
        -> audio view, ``VideoAxis`` -> video view.
    **options
        ``title`` (all views); ``max_bytes`` (budget of weight bytes: raw dense
        rows up to it, else deflated rows keeping 90 % of each row's mass within
        it, default :data:`DEFAULT_MAX_BYTES`), ``mass`` (that share, default
        0.9) and ``top_k`` (text,
        image, audio, video); ``image`` (uint8 RGB array the patches cover) and ``maps``
        (``{name: AttentionMap}``, e.g. rollout) for the image view; ``pos``
        (``(N, 2)`` array or ``{node id: (x, y)}``) for the graph view;
        ``audio`` (``(waveform, sample_rate)``, embedded as 16 kHz WAV) and
        ``words`` (``[{"word", "start", "end"}]`` in seconds) for the audio
        view; ``frames`` (uint8 ``(T, H, W, 3)``) for the video view.
        Unknown options are rejected.

    Returns
    -------
    str
        The HTML document (JavaScript and CSS inline, no network access).

    Example
    -------
    >>> import numpy as np
    >>> from multiattn import AttentionGrid, TokenAxis
    >>> grid = AttentionGrid(np.full((2, 2, 3, 3), 1 / 3, np.float32), TokenAxis(list("abc")))
    >>> to_html(grid, title="demo").startswith("<!DOCTYPE html>")
    True
    """
    if isinstance(obj, AttentionGrid) and 0 in obj.shape:
        raise MultiattnValueError(f"the grid is empty (shape {obj.shape}): there is no attention to show")
    view = _checked_options(obj, options)
    payload = _payload(view, obj, options)
    model = obj.meta.get("model") or obj.meta.get("model_id")
    default_title = f"{model} — attention" if model else "multiattn — attention"
    title = str(options.get("title") or default_title)
    payload.update(title=title, layers=list(obj.layers), heads=list(obj.heads),
                   palette=PALETTE, lut=viridis_lut())
    return document(payload, title)


def save(obj: AttentionGrid, path: str | Path, **options: Unpack[HtmlOptions]) -> Path:
    """Write :func:`to_html` of ``obj`` to ``path`` (``.html`` added if missing).

    Example
    -------
    >>> save(grid, "attention.html", title="my model")  # doctest: +SKIP
    PosixPath('attention.html')
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        path = path.with_name(path.name + ".html")
    page = to_html(obj, **options)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def repr_html(grid: AttentionGrid, height: int = 720) -> str:
    """Notebook representation: the view in a sandboxed ``<iframe srcdoc>``.

    The iframe isolates the view's ids and CSS from the notebook page, so it works
    in classic Jupyter, JupyterLab and VS Code alike.  Hook it into the grid with
    ``def _repr_html_(self): return repr_html(self)``.

    Example
    -------
    >>> repr_html(grid)[:7]  # doctest: +SKIP
    '<iframe'
    """
    page = to_html(grid)
    return (f"<iframe srcdoc=\"{html.escape(page, quote=True)}\" sandbox=\"allow-scripts\" "
            f"style=\"width:100%;height:{int(height)}px;border:1px solid #ddd\"></iframe>")
