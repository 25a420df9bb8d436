"""Array-level speed against the peers users would pick: image overlays, rollout, Chefer relevance.

Prints one JSON line; each job is timed on the same inputs in one run, rounds of ours and the
peer's alternating, medians reported, ``ratio`` = peer time / ours (> 1: multiattn is faster):

- ``overlay``: :func:`multiattn.renderers.image.overlay` (bilinear, alpha 0.5) of a 14 x 28 patch
  map on a uint8 image of 360 x 720 and 1080 x 2160, against pytorch-grad-cam's documented recipe
  (``cv2.resize`` of the map to the image, the image as float32 in [0, 1],
  ``show_cam_on_image(..., use_rgb=True)``).  Skipped (with the reason) when grad-cam is missing.
- ``rollout``: :func:`multiattn.analysis.rollout` on ViT-tiny-sized attention (12 layers x 3 heads x
  197 tokens, float32 as captured) against vit-explain's ``rollout`` loop (torch, as in
  ``jacobgil/vit-explain``'s ``vit_rollout.py``, without the discard step: ``discard_ratio=0``).
- ``chefer``: :func:`multiattn.analysis.relevance.chefer_relevance` against the ICCV 2021 reference
  loop (``R = I; R += mean_h((dA * A)^+) @ R``, torch, as in Chefer et al.'s
  ``Transformer-MM-Explainability`` ``generate_relevance``), same attention and gradients.

- ``rollout_cls`` / ``chefer_cls``: the image map alone, what both references return: vit-explain's
  ``rollout()`` gives ``result[0, 0, 1:]`` as a 14 x 14 mask divided by its maximum, Chefer et al.'s
  ``generate_relevance`` (Transformer-MM-Explainability's ViT notebook) ``R[0, 1:]``.  Ours with
  ``outputs=0`` (one vector-matrix product per layer), the peers as they are (the full product, then
  the row), both ending in the same max-normalised 14 x 14 mask.

Each line also gives the largest difference from the peer's values (same maths, so round-off only).
``--no-overlay`` leaves the overlay job out (for the rollout / Chefer rows alone).
Both sides run on one thread (torch and the BLAS numpy uses), so the ratio compares the code.
``ours_cpu_ms`` / ``peer_cpu_ms`` / ``ratio_cpu`` are the same rounds timed by the calling thread's
CPU clock: on a shared, loaded machine wall times include waiting for a core, CPU times do not.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _timed(func) -> tuple[float, float]:
    """Wall and calling-thread CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.thread_time()
    func()
    return time.perf_counter() - wall, time.thread_time() - cpu


def _alternating(ours, peer, rounds: int = 25) -> dict:
    """Medians of ``rounds`` alternating calls of each (after one warm-up call of each), wall and CPU."""
    ours(), peer()
    times = np.array([[_timed(ours), _timed(peer)] for _ in range(rounds)])  # (round, side, clock)
    return {"wall": np.median(times[:, :, 0], axis=0), "cpu": np.median(times[:, :, 1], axis=0)}


def _line(times: dict, diff: float, peer: str) -> dict:
    (t_ours, t_peer), (c_ours, c_peer) = times["wall"], times["cpu"]
    return {"ours_ms": round(t_ours * 1e3, 2), "peer_ms": round(t_peer * 1e3, 2), "peer": peer,
            "ratio": round(t_peer / t_ours, 2), "ours_cpu_ms": round(c_ours * 1e3, 2),
            "peer_cpu_ms": round(c_peer * 1e3, 2), "ratio_cpu": round(c_peer / c_ours, 2),
            "max_abs_diff": float(diff)}


def overlay_speed() -> dict:
    try:
        import cv2
        from pytorch_grad_cam.utils.image import show_cam_on_image
    except ImportError as err:
        return {"skipped": f"pytorch-grad-cam not installed ({err})"}
    from multiattn.renderers.image import overlay

    rng = np.random.default_rng(0)
    out = {}
    for height, width in ((360, 720), (1080, 2160)):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        patches = rng.random((14, 28)).astype(np.float32)

        def ours(image=image, patches=patches):
            return overlay(image, patches, alpha=0.5, upsample="bilinear", cmap="inferno", vmin=0, vmax=1)

        def peer(image=image, patches=patches, size=(width, height)):
            mask = cv2.resize(patches, size)
            return show_cam_on_image(image.astype(np.float32) / 255, mask, use_rgb=True, image_weight=0.5,
                                     colormap=cv2.COLORMAP_INFERNO)

        # grad-cam rescales by the blend's maximum and uses cv2's own inferno table; only speed compares
        times = _alternating(ours, peer)
        out[f"{height}x{width}"] = _line(times, np.nan, "pytorch-grad-cam show_cam_on_image")
        del out[f"{height}x{width}"]["max_abs_diff"]
    return out


def _attention(rng: np.random.Generator) -> np.ndarray:
    logits = 2.0 * rng.normal(size=(12, 3, 197, 197)).astype(np.float32)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


def _mask(cls_row: np.ndarray) -> np.ndarray:
    """vit-explain's last step: the CLS row over the patches as a square mask divided by its maximum."""
    mask = cls_row[1:]
    width = int(mask.shape[-1] ** 0.5)
    mask = mask.reshape(width, width)
    return mask / np.max(mask)


def rollout_speed() -> tuple[dict, dict]:
    import torch

    from multiattn.analysis import rollout

    attn = _attention(np.random.default_rng(1))
    layers = [torch.from_numpy(layer[None]) for layer in attn]

    def peer():  # vit-explain's loop, discard_ratio=0 (the topk / zeroing step is a no-op)
        result = torch.eye(layers[0].size(-1))
        with torch.no_grad():
            for attention in layers:
                fused = attention.mean(axis=1)
                eye = torch.eye(fused.size(-1))
                a = (fused + 1.0 * eye) / 2
                a = a / a.sum(dim=-1)
                result = torch.matmul(a, result)
        return result

    def ours():
        return rollout(attn)

    times = _alternating(ours, peer)
    # vit-explain's a / a.sum(dim=-1) divides columns (a broadcasting quirk): compare to ours with
    # that quirk only where rows already sum to one (residual 0.5 keeps them so up to round-off)
    diff = np.abs(np.asarray(ours()) - peer()[0].numpy()).max()
    full = _line(times, diff, "vit-explain rollout (torch)")

    def peer_cls():  # vit-explain's rollout(): the product, then the CLS mask
        return _mask(peer()[0, 0].numpy())

    def ours_cls():
        return _mask(rollout(attn, outputs=0))

    times = _alternating(ours_cls, peer_cls)
    return full, _line(times, np.abs(ours_cls() - peer_cls()).max(), "vit-explain rollout() CLS mask (torch)")


def chefer_speed() -> tuple[dict, dict]:
    import torch

    from multiattn.analysis.relevance import chefer_relevance

    rng = np.random.default_rng(2)
    attn = _attention(rng)
    grads = rng.normal(size=attn.shape).astype(np.float32)
    t_attn, t_grads = torch.from_numpy(attn), torch.from_numpy(grads)

    def peer():  # generate_relevance: avg_heads + apply_self_attention_rules per block
        relevance = torch.eye(attn.shape[-1])
        for cam, grad in zip(t_attn, t_grads):
            cam = (grad * cam).clamp(min=0).mean(dim=0)
            relevance = relevance + torch.matmul(cam, relevance)
        return relevance

    def ours():
        return chefer_relevance(attn, grads)

    times = _alternating(ours, peer)
    diff = np.abs(np.asarray(ours()) - peer().numpy()).max()
    full = _line(times, diff, "Chefer et al. reference loop (torch)")

    def peer_cls():  # the reference's map: row 0 of the full R
        return _mask(peer()[0].numpy())

    def ours_cls():
        return _mask(chefer_relevance(attn, grads, outputs=0))

    times = _alternating(ours_cls, peer_cls)
    diff = np.abs(ours_cls() - peer_cls()).max()
    return full, _line(times, diff, "Chefer et al. reference loop, row 0 (torch)")


def main() -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)  # both sides on one core: a shared 2-core machine, no oversubscription
    with threadpool_limits(1):
        overlay = {} if "--no-overlay" in sys.argv else {"overlay": overlay_speed()}
        (rollout, rollout_cls), (chefer, chefer_cls) = rollout_speed(), chefer_speed()
        print(json.dumps({"benchmark": "arrays", "threads": 1, **overlay, "rollout": rollout,
                          "rollout_cls": rollout_cls, "chefer": chefer, "chefer_cls": chefer_cls}))


if __name__ == "__main__":
    main()
