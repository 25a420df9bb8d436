"""``multiattn video CLIP.mp4 --out attention.mp4``: a clip with the model's attention overlaid.

Reads the clip with OpenCV, samples the model's number of frames uniformly,
explains the predicted (or ``--target``) class with raw attention, rollout or
relevance, and writes ``attention.mp4``, ``attention.gif``,
``attention_sheet.png`` (contact sheet) and ``attention_timeline.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import GalleryItem

__all__ = ["GALLERY_ORDER", "gallery", "load_video_model", "register", "run", "explain_clip"]

GALLERY_ORDER = 60

_METHODS = ("raw", "rollout", "relevance")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("video", help="attention of a video transformer on a clip: MP4 + GIF + contact sheet")
    p.add_argument("clip", help="video file (anything OpenCV decodes)")
    p.add_argument("--model", default="moving-shapes",
                   help="'moving-shapes' (default, embedded) or a local Hugging Face VideoMAE / ViViT / "
                        "TimeSformer folder")
    p.add_argument("--method", choices=_METHODS, default="raw",
                   help="raw: last-layer readout attention; rollout: through all layers; "
                        "relevance: gradient-weighted (Chefer) for the class")
    p.add_argument("--target", type=int, default=None,
                   help="class index to explain (relevance; default the predicted class)")
    p.add_argument("--alpha", type=float, default=0.5, help="opacity of the attention colours")
    p.add_argument("--normalise", choices=("frame", "clip"), default="frame",
                   help="frame: each frame's map scaled to max 1 (where it looks in every frame); "
                        "clip: one robust colour scale for the whole clip (compare frames)")
    p.add_argument("--out", required=True, help="output .mp4 (a .gif and PNGs are written next to it)")
    p.set_defaults(func=run)


def load_video_model(name: str) -> tuple[Any, Any]:
    """``"moving-shapes"`` or a local Hugging Face folder -> ``(model, processor or None)``, offline.

    Example
    -------
    >>> model, processor = load_video_model("moving-shapes")  # doctest: +SKIP
    >>> processor is None  # doctest: +SKIP
    True
    """
    if name == "moving-shapes":
        from ..zoo.video import load_moving_shapes

        return load_moving_shapes(), None
    path = Path(name)
    if not path.is_dir() or not (path / "config.json").exists():
        raise FileNotFoundError(
            f"--model {name!r} is neither 'moving-shapes' nor a local Hugging Face folder with a config.json "
            "(models are never downloaded)"
        )
    from transformers import AutoImageProcessor, AutoModelForVideoClassification

    model = AutoModelForVideoClassification.from_pretrained(path, local_files_only=True).eval()
    try:
        processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError):
        processor = None
    return model, processor


def explain_clip(model: Any, frames: Any, method: str = "raw", *, processor: Any = None,
                 fps: float | None = None, target: int | None = None) -> Any:
    """One :class:`~multiattn.AttentionMap` over the clip's VideoAxis for ``method``.

    Example
    -------
    >>> amap = explain_clip(model, clip.frames, "rollout", fps=clip.fps)  # doctest: +SKIP
    """
    from ..adapters.video import capture, readout_attention, relevance, space_time_rollout

    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if method == "relevance":
        return relevance(model, frames, target, processor, fps=fps)
    grid = capture(model, frames, processor, fps=fps)
    amap = readout_attention(grid) if method == "raw" else space_time_rollout(grid)
    head = grid["spatial"] if isinstance(grid, dict) else grid
    amap.meta.update({k: head.meta[k] for k in ("predicted", "predicted_label") if k in head.meta})
    return amap


def _label(amap: Any, model: Any) -> str:
    index = amap.meta.get("target", amap.meta.get("predicted"))
    if index is None:
        return amap.meta["method"]
    name = (getattr(model.config, "id2label", None) or {}).get(index, index)
    return f"{amap.meta['method']} - class {name}"


def _render(frames: Any, amap: Any, out: Path, model: Any, *, alpha: float, normalise: str = "frame",
            boxes: Any = None) -> dict:
    from ..renderers._style import save_figure
    from ..renderers.video import contact_sheet, frame_timeline, write_overlay_video

    label = _label(amap, model)
    paths = write_overlay_video(frames, amap, out, alpha=alpha, label=label, normalise=normalise)
    paths["sheet"] = out.with_name(out.stem + "_sheet.png")
    contact_sheet(frames, amap, paths["sheet"], alpha=alpha, title=label, boxes=boxes, normalise=normalise)
    ax = frame_timeline(amap)
    paths["timeline"] = save_figure(ax.figure, out.with_name(out.stem + "_timeline.png"))
    return paths


def run(args: argparse.Namespace) -> int:
    from ..media import read_video

    out = Path(args.out)
    if out.suffix.lower() != ".mp4":
        raise ValueError(f"--out must be an .mp4 path, got {args.out!r}")
    model, processor = load_video_model(args.model)
    clip = read_video(args.clip, num_frames=model.config.num_frames)
    amap = explain_clip(model, clip.frames, args.method, processor=processor, fps=clip.fps,
                        target=args.target)
    paths = _render(clip.frames, amap, out, model, alpha=args.alpha, normalise=args.normalise)
    print(f"explained: {_label(amap, model)}")
    for path in paths.values():
        print(path)
    return 0


def gallery(out_dir: Path) -> list[GalleryItem]:
    """Moving-shapes model on the committed sample clip: GIF, contact sheet, timeline, frame x frame map."""
    from ..adapters.video import capture, readout_attention, relevance, space_time_rollout
    from ..media import read_video
    from ..renderers._style import save_figure
    from ..renderers.video import frame_timeline, temporal_heatmap
    from ..zoo.video import load_moving_shapes, moving_shapes_clip, sample_clip_path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = load_moving_shapes()
    clip = read_video(sample_clip_path(), num_frames=model.config.num_frames)
    truth = moving_shapes_clip("up", frames=16, size=128, seed=7)  # the generator of the sample clip
    grid = capture(model, clip.frames, fps=clip.fps)
    raw = readout_attention(grid)
    raw.meta.update(predicted=grid.meta["predicted"])
    paths = _render(clip.frames, raw, out_dir / "moving_shapes.mp4", model, alpha=0.55,
                    boxes=truth.boxes[clip.indices])
    maps = {"raw attention": raw, "rollout": space_time_rollout(grid),
            "relevance": relevance(model, clip.frames, fps=clip.fps)}
    ax = frame_timeline(maps)
    timeline = save_figure(ax.figure, out_dir / "timeline_methods.png")
    heat = save_figure(temporal_heatmap(grid).figure, out_dir / "frame_by_frame.png")
    caption = (f"Tiny VideoMAE (8 frames, tubelets 2x8x8) trained on moving shapes; predicted "
               f"'{grid.meta['predicted_label']}' (true: up). Readout-token attention, each frame's map "
               "scaled to max 1; cyan boxes are the true object positions.")
    return [
        GalleryItem("video", "Attention clip (GIF)", paths["gif"], caption),
        GalleryItem("video", "Contact sheet", paths["sheet"], caption),
        GalleryItem("video", "Attention each frame receives", timeline,
                    "Share of each map on each 2-frame tubelet. The embedded model has one layer, so "
                    "rollout equals raw attention (dashed line on the solid one)."),
        GalleryItem("video", "Frame x frame attention", heat,
                    "Query time vs key time, mean over heads and over all query patches (rows sum "
                    "to 1); averaged over all tokens the model spreads attention evenly over time."),
    ]
