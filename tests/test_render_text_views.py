"""renderers/modelview.py, lines.py, summary.py: model view, lines view and head summary."""

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from multiattn import AttentionGrid, TokenAxis
from multiattn.renderers.heatmap import block_reduce
from multiattn.renderers.lines import lines_view
from multiattn.renderers.modelview import model_view
from multiattn.renderers.summary import head_summary

from .conftest import random_attention

WORDS = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "and", "then", "it", "slept", "[SEP]"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def grid(rng):
    values = random_attention(rng, (3, 4, len(WORDS), len(WORDS)))
    return AttentionGrid(values, TokenAxis(WORDS, [w.startswith("[") for w in WORDS]),
                         meta={"model": "toy"})


def _panels(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def _tile(fig, layer, head, shape):
    """The RGBA pixels of thumbnail (layer, head) in the model view's one tiled image."""
    q, k = shape
    return fig.axes[0].images[0].get_array()[layer * q:(layer + 1) * q, head * k:(head + 1) * k]


def _mapped(fig, values):
    """``values`` coloured independently with the colorbar's colormap and limits (uint8 RGBA)."""
    mappable = _mappable(fig)
    return mappable.cmap(mappable.norm(values), bytes=True)


def _mappable(fig):
    """What the model view's colorbar describes (its colormap and shared limits)."""
    return _colorbars(fig)[0]._colorbar.mappable


def _colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def _suptitle(fig):
    return " ".join(fig.get_suptitle().split())  # wrapped to the figure width


def _strings(ax, label):
    """The strings of the one text artist of ``ax`` called ``label`` (labels, scores, cell values)."""
    (artist,) = [a for a in ax.artists if a.get_label() == label]
    return artist.strings


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, metadata={"Software": None})
    return buffer.getvalue()


# -- model view -------------------------------------------------------------------------------

def test_model_view_has_one_thumbnail_per_head_on_a_shared_scale(grid):
    fig = model_view(grid)
    assert isinstance(fig, Figure)
    (ax,) = _panels(fig)
    assert len(ax.images) == 1 and len(_colorbars(fig)) == 1  # one tiled image, not L x H Axes
    assert ax.images[0].get_array().shape == (3 * 12, 4 * 12, 4)
    mappable = _mappable(fig)
    assert mappable.norm.vmax == pytest.approx(np.percentile(grid.values, 98), rel=1e-5)
    for layer, head in [(0, 0), (1, 2), (2, 3)]:  # every tile on the same scale
        expected = _mapped(fig, grid.values[layer, head])
        np.testing.assert_array_equal(_tile(fig, layer, head, (12, 12)), expected)
    assert not np.array_equal(_tile(fig, 1, 2, (12, 12)), _tile(fig, 1, 3, (12, 12)))
    assert _strings(ax, "row labels") == ["layer 0", "layer 1", "layer 2"]
    assert _strings(ax, "column labels") == [f"head {h}" for h in range(4)]
    rows = next(a for a in ax.artists if a.get_label() == "row labels")
    assert rows.positions[:, 1].tolist() == [0.5, 1.5, 2.5] and ax.get_ylim() == (3.0, 0.0)
    assert not ax.get_xticks().size and not ax.get_yticks().size  # labels drawn as one artist each
    separators = ax.collections[0].get_segments()
    assert len(separators) == (4 - 1) + (3 - 1)  # lines between heads and between layers
    label = _colorbars(fig)[0].get_ylabel()
    assert "rows sum to 1" in label
    assert "one colour scale for all heads" in _suptitle(fig) and "toy" in _suptitle(fig)


def test_model_view_default_cmap_follows_the_sign(grid):
    assert _mappable(model_view(grid)).get_cmap().name == "viridis"
    diff = AttentionGrid(grid.values - grid.values[::-1], grid.query, check_rows=False)
    fig = model_view(diff)
    mappable = _mappable(fig)
    assert mappable.get_cmap().name == "RdBu_r"
    assert mappable.norm.vmin == pytest.approx(-mappable.norm.vmax)
    np.testing.assert_array_equal(_tile(fig, 2, 1, (12, 12)), _mapped(fig, diff.values[2, 1]))
    assert "centred on 0" in _colorbars(fig)[0].get_ylabel()


def test_model_view_annotates_scores(grid):
    scores = np.arange(12, dtype=float).reshape(3, 4) / 10
    scores[2, 3] = np.nan
    fig = model_view(grid, scores, "entropy (nats)")
    (numbers,) = [a for a in _panels(fig)[0].artists if a.get_label() == "scores"]
    assert numbers.strings[:6:5] == ["0.00", "0.50"] and numbers.strings[11] == "n/a"
    x, y = numbers.positions[5]  # layer 1, head 1: top-right corner of its tile
    assert 1.9 < x < 2 and 1 < y < 1.1
    fig.canvas.draw()  # the drawn boxes sit in that corner: right of the tile's middle, top half
    renderer = fig.canvas.get_renderer()
    box = numbers.boxes(renderer)[5]
    (x0, y0), (x1, y1) = _panels(fig)[0].transData.transform([(1, 2), (2, 1)])  # tile (1, 1), y down
    assert (x0 + x1) / 2 < box.x0 < box.x1 <= x1 + 0.5 and (y0 + y1) / 2 < box.y0 < box.y1 <= y1 + 0.5
    assert "corner number = entropy (nats)" in _suptitle(fig)


def test_model_view_downsamples_long_inputs(rng):
    long = AttentionGrid(random_attention(rng, (1, 2, 100, 100)), TokenAxis([str(i) for i in range(100)]))
    fig = model_view(long, max_size=48)
    assert _panels(fig)[0].images[0].get_array().shape == (34, 2 * 34, 4)  # blocks of 3
    reduced = block_reduce(long.values[0, 1].astype(np.float64), 3, 3)
    np.testing.assert_array_equal(_tile(fig, 0, 1, (34, 34)), _mapped(fig, reduced))
    assert "downsampled 100x100 -> 34x34" in _suptitle(fig)


def test_model_view_errors(grid):
    with pytest.raises(ValueError, match=r"shape \(layers, heads\) = \(3, 4\), got \(4, 3\)"):
        model_view(grid, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="max_size"):
        model_view(grid, max_size=1)
    with pytest.raises(ValueError, match="empty grid"):
        model_view(AttentionGrid(np.zeros((0, 2, 3, 3), np.float32), TokenAxis(list("abc"))))
    with pytest.raises(TypeError, match="AttentionGrid"):
        model_view(grid.values)


def test_model_view_is_deterministic(grid):
    assert _png(model_view(grid, np.ones((3, 4)), "x")) == _png(model_view(grid, np.ones((3, 4)), "x"))


# -- lines view -------------------------------------------------------------------------------

def test_lines_view_draws_one_line_per_weight_above_threshold(grid):
    ax = lines_view(grid, layer=1, head=3, min_weight=0.05)
    assert isinstance(ax, Axes)
    weights = grid.values[1, 3]
    lines = ax.collections[0]
    segments = lines.get_segments()
    assert len(segments) == int((weights >= 0.05).sum())
    q, k = -segments[0][0, 1], -segments[0][1, 1]  # y = -index
    assert lines.get_colors()[0][3] == pytest.approx(weights[int(q), int(k)], rel=1e-5)
    widths = np.asarray(lines.get_linewidths())
    alphas = lines.get_colors()[:, 3]
    assert np.all(np.diff(widths[np.argsort(alphas)]) >= -1e-9)  # wider = more opaque = heavier
    assert "weights < 0.05 hidden" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0.1", "0.5", "1"]


def test_lines_view_labels_both_columns_and_greys_specials(grid):
    ax = lines_view(grid)
    texts = [t for t in ax.texts if t.get_text() not in ("query", "key")]
    assert [t.get_text() for t in texts] == WORDS + WORDS
    left = [t for t in texts if t.get_position()[0] == 0.0]
    assert [t.get_ha() for t in left] == ["right"] * len(WORDS)
    assert to_rgba(left[0].get_color()) == to_rgba("0.55")
    assert to_rgba(left[1].get_color()) == to_rgba("black")


def test_lines_view_highlights_one_query(grid):
    ax = lines_view(grid, layer=0, head=0, query="cat", min_weight=0.0)
    lines = ax.collections[0]
    orange = np.array(to_rgba("tab:orange")[:3])
    highlighted = np.all(np.isclose(lines.get_colors()[:, :3], orange), axis=1)
    assert highlighted.sum() == len(WORDS)  # every key of query "cat" (min_weight 0)
    starts = {-seg[0, 1] for seg, hi in zip(lines.get_segments(), highlighted) if hi}
    assert starts == {2.0}
    bold = [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"]
    assert "cat" in bold and "query 'cat' highlighted" in ax.get_title()


def test_lines_view_exact_weights_on_a_hand_made_head():
    weights = np.array([[[[1.0, 0.0, 0.0], [0.7, 0.3, 0.0], [0.0, 0.01, 0.99]]]], np.float32)
    ax = lines_view(AttentionGrid(weights, TokenAxis(list("abc"))), min_weight=0.02)
    lines = ax.collections[0]
    pairs = [(-s[0, 1], -s[1, 1]) for s in lines.get_segments()]
    assert pairs == [(0, 0), (1, 0), (1, 1), (2, 2)]  # 0.01 dropped
    np.testing.assert_allclose(lines.get_colors()[:, 3], [1.0, 0.7, 0.3, 0.99], rtol=1e-6)


def test_lines_view_cross_attention_columns_of_different_length(rng):
    source, target = TokenAxis(["a", "b", "c", "d", "e"]), TokenAxis(["x", "y"])
    cross = AttentionGrid(random_attention(rng, (1, 1, 2, 5)), target, source, kind="cross")
    ax = lines_view(cross, min_weight=0.0)
    texts = [t.get_text() for t in ax.texts if t.get_text() not in ("query", "key")]
    assert texts == ["x", "y", "a", "b", "c", "d", "e"]
    ends = {(-s[0, 1], -s[1, 1]) for s in ax.collections[0].get_segments()}
    assert ends == {(q, k) for q in range(2) for k in range(5)}


def test_lines_view_long_input_is_drawn_in_blocks(rng):
    labels = [f"t{i}" for i in range(300)]
    long = AttentionGrid(random_attention(rng, (1, 1, 300, 300)), TokenAxis(labels))
    ax = lines_view(long, max_tokens=120, query=150, min_weight=0.05)
    blocks = block_reduce(long.values[0, 0].astype(float), 3, 3)  # ceil(300 / 120) = 3
    lines = ax.collections[0]
    assert len(lines.get_segments()) == int((blocks >= 0.05).sum())
    texts = [t.get_text() for t in ax.texts if t.get_text() not in ("query", "key")]
    assert len(texts) == 200 and texts[:2] == ["0 t0", "3 t3"]
    assert "query '150 t150' highlighted" in ax.get_title()
    assert "300 positions in blocks of 3" in ax.get_title()
    with pytest.raises(ValueError, match="max_tokens"):
        lines_view(long, max_tokens=1)


def test_lines_view_errors(grid):
    with pytest.raises(ValueError, match="min_weight"):
        lines_view(grid, min_weight=1.5)
    with pytest.raises(IndexError, match="query 99 out of range"):
        lines_view(grid, query=99)
    with pytest.raises(IndexError, match="layer 7 out of range"):
        lines_view(grid, layer=7)
    signed = AttentionGrid(np.array([[[[-0.5, 1.5], [0.5, 0.5]]]], np.float32), TokenAxis(list("ab")),
                           check_rows=False)
    with pytest.raises(ValueError, match="non-negative.*use heatmap"):
        lines_view(signed)


def test_views_draw_dollar_signs_as_text():
    labels = [r"$\frac$", "$5"]
    grid = AttentionGrid(np.full((1, 1, 2, 2), 0.5, np.float32), TokenAxis(labels),
                         layers=[r"$\sqrt$"], meta={"model": r"$\x$"})
    types = [{"layer": 0, "head": 0, "type": "$\\", "score": 1}]
    summary = head_summary({r"$\bad$": np.ones((1, 1))}, types, layer_labels=[r"$\y$"])
    for fig in (lines_view(grid).figure, model_view(grid), summary):
        fig.savefig(io.BytesIO(), format="png")  # mathtext would raise a ParseException


def test_lines_view_is_deterministic(grid):
    assert _png(lines_view(grid, 2, 1).figure) == _png(lines_view(grid, 2, 1).figure)


# -- head summary -----------------------------------------------------------------------------

TYPES = [
    {"layer": 0, "head": 0, "type": "previous_token", "score": 0.97},
    {"layer": 0, "head": 1, "type": "broad", "score": 0.85},
    {"layer": 1, "head": 0, "type": "first_token", "score": 0.60},
    {"layer": 1, "head": 0, "type": "broad", "score": 0.90},  # higher score wins for (1, 0)
]


def test_head_summary_panels_values_and_colorbars():
    entropy = np.array([[0.1, 0.2, np.nan], [1.5, 2.0, 2.5]])
    distance = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    fig = head_summary({"entropy": entropy, "distance": distance}, head_types=TYPES)
    assert isinstance(fig, Figure)
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == ["entropy", "distance", "head type (number = score)"]
    assert len(_colorbars(fig)) == 2  # one per metric, the type map has a legend instead
    assert _strings(panels[0], "cell values") == ["0.10", "0.20", "n/a", "1.50", "2.00", "2.50"]
    im = panels[1].images[0]
    assert (im.norm.vmin, im.norm.vmax) == (1.0, 6.0)  # each panel: its own min to max
    # a 2-layer panel is shorter than the one-line label: name and scale note on two lines
    assert _colorbars(fig)[0].get_ylabel() == "entropy\n(scale: panel min to max)"
    tall = head_summary({"entropy": np.ones((6, 3))})
    assert _colorbars(tall)[0].get_ylabel() == "entropy (scale: panel min to max)"
    legend = [t.get_text() for t in panels[2].get_legend().get_texts()]
    assert legend == ["(not in table)", "broad", "previous_token"]
    shown = panels[2].images[0].get_array()
    assert shown[0, 0] == 2 and shown[0, 1] == 1 and shown[1, 0] == 1 and shown[0, 2] == 0
    assert _strings(panels[2], "cell values") == ["0.97", "0.85", "n/a", "0.90", "n/a", "n/a"]
    numbers = next(a for a in panels[0].artists if a.get_label() == "cell values")
    assert numbers.positions.tolist() == [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]]  # cell centres
    white, black = (1, 1, 1, 1), (0, 0, 0, 1)  # dark viridis -> white, yellow-green and the grey n/a -> black
    assert [tuple(c) for c in numbers.colors] == [white, white, black, white, black, black]


def test_head_summary_types_only_and_labels():
    fig = head_summary(head_types=TYPES[:2], layer_labels=["enc.0"], head_labels=["a", "b"])
    (panel,) = _panels(fig)
    assert _strings(panel, "layer labels") == ["enc.0"]
    assert _strings(panel, "head labels") == ["a", "b"]
    assert (panel.get_xlabel(), panel.get_ylabel()) == ("head", "layer")


def test_head_summary_errors():
    with pytest.raises(ValueError, match="nothing to draw"):
        head_summary({})
    with pytest.raises(ValueError, match="same .layers, heads. shape"):
        head_summary({"a": np.zeros((2, 3)), "b": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"per-layer vectors need a head axis"):
        head_summary({"cls share": np.zeros(6)})
    with pytest.raises(ValueError, match="all NaN"):
        head_summary({"a": np.full((2, 2), np.nan)})
    with pytest.raises(ValueError, match="lacks \\['score'\\]"):
        head_summary({"a": np.zeros((2, 2))}, [{"layer": 0, "head": 0, "type": "self"}])
    with pytest.raises(ValueError, match=r"outside the metrics' \(layers, heads\) shape \(1, 1\)"):
        head_summary({"a": np.zeros((1, 1))}, TYPES)
    with pytest.raises(ValueError, match="integer indices"):
        head_summary(head_types=[{"layer": "encoder.0", "head": 0, "type": "self", "score": 1.0}])
    with pytest.raises(ValueError, match="head_types is empty"):
        head_summary({"a": np.zeros((1, 1))}, [])
    with pytest.raises(ValueError, match="3 layer_labels for 2 layers"):
        head_summary({"a": np.zeros((2, 2))}, layer_labels=["x", "y", "z"])


def test_head_summary_is_deterministic():
    metrics = {"entropy": np.arange(6.0).reshape(2, 3)}
    assert _png(head_summary(metrics, TYPES)) == _png(head_summary(metrics, TYPES))
