"""The monitor on video transformers and CLIP: stored statistics equal those of multiattn.capture."""

from __future__ import annotations

import numpy as np
import pytest

import multiattn
from multiattn.monitor import monitor

torch = pytest.importorskip("torch")


def _reference(values: np.ndarray, n_prefix: int, grid: tuple[int, ...] | None) -> dict[str, np.ndarray]:
    """Numpy statistics of a captured ``(L, H, Q, K)`` grid, written out from the definitions."""
    w = values.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(w > 0, w * np.log(w), 0.0)
    out = {"entropy": -plogp.sum(-1).mean(-1),
           "top5": np.sort(w, -1)[..., -5:].sum(-1).mean(-1),
           "first_share": w[..., 0].mean(-1),
           "sink_share": w.mean(2).max(-1)}
    if n_prefix:
        out["special_share"] = w[..., :n_prefix].sum(-1).mean(-1)
    if grid is not None:
        coords = np.stack(np.meshgrid(*(np.arange(n) for n in grid), indexing="ij"), -1)
        coords = coords.reshape(-1, len(grid))
        dist = np.zeros((w.shape[-1],) * 2)
        dist[n_prefix:, n_prefix:] = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
        out["mean_distance"] = (w * dist).sum(-1).mean(-1)
    return out


def _check(record, reference: dict[str, np.ndarray]) -> None:
    got = dict(zip(record.statistics, record.values))
    for name, ref in reference.items():
        np.testing.assert_allclose(got[name], ref, atol=2e-5, err_msg=name)


def _hooks(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _no_hooks_left(model, before: int, implementation: str | None) -> None:
    from multiattn._monitor_attention import _CALLBACKS

    assert not _CALLBACKS and _hooks(model) == before
    assert model.config._attn_implementation == implementation


def test_video_tubelets_are_a_vit_without_prefix():
    from multiattn._video_io import read_video
    from multiattn.adapters import video

    model, processor = multiattn.zoo.load("moving-shapes")
    clip = read_video(multiattn.zoo.sample("moving-shapes"), progress=False)
    inputs = video.prepare(model, clip.frames, processor=processor)
    grid = multiattn.capture(model, clip.frames, processor=processor)
    hooks, implementation = _hooks(model), model.config._attn_implementation
    with torch.no_grad():
        plain = model(**inputs).logits
        with monitor(model, model_id="moving-shapes") as mon:
            watched = model(**inputs).logits
    torch.testing.assert_close(watched, plain, rtol=0, atol=1e-6)
    frames, size = inputs["pixel_values"].shape[1], inputs["pixel_values"].shape[-1]
    t, p = model.config.tubelet_size, model.config.patch_size
    shape = (frames // t, size // p, size // p)  # 4 x 8 x 8 tubelets, no CLS
    assert mon.last.modality == "video" and mon.last.input_length == int(np.prod(shape))
    _check(mon.last, _reference(grid.values, 0, shape))
    assert np.all(dict(zip(mon.last.statistics, mon.last.values))["special_share"] == 0)  # no prefix
    _no_hooks_left(model, hooks, implementation)


def test_clip_monitors_both_towers_labelled():
    model, processor = multiattn.zoo.load("tiny-clip")
    image, captions = multiattn.zoo.sample("tiny-clip")
    grids = multiattn.capture(model, (image, captions), processor=processor)
    from multiattn.adapters import clip

    inputs = clip.prepare(model, (image, captions), processor=processor)
    hooks, implementation = _hooks(model), model.config._attn_implementation
    with torch.no_grad():
        plain = model(**inputs).logits_per_image
        with monitor(model, processor=processor) as mon:
            watched = model(**inputs).logits_per_image
        records = mon.take()
    # the monitor's attention sums its softmax over the keys in another order: float32 rounding
    torch.testing.assert_close(watched, plain, rtol=1e-6, atol=1e-6)
    by_kind = {}
    for r in records:
        by_kind.setdefault(r.modality, []).append(r)
    assert sorted(by_kind) == ["clip-image", "clip-text"]
    assert len(by_kind["clip-text"]) == len(captions) and len(by_kind["clip-image"]) == 1
    assert all(name.startswith("text_model.") for name in by_kind["clip-text"][0].layers)
    assert all(name.startswith("vision_model.") for name in by_kind["clip-image"][0].layers)
    vision = model.config.vision_config
    side = vision.image_size // vision.patch_size
    _check(by_kind["clip-image"][0], _reference(grids["vision"].values, 1, (side, side)))
    for i, record in enumerate(by_kind["clip-text"]):
        grid = grids[f"text.{i}"]
        assert record.input_length == len(grid.query)
        ref = _reference(grid.values, 0, None)
        _check(record, {k: ref[k] for k in ("entropy", "top5", "first_share")})
    _no_hooks_left(model, hooks, implementation)
