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
    torch.testing.assert_close(watched, eager, rtol=0, atol=0)  # the same operations as eager
    valid = enc["attention_mask"].bool()
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


def test_fused_top5_entropy_kernel_equals_the_definitions_with_masked_keys():
    from multiattn._monitor_stats import _top5_entropy

    scores = torch.randn(2, 3, 9, 30, generator=torch.Generator().manual_seed(0)) * 4
    scores[0, :, :, 20:] = torch.finfo(torch.float32).min  # padding keys (additive mask)
    scores[1, :, :, 25:] = float("-inf")
    w = torch.softmax(scores, -1)
    top5, entropy = _top5_entropy(w, scores)
    expected = -torch.xlogy(w.double(), w.double()).sum(-1)
    np.testing.assert_allclose(entropy, expected.numpy().ravel(), atol=2e-5)  # float32 weights' rounding
    np.testing.assert_allclose(top5, np.sort(w.numpy(), -1)[..., -5:].sum(-1).ravel(), atol=1e-6)
