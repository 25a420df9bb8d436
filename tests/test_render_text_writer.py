"""renderers/_write_text.py: the text writer's one-draw save gives the same pictures as save_figure."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from multiattn import AttentionGrid, TokenAxis  # noqa: E402
from multiattn.renderers import _write_text  # noqa: E402
from multiattn.renderers.figure import save_figure  # noqa: E402
from multiattn.renderers.writers import write_text_report  # noqa: E402

from .conftest import random_attention  # noqa: E402

PICTURES = ("heatmap", "lines", "model_view", "summary")


@pytest.fixture
def grid(rng):
    words = ["[CLS]", "a", "$x$", "cat", "sat", "[SEP]"]
    return AttentionGrid(random_attention(rng, (2, 3, 6, 6)), TokenAxis(words), meta={"model": "toy"})


def test_one_draw_save_writes_the_same_pixels_as_save_figure(grid, tmp_path, monkeypatch):
    fast = write_text_report(grid, tmp_path / "fast")
    monkeypatch.setattr(_write_text, "save_once", save_figure)  # the reference: tight box, two draws
    slow = write_text_report(grid, tmp_path / "slow")
    names = [f"{n}.png" for n in PICTURES] + ["metrics.json"]
    assert [p.name for p in fast] == [p.name for p in slow] == names
    for name in PICTURES:
        a = np.asarray(Image.open(tmp_path / "fast" / f"{name}.png"))
        b = np.asarray(Image.open(tmp_path / "slow" / f"{name}.png"))
        assert a.shape == b.shape and a.shape[0] > 100
        np.testing.assert_array_equal(a, b, err_msg=name)
    metrics = [(tmp_path / part / "metrics.json").read_text() for part in ("fast", "slow")]
    assert metrics[0] == metrics[1]


def _skipped(fig) -> list[tuple]:
    """(Axes, string, drawn box) of every string of ``fig`` left out of the layout."""
    renderer = fig.canvas.get_renderer()
    return [(ax, text, box) for ax in fig.axes for artist in ax.artists if not artist.get_in_layout()
            for text, box in zip(artist.strings, artist.boxes(renderer))]


def _outside_their_axes(fig) -> list[str]:
    """Strings of ``fig`` left out of the layout whose drawn box (with its background box) leaves
    the Axes they belong to."""
    renderer = fig.canvas.get_renderer()
    bad = []
    for ax, text, ext in _skipped(fig):
        box = ax.get_window_extent(renderer)
        if not (box.x0 <= ext.x0 and ext.x1 <= box.x1 and box.y0 <= ext.y0 and ext.y1 <= box.y1):
            bad.append(text)
    return bad


@pytest.mark.parametrize("shape", [(2, 3, 6, 6), (6, 12, 18, 18), (12, 16, 9, 9)])
def test_numbers_left_out_of_the_layout_stay_inside_their_axes(rng, shape):
    # summary cell numbers and model-view corner scores skip layout / tight-box measuring; that only
    # keeps the picture the same while each one lies inside its own Axes
    import matplotlib.pyplot as plt

    from multiattn.analysis.textmetrics import text_metrics
    from multiattn.renderers.modelview import model_view
    from multiattn.renderers.summary import head_summary

    grid = AttentionGrid(random_attention(rng, shape), TokenAxis([f"t{i}" for i in range(shape[-1])]))
    report = text_metrics(grid)
    metrics = {k: np.asarray(report["per_head"][k], dtype=float)
               for k in ("entropy_normalized", "attention_distance_tokens", "first_token_share")}
    summary = head_summary(metrics, report["head_types"])
    view = model_view(grid, metrics["entropy_normalized"], "entropy")
    for fig in (summary, view):
        fig.canvas.draw()  # solves the layout and places the score boxes
    skipped = [s for fig in (summary, view) for s in _skipped(fig)]
    assert len(skipped) == 5 * shape[0] * shape[1]  # 3 metric panels + types + the model view's scores
    assert _outside_their_axes(summary) == [] and _outside_their_axes(view) == []
    plt.close("all")
