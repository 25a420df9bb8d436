"""``multiattn video CLIP.mp4 --out attention.mp4``: a clip with the model's attention overlaid.

Samples the model's number of frames uniformly, explains the predicted (or ``--target``)
class with raw attention, rollout or relevance (:func:`multiattn.explain`), and writes
``attention.mp4``, ``attention.gif``, ``attention_sheet.png`` and ``attention_timeline.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multiattn.errors import MultiattnValueError

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("video", help="attention of a video transformer on a clip: MP4 + GIF + contact sheet")
    p.add_argument("clip", help="video file (anything OpenCV decodes)")
    _common.add_model(p, "moving-shapes", "video")
    p.add_argument("--method", choices=("raw", "rollout", "relevance"), default="raw",
                   help="raw: last-layer readout attention; rollout: through all layers; "
                        "relevance: gradient-weighted (Chefer) for the class")
    p.add_argument("--target", type=int, default=None,
                   help="class index to explain (relevance; default the predicted class)")
    p.add_argument("--alpha", type=float, default=0.5, help="opacity of the attention colours")
    p.add_argument("--normalise", choices=("frame", "clip"), default="frame",
                   help="frame: each frame's map scaled to max 1 (where it looks in every frame); "
                        "clip: one robust colour scale for the whole clip (compare frames)")
    p.add_argument("--out", required=True, help="output .mp4 (a .gif and PNGs are written next to it)")
    _common.add_save(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import multiattn
    from multiattn.media import read_video
    from multiattn.renderers.writers import explanation_label, write_video_report

    if Path(args.out).suffix.lower() != ".mp4":
        raise MultiattnValueError(f"--out must be an .mp4 path, got {args.out!r}")
    model, processor = multiattn.load_model(args.model, modality="video")
    clip = read_video(args.clip, num_frames=model.config.num_frames)
    amap = multiattn.explain(model, clip.frames, processor=processor, method=args.method, target=args.target,
                             fps=clip.fps)
    label = explanation_label(amap, getattr(model.config, "id2label", None))
    paths = write_video_report(clip.frames, amap, args.out, label=label, alpha=args.alpha,
                               normalise=args.normalise)
    print(f"explained: {label}")
    _common.emit(paths.values())
    if args.save:
        _common.save(multiattn.capture(model, clip.frames, processor=processor, fps=clip.fps), args.save)
    return 0
