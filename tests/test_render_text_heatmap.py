"""renderers/heatmap.py: one head as a labelled query x key heatmap."""

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes

from multiattn import AttentionGrid, AttentionMap, NodeAxis, PatchAxis, TimeAxis, TokenAxis
from multiattn.renderers.figure import save_figure
from multiattn.renderers.heatmap import block_reduce, head_matrix, heatmap

from .conftest import random_attention

WORDS = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "and", "then", "it", "slept", "[SEP]"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _token_grid(rng, n_tokens=12, layers=2, heads=3, labels=None):
    labels = labels or [f"w{i}" for i in range(n_tokens)]
    special = [lab.startswith("[") for lab in labels]
    values = random_attention(rng, (layers, heads, n_tokens, n_tokens))
    return AttentionGrid(values, TokenAxis(labels, special), layers=[f"L{i}" for i in range(layers)])


def _colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_heatmap_draws_the_selected_head_with_token_labels(rng):
    grid = _token_grid(rng, labels=WORDS)
    ax = heatmap(grid, layer=1, head=2)
    assert isinstance(ax, Axes)
    np.testing.assert_allclose(ax.images[0].get_array(), grid.values[1, 2], rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == WORDS
    assert [t.get_text() for t in ax.get_yticklabels()] == WORDS
    assert all(t.get_rotation() == 90 for t in ax.get_xticklabels())
    assert ax.get_ylabel().startswith("query") and ax.get_xlabel().startswith("key")
    assert "layer L1, head 2" in ax.get_title()
    colors = [t.get_color() for t in ax.get_yticklabels()]
    assert colors[0] == colors[-1] == "0.55" and colors[1] == "black"  # specials greyed
    (cbar,) = _colorbars(ax.figure)
    assert cbar.get_ylabel().startswith("attention weight\n(rows sum to 1")


def test_head_mean_and_labels_by_name(rng):
    grid = _token_grid(rng)
    ax = heatmap(grid, layer="L0", head="mean")
    np.testing.assert_allclose(ax.images[0].get_array(), grid.values[0].mean(0), rtol=1e-5)
    assert "head mean(0..2)" in ax.get_title()
    ax2 = heatmap(grid, layer=-1, head=-1)
    np.testing.assert_allclose(ax2.images[0].get_array(), grid.values[1, 2], rtol=1e-6)


def test_draws_into_a_given_axes_and_without_colorbar(rng):
    grid = _token_grid(rng)
    fig, (left, right) = plt.subplots(1, 2)
    assert heatmap(grid, ax=left) is left
    assert heatmap(grid, ax=right, colorbar=False) is right
    assert len(_colorbars(fig)) == 1


def test_robust_and_fixed_limits(rng):
    grid = _token_grid(rng)
    im = heatmap(grid).images[0]
    assert im.norm.vmax == pytest.approx(np.percentile(grid.values[0, 0], 98), rel=1e-5)
    im = heatmap(grid, limits=(0, 1)).images[0]
    assert (im.norm.vmin, im.norm.vmax) == (0, 1)


def test_block_reduce_hand_computed():
    values = np.array([[1.0, 0.0, 0.0],
                       [0.0, 1.0, 0.0],
                       [0.0, 0.5, 0.5]])
    # query blocks {0,1},{2} (mean); key blocks {0,1},{2} (sum)
    expected = np.array([[1.0, 0.0],
                         [0.5, 0.5]])
    np.testing.assert_allclose(block_reduce(values, 2, 2), expected)
    np.testing.assert_allclose(block_reduce(values, 1, 3), values.sum(1, keepdims=True))
    with pytest.raises(ValueError, match="block sizes"):
        block_reduce(values, 0, 1)


def test_downsampling_kicks_in_above_max_labels(rng):
    grid = _token_grid(rng, n_tokens=300, layers=1, heads=1)
    ax = heatmap(grid, max_labels=100)
    shown = ax.images[0].get_array()
    assert shown.shape == (100, 100)
    np.testing.assert_allclose(shown, block_reduce(grid.values[0, 0].astype(float), 3, 3), rtol=1e-5)
    np.testing.assert_allclose(shown.sum(1), 1.0, atol=1e-4)  # keys summed: rows still sum to 1
    assert "downsampled 300x300 -> 100x100" in ax.get_title()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert 2 <= len(labels) <= 30 and labels[0] == "0 w0" and labels[1].split()[0] == "12"
    # at the threshold nothing is downsampled
    exact = heatmap(_token_grid(rng, n_tokens=100, layers=1, heads=1), max_labels=100)
    assert exact.images[0].get_array().shape == (100, 100) and "downsampled" not in exact.get_title()
    assert len(exact.get_xticklabels()) == 100


def test_attention_map_is_one_row(rng):
    grid = _token_grid(rng, labels=WORDS)
    amap = grid.row(3, layer=0, head=1)
    ax = heatmap(amap)
    np.testing.assert_allclose(ax.images[0].get_array(), grid.values[0, 1, 3][None], rtol=1e-6)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["query 3"]
    assert [t.get_text() for t in ax.get_xticklabels()] == WORDS
    assert _colorbars(ax.figure)[0].get_ylabel().startswith("attention weight\n(sums to 1")


def test_signed_map_gets_a_diverging_symmetric_scale():
    relevance = AttentionMap(np.array([-0.5, 0.2, 1.0, 0.1], np.float32), TokenAxis(list("abcd")))
    ax = heatmap(relevance)  # default cmap=None
    im = ax.images[0]
    assert im.get_cmap().name == "RdBu_r" and im.norm.vmin == -im.norm.vmax
    label = _colorbars(ax.figure)[0].get_ylabel()
    assert label.startswith("value") and "signed: centred on 0" in label
    plt.close(ax.figure)


def test_default_cmap_follows_the_sign_of_the_data(rng):
    weights = _token_grid(rng)
    ax = heatmap(weights, layer=0, head=1)
    assert ax.images[0].get_cmap().name == "viridis" and ax.images[0].norm.vmin >= 0
    assert "centred" not in _colorbars(ax.figure)[0].get_ylabel()
    plt.close(ax.figure)
    diff = AttentionGrid(weights.values[:1] - weights.values[1:], weights.query, check_rows=False)
    ax = heatmap(diff, layer=0, head="mean")
    im = ax.images[0]
    assert im.get_cmap().name == "RdBu_r"
    assert im.norm.vmin == pytest.approx(-im.norm.vmax) and im.norm.vmax > 0
    label = _colorbars(ax.figure)[0].get_ylabel()
    assert label.startswith("value") and "rows not normalised" in label and "centred on 0" in label
    plt.close(ax.figure)
    assert heatmap(diff, cmap="magma").images[0].get_cmap().name == "magma"  # explicit cmap wins
    plt.close("all")


def test_non_token_axes_use_axis_labels(rng):
    patches = PatchAxis(2, 2, 16, (32, 32), prefix=("CLS",))
    times = TimeAxis(3, 0.02)
    cross = AttentionGrid(random_attention(rng, (1, 1, 5, 3)), patches, times, kind="cross")
    ax = heatmap(cross)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(patches.labels)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.01s", "0.03s", "0.05s"]
    assert ax.get_xlabel() == "key (time)" and ax.get_ylabel() == "query (patch)"


def test_downsampled_time_axis_keeps_positional_labels(rng):
    times = TimeAxis(1500, 0.02)
    amap = AttentionMap(random_attention(rng, (1500,)), times, {"layer": "decoder.3"})
    ax = heatmap(amap, max_labels=100)
    assert ax.images[0].get_array().shape == (1, 100)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    # 100 blocks of 15 frames, every 4th labelled (at most 30 ticks): frames 0 and 60
    assert labels[:2] == ["0.01s", "1.21s"] and len(labels) == 25
    assert "decoder.3" in ax.get_title()


def test_sparse_graph_grid_is_densified():
    nodes = NodeAxis([10, 11, 12])
    edges = np.array([[0, 1, 2, 0], [1, 1, 1, 2]])  # key -> query
    grid = AttentionGrid(np.array([[[0.2, 0.3, 0.5, 1.0]]], np.float32), nodes, edge_index=edges)
    ax = heatmap(grid)
    expected = np.array([[0, 0, 0], [0.2, 0.3, 0.5], [1.0, 0, 0]])
    np.testing.assert_allclose(ax.images[0].get_array(), expected, rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "11", "12"]
    assert "rows not normalised" in _colorbars(ax.figure)[0].get_ylabel()


def test_bad_input_gives_clear_errors(rng):
    grid = _token_grid(rng)
    with pytest.raises(LookupError, match=r"layer 5 out of range: the grid has 2 layers"):
        heatmap(grid, layer=5)
    with pytest.raises(IndexError, match=r"head 3 out of range: the grid has 3 heads \(0, 1, 2\)"):
        heatmap(grid, head=3)
    with pytest.raises(LookupError, match="no head 'max'.*one of the labels or 'mean'"):
        heatmap(grid, head="max")
    with pytest.raises(ValueError, match="max_labels"):
        heatmap(grid, max_labels=1)
    with pytest.raises(ValueError, match="rainbow"):
        heatmap(grid, cmap="jet")
    with pytest.raises(TypeError, match="AttentionGrid or AttentionMap"):
        heatmap(grid.values)
    empty = AttentionGrid(np.zeros((1, 1, 0, 0), np.float32), TokenAxis([]))
    with pytest.raises(ValueError, match="empty grid"):
        heatmap(empty)
    with pytest.raises(ValueError, match="empty AttentionMap"):
        heatmap(AttentionMap(np.zeros(0, np.float32), TokenAxis([])))


def test_head_matrix_reports_normalisation(rng):
    grid = _token_grid(rng)
    m = head_matrix(grid, 0, 1)
    assert m.values.shape == (12, 12) and m.normalised == "rows sum to 1" and m.head == "1"


def test_dollar_signs_in_tokens_are_drawn_as_text():
    labels = [r"$\frac$", "costs", "$5", "$"]  # would be (broken) mathtext otherwise
    grid = AttentionGrid(np.full((1, 1, 4, 4), 0.25, np.float32), TokenAxis(labels))
    ax = heatmap(grid)
    ax.figure.savefig(io.BytesIO(), format="png")
    assert [t.get_text() for t in ax.get_xticklabels()] == labels


def test_rendering_is_deterministic(rng):
    grid = _token_grid(rng, labels=WORDS)
    outputs = []
    for _ in range(2):
        buffer = io.BytesIO()
        ax = heatmap(grid, 1, 1)
        ax.figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        outputs.append(buffer.getvalue())
    assert outputs[0] == outputs[1]


def test_saved_png_sizes_for_short_and_long_inputs(rng, tmp_path):
    short = save_figure(heatmap(_token_grid(rng, labels=WORDS)).figure, tmp_path / "short.png")
    long = save_figure(heatmap(_token_grid(rng, n_tokens=300, layers=1, heads=1)).figure, tmp_path / "l.png")
    from PIL import Image
    w_short, _ = Image.open(short).size
    w_long, _ = Image.open(long).size
    assert 400 < w_short < w_long < 2200  # grows with the input, capped for long ones
