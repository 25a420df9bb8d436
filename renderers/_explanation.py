"""One figure of an image explanation: one overlay, or several methods side by side.

``multiattn image`` draws :func:`multiattn.explain` maps of a vision transformer with
:func:`explanation_figure`; the title names the class they explain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnValueError
from multiattn.grid import AttentionMap

from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from pathlib import Path

    import PIL.Image
    from matplotlib.figure import Figure

    from multiattn._types import ArrayLike

__all__ = ["explanation_figure"]


def class_caption(meta: Mapping[str, object]) -> str:
    """Which class a ViT map explains, from its ``meta``.

    Examples
    --------
    >>> class_caption({"target_label": "circle", "predicted_label": "square"})
    "explained class 'circle' (predicted 'square')"
    >>> class_caption({"predicted_label": "square"})
    "predicted class 'square'"
    """
    if "head" in meta and "target_label" not in meta:  # a backbone: no class scores to name
        return "no class head (target-free map)"
    if "target_label" in meta:
        return f"explained class {meta['target_label']!r} (predicted {meta.get('predicted_label', '?')!r})"
    return f"predicted class {meta.get('predicted_label', '?')!r}"


@plain_text
def explanation_figure(image: str | Path | PIL.Image.Image | ArrayLike, maps: Mapping[str, AttentionMap], *,
                       upsample: str = "bilinear", threshold: float | None = None,
                       shared_scale: bool = False) -> Figure:
    """Figure-level: one overlay with a colorbar, or the image beside every map (``compare_plot``).

    Parameters
    ----------
    image : path, PIL image or array
        The image the maps explain.
    maps : dict of str -> AttentionMap
        Method name -> map over a PatchAxis (e.g. ``{"relevance": multiattn.explain(...)}``);
        with several, the relevance map (if any) names the class in the title.
    upsample : {"bilinear", "nearest", "bicubic"}
        Patch map to pixels.
    threshold : float, optional
        Colour only the top share of each map's mass (DINO style).
    shared_scale : bool
        Several maps: one colour scale of shares instead of one robust scale each.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> amap = multiattn.explain(vit, "cat.jpg", processor=proc)  # doctest: +SKIP
    >>> fig = explanation_figure("cat.jpg", {"relevance": amap})  # doctest: +SKIP
    """
    from ._style import get_axes
    from .image import compare_plot, overlay_plot

    if not maps:
        raise MultiattnValueError("maps is empty: give at least one {method: AttentionMap}")
    first = next(iter(maps.values()))
    caption = class_caption(maps.get("relevance", first).meta)
    if len(maps) > 1:
        return compare_plot(image, dict(maps), shared_scale=shared_scale, upsample=upsample,
                            threshold=threshold, title=f"{first.meta['model']}: {caption}")
    method = next(iter(maps))
    fig, ax = get_axes(figsize=(6, 5))
    overlay_plot(image, first, ax=ax, upsample=upsample, threshold=threshold,
                 title=f"{method}: {caption}\n{first.meta['values']}", label=method)
    return fig
