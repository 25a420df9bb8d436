"""Faithfulness of ViT explanations on the shapes task, and overlay speed. Prints one JSON line.

Faithfulness: on ``N`` fresh synthetic images (seed 12345, never seen in
training) the embedded shapes-vit is explained for the *true* class with raw
CLS attention (last layer, mean of heads), rollout, gradient rollout and Chefer
relevance, all from one forward/backward pass per image.

- pointing game: the map's maximum patch has its centre inside the target box
  (``pointing_*``), and the same with a tolerance of half a patch (4 px, the
  analogue of Zhang et al.'s 15 px at 224 px; ``pointing_tol_*``);
- mass in box: share of the map's positive patch mass (prefix tokens dropped,
  nearest upsampling to pixels) that falls inside the target box; the box's
  share of the image area is the uniform-map baseline.

Speed: :func:`multiattn.renderers.image.overlay` on a 224x224 image with a
14x14 map versus a matplotlib baseline (imshow the image, imshow the map with
alpha, savefig to PNG in memory), median of repeated runs measured in the same
process; ``overlay_speedup`` = baseline time / overlay time.

Usage: ``python benchmarks/bench_vit.py [--n 500]``
"""

from __future__ import annotations

import argparse
import io
import json

import numpy as np
from _timing import median_time


def _faithfulness(n: int) -> dict:
    import torch

    from multiattn.adapters.vit import capture_with_gradients
    from multiattn.analysis.relevance import chefer_relevance, gradient_rollout
    from multiattn.analysis.rollout import rollout
    from multiattn.renderers.image import patch_values_to_pixels
    from multiattn.zoo._vision import load_shapes_vit, make_shapes_image

    torch.set_num_threads(1)
    model, processor = load_shapes_vit()
    rng = np.random.default_rng(12345)
    methods = {
        "raw": lambda g, d: g.values[-1].mean(axis=0)[0],
        "rollout": lambda g, d: rollout(g)[0],
        "grad_rollout": lambda g, d: gradient_rollout(g, d)[0],
        "relevance": lambda g, d: chefer_relevance(g, d)[0],
    }
    hits = {m: 0 for m in methods}
    near = {m: 0 for m in methods}
    mass = {m: [] for m in methods}
    correct, area = 0, []
    for _ in range(n):
        image, label, (top, left, bottom, right) = make_shapes_image(rng)
        grid, grads = capture_with_gradients(model, image, processor=processor, target=label)
        correct += grid.meta["predicted"] == label
        inside = np.zeros(image.shape[:2], bool)
        inside[top:bottom, left:right] = True
        area.append(inside.mean())
        axis = grid.key
        ph, pw = axis.patch_size
        for name, fn in methods.items():
            patches = axis.to_image(fn(grid, grads))
            r, c = np.unravel_index(np.argmax(patches), patches.shape)
            cy, cx = (r + 0.5) * ph, (c + 0.5) * pw
            hits[name] += bool(top <= cy < bottom and left <= cx < right)
            gap = np.hypot(max(top - cy, 0, cy - bottom), max(left - cx, 0, cx - right))
            near[name] += bool(gap <= ph / 2)
            pixels = np.clip(patch_values_to_pixels(patches, image.shape[:2], upsample="nearest"), 0, None)
            mass[name].append(pixels[inside].sum() / max(pixels.sum(), 1e-12))
    out = {"n_images": n, "accuracy": round(correct / n, 4), "box_area_share": round(float(np.mean(area)), 4)}
    for name in methods:
        out[f"pointing_{name}"] = round(hits[name] / n, 4)
        out[f"pointing_tol_{name}"] = round(near[name] / n, 4)
        out[f"mass_in_box_{name}"] = round(float(np.mean(mass[name])), 4)
    return out



def _overlay_speed(repeats: int = 15) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from multiattn.renderers.image import overlay

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    attention = rng.random((14, 14))

    def ours():
        overlay(image, attention, alpha=0.5, upsample="bilinear")

    def baseline():
        fig, ax = plt.subplots(figsize=(2.24, 2.24), dpi=100)
        ax.imshow(image)
        ax.imshow(attention, cmap="inferno", alpha=0.5, extent=(0, 224, 224, 0), interpolation="bilinear")
        ax.axis("off")
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)

    ours(), baseline()  # warm up imports and caches
    t_ours, t_base = median_time(ours, repeats), median_time(baseline, repeats)
    return {"overlay_ms": round(t_ours * 1e3, 2), "matplotlib_baseline_ms": round(t_base * 1e3, 2),
            "overlay_speedup": round(t_base / t_ours, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="number of fresh synthetic images")
    args = parser.parse_args()
    result = {"benchmark": "vit", **_faithfulness(args.n), **_overlay_speed()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
