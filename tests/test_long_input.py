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
    assert _guard.peak_bytes([(4, 8, 1024, 1024)], written=True) == grid + 3 * grid // 4 + _guard.SLACK_BYTES
    two = [(2, 4, 10, 10), (2, 4, 6, 10)]  # the largest layer counts for the temporaries
    assert _guard.peak_bytes(two, written=True) == 4 * (800 + 480) + 3 * 4 * 400 + _guard.SLACK_BYTES


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
    with pytest.raises(AttentionTooLargeError, match=r"peak ~2\.50×"):
        capture(llama, input_ids=IDS)
    # encoder-decoders are written from hooks too (the tuple path's estimate was 3.00×): 12 encoder and
    # 4 decoder tokens, grids 4 × 2 × 4 × (144 + 16 + 48) = 6656 B, + 3 encoder layers 6912 B -> 2.04×
    with pytest.raises(AttentionTooLargeError, match=r"peak ~2\.04×"):
        capture(bart, "the cat sat on a mat the dog ran far", processor=word_tokenizer(), target="a dog")


# ---------------------------------------------------------------- row blocks from queries and keys
def _llama(n_positions: int = 512):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=n_positions)
    return LlamaForCausalLM(config).eval()  # grouped-query attention: 4 query heads per key head


def _float64_eager(model, ids):
    """The full attention of an eager float64 copy of the model: (L, H, N, N)."""
    import copy

    ref = copy.deepcopy(model).double()
    ref.config._attn_implementation = "eager"
    with torch.no_grad():
        out = ref(input_ids=ids, output_attentions=True)
    return np.stack([a[0].numpy() for a in out.attentions]), out.logits[0].numpy()


def _blocks(model, ids, block_rows, **extra):
    from multiattn.adapters._stream import capture_stream
    from multiattn.stream import Entropy, HeadMean, SinkShare, TopK

    reducers = {"entropy": Entropy(), "top": TopK(4), "sink": SinkShare(), "mean": HeadMean()}
    return capture_stream(model, {"input_ids": ids, **extra}, reducers, block_rows=block_rows)


@pytest.mark.parametrize("n_tokens", [64, 150])
def test_block_statistics_equal_the_full_float64_attention(n_tokens):
    from multiattn.analysis import head_entropy

    model = _llama()
    ids = torch.randint(3, 100, (1, n_tokens), generator=torch.Generator().manual_seed(n_tokens))
    full, _ = _float64_eager(model, ids)
    ranked = -np.sort(-full, axis=-1)[..., :4]
    for block_rows in (1, 7, 64, n_tokens, 1000):  # 7 and 64 do not divide 150; 1000 > N
        out = _blocks(model, ids, block_rows)
        assert out["layers"] == ["model.layers.0.self_attn", "model.layers.1.self_attn"]
        np.testing.assert_allclose(out["entropy"].values, head_entropy(full), atol=2e-5)
        np.testing.assert_allclose(out["sink"].values, full[..., 0], atol=2e-6)
        np.testing.assert_allclose(out["mean"].values, full.mean(1, keepdims=True), atol=2e-6)
        np.testing.assert_allclose(out["top"]["values"].values, ranked, atol=2e-6)
        picked = np.take_along_axis(full, out["top"]["indices"].values, -1)
        np.testing.assert_allclose(picked, ranked, atol=2e-6)  # the indices name those weights


def test_block_capture_leaves_the_model_output_and_implementation_unchanged():
    model = _llama()
    ids = torch.randint(3, 100, (1, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        sdpa = model(input_ids=ids).logits[0].numpy()
    seen = []
    handle = model.register_forward_hook(lambda _m, _a, out: seen.append(out.logits[0].numpy()))
    try:
        _blocks(model, ids, 16)
    finally:
        handle.remove()
    np.testing.assert_array_equal(seen[0], sdpa)  # SDPA's own output, bit for bit
    _, eager64 = _float64_eager(model, ids)
    np.testing.assert_allclose(seen[0], eager64, atol=1e-4)
    assert model.config._attn_implementation == "sdpa"


def test_blocks_never_hold_a_square_and_follow_a_padding_mask():
    from multiattn.adapters._stream import capture_stream
    from multiattn.stream import HeadMean, SinkShare

    shapes = []

    class Spy(SinkShare):
        def update_rows(self, start, rows):
            shapes.append(rows.shape)
            super().update_rows(start, rows)

    model = _llama()
    ids = torch.randint(3, 100, (1, 50), generator=torch.Generator().manual_seed(2))
    capture_stream(model, {"input_ids": ids}, {"spy": Spy()}, block_rows=8)
    assert max(b * k for _, b, k in shapes) <= 8 * 50 and max(b for _, b, _ in shapes) == 8
    assert [k for _, _, k in shapes[:7]] == [8, 16, 24, 32, 40, 48, 50]  # causal: keys up to the block

    bert = tiny_model("bert")  # bidirectional, two padded keys: SDPA gets a boolean mask
    mask = torch.tensor([[1] * 8 + [0] * 2])
    inputs = {"input_ids": torch.tensor([IDS]), "attention_mask": mask}
    blocks = capture_stream(bert, inputs, {"mean": HeadMean()}, block_rows=3)["mean"].values
    eager = capture_stream(bert, inputs, {"mean": HeadMean()})["mean"].values  # whole eager layers
    np.testing.assert_allclose(blocks, eager, atol=1e-6)
    assert not blocks[..., 8:].any()


def test_block_rows_refuses_what_it_cannot_compute():
    from multiattn.adapters._stream import capture_stream
    from multiattn.analysis import head_entropy
    from multiattn.errors import MultiattnValueError, UnsupportedModelError
    from multiattn.stream import Entropy, LayerMetric

    ids = {"input_ids": torch.tensor([IDS])}
    with pytest.raises(MultiattnValueError, match="need whole layers"):
        capture_stream(_llama(), ids, {"m": LayerMetric(head_entropy)}, block_rows=4)
    with pytest.raises(UnsupportedModelError, match="does not run on SDPA"):
        capture_stream(tiny_model("gpt_oss"), ids, {"e": Entropy()}, block_rows=4)
    with pytest.raises(MultiattnValueError, match="block_rows must be >= 1"):
        capture_stream(_llama(), ids, {"e": Entropy()}, block_rows=-2)


def test_row_reducers_whole_layer_equals_blocks():
    from multiattn.stream import Entropy, HeadMean, SinkShare, TopK, feed, feed_rows

    rng = np.random.default_rng(3)
    layer = rng.random((3, 11, 11)).astype(np.float32)
    layer /= layer.sum(-1, keepdims=True)
    whole = {"e": Entropy(), "m": HeadMean(), "s": SinkShare(2), "t": TopK(12)}  # k > K: all keys
    rows = {"e": Entropy(), "m": HeadMean(), "s": SinkShare(2), "t": TopK(12)}
    feed(whole, "0", layer)
    feed_rows(rows, "0", layer.shape, [(0, layer[:, :4]), (4, layer[:, 4:])])
    for name in ("e", "m", "s"):
        np.testing.assert_allclose(whole[name].result().values, rows[name].result().values, rtol=1e-6)
    assert whole["t"].result()["values"].shape == (1, 3, 11, 11)
    ent = -(layer.astype(np.float64) * np.log(layer)).sum(-1).mean(-1)
    np.testing.assert_allclose(whole["e"].result().values[0], ent, rtol=1e-6)


def test_eager_stream_refuses_a_layer_that_would_not_fit_and_points_to_block_rows(monkeypatch):
    from multiattn.adapters._stream import capture_stream
    from multiattn.stream import Entropy

    model = _llama()
    ids = {"input_ids": torch.randint(3, 100, (1, 60), generator=torch.Generator().manual_seed(4))}
    layer = 2 * 4 * 8 * 60 * 60  # scores and probabilities of 8 heads
    monkeypatch.setattr(_memory, "available_bytes", lambda: 2 * layer - 2)  # the limit: half of it
    with pytest.raises(AttentionTooLargeError, match="block_rows=0"):
        capture_stream(model, ids, {"e": Entropy()})
    assert capture_stream(model, ids, {"e": Entropy()}, block_rows=0)["e"].shape == (2, 8)
    monkeypatch.setattr(_memory, "available_bytes", lambda: 2 * layer)
    assert capture_stream(model, ids, {"e": Entropy()})["e"].shape == (2, 8)


def test_public_capture_stream_passes_block_rows_through():
    import multiattn
    from multiattn.analysis import head_entropy
    from multiattn.stream import Entropy

    model = _llama()
    ids = torch.randint(3, 100, (1, 40), generator=torch.Generator().manual_seed(1))
    full, _ = _float64_eager(model, ids)
    out = multiattn.capture_stream(model, {"input_ids": ids}, {"entropy": Entropy()}, block_rows=7)
    np.testing.assert_allclose(out["entropy"].values, head_entropy(full), atol=2e-5)
    assert model.config._attn_implementation == "sdpa"
    # a whole-layer reducer is refused
    with pytest.raises(multiattn.MultiattnError, match="need whole layers"):
        from multiattn.stream import LayerMetric

        multiattn.capture_stream(model, {"input_ids": ids}, {"m": LayerMetric(head_entropy)}, block_rows=7)
