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
