"""Tracking accuracy of video attention maps and clip-rendering speed. Prints one JSON line.

Tracking: on ``N`` fresh moving-shapes clips (seeds from 50000, never seen in
training; 8 frames of 64x64) the embedded moving-shapes VideoMAE is explained
with raw readout attention (last layer, mean of heads), space-time rollout and
Chefer relevance (predicted class).  Each tubelet map covers its 2 frames; for
every frame the map's peak patch must have its centre inside that frame's
object box (per-frame tracking accuracy; target >= 0.85).  As a tubelet map
cannot move within its 2 frames, ``tracking_*_tubelet_box`` also scores each
frame against the union of the object's boxes over its tubelet.  A uniformly
random peak is the chance baseline (the box's share of the patch centres).

Speed: overlaying a 14x14 map on each of ``F`` 224x224 frames and encoding the
MP4 as the library writes it (the frames of :func:`multiattn.renderers.frames.overlay_frames`,
streamed one at a time into ``write_mp4``: H.264 through imageio-ffmpeg, which encodes while the
next frame is drawn) versus a matplotlib-per-frame baseline (imshow frame, imshow map with alpha,
draw the canvas, grab the pixels) streamed into the same encoder, medians of ``--rounds``
alternating rounds; ``overlay_encode_speedup`` = baseline seconds / multiattn seconds (wall),
``overlay_encode_speedup_rounds`` the lowest and highest per-round ratio,
``overlay_encode_speedup_cpu`` the ratio of CPU seconds (this process + the ffmpeg child: what a
loaded machine's waiting does not inflate); ``render_only_speedup`` the same without the encoding,
``encode_share_multiattn`` the share of multiattn's wall time not covered by drawing.
Frames: the embedded moving-shapes clip resized to 224x224 (top
level) and random noise (``noise_frames``: x264's worst case, where encoding is most of the time);
``mp4_codec`` is the codec ffmpeg reads back from multiattn's file (``h264``).

Usage: ``python benchmarks/bench_video.py [--n 100] [--frames 48] [--rounds 5] [--speed-only]``
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROUNDS = 5


def _peak_hits(per_frame: np.ndarray, boxes: np.ndarray, patch: int) -> np.ndarray:
    flat = per_frame.reshape(len(per_frame), -1).argmax(axis=1)
    rows, cols = np.divmod(flat, per_frame.shape[2])
    y, x = (rows + 0.5) * patch, (cols + 0.5) * patch
    return (boxes[:, 0] <= x) & (x < boxes[:, 2]) & (boxes[:, 1] <= y) & (y < boxes[:, 3])


def _tubelet_boxes(boxes: np.ndarray, tubelet: int) -> np.ndarray:
    """Per frame, the union of the object's boxes over the frames of its tubelet."""
    groups = boxes.reshape(-1, tubelet, 4)
    union = np.concatenate([groups[..., :2].min(axis=1), groups[..., 2:].max(axis=1)], axis=1)
    return np.repeat(union, tubelet, axis=0)


def _chance(boxes: np.ndarray, grid: int, patch: int) -> float:
    centres = (np.arange(grid) + 0.5) * patch
    inside_x = (boxes[:, None, 0] <= centres) & (centres < boxes[:, None, 2])
    inside_y = (boxes[:, None, 1] <= centres) & (centres < boxes[:, None, 3])
    return float((inside_x.sum(1) * inside_y.sum(1)).mean() / grid**2)


def tracking(n: int) -> dict:
    import torch

    from multiattn.adapters.video import capture, readout_attention, relevance, space_time_rollout
    from multiattn.renderers.frames import frame_maps
    from multiattn.zoo._video import load_moving_shapes, moving_shapes_clip

    torch.set_num_threads(1)
    model = load_moving_shapes()
    config = model.config
    hits = {"raw": [], "rollout": [], "relevance": []}
    tubelet_hits = {name: [] for name in hits}
    chance, correct = [], 0
    start = time.perf_counter()
    for i in range(n):
        clip = moving_shapes_clip(frames=config.num_frames, size=config.image_size, seed=50000 + i)
        grid = capture(model, clip.frames, fps=clip.fps)
        correct += grid.meta["predicted"] == clip.label
        maps = {"raw": readout_attention(grid), "rollout": space_time_rollout(grid),
                "relevance": relevance(model, clip.frames, fps=clip.fps)}
        union = _tubelet_boxes(clip.boxes, config.tubelet_size)
        for name, amap in maps.items():
            per_frame = frame_maps(amap)
            hits[name].append(_peak_hits(per_frame, clip.boxes, config.patch_size))
            tubelet_hits[name].append(_peak_hits(per_frame, union, config.patch_size))
        chance.append(_chance(clip.boxes, config.image_size // config.patch_size, config.patch_size))
    out = {f"tracking_{k}": round(float(np.mean(v)), 4) for k, v in hits.items()}
    out.update({f"tracking_{k}_tubelet_box": round(float(np.mean(v)), 4) for k, v in tubelet_hits.items()})
    out.update(tracking_chance=round(float(np.mean(chance)), 4), classification_accuracy=correct / n,
               clips=n, frames_scored=n * config.num_frames,
               explain_seconds_per_clip=round((time.perf_counter() - start) / n, 3))
    return out


def _codec(path: Path) -> str:
    """The video codec ffmpeg reads from ``path`` (``"h264"``, ``"mpeg4"``...)."""
    import imageio_ffmpeg

    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                           capture_output=True, text=True, check=False)
    found = re.search(r"Video: (\w+)", probe.stderr)
    return found.group(1) if found else "unknown"


def _matplotlib_frames(frames: np.ndarray, maps: np.ndarray) -> Iterator[np.ndarray]:
    """The baseline, one frame at a time (so it streams into the encoder as ours does)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for frame, grid in zip(frames, maps):
        fig = plt.figure(figsize=(2.24, 2.24), dpi=100)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.imshow(frame)
        ax.imshow(grid, cmap="inferno", alpha=0.5, extent=(-0.5, 223.5, 223.5, -0.5),
                  interpolation="bilinear", vmin=float(maps.min()), vmax=float(maps.max()))
        ax.axis("off")
        fig.canvas.draw()
        yield np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        plt.close(fig)


def _clip_frames(n_frames: int) -> np.ndarray:
    """The embedded moving-shapes clip, resized to 224x224 and repeated to ``n_frames``."""
    import cv2

    from multiattn.media import read_video
    from multiattn.media_samples import path

    clip = np.asarray(read_video(path("video", "moving_shapes.mp4"), num_frames=16).frames)
    frames = np.stack([cv2.resize(frame, (224, 224), interpolation=cv2.INTER_LINEAR) for frame in clip])
    return np.resize(frames, (n_frames, *frames.shape[1:]))


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the ffmpeg encoders)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def speed(n_frames: int, content: str, rounds: int = ROUNDS) -> dict:
    """Overlay + encode vs matplotlib per frame + encode on ``content`` frames (``clip`` or ``noise``).

    Both sides hand their frames to ``write_mp4`` one at a time as they are drawn (ours:
    ``overlay_stream``, the generator behind ``overlay_frames``), so each overlaps its drawing with
    ffmpeg's encoding in the same way; ``render_only_*`` draws the frames without encoding.
    """
    from multiattn.renderers._video_encode import write_mp4
    from multiattn.renderers._video_overlay import overlay_stream

    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 256, size=(n_frames, 224, 224, 3), dtype=np.uint8) if content == "noise"
              else _clip_frames(n_frames))
    maps = rng.random((n_frames, 14, 14))
    renders = {"multiattn": lambda: overlay_stream(frames, maps, 0.5, None, "bilinear", "clip")[0],
               "matplotlib": lambda: _matplotlib_frames(frames, maps)}
    wall: dict[str, list[float]] = {name: [] for name in renders}
    cpu: dict[str, list[float]] = {name: [] for name in renders}
    render_wall: dict[str, list[float]] = {name: [] for name in renders}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for name, render in renders.items():
                start = time.perf_counter()
                for _frame in render():
                    pass
                render_wall[name].append(time.perf_counter() - start)
                start, start_cpu = time.perf_counter(), _cpu()
                write_mp4(render(), Path(tmp) / f"{name}.mp4", fps=8.0)
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(_cpu() - start_cpu)
        codec = _codec(Path(tmp) / "multiattn.mp4")
    seconds = {name: float(np.median(v)) for name, v in wall.items()}
    render_s = {name: float(np.median(v)) for name, v in render_wall.items()}
    per_round = np.array(wall["matplotlib"]) / np.array(wall["multiattn"])
    return {"overlay_encode_fps": round(n_frames / seconds["multiattn"], 1),
            "matplotlib_baseline_fps": round(n_frames / seconds["matplotlib"], 1),
            "overlay_encode_speedup": round(seconds["matplotlib"] / seconds["multiattn"], 2),
            "overlay_encode_speedup_rounds": [round(float(per_round.min()), 2),
                                              round(float(per_round.max()), 2)],
            "overlay_encode_speedup_cpu": round(float(np.median(cpu["matplotlib"]))
                                                / float(np.median(cpu["multiattn"])), 2),
            "overlay_encode_ms": round(seconds["multiattn"] * 1e3, 1),
            "matplotlib_encode_ms": round(seconds["matplotlib"] * 1e3, 1),
            "render_only_speedup": round(render_s["matplotlib"] / render_s["multiattn"], 1),
            "encode_share_multiattn": round(1 - render_s["multiattn"] / seconds["multiattn"], 2),
            "rounds": rounds, "speed_frames": n_frames, "frame_size": 224, "frames": content,
            "mp4_codec": codec}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="number of clips for tracking")
    parser.add_argument("--frames", type=int, default=48, help="frames for the speed measurement")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating speed rounds")
    parser.add_argument("--speed-only", action="store_true", help="skip the tracking measurement")
    args = parser.parse_args()
    result = {"benchmark": "video", **({} if args.speed_only else tracking(args.n)),
              **speed(args.frames, "clip", args.rounds),
              "noise_frames": speed(args.frames, "noise", args.rounds)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
