"""Attention vs gradient attribution: Spearman, agreement table, gradient x input, IG."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from multiattn.analysis.attribution import attribution_agreement, layer_attention_maps, spearman
from multiattn.analysis.flow import attention_flow
from multiattn.analysis.rollout import rollout

from .conftest import random_attention

SENTENCE = "The quick brown fox jumps over the lazy dog."


def test_spearman_matches_scipy_with_ties(rng):
    for _ in range(20):
        a = rng.integers(0, 5, size=12).astype(float)  # many ties
        b = rng.normal(size=12)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


def test_spearman_hand_case_and_constant():
    assert spearman([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


@pytest.mark.parametrize("a, b, match", [
    ([1, 2, 3], [1, 2], "equal length"),
    ([1.0, np.nan], [1, 2], "NaN"),
    ([[1, 2]], [1, 2], "1-D"),
    ([1], [1], "at least 2"),
])
def test_spearman_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        spearman(a, b)


def test_agreement_table_abs_and_exclude():
    attributions = {"grad": np.array([5.0, -3.0, 1.0, 0.5])}
    maps = {"raw L0": np.array([0.0, 0.5, 0.3, 0.2]), "raw L1": np.array([0.9, 0.05, 0.03, 0.02])}
    rows = attribution_agreement(attributions, maps)
    assert [r["map"] for r in rows] == ["raw L0", "raw L1"]
    assert rows[1]["grad"] == pytest.approx(1.0)  # |grad| ranks 4,3,2,1 like raw L1
    signed = attribution_agreement(attributions, maps, absolute=False)
    assert signed[1]["grad"] == pytest.approx(spearmanr([5, -3, 1, 0.5], maps["raw L1"]).statistic)
    dropped = attribution_agreement(attributions, maps, exclude=np.array([True, False, False, False]))
    assert dropped[0]["grad"] == pytest.approx(1.0)  # 3, 1, 0.5 vs 0.5, 0.3, 0.2


@pytest.mark.parametrize("kwargs, match", [
    (dict(attributions={}, attention_maps={"a": [1, 2]}), "at least one"),
    (dict(attributions={"g": [1, 2, 3]}, attention_maps={"a": [1, 2]}), "same tokens"),
    (dict(attributions={"g": [1, 2]}, attention_maps={"a": [1, 2]}, exclude=[1, 0]), "boolean mask"),
    (dict(attributions={"g": [1, 2]}, attention_maps={"a": [1, 2]}, exclude=np.array([True, False])),
     "at least 2"),
])
def test_agreement_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        attribution_agreement(**kwargs)


def test_layer_maps_match_rollout_and_flow(rng):
    attn = random_attention(rng, (3, 2, 5, 5))
    maps = layer_attention_maps(attn, 2)
    assert list(maps) == [f"{k} L{i}" for k in ("raw", "rollout", "flow") for i in range(3)]
    np.testing.assert_allclose(maps["raw L1"], attn[1].mean(0)[2], rtol=1e-6)
    np.testing.assert_allclose(maps["rollout L2"], rollout(attn)[2])
    np.testing.assert_allclose(maps["flow L1"], attention_flow(attn[:2])[2])
    np.testing.assert_allclose(maps["rollout L0"], 0.5 * np.eye(5)[2] + 0.5 * attn[0].mean(0)[2], rtol=1e-6)
    with pytest.raises(IndexError, match="out of range"):
        layer_attention_maps(attn, 7)
    with pytest.raises(ValueError, match="kinds"):
        layer_attention_maps(attn, 0, kinds=("gradcam",))


@pytest.fixture(scope="module")
def minilm():
    import torch

    from multiattn.zoo._text import load_minilm

    torch.set_num_threads(2)
    return load_minilm()


def test_integrated_gradients_completeness(minilm):
    from multiattn.adapters.gradients import integrated_gradients

    ig = integrated_gradients(minilm[0], SENTENCE, processor=minilm[1], target=0, steps=32)
    gap = ig.meta["f_input"] - ig.meta["f_baseline"]
    assert abs(gap) > 0.5  # the check is not vacuous
    assert abs(ig.values.sum() - gap) < 1e-3 * abs(gap)
    assert ig.meta["completeness_error"] < 1e-3 * abs(gap)
    special = ig.axis.special_mask
    assert special.any() and np.all(ig.values[special] == 0)  # pad baseline keeps specials


def test_gradient_x_input_matches_finite_difference(minilm):
    """Gradient x input along (e - b) equals the directional derivative of f at e.

    The numerics are checked in float64 (model and inputs cast to double): a float32
    difference quotient loses ~3 digits to cancellation and cannot check a gradient tightly.
    """
    import copy

    import torch

    from multiattn.adapters.gradients import _prepare, gradient_x_input

    model, tokenizer = minilm
    gxi = gradient_x_input(model, SENTENCE, processor=tokenizer, target=3, baseline="zeros")
    assert gxi.meta["method"] == "gradient_x_input"
    model64 = copy.deepcopy(model).double()
    gxi64 = gradient_x_input(model64, SENTENCE, processor=tokenizer, target=3, baseline="zeros")
    prep = _prepare(model64, tokenizer, SENTENCE, 3, "zeros")
    assert prep["embeds"].dtype == torch.float64
    h = 1e-5
    delta = (prep["embeds"] - prep["base"]) * h
    with torch.no_grad():
        diff = float((prep["f"](prep["embeds"] + delta) - prep["f"](prep["embeds"] - delta))[0]) / (2 * h)
    # rel 1e-5: the map stores float32 values (~6e-7 here); the O(h^2) truncation is ~1e-10
    assert gxi64.values.astype(np.float64).sum() == pytest.approx(diff, rel=1e-5)
    # the float32 path agrees with the float64 one up to float32 rounding
    np.testing.assert_allclose(gxi.values, gxi64.values, rtol=1e-3, atol=1e-4 * np.abs(gxi64.values).max())


def test_attention_vs_gradient_table_on_minilm(minilm):
    from multiattn.adapters.gradients import attention_vs_gradient

    result = attention_vs_gradient(minilm[0], SENTENCE, processor=minilm[1], steps=16)
    table = result["table"]
    assert len(table) == 3 * 6  # raw / rollout / flow x 6 layers
    for row in table:
        for name in ("gradient_x_input", "integrated_gradients"):
            assert -1.0 <= row[name] <= 1.0
    content = ~result["grid"].query.special_mask
    ig = np.abs(result["attributions"]["integrated_gradients"].values)
    expected = spearmanr(ig[content], result["maps"]["raw L5"][content]).statistic
    assert table[5]["integrated_gradients"] == pytest.approx(expected)


def test_attribution_bad_input(minilm):
    from multiattn.adapters.gradients import gradient_x_input, integrated_gradients

    with pytest.raises(ValueError, match="baseline"):
        gradient_x_input(minilm[0], SENTENCE, processor=minilm[1], baseline="blur")
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(minilm[0], SENTENCE, processor=minilm[1], steps=0)
    with pytest.raises(IndexError, match="target"):
        gradient_x_input(minilm[0], SENTENCE, processor=minilm[1], target=99)
    with pytest.raises(ValueError, match="empty"):
        gradient_x_input(minilm[0], "   ", processor=minilm[1])


def test_attribution_refuses_encoder_decoder(minilm):
    from transformers import BartConfig, BartModel

    from multiattn.adapters.gradients import gradient_x_input

    config = BartConfig(vocab_size=minilm[1].vocab_size, d_model=16, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=16,
                        decoder_ffn_dim=16)
    bart = BartModel(config).eval()
    with pytest.raises(ValueError, match="encoder-decoder"):
        gradient_x_input(bart, SENTENCE, processor=minilm[1])
