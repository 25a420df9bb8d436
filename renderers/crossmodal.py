"""Cross-modal figures: tokens on one side, the medium on the other, lines between them.

:func:`side_by_side` is generic over the *key* axis: its inputs are a query axis (the
tokens / words / classes drawn on the right), a key axis (drawn on the left, on its
medium) and a ``(Q, K)`` weight matrix.  The left panel is chosen from the key axis type
through a small dispatch table (like ``librosa.display``):

==============  ====================  ==============================================
key axis        ``media``             left panel
==============  ====================  ==============================================
PatchAxis       image or None         image with the overlay (or the bare patch grid)
TimeAxis        None, waveform (S,)   weight curve; or the waveform / spectrogram
                or spectrogram (F, T) with a weight strip on top, in seconds
VideoAxis       frames (F, H, W, 3)   one frame per temporal token, overlay each
                or None
anything else   --                    a labelled column of cells
==============  ====================  ==============================================

:func:`similarity_grid` shows several captions against several images (or one against
many) as a table of similarity scores with image thumbnails as column headers.
Both are figure-level functions: they return a ``Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import ConnectionPatch

from multiattn.axes import Axis
from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionGrid
from multiattn.media import to_rgb

from ._crossmodal_panels import draw_medium, draw_tokens
from ._grounding import display_image, grounding_figure
from ._style import DPI, SEQUENTIAL_CMAP, add_colorbar, color_scale
from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from pathlib import Path

    import PIL.Image

    from multiattn._types import ArrayLike

__all__ = ["grounding_figure", "side_by_side", "similarity_grid"]

_LINE_COLOURS = colormaps["tab10"].colors
_MAX_LINE_WIDTH = 5.0


# -- validation ---------------------------------------------------------------------------
def _resolve(weights: AttentionGrid | ArrayLike, query_axis: Axis | None,
             key_axis: Axis | None) -> tuple[np.ndarray, Axis, Axis]:
    """Weights as a float (Q, K) array and the two axes (taken from a grid when not given)."""
    if isinstance(weights, AttentionGrid):
        if weights.n_layers != 1 or weights.n_heads != 1:
            raise MultiattnValueError(
                f"side_by_side draws one (Q, K) matrix but the grid has {weights.n_layers} layers and "
                f"{weights.n_heads} heads; pick one first, e.g. grid.select(layer=-1).reduce('mean', "
                "over='head')"
            )
        query_axis = weights.query if query_axis is None else query_axis
        key_axis = weights.key if key_axis is None else key_axis
        weights = weights.to_dense().values[0, 0]
    if not isinstance(query_axis, Axis) or not isinstance(key_axis, Axis):
        raise MultiattnTypeError(
            "query_axis and key_axis must be Axis objects (TokenAxis, PatchAxis, TimeAxis ...)")
    arr = np.asarray(weights, dtype=np.float64)
    want = (len(query_axis), len(key_axis))
    if arr.shape != want:
        raise MultiattnValueError(
            f"weights must have shape (len(query_axis), len(key_axis)) = {want}, got {arr.shape}; "
            "rows are the tokens drawn on the right, columns the positions of the medium"
        )
    if not np.isfinite(arr).all():
        raise MultiattnValueError("weights contain NaN or inf values")
    return arr, query_axis, key_axis


def _check_vector(values: ArrayLike, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise MultiattnValueError(f"{name} must have shape ({n},), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise MultiattnValueError(f"{name} contains NaN or inf values")
    return arr


def _linked(weights: np.ndarray, token_weights: np.ndarray, query_axis: Axis, key_axis: Axis,
            max_tokens: int, top_k: int, min_share: float) -> list[tuple[int, list[int]]]:
    """Important tokens (weight >= min_share * the best, not special) with their top keys."""
    candidates = np.where(~query_axis.special_mask & (token_weights > 0))[0]
    if candidates.size == 0:
        return []
    best = token_weights[candidates].max()
    chosen = [q for q in candidates[np.argsort(-token_weights[candidates], kind="stable")]
              if token_weights[q] >= min_share * best][:max_tokens]
    content = ~key_axis.special_mask
    out = []
    for q in sorted(chosen):
        row = np.where(content, weights[q], -np.inf)
        keys = [int(k) for k in np.argsort(-row, kind="stable")[:top_k] if row[k] > 0]
        if keys:
            out.append((int(q), keys))
    return out


@plain_text
def side_by_side(
    weights: AttentionGrid | ArrayLike,
    query_axis: Axis | None = None,
    key_axis: Axis | None = None,
    *,
    media: str | Path | PIL.Image.Image | ArrayLike | None = None,
    token_weights: ArrayLike | None = None,
    key_weights: ArrayLike | None = None,
    top_k: int = 3,
    max_tokens: int = 6,
    min_share: float = 0.5,
    label: str = "relevance",
    token_label: str = "token relevance",
    normalised: str | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (9.5, 4.6),
) -> Figure:
    """Medium with its overlay on the left, tokens on the right, lines between them (figure-level).

    Parameters
    ----------
    weights : array (Q, K) or AttentionGrid
        Weight of every (query, key) pair: per-word image maps, cross-attention, relevance.
        Lines use the positive part.  A grid must hold one layer and one head (select /
        reduce first); its axes are used unless given.
    query_axis : Axis
        The tokens (words, classes ...) drawn on the right, one per row of ``weights``.
    key_axis : Axis
        Positions of the medium drawn on the left (PatchAxis, TimeAxis, VideoAxis, or any
        other axis as a labelled column), one per column.
    media : optional
        Image for a PatchAxis, waveform / spectrogram for a TimeAxis, frames for a
        VideoAxis (see the module table).
    token_weights : array (Q,), optional
        Colour and size of each token; default the row sums of ``weights^+``.
    key_weights : array (K,), optional
        The map drawn on the medium; default the column sums of ``weights^+``.
    top_k : int
        Lines per token, to its ``top_k`` strongest key positions (special keys skipped).
    max_tokens : int
        At most this many tokens are linked (the heaviest first).
    min_share : float
        Only tokens whose weight is at least ``min_share`` times the largest token weight
        (and positive, and not special) are linked.
    label, token_label : str
        What the medium's colours and the tokens' colours mean.
    normalised : str, optional
        What was normalised, appended to the medium's colorbar label.
    title : str, optional
        Figure title.
    figsize : (width, height)
        Inches; the figure is made at the shared fixed DPI.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels plus colorbars; line width is proportional to the weight (legend).

    Example
    -------
    >>> axis = PatchAxis(2, 2, 16, (32, 32))
    >>> words = TokenAxis(["red", "circle"])
    >>> fig = side_by_side(np.random.rand(2, 5), words, axis, media=np.zeros((32, 32, 3), np.uint8))
    >>> len(fig.axes) >= 2
    True
    """
    import matplotlib.pyplot as plt

    arr, query_axis, key_axis = _resolve(weights, query_axis, key_axis)
    if int(top_k) < 1 or int(max_tokens) < 1:
        raise MultiattnValueError(f"top_k and max_tokens must be >= 1, got {top_k}, {max_tokens}")
    if not 0 <= min_share <= 1:
        raise MultiattnValueError(
            f"min_share is a fraction of the largest token weight in [0, 1], got {min_share}")
    positive = np.clip(arr, 0, None)
    tok = positive.sum(1) if token_weights is None else _check_vector(token_weights, len(query_axis),
                                                                      "token_weights")
    keys = positive.sum(0) if key_weights is None else _check_vector(key_weights, len(key_axis),
                                                                    "key_weights")
    fig, (ax_media, ax_tok) = plt.subplots(1, 2, figsize=figsize, dpi=DPI, layout="constrained",
                                           gridspec_kw={"width_ratios": [1.6, 0.8], "wspace": 0.08})
    key_points = draw_medium(ax_media, key_axis, keys, media, label, normalised)
    tok_points = draw_tokens(ax_tok, query_axis, tok, token_label)
    links = _linked(positive, tok, query_axis, key_axis, int(max_tokens), int(top_k), float(min_share))
    w_max = max((positive[q, k] for q, ks in links for k in ks), default=1.0)
    handles = []
    for n, (q, ks) in enumerate(links):
        colour = _LINE_COLOURS[n % len(_LINE_COLOURS)]
        for k in ks:
            line = ConnectionPatch(xyA=key_points[k], coordsA=ax_media.transData, xyB=tok_points[q],
                                   coordsB=ax_tok.transData, color=colour, alpha=0.85,
                                   lw=0.5 + _MAX_LINE_WIDTH * positive[q, k] / w_max)
            fig.add_artist(line)
            ax_media.plot(*key_points[k], "o", ms=4, mfc=colour, mec="white", mew=0.8)
        handles.append(Line2D([], [], color=colour, lw=2.5, label=query_axis.labels[q]))
    for share in (1.0, 0.5, 0.25):
        handles.append(Line2D([], [], color="0.3", lw=0.5 + _MAX_LINE_WIDTH * share,
                              label=f"weight {share * w_max:.3g}"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6), fontsize=8,
               frameon=False, title_fontsize=8,
               title=f"lines: each token to its top {top_k} positions, width = weight")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


@plain_text
def similarity_grid(
    scores: ArrayLike,
    images: Sequence[str | Path | PIL.Image.Image | ArrayLike],
    captions: Sequence[str],
    *,
    label: str = "similarity logit",
    show_probabilities: bool = True,
    title: str | None = None,
    thumb_size: float = 1.3,
) -> Figure:
    """Table of image-caption similarity scores with image thumbnails as column headers (figure-level).

    Parameters
    ----------
    scores : array (n_images, n_captions)
        Similarity of every image with every caption (e.g. CLIP ``logits_per_image``).
        One image with several captions and several images with one caption both work.
    images : sequence of images
        Paths, PIL images or arrays, one per row of ``scores``.
    captions : sequence of str
        One per column of ``scores``.
    label : str
        What the scores are (colorbar label).
    show_probabilities : bool
        Also print softmax probabilities in the cells: over the captions of each image, or
        over the images when there is one caption.
    title : str, optional
        Figure title.
    thumb_size : float
        Thumbnail size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Captions as rows, images as columns; the best caption of each image (the best image
        when there is one caption) is framed in red.

    Example
    -------
    >>> img = np.zeros((8, 8, 3), np.uint8)
    >>> fig = similarity_grid(np.array([[1.0, 2.0]]), [img], ["a cat", "a dog"])
    >>> fig.axes[0].get_ylabel()
    'caption'
    """
    import matplotlib.pyplot as plt

    arr = np.asarray(scores, dtype=np.float64)
    captions = [str(c) for c in captions]
    images = list(images)
    if arr.ndim != 2 or arr.shape != (len(images), len(captions)) or arr.size == 0:
        raise MultiattnValueError(
            f"scores must have shape (n_images, n_captions) = ({len(images)}, {len(captions)}) "
            f"and be non-empty, got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise MultiattnValueError("scores contain NaN or inf values")
    n_img, n_cap = arr.shape
    table = arr.T  # captions down, images across
    width = 2.9 + n_img * thumb_size * 1.1 + 1.3
    height = 1.0 + thumb_size + n_cap * 0.45
    fig = plt.figure(figsize=(width, height), dpi=DPI)
    thumb_h = thumb_size / height
    ax = fig.add_axes((2.9 / width, 0.45 / height, n_img * thumb_size * 1.1 / width, n_cap * 0.45 / height))
    scale = color_scale(table, cmap=SEQUENTIAL_CMAP, percentiles=(0, 100))
    im = ax.imshow(table, aspect="auto", **scale.imshow_kwargs())
    # one caption: compare the images; otherwise compare the captions of each image
    over_images = n_cap == 1 and n_img > 1
    probs = np.exp(table - table.max(1 if over_images else 0, keepdims=True))
    probs = probs / probs.sum(1 if over_images else 0, keepdims=True)
    show_p = show_probabilities and (n_cap > 1 or over_images)
    norm = Normalize(scale.vmin, scale.vmax)
    for c in range(n_cap):
        for i in range(n_img):
            text = f"{table[c, i]:.2f}" + (f"\np={probs[c, i]:.2f}" if show_p else "")
            ax.text(i, c, text, ha="center", va="center", fontsize=8,
                    color="white" if norm(table[c, i]) < 0.6 else "black")
    best = [(int(np.argmax(table[0])), 0)] if over_images else \
        [(i, int(np.argmax(table[:, i]))) for i in range(n_img)]
    for i, c in best:
        ax.add_patch(plt.Rectangle((i - 0.5, c - 0.5), 1, 1, fill=False, ec="red", lw=2))
    box = ax.get_position()
    cell_w = box.width / n_img
    for i in range(n_img):
        thumb = fig.add_axes((box.x0 + i * cell_w + (cell_w - thumb_h * height / width) / 2,
                              box.y1 + 0.1 / height, thumb_h * height / width, thumb_h))
        thumb.imshow(display_image(to_rgb(images[i]), 128))  # small images upscaled (nearest)
        thumb.set_xticks([])
        thumb.set_yticks([])
        thumb.set_title(f"image {i}", fontsize=8)
    ax.set_yticks(range(n_cap), captions, fontsize=8)
    ax.set_xticks([])
    ax.set_ylabel("caption")
    what = "images" if over_images else "captions per image"
    note = f"p = softmax over {what}; " if show_p else ""
    best_of = "best image" if over_images else "best caption"
    cax = fig.add_axes((box.x1 + 0.15 / width, box.y0, 0.15 / width, box.height + thumb_h))
    add_colorbar(im, ax, label, cax=cax)
    ax.set_xlabel(f"{note}red box = {best_of}", fontsize=8)
    cax.tick_params(labelsize=7)
    cax.yaxis.label.set_fontsize(7)
    if title:
        fig.suptitle(title, fontsize=10, y=1.0)
    return fig
