"""Every user string is drawn as plain text: ``$\\macro$`` in a token, word or node label is not
matplotlib mathtext (which fails on unknown macros with an empty message) (issue 18)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from multiattn import AttentionGrid, NodeAxis, TimeAxis, TokenAxis  # noqa: E402
from multiattn.adapters.graph import from_edges  # noqa: E402
from multiattn.renderers import audio, heatmap, lines, modelview, network  # noqa: E402
from multiattn.renderers.figure import save_figure  # noqa: E402

NASTY = ["$\\macro$", "a$b", "$x^{$", "\\undefined", "50$"]


def _token_grid() -> AttentionGrid:
    rng = np.random.default_rng(0)
    values = rng.random((2, 2, len(NASTY), len(NASTY)))
    return AttentionGrid(values / values.sum(-1, keepdims=True), TokenAxis(NASTY))


def _saved_and_plain(figure_or_axes, tmp_path, name, *, has_user_strings=True) -> None:
    figure = getattr(figure_or_axes, "figure", figure_or_axes)
    texts = [t for t in figure.findobj(Text) if "$" in t.get_text() or "\\" in t.get_text()]
    assert bool(texts) == has_user_strings
    assert not any(t.get_parse_math() for t in texts)
    assert save_figure(figure, tmp_path / f"{name}.png").stat().st_size > 0


def test_text_views_draw_tokens_verbatim(tmp_path):
    grid = _token_grid()
    _saved_and_plain(heatmap.heatmap(grid, layer=0, head=1), tmp_path, "heatmap")
    _saved_and_plain(modelview.model_view(grid), tmp_path, "model_view", has_user_strings=False)
    _saved_and_plain(lines.lines_view(grid, layer=1, head=0), tmp_path, "lines")


def test_graph_drawing_draws_node_labels_verbatim(tmp_path):
    nodes = NodeAxis(ids=list(range(3)), labels=NASTY[:3])
    grid = from_edges([[0, 1, 2, 0], [1, 2, 0, 2]], [1.0, 1.0, 0.5, 0.5], nodes=nodes, normalize=True)
    _saved_and_plain(network.draw(grid, labels=True, layout="spectral"), tmp_path, "graph")


def test_audio_strips_draw_words_verbatim(tmp_path):
    tokens = TokenAxis(["<|sot|>", *NASTY[:3], "<|eot|>"], special_mask=[True, False, False, False, True])
    values = np.random.default_rng(1).random((1, 1, len(tokens), 50)).astype(np.float32)
    cross = AttentionGrid(values / values.sum(-1, keepdims=True), tokens, TimeAxis(50, 0.02), kind="cross")
    words = [{"word": w, "start": 0.1 * i, "end": 0.1 * i + 0.08, "tokens": [i + 1]}
             for i, w in enumerate(NASTY[:3])]
    wave = np.random.default_rng(2).normal(0, 0.1, 16000).astype(np.float32)
    _saved_and_plain(audio.alignment_strips(cross, wave, 16000, words=words), tmp_path, "strips")
