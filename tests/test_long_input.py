"""Long inputs: the capture writes layers into its grid as they are made, and the guard says so.

The values themselves are checked against an independent eager forward for every text family in
``tests/test_sweep_text.py``; here: the writer on hand-built layers, the guard's two estimates
(hand-computed), and a capture that fits only because its layers are written as they come.
"""

import numpy as np
import pytest
import torch

from multiattn import _memory
from multiattn.adapters import _guard
from multiattn.adapters._text_grid import LayerWriter
from multiattn.adapters.text import capture
from multiattn.errors import AttentionTooLargeError

from ._text_tiny import tiny_model, word_tokenizer

IDS = [5, 17, 33, 8, 61, 42, 9, 23, 11, 70]


def _causal_layer(heads: int, n: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    w = np.tril(rng.random((1, heads, n, n))) + np.eye(n)
    return torch.from_numpy((w / w.sum(-1, keepdims=True)).astype(np.float32))


def test_writer_keeps_every_layer_drops_padding_and_tells_causal():
    layers = [_causal_layer(3, 5, seed) for seed in range(3)]
    keep = np.array([True, True, False, True, True])
    writer = LayerWriter(None, 2, (keep, keep), causal=True)  # one call more than its capacity
    for layer in layers:
        writer("layer", layer)
    want = np.stack([layer[0].numpy()[:, keep][:, :, keep] for layer in layers])
    np.testing.assert_array_equal(writer.result(), want)
    assert writer.causal and writer.count == 3
    full = LayerWriter(None, 1, (np.ones(5, bool), np.ones(5, bool)), causal=True)
    full("layer", torch.full((1, 2, 5, 5), 0.2))
    assert not full.causal  # weight above the diagonal


def test_lower_triangular_check_in_row_blocks():
    from multiattn.adapters._text_grid import _lower_triangular

    layer = np.tril(np.ones((2, 37, 37), dtype=np.float32))
    assert _lower_triangular(layer, chunk=50)  # blocks of 50 // (2 * 37) -> 1 row at a time
    layer[1, 20, 21] = 1e-3
    assert not _lower_triangular(layer, chunk=200)
    assert not _lower_triangular(layer)


def test_peak_estimates_hand_computed():
    grid = 4 * 8 * 1024 * 1024 * 4
    assert _guard.peak_bytes([(4, 8, 1024, 1024)]) == 3 * grid
    assert _guard.peak_bytes([(4, 8, 1024, 1024)], written=True) == grid + 2 * grid // 4 + _guard.SLACK_BYTES
    two = [(2, 4, 10, 10), (2, 4, 6, 10)]  # the largest layer counts for the temporaries
    assert _guard.peak_bytes(two, written=True) == 4 * (800 + 480) + 2 * 4 * 400 + _guard.SLACK_BYTES


def test_written_capture_fits_where_the_tuple_estimate_would_not(monkeypatch):
    llama, bart = tiny_model("llama"), tiny_model("bart")
    n = len(IDS)
    monkeypatch.setattr(_guard, "SLACK_BYTES", 0)
    written = _guard.peak_bytes([(2, 4, n, n)], written=True)
    assert written < _guard.peak_bytes([(2, 4, n, n)])
    monkeypatch.setattr(_memory, "available_bytes", lambda: 2 * written)  # the limit is half of it
    grid = capture(llama, input_ids=IDS)
    assert grid.shape == (2, 4, n, n)
    np.testing.assert_allclose(grid.values.sum(-1), 1.0, atol=1e-5)
    monkeypatch.setattr(_memory, "available_bytes", lambda: 2 * written - 2)
    with pytest.raises(AttentionTooLargeError, match=r"peak ~2\.00×"):
        capture(llama, input_ids=IDS)
    with pytest.raises(AttentionTooLargeError, match=r"peak ~3\.00×"):  # encoder-decoder: the tuple path
        capture(bart, "the cat sat on a mat the dog ran far", processor=word_tokenizer(), target="a dog")
