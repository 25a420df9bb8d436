"""The monitor: per-head statistics of live forwards, equal to the analysis metrics, into a store."""

from __future__ import annotations

import numpy as np
import pytest

import multiattn
from multiattn.monitor import STATISTICS, monitor

torch = pytest.importorskip("torch")
pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def minilm():
    return multiattn.zoo.load("minilm")


def _forward(model, tok, texts):
    with torch.no_grad():
        model(**tok(texts, padding=True, return_tensors="pt"))


def test_statistics_equal_the_analysis_metrics(minilm):
    """Independent reference: the numpy metrics of multiattn.analysis on a full capture."""
    from multiattn.analysis import head_entropy
    from multiattn.analysis.metrics import (
        attention_distance,
        delimiter_share,
        first_token_share,
        special_share,
        topk_concentration,
    )

    model, tok = minilm
    text = "Hello world, this is a longer request!"
    with monitor(model, processor=tok) as mon:
        _forward(model, tok, [text])
    got = dict(zip(mon.last.statistics, mon.last.values))
    grid = multiattn.capture(model, text, processor=tok)
    expected = {"entropy": head_entropy(grid), "norm_entropy": head_entropy(grid, normalized=True),
                "top5": topk_concentration(grid, 5), "first_share": first_token_share(grid),
                "special_share": special_share(grid), "delimiter_share": delimiter_share(grid),
                "mean_distance": attention_distance(grid)}
    for name, ref in expected.items():
        np.testing.assert_allclose(got[name], np.asarray(ref), atol=2e-5, err_msg=name)
    assert got["padding_share"].max() == 0.0  # no padding in a single request
    column = grid.values.mean(2).max(-1)  # (L, H): the busiest key's share
    np.testing.assert_allclose(got["sink_share"], column, atol=2e-5)
    assert mon.last.values.shape == (len(STATISTICS), 6, 12) and mon.last.input_length == len(grid.query)


def test_a_padded_batch_gives_each_request_its_own_statistics(minilm):
    model, tok = minilm
    texts = ["A short one.", "This request is quite a bit longer than the first one, isn't it?"]
    with monitor(model, processor=tok) as mon:
        _forward(model, tok, texts)
        batch = mon.take()
        for text in texts:
            _forward(model, tok, [text])
        single = mon.take()
    assert [r.input_length for r in batch] == [r.input_length for r in single]
    assert batch[0].input_length < batch[1].input_length
    for b, s in zip(batch, single):
        np.testing.assert_allclose(b.values, s.values, atol=1e-4)
    assert len({r.request_id for r in batch + single}) == 4


def test_detach_restores_the_model(minilm):
    model, tok = minilm
    before = model.config._attn_implementation
    mon = monitor(model, processor=tok).attach()
    assert model.config._attn_implementation == "multiattn_monitor"  # eager, handing on its scores
    _forward(model, tok, ["one"])
    mon.detach()
    assert model.config._attn_implementation == before
    _forward(model, tok, ["two"])
    assert mon.n_requests == 1 and not mon.attached


def test_sampling_monitors_a_share_of_forwards_on_the_fast_kernel(minilm):
    model, tok = minilm
    with monitor(model, processor=tok, sample=0.5) as mon:
        assert model.config._attn_implementation != "eager"  # switched only while a sampled forward runs
        for _ in range(20):
            _forward(model, tok, ["a sampled request"])
    assert 3 <= mon.n_requests <= 17
    assert model.config._attn_implementation != "eager"


def test_requests_land_in_a_duckdb_store(minilm, tmp_path):
    model, tok = minilm
    with monitor(model, tmp_path / "a.duckdb", processor=tok, flush_every=2) as mon:
        for _ in range(3):
            _forward(model, tok, ["The cat sat.", "A dog ran home."])
    store = mon.store
    assert store.count() == 6
    rows = store.sql("SELECT count(*) AS n, count(DISTINCT request_id) AS r FROM head_stats").to_pylist()[0]
    assert rows == {"n": 6 * len(STATISTICS) * 6 * 12, "r": 6}
    assert store.sql("SELECT version FROM schema_version").column("version").to_pylist() == [1]
    entropy = store.sql("SELECT avg(value) AS v FROM head_stats WHERE statistic = 'entropy' "
                        "AND layer = 0 AND head = 0").column("v")[0].as_py()
    assert entropy > 0


def test_vit_prefix_share_and_patch_distance():
    from multiattn.analysis.metrics import special_share

    model, processor = multiattn.zoo.load("shapes-vit")
    image = multiattn.zoo.sample("shapes-vit")
    grid = multiattn.capture(model, image, processor=processor)
    from multiattn.adapters import vit

    inputs = vit.prepare(model, image, processor=processor)
    with monitor(model) as mon, torch.no_grad():
        model(**inputs)
    got = dict(zip(mon.last.statistics, mon.last.values))
    np.testing.assert_allclose(got["special_share"], np.asarray(special_share(grid)), atol=2e-5)
    assert "padding_share" not in got and got["mean_distance"].max() > 0
    assert mon.last.modality == "image"


def test_unsupported_models_are_refused_with_a_reason():
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    from multiattn.errors import UnsupportedModelError

    speech = Wav2Vec2Model(Wav2Vec2Config(  # a speech encoder: audio, but not Whisper
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16, conv_dim=(8,),
        conv_stride=(5,), conv_kernel=(10,), num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2))
    with pytest.raises(UnsupportedModelError, match="CLIP, Whisper and PyG graph attention, got a audio"):
        monitor(speech)


def test_scores_path_equals_the_eager_hooks_path_and_keeps_the_output(minilm):
    """The monitoring attention (entropy from scores) against eager + module hooks (log pass)."""
    model, tok = minilm
    enc = tok(["A short one.", "A second, longer request about nothing."], padding=True, return_tensors="pt")
    from multiattn.adapters._hf import eager_attention

    with torch.no_grad():
        plain = model(**enc).last_hidden_state
        with eager_attention(model):
            eager = model(**enc).last_hidden_state
        with monitor(model, processor=tok) as fast:
            watched = model(**enc).last_hidden_state
        slow = monitor(model, processor=tok)
        slow.fast_attention = False
        with slow:
            model(**enc)
    valid = enc["attention_mask"].bool()
    # eager's operations, transposed (k qᵀ, softmax over the keys): float32 rounding only
    assert (watched[valid] - eager[valid]).abs().max() <= 1e-6 * eager.abs().max()
    torch.testing.assert_close(watched[valid], plain[valid], rtol=0, atol=1e-5)
    for a, b in zip(fast.take(), slow.take()):
        assert a.statistics == b.statistics
        np.testing.assert_allclose(a.values, b.values, atol=2e-5)


def test_top5_kernel_equals_a_sort_with_ties_zeros_and_short_rows():
    from multiattn._monitor_stats import _top_sum

    rng = np.random.default_rng(0)
    w = torch.from_numpy(rng.dirichlet(np.full(40, 0.3), size=(2, 3, 37)).astype(np.float32))
    w[0, 0, 0] = 1.0 / 40  # a uniform row: five tied maxima
    w[0, 1, 1] = 0.0
    w[0, 1, 1, 7] = 1.0  # one-hot, the rest exact zeros
    expected = np.sort(w.numpy(), -1)[..., -5:].sum(-1)
    np.testing.assert_allclose(_top_sum(w, 5).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(_top_sum(w[..., :3], 5).numpy(), w[..., :3].sum(-1).numpy(), atol=1e-6)
    np.testing.assert_allclose(_top_sum(w, 3).numpy(), np.sort(w.numpy(), -1)[..., -3:].sum(-1), atol=1e-6)


def _reference_statistics(w, qw, dist, masks):
    """Per-head statistics of ``w (B, H, Q, K)`` row by row in float64 numpy: the definitions."""
    w = w.astype(np.float64)
    n_top = min(5, w.shape[-1])
    out = np.zeros((*w.shape[:2], 5 + masks.shape[-1]))
    for b, h in np.ndindex(*w.shape[:2]):
        real = qw[b] > 0
        rows, a = w[b, h][real], qw[b][real].astype(np.float64)
        entropy = -np.where(rows > 0, rows * np.log(np.where(rows > 0, rows, 1.0)), 0.0).sum(-1)
        column = a @ rows
        top = np.sort(rows, -1)[:, -n_top:].sum(-1)
        out[b, h, :5] = [a @ entropy, a @ entropy / np.log((rows[0] > 0).sum()), a @ top, column.max(),
                         a @ (rows * dist[real]).sum(-1)]
        out[b, h, 5:] = column @ masks[b]
    return out


@pytest.mark.parametrize("n_keys", [30, 4])
def test_layer_kernel_equals_the_definitions_on_masked_padded_and_tied_rows(n_keys):
    """The compiled kernel (transposed layout, entropy from the scores) against float64 numpy."""
    from multiattn._monitor_stats import fused_matrix

    rng = np.random.default_rng(1)
    scores = torch.from_numpy(rng.normal(0, 4, (2, 3, 9, n_keys)).astype(np.float32))
    scores[0, :, :, n_keys - 2:] = torch.finfo(torch.float32).min  # padding keys (additive mask)
    scores[1, :, :, n_keys - 1:] = float("-inf")
    scores[0, 0, 1] = 0.0  # a uniform row: all values tied
    scores[1, 2, 3, :3] = scores[1, 2, 3].max() + 1.0  # three tied maxima
    w = torch.softmax(scores, -1)
    w[1, :, 7:] = float("nan")  # padding queries: never read into a result
    qw = np.zeros((2, 9), np.float32)
    qw[0], qw[1, :7] = 1 / 9, 1 / 7
    dist = rng.uniform(0, 10, (9, n_keys)).astype(np.float32)
    masks = (rng.random((2, n_keys, 2)) < 0.3).astype(np.float32)
    names = ("entropy", "norm_entropy", "top5", "sink_share", "mean_distance", "special_share",
             "delimiter_share")
    logk = np.log(np.array([n_keys - 2, n_keys - 1], np.float32))
    expected = _reference_statistics(w.numpy(), qw, dist, masks)
    for s in (scores, None):  # from the scores, and from log w (the eager-hooks path)
        got = fused_matrix(w, s, names, qw, logk, np.ascontiguousarray(dist.T), masks)
        np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6)
    # a subset, in another order: each statistic to its own column
    transposed = w.mT.contiguous().mT  # the layout the monitoring attention hands on
    got = fused_matrix(transposed, scores, ("delimiter_share", "top5"), qw, logk, None, masks[..., 1:])
    np.testing.assert_allclose(got, expected[..., [6, 2]], rtol=2e-6, atol=2e-6)


def test_softmax_kernel_equals_torch_softmax_and_the_definitions():
    """The monitoring attention's pass: softmax over the keys of transposed scores + statistics."""
    from multiattn._monitor_stats import STATISTICS, Context, softmax_matrix, token_distances

    rng = np.random.default_rng(2)
    n = 12
    valid = torch.ones(2, n, dtype=torch.bool)
    valid[1, 9:] = False  # request 1 is padded to 12 tokens
    first = torch.zeros_like(valid)
    first[:, 0] = True
    masks = {"first": first, "special": torch.from_numpy(rng.random((2, n)) < 0.3), "padding": ~valid,
             "delimiter": torch.from_numpy(rng.random((2, n)) < 0.2)}
    ctx = Context(valid, masks, token_distances(n))
    raw = torch.from_numpy(rng.normal(0, 12, (2, 3, n, n)).astype(np.float32))
    raw[0, 0, 2] = 1.0  # a uniform row: every weight tied
    raw[0, 1, 4, :3] = raw[0, 1, 4].max() + 2.0  # three tied maxima
    mask = torch.where(valid, 0.0, torch.finfo(torch.float32).min)[:, None, None, :]
    names = ctx.names_for(STATISTICS, n)
    for scores, scale in ((raw, 0.3), (raw * 0.3 + mask, 1.0)):  # scaled by the kernel, or scaled and masked
        weights_t, stats = softmax_matrix(scores.mT.contiguous(), scale, ctx, names)
        w = torch.softmax(scores * scale, -1)
        torch.testing.assert_close(weights_t.mT, w, rtol=1e-6, atol=1e-6)  # torch's softmax, float32 rounding
        if scale == 1.0:
            assert (weights_t.mT[1, :, :, 9:] == 0).all()  # masked keys get exactly nothing
        qw = (valid / valid.sum(-1, keepdim=True)).float().numpy()
        key_masks = torch.stack([masks[m] for m in ("first", "special", "padding", "delimiter")], -1).float()
        expected = _reference_statistics(w.numpy(), qw, token_distances(n).numpy(), key_masks.numpy())
        order = ["entropy", "norm_entropy", "top5", "sink_share", "mean_distance", "first_share",
                 "special_share", "padding_share", "delimiter_share"]
        expected = expected[..., [order.index(name) for name in names]]
        if scale != 1.0:  # unmasked keys: normalised by log(12), not by the row's valid keys
            expected[1, :, names.index("norm_entropy")] *= np.log(n) / np.log(9)
        np.testing.assert_allclose(stats.numpy(), expected, rtol=2e-6, atol=2e-6)


def test_without_numba_the_torch_path_gives_the_same_statistics(minilm, monkeypatch):
    """Without the ``fast`` extra: torch's softmax and the torch / numpy statistics, same numbers."""
    import multiattn._monitor_stats as stats

    model, tok = minilm
    texts = ["A short one.", "A second, longer request about nothing, with commas."]
    with monitor(model, processor=tok) as compiled:
        _forward(model, tok, texts)
    monkeypatch.setattr(stats, "_kernels", lambda: None)
    with monitor(model, processor=tok) as plain:
        _forward(model, tok, texts)
    for a, b in zip(compiled.take(), plain.take(), strict=True):
        assert a.statistics == b.statistics
        np.testing.assert_allclose(a.values, b.values, atol=2e-5)
