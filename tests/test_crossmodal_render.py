"""Cross-modal renderer: side-by-side figure over several key axes, similarity grid, errors."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import ConnectionPatch, Rectangle

from multiattn.axes import NodeAxis, PatchAxis, TimeAxis, TokenAxis, VideoAxis
from multiattn.renderers.crossmodal import side_by_side, similarity_grid
from multiattn.renderers.figure import save_figure


def _lines(fig):
    return [a for a in fig.artists if isinstance(a, ConnectionPatch)]


@pytest.fixture
def words():
    return TokenAxis(["[BOS]", "red", "circle", "[EOS]"], special_mask=[1, 0, 0, 1])


def test_lines_land_on_patch_centres_through_the_crop(words):
    # 40x32 image -> shortest edge 32 -> 40x32 -> centre crop 32x32 from row 4
    axis = PatchAxis(2, 2, 16, (32, 32), transform={"original_size": (40, 32), "resize": (40, 32),
                                                  "crop": (4, 0, 32, 32)})
    weights = np.zeros((4, 5))
    weights[1, 4] = 1.0  # "red" -> patch (1, 1)
    weights[2, 1] = 0.5  # "circle" -> patch (0, 0)
    fig = side_by_side(weights, words, axis, media=np.zeros((40, 32, 3), np.uint8), top_k=1, min_share=0.1)
    lines = _lines(fig)
    assert len(lines) == 2
    ends = sorted((tuple(np.round(line.xy1, 2)), line.get_linewidth()) for line in lines)
    # patch (0, 0) covers rows 4..19, cols 0..15 -> centre (x, y) = (7.5, 11.5); (1, 1) -> (23.5, 27.5)
    assert ends[0][0] == (7.5, 11.5) and ends[1][0] == (23.5, 27.5)
    assert ends[1][1] > ends[0][1]  # heavier weight, thicker line
    plt.close(fig)


def test_special_tokens_and_weak_tokens_are_not_linked(words):
    axis = PatchAxis(2, 2, 16, (32, 32))
    weights = np.ones((4, 5))
    token_weights = np.array([10.0, 1.0, 0.3, 10.0])
    fig = side_by_side(weights, words, axis, token_weights=token_weights, top_k=2)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "red" in legend and "circle" not in legend and "[BOS]" not in legend
    assert len(_lines(fig)) == 2  # CLS (special key) is never a target
    assert all(np.isfinite(line.xy1).all() for line in _lines(fig))
    plt.close(fig)


def test_time_axis_with_spectrogram_and_without_media(words, rng):
    axis = TimeAxis(50, 0.02)
    weights = np.zeros((4, 50))
    weights[1, 10] = 1.0
    fig = side_by_side(weights, words, axis, media=rng.random((20, 50)), top_k=1)
    (line,) = _lines(fig)
    assert line.xy1[0] == pytest.approx(axis.times[10])
    plt.close(fig)
    fig = side_by_side(weights, words, axis, top_k=1)
    assert _lines(fig)[0].xy1 == pytest.approx((axis.times[10], 1.0))
    plt.close(fig)


def test_video_axis_frames_strip(words, rng):
    axis = VideoAxis(4, 2, 2, tubelet=(2, 16, 16), fps=4)
    weights = np.zeros((4, len(axis)))
    weights[2, 2 * 2 + 3] = 1.0  # "circle" -> time 1, patch (1, 1)
    frames = rng.integers(0, 255, size=(4, 32, 32, 3), dtype=np.uint8)
    fig = side_by_side(weights, words, axis, media=frames, top_k=1)
    (line,) = _lines(fig)
    assert tuple(line.xy1) == pytest.approx((32 + 23.5, 23.5))
    plt.close(fig)


def test_video_strip_lines_follow_the_processor_crop(words, rng):
    # 32x64 frames, centre 32x32 kept by the processor: patch (1, 1) of time 1 is 16 px right of uncropped
    axis = VideoAxis(4, 2, 2, tubelet=(2, 16, 16), fps=4,
                     transform={"original_size": (32, 64), "resize": (32, 64), "crop": (0, 16, 32, 32)})
    weights = np.zeros((4, len(axis)))
    weights[2, 2 * 2 + 3] = 1.0
    frames = rng.integers(0, 255, size=(4, 32, 64, 3), dtype=np.uint8)
    fig = side_by_side(weights, words, axis, media=frames, top_k=1)
    (line,) = _lines(fig)
    assert tuple(line.xy1) == pytest.approx((64 + 16 + 23.5, 23.5))
    plt.close(fig)


def test_generic_axis_as_cells(words):
    nodes = NodeAxis(["a", "b", "c"])
    fig = side_by_side(np.array([[0, 0, 0], [0, 0, 1.0], [1.0, 0, 0], [0, 0, 0]]), words, nodes, top_k=1)
    assert sorted(tuple(line.xy1) for line in _lines(fig)) == [(0.45, 0.0), (0.45, 2.0)]
    plt.close(fig)


def test_side_by_side_is_deterministic(tmp_path, words, rng):
    axis = PatchAxis(2, 2, 16, (32, 32))
    weights = rng.random((4, 5))
    image = rng.integers(0, 255, size=(32, 32, 3), dtype=np.uint8)
    a = save_figure(side_by_side(weights, words, axis, media=image), tmp_path / "a.png").read_bytes()
    b = save_figure(side_by_side(weights, words, axis, media=image), tmp_path / "b.png").read_bytes()
    assert a == b


@pytest.mark.parametrize("kwargs, match", [
    ({"weights": np.ones((3, 5))}, r"shape \(len\(query_axis\), len\(key_axis\)\) = \(4, 5\)"),
    ({"weights": np.full((4, 5), np.nan)}, "NaN"),
    ({"top_k": 0}, "top_k"),
    ({"min_share": 2.0}, "min_share"),
    ({"token_weights": np.ones(3)}, r"token_weights must have shape \(4,\)"),
    ({"key_weights": np.ones(4)}, r"key_weights must have shape \(5,\)"),
])
def test_side_by_side_errors(words, kwargs, match):
    args = {"weights": np.ones((4, 5)), **kwargs}
    weights = args.pop("weights")
    with pytest.raises(ValueError, match=match):
        side_by_side(weights, words, PatchAxis(2, 2, 16, (32, 32)), **args)
    plt.close("all")


def test_side_by_side_bad_media(words, rng):
    with pytest.raises(ValueError, match="waveform"):
        side_by_side(np.ones((4, 5)), words, TimeAxis(5, 0.02), media=np.ones((2, 2, 2)))
    axis = VideoAxis(4, 2, 2, tubelet=(2, 16, 16), fps=4)
    with pytest.raises(ValueError, match="the 4 frames the model saw"):
        side_by_side(np.ones((4, len(axis))), words, axis, media=np.zeros((3, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="media is not used"):
        side_by_side(np.ones((4, 2)), words, NodeAxis([0, 1]), media=np.zeros(3))
    with pytest.raises(TypeError, match="Axis objects"):
        side_by_side(np.ones((4, 5)), ["a"] * 4, PatchAxis(2, 2, 16, (32, 32)))
    plt.close("all")


def test_similarity_grid_marks_best_caption_per_image(rng):
    images = [rng.integers(0, 255, size=(16, 16, 3), dtype=np.uint8) for _ in range(2)]
    scores = np.array([[1.0, 3.0, 2.0], [5.0, 0.0, 1.0]])
    fig = similarity_grid(scores, images, ["x", "y", "z"])
    table = fig.axes[0]
    boxes = sorted(p.get_xy() for p in table.patches if isinstance(p, Rectangle))
    assert boxes == [(-0.5, 0.5), (0.5, -0.5)]  # image 0 -> caption 1, image 1 -> caption 0
    texts = [t.get_text() for t in table.texts]
    p = np.exp(3) / (np.exp(1) + np.exp(3) + np.exp(2))
    assert f"3.00\np={p:.2f}" in texts
    plt.close(fig)


def test_similarity_grid_one_caption_marks_best_image(rng):
    images = [rng.integers(0, 255, size=(16, 16, 3), dtype=np.uint8) for _ in range(3)]
    fig = similarity_grid(np.array([[0.5], [2.0], [1.0]]), images, ["a red circle"])
    boxes = [p.get_xy() for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert boxes == [(0.5, -0.5)]
    assert "best image" in fig.axes[0].get_xlabel()
    plt.close(fig)


def test_similarity_grid_errors(rng):
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"\(n_images, n_captions\) = \(1, 2\)"):
        similarity_grid(np.ones((2, 1)), [img], ["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        similarity_grid(np.array([[np.nan]]), [img], ["a"])
    with pytest.raises(ValueError, match="non-empty"):
        similarity_grid(np.ones((0, 0)), [], [])


def test_side_by_side_takes_a_cross_attention_grid(words, rng):
    from multiattn.grid import AttentionGrid

    frames = TimeAxis(30, 0.02)
    values = rng.random((2, 3, 4, 30)).astype(np.float32)
    values /= values.sum(-1, keepdims=True)
    grid = AttentionGrid(values, words, frames, kind="cross")
    with pytest.raises(ValueError, match="2 layers and 3 heads"):
        side_by_side(grid)
    one = grid.select(layer=-1).reduce("mean", over="head")
    fig = side_by_side(one, top_k=1, token_weights=[0.0, 0.0, 1.0, 0.0])
    (line,) = _lines(fig)
    k = int(np.argmax(one.values[0, 0, 2]))
    assert line.xy1[0] == pytest.approx(frames.times[k])
    plt.close(fig)
