"""The files ``multiattn video`` writes for one explained clip: MP4, GIF, contact sheet, timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from multiattn.grid import AttentionMap

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import numpy as np

    from multiattn._types import ArrayLike
    from multiattn.media import VideoClip

__all__ = ["explanation_label", "write_video_report"]


def explanation_label(amap: AttentionMap, class_names: Mapping[int, str] | None = None) -> str:
    """``"<method> - class <name>"`` for the class a video map explains (or was predicted).

    Examples
    --------
    >>> from multiattn import AttentionMap, TokenAxis
    >>> amap = AttentionMap([0.5, 0.5], TokenAxis(["a", "b"]), {"method": "rollout", "predicted": 1})
    >>> explanation_label(amap, {0: "up", 1: "down"}), explanation_label(amap)
    ('rollout - class down', 'rollout - class 1')
    """
    index = amap.meta.get("target", amap.meta.get("predicted"))
    if index is None:
        return amap.meta["method"]
    names = dict(class_names or {})
    if "target" not in amap.meta and "predicted_label" in amap.meta:
        names.setdefault(index, amap.meta["predicted_label"])
    return f"{amap.meta['method']} - class {names.get(index, index)}"


def write_video_report(frames: np.ndarray | Sequence[np.ndarray] | VideoClip, amap: AttentionMap,
                       out: str | Path, *, label: str = "", alpha: float = 0.5, normalise: str = "frame",
                       boxes: ArrayLike | None = None) -> dict[str, Path]:
    """Write ``out`` (.mp4), the GIF beside it, ``<stem>_sheet.png`` and ``<stem>_timeline.png``.

    Parameters
    ----------
    frames : array (T, H, W, 3) uint8, list of frames, or VideoClip
        The frames the model saw (``read_video(path, num_frames=...).frames``).
    amap : AttentionMap
        A map over the clip's VideoAxis (:func:`multiattn.explain` of a video model).
    out : str or Path
        The ``.mp4`` to write.
    label : str
        Shown in every frame's footer and as the contact sheet's title
        (e.g. :func:`explanation_label`).
    alpha, normalise
        Overlay opacity; ``"frame"`` scales each frame's map to max 1, ``"clip"`` uses one
        robust scale for the clip.
    boxes : array (T, 4), optional
        Ground-truth boxes drawn on the contact sheet.

    Returns
    -------
    dict
        ``{"mp4", "gif", "sheet", "timeline"}`` -> Path.

    Examples
    --------
    >>> paths = write_video_report(clip.frames, amap, "attention.mp4")  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['gif', 'mp4', 'sheet', 'timeline']
    """
    from .figure import save_figure
    from .frames import contact_sheet, frame_timeline, write_overlay_video

    out = Path(out)
    paths = write_overlay_video(frames, amap, out, alpha=alpha, label=label, normalise=normalise)
    paths["sheet"] = out.with_name(out.stem + "_sheet.png")
    contact_sheet(frames, amap, paths["sheet"], alpha=alpha, title=label, boxes=boxes, normalise=normalise)
    paths["timeline"] = save_figure(frame_timeline(amap).figure, out.with_name(out.stem + "_timeline.png"))
    return paths
