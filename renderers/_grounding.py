"""Where a caption is in an image: the side-by-side figure of a CLIP caption grounding.

:func:`grounding_figure` draws :func:`multiattn.adapters.clip.caption_grounding`: the image
relevance of the caption on the left, its words on the right sized by the logit each
carries, and lines from each important word to the top patches of its own map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.figure import Figure

    from multiattn._types import ArrayLike
    from multiattn.adapters.clip import CaptionGrounding

__all__ = ["grounding_figure"]


def display_image(rgb: ArrayLike, size: int = 256) -> np.ndarray:
    """Upscale a small image (nearest) so overlays and lines are legible; big ones stay.

    Examples
    --------
    >>> display_image(np.zeros((64, 48, 3), np.uint8), 256).shape
    (256, 192, 3)
    """
    rgb = np.asarray(rgb)
    factor = max(1, size // max(rgb.shape[:2]))
    return np.kron(rgb, np.ones((factor, factor, 1), dtype=rgb.dtype)) if factor > 1 else rgb


@plain_text
def grounding_figure(rgb: ArrayLike, grounding: CaptionGrounding, *, top_k: int = 3,
                     display_size: int = 256) -> Figure:
    """Figure-level: image relevance of a caption, its words, and lines from words to patches.

    Words are coloured and sized by the logit they carry (logit minus the mean logit of the
    counterfactual captions: word deleted or replaced; positive part); each word with at
    least a fifth of the largest drop is linked to the ``top_k`` patches of its map.

    Parameters
    ----------
    rgb : array (H, W, 3) uint8
        The image (``multiattn.media.to_rgb(path)``).
    grounding : CaptionGrounding
        ``caption_grounding(model, (rgb, caption), processor=...)``; its logit is in the title.
    top_k : int
        Lines per word.
    display_size : int
        Small images are enlarged (nearest) to about this many pixels.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> g = caption_grounding(model, (rgb, "a red circle"), processor=proc)  # doctest: +SKIP
    >>> fig = grounding_figure(rgb, g, top_k=2)  # doctest: +SKIP
    """
    from .crossmodal import side_by_side

    drops = np.clip([w.contribution for w in grounding.words], 0, None)
    return side_by_side(
        grounding.word_matrix(), grounding.word_axis, grounding.pair.image_map.axis,
        media=display_image(rgb, display_size), token_weights=drops,
        key_weights=grounding.pair.image_map.values, top_k=top_k, min_share=0.2,
        label="image relevance of the caption (Chefer)",
        token_label="logit carried by the word (vs. counterfactuals)",
        title=f"\u201c{grounding.pair.caption}\u201d  logit {grounding.pair.logit:.2f}; lines: per-word maps",
    )
