import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from multiattn import AttentionGrid, PatchAxis, TimeAxis, TokenAxis, VideoAxis
from multiattn.analysis.metrics import (
    attention_distance,
    delimiter_share,
    first_token_share,
    head_diversity,
    head_entropy,
    head_similarity,
    locality,
    special_share,
    topk_concentration,
)

from .conftest import random_attention

LN2, LN3 = math.log(2), math.log(3)
FULL = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
CAUSAL = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])


def test_entropy_by_hand():
    # rows: ln 2, 0, 1.5 ln 2
    assert head_entropy(FULL)[0, 0] == pytest.approx(2.5 * LN2 / 3)
    assert head_entropy(FULL, normalized=True)[0, 0] == pytest.approx(2.5 * LN2 / (3 * LN3))
    assert head_entropy(FULL, query_mask=[True, False, True])[0, 0] == pytest.approx(2.5 * LN2 / 2)


def test_entropy_causal_rows_use_allowed_keys():
    last = -(0.2 * math.log(0.2) + 0.3 * math.log(0.3) + 0.5 * math.log(0.5))
    # row 0 has one allowed key and is skipped; row 1: ln2 / ln2; row 2: H / ln 3
    expected = (1.0 + last / LN3) / 2
    assert head_entropy(CAUSAL, normalized=True)[0, 0] == pytest.approx(expected)
    # forcing full attention divides every row by ln 3 and keeps row 0
    assert head_entropy(CAUSAL, normalized=True, causal=False)[0, 0] == pytest.approx(
        (0 + LN2 + last) / (3 * LN3))


def test_entropy_shape_and_zero_rows(rng):
    values = random_attention(rng, (3, 4, 5, 5)).astype(np.float64)
    values[:, :, 4] = 0  # a masked query
    out = head_entropy(values)
    assert out.shape == (3, 4)
    by_loop = np.mean([-(r * np.log(r)).sum() for r in values[1, 2, :4]])
    assert out[1, 2] == pytest.approx(by_loop)


def test_distance_tokens_by_hand():
    head = np.array([[1.0, 0.0, 0.0], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])
    # rows: 0; 0.5*1 + 0.5*1 = 1; 0.2*2 + 0.3*1 = 0.7
    assert attention_distance(head)[0, 0] == pytest.approx(1.7 / 3)


def test_distance_patch_axis_drops_prefix_and_uses_pixels():
    axis = PatchAxis(2, 2, (16, 8), (32, 16), prefix=("CLS",))
    head = np.eye(5)
    head[1] = [0.5, 0, 0, 0, 0.5]  # patch r0c0 -> CLS and r1c1 (diagonal neighbour)
    grid = AttentionGrid(head[None, None], axis)
    # CLS dropped as key (row renormalised) and as query: sqrt(2) for one of 4 patch queries
    assert attention_distance(grid)[0, 0] == pytest.approx(math.sqrt(2) / 4)
    assert attention_distance(grid, pixels=True)[0, 0] == pytest.approx(math.hypot(16, 8) / 4)
    with pytest.raises(ValueError, match="PatchAxis"):
        attention_distance(head, axis=TimeAxis(5, 0.02), pixels=True)


def test_distance_time_axis_in_seconds():
    grid = AttentionGrid(np.full((1, 1, 2, 2), 0.5, np.float32), TimeAxis(2, 0.02))
    assert attention_distance(grid)[0, 0] == pytest.approx(0.01)


def test_distance_video_axis_in_token_units():
    axis = VideoAxis(4, 1, 2, tubelet=(2, 16, 16), fps=8)  # tokens t0c0, t0c1, t1c0, t1c1
    head = np.eye(4)
    head[0] = [0, 0, 0, 1]  # (t0, c0) -> (t1, c1): sqrt(1 + 1)
    grid = AttentionGrid(head[None, None].astype(np.float32), axis)
    assert attention_distance(grid)[0, 0] == pytest.approx(math.sqrt(2) / 4)


def test_locality_by_hand():
    # uniform 4x4: 2, 3, 3, 2 keys within +-1 of the query
    assert locality(np.full((4, 4), 0.25), k=1)[0, 0] == pytest.approx(10 / 16)
    assert locality(np.full((4, 4), 0.25), k=0)[0, 0] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="k must be"):
        locality(np.full((4, 4), 0.25), k=-1)


def test_topk_by_hand():
    head = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    assert topk_concentration(head, 1)[0, 0] == pytest.approx(0.65)
    assert topk_concentration(head, 2)[0, 0] == pytest.approx((0.8 + 0.9) / 2)
    assert topk_concentration(head, 3)[0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k must be"):
        topk_concentration(head, 4)


def test_special_first_and_delimiter_shares_by_hand():
    head = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]], dtype=np.float32)
    axis = TokenAxis(["[CLS]", "hi", ",", "[SEP]"], special_mask=[1, 0, 0, 1])
    grid = AttentionGrid(np.stack([head, head])[None], TokenAxis(["q1", "q2"]), axis, kind="cross")
    np.testing.assert_allclose(special_share(grid), [[0.5, 0.5]])  # (.5 + .5) / 2
    np.testing.assert_allclose(first_token_share(grid), [[0.25, 0.25]])
    np.testing.assert_allclose(delimiter_share(grid), [[0.5, 0.5]])  # ',' and [SEP]
    np.testing.assert_allclose(delimiter_share(head, tokens=["a", "b", ".", "c"]), [[0.25]])
    with pytest.raises(ValueError, match="mask="):
        special_share(head)
    with pytest.raises(ValueError, match="one flag per key"):
        special_share(head, mask=[True, False])
    with pytest.raises(ValueError, match="token labels"):
        delimiter_share(head)


def test_similarity_by_hand_and_against_scipy():
    eye = np.eye(2)
    flat = np.full((2, 2), 0.5)
    attn = np.stack([eye, flat])[None]
    cos = head_similarity(attn)
    np.testing.assert_allclose(cos, [[1, 1 / math.sqrt(2)], [1 / math.sqrt(2), 1]])
    js = head_similarity(attn, "js")
    # JS([1, 0], [.5, .5]) = .5 ln(4/3) + .25 ln(2/3) + .25 ln 2 nats
    by_hand = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * LN2
    assert js[0, 1] == pytest.approx(1 - by_hand / LN2)
    assert js[0, 1] == pytest.approx(1 - jensenshannon([1, 0], [0.5, 0.5]) ** 2 / LN2)
    assert head_diversity(attn) == pytest.approx(1 - 1 / math.sqrt(2))


def test_similarity_random_heads_match_scipy(rng):
    attn = random_attention(rng, (2, 2, 3, 4)).astype(np.float64)
    js = head_similarity(attn, "js")
    heads = attn.reshape(4, 3, 4)
    ref = 1 - np.mean([jensenshannon(heads[1, q], heads[2, q]) ** 2 for q in range(3)]) / LN2
    assert js.shape == (4, 4) and js[1, 2] == pytest.approx(ref) and js[2, 1] == pytest.approx(ref)
    np.testing.assert_allclose(np.diag(js), 1.0)
    by_layer = head_diversity(attn, "js", by_layer=True)
    assert by_layer.shape == (2,) and by_layer[1] == pytest.approx(1 - js[2, 3])


def test_bad_input_named():
    with pytest.raises(ValueError, match="NaN"):
        head_entropy(np.array([[np.nan, 1.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"\(L, H, Q, K\)"):
        head_entropy(np.ones((1, 1, 1, 2, 2)))
    with pytest.raises(ValueError, match="do not sum to 1"):
        head_entropy(np.array([[0.5, 0.6], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="negative"):
        topk_concentration(np.array([[1.5, -0.5]]), 1)
    with pytest.raises(TypeError, match="numeric"):
        head_entropy(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="metric"):
        head_similarity(np.eye(2), "euclid")
    with pytest.raises(ValueError, match="at least 2 heads"):
        head_diversity(np.eye(2))
    with pytest.raises(ValueError, match="square"):
        attention_distance(np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="no queries or no keys"):
        head_entropy(np.zeros((1, 1, 0, 0)))
    with pytest.raises(ValueError, match="axis has 3 positions"):
        attention_distance(np.eye(4), axis=TokenAxis(list("abc")))
