"""Spectrogram-aligned strips and encoder heatmaps (synthetic grids, no model)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import QuadMesh

from multiattn import AttentionGrid, TimeAxis, TokenAxis
from multiattn.renderers.audio import (
    alignment_strips,
    self_attention_heatmap,
    token_attention_over_time,
    word_links,
)

from .conftest import random_attention

_LABELS = ["<|startoftranscript|>", "<|notimestamps|>", " hel", "lo", " world", "<|endoftext|>"]
_SPECIAL = [True, True, False, False, False, True]


def _cross(rng, n_frames=50):
    values = random_attention(rng, (4, 6, len(_LABELS), n_frames))
    return AttentionGrid(values, TokenAxis(_LABELS, special_mask=_SPECIAL), TimeAxis(n_frames, 0.02),
                         kind="cross", meta={"alignment_heads": [[3, 0], [3, 1]]})


def _meshes(ax):
    return [c for c in ax.collections if isinstance(c, QuadMesh)]


def test_token_attention_uses_the_predicting_row(rng):
    cross = _cross(rng)
    att = token_attention_over_time(cross)
    expected = cross.values[3, :2].mean(0)
    assert att.shape == (6, 50)
    assert np.allclose(att[1:], expected[:-1] / expected[:-1].sum(1, keepdims=True), atol=1e-6)
    assert not att[0].any()
    with pytest.raises(ValueError, match="outside"):
        token_attention_over_time(cross, heads=[(9, 0)])


def test_alignment_strips_share_the_time_axis(rng):
    cross = _cross(rng)
    audio = np.sin(np.arange(16000) / 16000 * 2 * np.pi * 300).astype(np.float32)
    words = [{"word": "hello", "start": 0.1, "end": 0.5, "tokens": [2, 3]},
             {"word": "world", "start": 0.6, "end": 0.9, "tokens": [4]}]
    fig = alignment_strips(cross, audio, 16000, words=words)
    plot_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_xlabel() != ""
                 or _meshes(ax)]
    strips = [ax for ax in fig.axes if len(_meshes(ax)) == 1 and ax.get_yticklabels()
              and ax.get_yticklabels()[0].get_text() in ("hello", "world")]
    assert [ax.get_yticklabels()[0].get_text() for ax in strips] == ["hello", "world"]
    for ax in strips:
        x = _meshes(ax)[0].get_coordinates()[0, :, 0]
        # frame k covers 20k .. 20(k+1) ms
        assert np.allclose(x, np.arange(51) * 0.02)
    assert plot_axes[0].get_xlim() == pytest.approx((0.0, 1.0))
    assert strips[-1].get_xlabel().startswith("time (s)")
    # the word's strip is the sum of its tokens' predicting rows, renormalised
    att = token_attention_over_time(cross)
    hello = att[[2, 3]].sum(0)
    values = _meshes(strips[0])[0].get_array().reshape(-1)
    assert np.allclose(values, hello / hello.sum(), atol=1e-6)
    labels = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert labels[:2] == ["hello", "world"]
    assert any("cross-attention" in ax.get_ylabel() for ax in fig.axes)  # colorbar label
    plt.close(fig)


def test_alignment_strips_per_token_and_bad_input(rng):
    cross = _cross(rng)
    audio = np.full(16000, 0.1, np.float32)
    fig = alignment_strips(cross, audio, 16000, waveform=False)
    names = [ax.get_yticklabels()[0].get_text() for ax in fig.axes
             if len(_meshes(ax)) == 1 and ax.get_yticklabels()]
    assert [n for n in names if n in {"hel", "lo", "world"}] == ["hel", "lo", "world"]
    assert not any(ax.texts for ax in fig.axes)  # no word labels without words
    plt.close(fig)
    with pytest.raises(ValueError, match="mono"):
        alignment_strips(cross, np.zeros((100, 2)), 16000)
    with pytest.raises(ValueError, match="'tokens'"):
        alignment_strips(cross, audio, 16000, words=[{"word": "x", "start": 0, "end": 1}])
    plt.close("all")


def test_self_attention_heatmap_in_seconds(rng):
    grid = AttentionGrid(random_attention(rng, (2, 3, 40, 40)), TimeAxis(40, 0.02))
    ax = self_attention_heatmap(grid, layer=1, head=2)
    mesh = _meshes(ax)[0]
    coords = mesh.get_coordinates()
    assert np.allclose(coords[0, :, 0], np.arange(41) * 0.02)
    assert np.allclose(mesh.get_array().reshape(40, 40), grid.values[1, 2])
    assert ax.get_xlim() == pytest.approx((0.0, 0.8)) and ax.get_ylim() == pytest.approx((0.8, 0.0))
    assert ax.get_xlabel() == "key time (s)" and "head 2" in ax.get_title()
    assert len(ax.figure.axes) == 2  # colorbar
    plt.close(ax.figure)
    tokens = AttentionGrid(random_attention(rng, (1, 1, 3, 3)), TokenAxis(list("abc")))
    with pytest.raises(ValueError, match="TimeAxis"):
        self_attention_heatmap(tokens)


def test_word_links_draw_top_frames(rng):
    from matplotlib.patches import ConnectionPatch

    cross = _cross(rng)
    audio = np.sin(np.arange(16000) / 16000 * 2 * np.pi * 300).astype(np.float32)
    words = [{"word": "hello", "start": 0.1, "end": 0.5, "tokens": [2, 3], "confidence": 0.9},
             {"word": "world", "start": 0.6, "end": 0.9, "tokens": [4], "confidence": 0.4}]
    fig = word_links(cross, audio, 16000, words=words, top_k=2)
    links = [a for a in fig.artists if isinstance(a, ConnectionPatch)]
    assert len(links) == 4  # two words x their two strongest frames
    plt.close(fig)
    with pytest.raises(ValueError, match="mono"):
        word_links(cross, np.zeros((10, 2)), 16000, words=words)
