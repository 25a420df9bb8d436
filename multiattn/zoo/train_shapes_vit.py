"""Train the embedded shapes-vit offline (fixed seed, 2 CPU threads, a few minutes).

Usage::

    nice python -m multiattn.zoo.train_shapes_vit [--steps 1200] [--out PATH]

Data: :func:`multiattn.zoo._vision.make_shapes_dataset` (seed 0 for training,
seed 1 for the held-out accuracy printed at the end).  Model:
:func:`multiattn.zoo._vision.shapes_vit_config`.  Writes the weights as
safetensors (about 0.6 MB) to ``media_samples/vit/shapes_vit.safetensors``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ._vision import WEIGHTS_PATH, make_shapes_dataset, shapes_vit_config

__all__ = ["to_pixel_values", "train", "main"]


def to_pixel_values(images: np.ndarray) -> torch.Tensor:
    """``uint8 (n, H, W, 3)`` -> float ``(n, 3, H, W)`` in [-1, 1], as the shapes-vit processor does."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def train(steps: int = 1200, n_train: int = 8000, batch_size: int = 64, seed: int = 0) -> tuple:
    """Train from scratch; return ``(model, held-out accuracy)``."""
    from transformers import ViTForImageClassification

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # the machine is shared; more threads only spin
    images, labels, _ = make_shapes_dataset(n_train, seed=seed)
    x_all, y_all = to_pixel_values(images), torch.from_numpy(labels)
    model = ViTForImageClassification(shapes_vit_config())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    warmup = steps // 20
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps))
    )
    gen = torch.Generator().manual_seed(seed)
    start = time.time()
    model.train()
    for step in range(steps):
        idx = torch.randint(0, n_train, (batch_size,), generator=gen)
        x = x_all[idx]
        flip = torch.rand(batch_size, generator=gen) < 0.5  # shapes are left-right symmetric
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        loss = torch.nn.functional.cross_entropy(model(pixel_values=x).logits, y_all[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 200 == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {loss.item():.3f}  {time.time() - start:.0f}s", flush=True)
    model.eval()
    test_x, test_y, _ = make_shapes_dataset(1000, seed=seed + 1)
    with torch.no_grad():
        pred = model(pixel_values=to_pixel_values(test_x)).logits.argmax(-1).numpy()
    return model, float((pred == test_y).mean())


def main(argv: list[str] | None = None) -> int:
    from safetensors.torch import save_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = parser.parse_args(argv)
    model, accuracy = train(steps=args.steps)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    metadata = {"held_out_accuracy": f"{accuracy:.4f}", "steps": str(args.steps)}
    save_file(state, str(args.out), metadata=metadata)
    print(f"held-out accuracy {accuracy:.3f}; wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
