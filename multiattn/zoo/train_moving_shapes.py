"""Train the tiny moving-shapes video classifier (VideoMAE layout) offline.

Run ``nice python -m multiattn.zoo.train_moving_shapes`` (about 3 minutes on
one core of a busy 2-core machine).  Clips come from
:func:`multiattn.zoo._video.moving_shapes_clip` (a gradient-shaded tile moving
right/left/down/up over static clutter), preprocessed with
:func:`multiattn.adapters.video.frames_to_pixel_values` exactly as at
inference.  The weights are written as safetensors with the model config in
the file's metadata, together with a short sample clip (MP4).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from multiattn.zoo._video import DIRECTIONS, moving_shapes_clip, sample_clip_path, weights_path

__all__ = ["CONFIG", "LR", "STEPS", "train", "write_sample_clip"]

#: Default optimisation: 1500 AdamW steps of 16 clips, one-cycle schedule peaking at LR.
STEPS = 1500
LR = 1e-3

#: VideoMAE config of the tiny model: 8 frames of 64x64, tubelets 2x8x8 -> 4 x 8 x 8 tokens.
CONFIG = dict(
    image_size=64,
    patch_size=8,
    num_channels=3,
    num_frames=8,
    tubelet_size=2,
    hidden_size=48,
    num_hidden_layers=1,  # one layer: the readout token must gather the motion by attention
    num_attention_heads=1,  # one head, so head fusion cannot blur the tracking head
    intermediate_size=96,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    use_mean_pooling=False,  # classify from token 0, the grey readout tubelet (acts as CLS)
    num_labels=len(DIRECTIONS),
    id2label=dict(enumerate(DIRECTIONS)),
    label2id={name: i for i, name in enumerate(DIRECTIONS)},
)


def _batch(rng: np.random.Generator, n: int):
    import torch

    from multiattn.adapters._video_inputs import frames_to_pixel_values

    clips = [
        moving_shapes_clip(frames=CONFIG["num_frames"], size=CONFIG["image_size"],
                           seed=int(rng.integers(2**31)))
        for _ in range(n)
    ]
    pixels = torch.cat([frames_to_pixel_values(c.frames, CONFIG["image_size"]) for c in clips])
    labels = torch.tensor([c.label for c in clips])
    return pixels, labels


def _save_reproducible(state: dict, out: Path, metadata: dict[str, str]) -> None:
    """Write safetensors with a sorted JSON header, so the same weights give the same bytes.

    ``safetensors`` writes the metadata entries in hash order, which differs
    from run to run; the header is rewritten with sorted keys (and padded to
    8 bytes as safetensors does); the tensor bytes are untouched.
    """
    from safetensors.torch import save

    blob = save(state, metadata=metadata)
    size = int.from_bytes(blob[:8], "little")
    header = json.dumps(json.loads(blob[8:8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    out.write_bytes(len(header).to_bytes(8, "little") + header + blob[8 + size:])


def train(out: Path, *, steps: int = STEPS, batch_size: int = 16, seed: int = 0, lr: float = LR) -> dict:
    """Train from scratch and write ``out`` (safetensors); return measured numbers.

    Example
    -------
    >>> train(Path("/tmp/moving_shapes.safetensors"), steps=10)  # doctest: +SKIP
    {'steps': 10, ...}
    """
    import torch
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # faster than 2 on a shared 2-core machine
    rng = np.random.default_rng(seed)
    config = VideoMAEConfig(**CONFIG)
    config._attn_implementation = "eager"
    model = VideoMAEForVideoClassification(config)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps,
                                                   pct_start=0.1)
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        pixels, labels = _batch(rng, batch_size)
        loss = model(pixel_values=pixels, labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  {time.perf_counter() - start:6.1f}s", flush=True)
    model.eval()
    test_rng = np.random.default_rng(seed + 1)
    with torch.no_grad():
        pixels, labels = _batch(test_rng, 256)
        accuracy = float((model(pixel_values=pixels).logits.argmax(-1) == labels).float().mean())
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    _save_reproducible(state, out, {"config": json.dumps(CONFIG), "seed": str(seed),
                                    "steps": str(steps), "lr": str(lr)})
    result = {"steps": steps, "seconds": round(time.perf_counter() - start, 1),
              "test_accuracy": accuracy, "bytes": out.stat().st_size}
    print(json.dumps(result), flush=True)
    return result


def write_sample_clip(path: Path, *, seed: int = 7) -> Path:
    """Write the committed sample clip: 16 frames at 8 fps, 128x128, moving up."""
    import cv2

    clip = moving_shapes_clip("up", frames=16, size=128, seed=seed, fps=8.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), clip.fps, (128, 128))
    for frame in clip.frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=weights_path())
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--clip", type=Path, default=sample_clip_path())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_sample_clip(args.clip)
    train(args.out, steps=args.steps, seed=args.seed, lr=args.lr)


if __name__ == "__main__":
    main()
