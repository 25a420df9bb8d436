"""renderers/_text_batch.py: many strings drawn by one artist land where matplotlib's Text draws them."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from multiattn.errors import MultiattnValueError  # noqa: E402
from multiattn.renderers._text_batch import TextBatch, edge_labels, value_strings  # noqa: E402

_SAME_LINE_BOX = tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) >= (3, 11)
STRINGS = ["0.65", "n/a", "layer.11", "$x$", "gy"]
POSITIONS = [(0.5, 0.5), (2.0, 1.0), (3.5, 3.0), (1.0, 2.5), (3.0, 0.5)]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _ink(draw) -> np.ndarray:
    """Grey pixels of a 4 x 4-data-unit Axes after ``draw(ax)`` (nothing else drawn)."""
    fig = plt.figure(figsize=(3, 2), dpi=120)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 4)
    ax.set_axis_off()
    draw(ax)
    fig.canvas.draw()
    ink = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(-1)
    plt.close(fig)
    return ink


def _box(ink: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(ink < 250)
    return rows.min(), rows.max(), cols.min(), cols.max()


@pytest.mark.parametrize(("ha", "va"), [("center", "center"), ("right", "top"), ("left", "bottom")])
@pytest.mark.parametrize(("xy", "text"), list(zip(POSITIONS, STRINGS)))
def test_each_string_lands_where_a_text_with_the_same_alignment_does(xy, text, ha, va):
    reference = _ink(lambda ax: ax.text(*xy, text, ha=ha, va=va, fontsize=7, parse_math=False))
    drawn = _ink(lambda ax: ax.add_artist(TextBatch([xy], [text], fontsize=7, ha=ha, va=va)))
    if _SAME_LINE_BOX:  # the font-table line box Text uses since matplotlib 3.11: same pixels
        np.testing.assert_array_equal(drawn, reference)
    else:  # older Text measured the line box on "lp": within 2 pixels, same glyphs
        assert np.abs(np.subtract(_box(drawn), _box(reference))).max() <= 2
        assert _box(drawn)[3] - _box(drawn)[2] == _box(reference)[3] - _box(reference)[2]


def test_colours_offsets_and_boxes():
    fig, ax = plt.subplots(figsize=(3, 2), dpi=120)
    ax.add_artist(TextBatch([(0.25, 0.5), (0.75, 0.5)], ["88", "88"], fontsize=10, colors=["red", "blue"]))
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    left, right = rgb[:, : rgb.shape[1] // 2], rgb[:, rgb.shape[1] // 2:]
    assert (left[..., 0] - left[..., 2]).max() > 150 and (right[..., 2] - right[..., 0]).max() > 150
    shifted = _ink(lambda ax: ax.add_artist(TextBatch([(1, 2)], ["88"], fontsize=10, offset=(12, -6))))
    reference = _ink(lambda ax: ax.text(1, 2, "88", fontsize=10, ha="center", va="center"))
    moved = (_box(shifted)[2] - _box(reference)[2], _box(shifted)[0] - _box(reference)[0])
    assert moved == (20, 10)  # 12 points right, 6 down at 120 dpi
    boxed = TextBatch([(1, 2)], ["0.5"], fontsize=10, box={"facecolor": "white", "alpha": 0.8, "pad": 0.5})
    plain = TextBatch([(1, 2)], ["0.5"], fontsize=10)
    for artist in (boxed, plain):
        fig.axes[0].add_artist(artist)
    outer, inner = boxed.boxes()[0], plain.boxes()[0]
    assert outer.width == pytest.approx(inner.width + 2 * 0.5 * 10 * 120 / 72)  # pad: half the font size
    assert boxed.get_window_extent().bounds == outer.bounds


def test_vector_backends_and_layout():
    fig, ax = plt.subplots()
    edge_labels(ax, [(0, 0.5)], ["$\\frac$ row"], "left", fontsize=8, pad=2, name="rows")
    ax.add_artist(TextBatch([(0.5, 0.5)], ["0.50"], fontsize=7, box={"facecolor": "w", "pad": 0.2}))
    for fmt in ("svg", "pdf"):  # renderers whose y axis runs down / up: both draw (no mathtext)
        out = io.BytesIO()
        fig.savefig(out, format=fmt)
        assert out.getvalue()
    tight = fig.get_tightbbox()
    assert tight.x0 < ax.get_tightbbox().x0 + 1 and tight.x0 < ax.get_position().x0 * fig.get_figwidth()


def test_helpers_and_errors():
    assert value_strings(np.array([[0.125, np.nan], [1.0, -0.5]])) == ["0.12", "n/a", "1.00", "-0.50"]
    with pytest.raises(MultiattnValueError, match="2 positions, 1 strings"):
        TextBatch([(0, 0), (1, 1)], ["a"], fontsize=7)
