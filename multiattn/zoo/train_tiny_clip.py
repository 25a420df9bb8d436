"""Train the tiny CLIP contrastively on synthetic two-shape scenes (fixed seed, CPU, minutes).

Run ``nice python -m multiattn.zoo.train_tiny_clip`` to rebuild
``media_samples/clip/tiny_clip.safetensors``.

Recipe: symmetric InfoNCE with *soft* targets — caption ``j`` counts as a positive for
image ``i`` whenever it truthfully describes scene ``i`` (duplicates in a batch are not
false negatives).  With probability ``--drop`` one word is deleted from a caption (``"a circle and a blue
square"``, ``"a red circle a blue square"``), so the model also scores partial captions:
the per-word grounding of :mod:`multiattn.adapters.clip` compares a caption with the
caption missing one word (and with the word replaced by another colour / shape).
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import numpy as np

from multiattn.zoo._clip import (
    COLOURS,
    IMAGE_MEAN,
    IMAGE_STD,
    SHAPES,
    build_tokenizer,
    make_scene,
    make_scenes,
    scene_captions,
    tiny_clip_config,
    weights_path,
)

__all__ = ["main", "train"]


def _phrases(caption: str) -> list[tuple[str | None, str | None]]:
    """``"a red circle and a square"`` -> ``[("red", "circle"), (None, "square")]``.

    A phrase ends at "a" / "and", or when a colour follows content or a second shape comes,
    so captions with a deleted function word still parse.
    """
    out: list[list[str | None]] = []
    current: list[str | None] = [None, None]
    for word in caption.split():
        slot = 0 if word in COLOURS else 1 if word in SHAPES else None
        if slot is None or (slot == 0 and current != [None, None]) or (slot == 1 and current[1]):
            if current != [None, None]:
                out.append(current)
            current = [None, None]
        if slot is not None:
            current[slot] = word
    if current != [None, None]:
        out.append(current)
    return [(c, s) for c, s in out]


@functools.cache
def _describes(caption: str, objects: tuple[tuple[str, str], ...]) -> bool:
    """True if every phrase of the caption matches a distinct object of the scene."""
    phrases = _phrases(caption)

    def fits(phrase, obj):
        return all(p is None or p == o for p, o in zip(phrase, obj))

    return any(all(fits(p, o) for p, o in zip(phrases, order)) for order in (objects, objects[::-1]))


def _drop_word(caption: str, rng: np.random.Generator) -> str:
    """Delete one word (any word, so that deletions of "a" / "and" are in-distribution too)."""
    words = caption.split()
    del words[int(rng.integers(len(words)))]
    return " ".join(words)


def _batch(rng: np.random.Generator, size: int, drop: float):
    """Images, their captions and the positive mask (caption j truthfully describes image i)."""
    import torch

    scenes = [make_scene(rng) for _ in range(size)]
    captions = [_drop_word(s.caption, rng) if rng.random() < drop else s.caption for s in scenes]
    images = np.stack([s.image for s in scenes]).astype(np.float32) / 255.0
    pixels = (images - np.asarray(IMAGE_MEAN, np.float32)) / np.asarray(IMAGE_STD, np.float32)
    positives = np.array([[_describes(c, s.objects) for c in captions] for s in scenes], np.float32)
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), captions, torch.from_numpy(positives)


def _soft_clip_loss(logits, positives):
    """Symmetric cross-entropy against row/column-normalised positive masks."""
    import torch.nn.functional as F

    img_loss = -(positives / positives.sum(1, keepdim=True) * F.log_softmax(logits, 1)).sum(1).mean()
    txt_loss = -(positives / positives.sum(0, keepdim=True) * F.log_softmax(logits, 0)).sum(0).mean()
    return (img_loss + txt_loss) / 2


def retrieval_accuracy(model, tokenizer, n_scenes: int = 300, seed: int = 12345) -> float:
    """Image -> caption top-1 accuracy against all 36 scene descriptions (chance 1/36)."""
    import torch

    captions = scene_captions()
    scenes = make_scenes(n_scenes, seed)
    images = np.stack([s.image for s in scenes]).astype(np.float32) / 255.0
    pixels = (images - np.asarray(IMAGE_MEAN, np.float32)) / np.asarray(IMAGE_STD, np.float32)
    with torch.no_grad():
        text = tokenizer(captions, padding=True, return_tensors="pt")
        logits = model(pixel_values=torch.from_numpy(pixels).permute(0, 3, 1, 2), **text).logits_per_image
    best = logits.argmax(1).numpy()
    return float(np.mean([_describes(captions[b], s.objects) for b, s in zip(best, scenes)]))


def train(steps: int, batch_size: int, lr: float, drop: float, seed: int, out: Path,
          threads: int = 1) -> dict:
    """Train from scratch and write the safetensors weights; return a summary dict."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPModel

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    model = CLIPModel(tiny_clip_config()).train()
    tokenizer = build_tokenizer()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * min(s / steps, 1.0)))
    )
    start, losses = time.time(), []
    for step in range(steps):
        pixels, captions, positives = _batch(rng, batch_size, drop)
        text = tokenizer(captions, padding=True, return_tensors="pt")
        logits = model(pixel_values=pixels, **text).logits_per_image
        loss = _soft_clip_loss(logits, positives)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == steps - 1:
            mean_loss = np.mean(losses[-100:])
            print(f"step {step:5d} loss {mean_loss:.3f} ({time.time() - start:.0f}s)", flush=True)
    model.eval()
    summary = {
        "steps": steps, "seconds": round(time.time() - start, 1), "final_loss": float(np.mean(losses[-100:])),
        "retrieval_top1_of_36": retrieval_accuracy(model, tokenizer),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out), metadata={"recipe": json.dumps({**summary, "seed": seed, "lr": lr})})
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--drop", type=float, default=0.4, help="probability of deleting one word")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 on a shared machine)")
    parser.add_argument("--out", type=Path, default=weights_path())
    args = parser.parse_args(argv)
    summary = train(args.steps, args.batch_size, args.lr, args.drop, args.seed, args.out, args.threads)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
