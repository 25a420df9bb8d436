"""Payloads of the token, patch and space-time views: what the page's script reads, as JSON.

Each builder checks the options of its view, packs the rows
(:func:`._html_pack.pack_rows`), encodes the media it was given and writes the
notes that say what is drawn and how it was normalised.  The graph and audio
views have their own modules (``_html_graph``, ``_html_audio``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from multiattn.axes import PatchAxis, VideoAxis
from multiattn.errors import MultiattnValueError
from multiattn.grid import AttentionGrid, AttentionMap

from ._encode import b64, jpeg_b64, png_b64
from ._html_mass import DEFAULT_MASS
from ._html_pack import pack_rows, weights_note

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import PIL.Image

    from multiattn._types import ArrayLike

__all__ = ["text_payload", "image_payload", "video_payload", "seen_part"]

_IMAGE_WIDTH = 448
_VIDEO_WIDTH = 384
_MAX_VIDEO_FRAMES = 256


def text_payload(grid: AttentionGrid, max_bytes: int, top_k: int | None, *,
                 mass: float = DEFAULT_MASS) -> dict:
    """Head view and model view of a token grid."""
    weights, summary = pack_rows(grid.values, max_bytes=max_bytes, top_k=top_k, mass=mass)
    normalised = grid.meta.get("normalized", "raw softmax rows (each sums to 1)")
    return {
        "view": "text",
        "query": list(grid.query.labels), "key": list(grid.key.labels),
        "query_special": grid.query.special_mask.tolist(), "key_special": grid.key.special_mask.tolist(),
        "default_heads": min(grid.n_heads, 4),
        "weights": weights,
        "notes": [
            f"{grid.kind}-attention, {grid.n_layers} layers x {grid.n_heads} heads, "
            f"{len(grid.query)} queries (left) x {len(grid.key)} keys (right). Values: {normalised}.",
            "Head view: line opacity = attention weight on an absolute 0-1 scale (lines below 0.01 "
            "hidden; at most the 3000 strongest drawn), one colour per head. Focused token: the "
            "other column is shaded with the mean weight over the selected heads, scaled to its "
            "maximum (viridis).",
            weights_note(summary, len(grid.key)),
        ],
    }


def seen_part(rgb: np.ndarray, axis: PatchAxis) -> PIL.Image.Image:
    """PIL image of the part of ``rgb`` the model saw: the axis' recorded crop, mapped to its pixels."""
    from PIL import Image

    pil = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    if "crop" in axis.transform:
        top, left, height, width = axis.transform["crop"]
        resized_h, resized_w = axis.transform.get("resize", rgb.shape[:2])
        fy, fx = rgb.shape[0] / resized_h, rgb.shape[1] / resized_w
        pil = pil.crop((left * fx, top * fy, (left + width) * fx, (top + height) * fy))
    return pil


def _display_image(image: ArrayLike, axis: PatchAxis, size: tuple[int, int]) -> str:
    """The part of ``image`` the model saw (crop recorded on the axis) at ``size`` (w, h), PNG base64."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MultiattnValueError(f"image must be an (H, W, 3) RGB array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise MultiattnValueError(f"image must be uint8 RGB, got dtype {arr.dtype}; convert with "
                         "(img * 255).astype(np.uint8) for images in [0, 1]")
    return png_b64(np.asarray(seen_part(arr, axis).resize(size, Image.LANCZOS)))


def _extra_maps(maps: Mapping[str, AttentionMap] | None, n_positions: int) -> list[dict]:
    extra = []
    for name, amap in (maps or {}).items():
        if not isinstance(amap, AttentionMap) or len(amap) != n_positions:
            raise MultiattnValueError(f"maps[{name!r}] must be an AttentionMap over the grid's {n_positions} "
                             "positions (e.g. rollout of the same capture)")
        values = np.abs(amap.values) if amap.signed else amap.values
        extra.append({"name": str(name) + (" (|values|)" if amap.signed else ""),
                      "values": b64(values.astype(np.float32))})
    return extra


def _prefix_note(prefix: tuple[str, ...]) -> str:
    return f", prefix {', '.join(prefix)}" if prefix else ""


def image_payload(grid: AttentionGrid, max_bytes: int, top_k: int | None, image: ArrayLike | None,
                  maps: Mapping[str, AttentionMap] | None, *, mass: float = DEFAULT_MASS) -> dict:
    """The image with the attention of a patch (or a prefix token, or an extra map) overlaid."""
    axis = grid.query
    if grid.key != axis:
        raise MultiattnValueError("the image view needs self-attention over one PatchAxis (query == key)")
    extra = _extra_maps(maps, len(axis))
    weights, summary = pack_rows(grid.values, max_bytes=max_bytes, top_k=top_k, mass=mass)
    height, width = axis.image_size
    shown_width = max(width, _IMAGE_WIDTH)
    shown_height = int(round(height * shown_width / width))
    return {
        "view": "image", "weights": weights, "n_tokens": len(axis), "n_prefix": axis.n_prefix,
        "prefix": list(axis.prefix), "labels": list(axis.labels), "rows": axis.rows, "cols": axis.cols,
        "width": shown_width, "height": shown_height, "maps": extra,
        "image": None if image is None else _display_image(image, axis, (shown_width, shown_height)),
        "notes": [
            f"{grid.n_layers} layers x {grid.n_heads} heads over a {axis.rows} x {axis.cols} patch grid"
            f" ({axis.image_size[0]} x {axis.image_size[1]} px model input{_prefix_note(axis.prefix)}).",
            "Move over the image to see the attention of that patch (red box); click to pin it, then "
            "use the arrow keys. Overlay: viridis, each map scaled to its maximum over the patches; "
            "prefix tokens are not drawn (their mass is stated)."
            + ("" if image is not None else " No image was given: patches are drawn on grey."),
            weights_note(summary, len(axis)),
        ],
    }


def _video_frames(frames: ArrayLike, axis: VideoAxis, width: int) -> tuple[list[str], int]:
    """JPEG base64 of each frame (the processor's crop) at ``width``, and the shown height."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[0] != axis.frames or 0 in frames.shape:
        raise MultiattnValueError(f"frames must be a uint8 (T, H, W, 3) array with T = {axis.frames} (the "
                         f"frames the model saw), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise MultiattnValueError(f"frames must be uint8 RGB, got dtype {frames.dtype}; convert with "
                         "(frames * 255).astype(np.uint8) for values in [0, 1]")
    seen = [np.asarray(seen_part(frame, axis.frame_axis)) for frame in frames]
    height = int(round(width * seen[0].shape[0] / seen[0].shape[1]))
    return [jpeg_b64(frame, (width, height)) for frame in seen], height


def video_payload(grid: AttentionGrid, max_bytes: int, top_k: int | None,
                  frames: ArrayLike | None, *, mass: float = DEFAULT_MASS) -> dict:
    """Frame slider and play button; the chosen query's attention overlaid on each frame."""
    axis = grid.query
    if grid.key != axis:
        raise MultiattnValueError("the video view needs self-attention over one VideoAxis (query == key)")
    width = _VIDEO_WIDTH
    height = int(round(width * axis.rows / axis.cols))
    images = None
    if frames is not None:
        images, height = _video_frames(frames, axis, width)
    if axis.frames > _MAX_VIDEO_FRAMES:
        raise MultiattnValueError(f"the video view shows at most {_MAX_VIDEO_FRAMES} frames, this axis has "
                         f"{axis.frames}; subsample the clip first")
    weights, summary = pack_rows(grid.values, max_bytes=max_bytes, top_k=top_k, mass=mass)
    return {
        "view": "video", "weights": weights, "n_tokens": len(axis), "n_prefix": axis.n_prefix,
        "prefix": list(axis.prefix), "labels": list(axis.labels), "rows": axis.rows, "cols": axis.cols,
        "n_frames": axis.frames, "tubelet_t": axis.tubelet[0], "fps": axis.fps,
        "width": width, "height": height, "frames": images,
        "notes": [
            f"{grid.n_layers} layers x {grid.n_heads} heads over {axis.n_time} time steps x "
            f"{axis.rows} x {axis.cols} patches ({axis.frames} frames at {axis.fps:g} fps, tubelet "
            f"{'x'.join(map(str, axis.tubelet))}{_prefix_note(axis.prefix)}).",
            "Slider / play: the frame shown; move over it to choose the query patch (red box), click to "
            "pin it, arrow keys move it. Overlay: the query's attention to the patches of the shown "
            "frame's time step, viridis, scaled to the maximum over all space-time patches."
            + ("" if images is not None else " No frames were given: patches are drawn on grey."),
            weights_note(summary, len(axis)),
        ],
    }
