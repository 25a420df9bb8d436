import numpy as np
import pytest

from multiattn import AttentionGrid, TokenAxis
from multiattn.analysis import HEAD_TYPES, head_type_scores, head_types

from .conftest import random_attention

N = 8
TOKENS = ["a", "b", ".", "d", "a", "b", ".", "d"]  # second half repeats the first


def _one_hot(targets):
    head = np.zeros((N, N))
    head[np.arange(N), targets] = 1.0
    return head


def _synthetic_heads():
    """One head per type, with the type each must be classified as."""
    idx = np.arange(N)
    heads = {
        "previous_token": _one_hot(np.maximum(idx - 1, 0)),
        "next_token": _one_hot(np.minimum(idx + 1, N - 1)),
        "self": np.eye(N),
        "first_token": _one_hot(np.zeros(N, int)),
        "offset": _one_hot(np.where(idx >= 2, idx - 2, idx)),  # not the period 4
        "broad": np.full((N, N), 1 / N),
    }
    delimiter = np.zeros((N, N))
    delimiter[:, [2, 6]] = 0.5
    heads["delimiter"] = delimiter
    local = (np.abs(idx[:, None] - idx[None]) <= 2).astype(float)
    heads["local"] = local / local.sum(1, keepdims=True)
    peaked = np.full((N, N), 0.3 / (N - 1))
    peaked[idx, (3 * idx + 5) % N] = 0.7  # content-like targets, no fixed offset
    heads["peaked"] = peaked
    # induction: after the previous occurrence of the current token; first half -> token 0
    heads["induction"] = _one_hot([0, 0, 0, 0, 1, 2, 3, 4])
    return heads


def test_every_synthetic_head_gets_its_type():
    heads = _synthetic_heads()
    values = np.stack(list(heads.values()))[None].astype(np.float32)
    grid = AttentionGrid(values, TokenAxis(TOKENS))
    rows = head_types(grid)
    assert [r["type"] for r in rows] == list(heads)
    by_type = {r["type"]: r for r in rows}
    assert by_type["offset"]["offset"] == -2 and by_type["offset"]["score"] == pytest.approx(1.0)
    assert by_type["previous_token"]["offset"] is None
    assert by_type["induction"]["score"] == pytest.approx(1.0)
    # the induction head is also an offset -3 head on this periodic sequence: induction wins
    assert by_type["induction"]["scores"]["offset"] == pytest.approx(1.0)
    assert by_type["delimiter"]["score"] == pytest.approx(1.0)
    assert by_type["peaked"]["score"] == pytest.approx(0.7)
    assert by_type["local"]["score"] == pytest.approx(1.0)
    assert set(rows[0]["scores"]) == set(HEAD_TYPES) - {"mixed"}


def test_scores_by_hand():
    # 3 tokens, one head: rows [1,0,0], [.6,.4,0], [.1,.7,.2]
    head = np.array([[1.0, 0.0, 0.0], [0.6, 0.4, 0.0], [0.1, 0.7, 0.2]])
    scores = head_type_scores(head, tokens=["x", "y", "x"], max_offset=2)
    assert scores["previous_token"][0, 0] == pytest.approx((0.6 + 0.7) / 2)
    assert scores["next_token"][0, 0] == pytest.approx((0.0 + 0.0) / 2)
    assert scores["self"][0, 0] == pytest.approx((1.0 + 0.4 + 0.2) / 3)
    assert scores["first_token"][0, 0] == pytest.approx((0.6 + 0.1) / 2)
    assert scores["offset"][0, 0] == pytest.approx(0.1)  # a[2, 0] is the only offset -2 entry
    assert scores["offset_k"][0, 0] == -2
    # token 2 ('x') occurred at 0, so the induction target is 1: a[2, 1] = 0.7
    assert scores["induction"][0, 0] == pytest.approx(0.7)
    assert np.isnan(scores["delimiter"][0, 0])  # no delimiter among the tokens
    assert scores["peaked"][0, 0] == pytest.approx((1.0 + 0.6 + 0.7) / 3)


def test_without_tokens_induction_and_delimiter_are_unknown(rng):
    rows = head_types(random_attention(rng, (2, 3, 6, 6)))
    assert len(rows) == 6 and [(r["layer"], r["head"]) for r in rows][:4] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert all(r["scores"]["induction"] is None and r["scores"]["delimiter"] is None for r in rows)
    assert all(r["type"] in HEAD_TYPES and np.isfinite(r["score"]) for r in rows)


def test_query_mask_drops_padding_rows():
    head = _one_hot(np.maximum(np.arange(N) - 1, 0))
    head[6:] = _one_hot(np.zeros(N, int))[6:]  # padding rows look at token 0
    mask = np.arange(N) < 6
    assert head_type_scores(head, query_mask=mask)["previous_token"][0, 0] == pytest.approx(1.0)
    assert head_type_scores(head)["previous_token"][0, 0] == pytest.approx(5 / 7)


def test_bad_input():
    with pytest.raises(ValueError, match="tokens"):
        head_types(np.eye(3), tokens=["a", "b"])
    with pytest.raises(ValueError, match="query_mask"):
        head_types(np.eye(3), query_mask=[True, False])
    with pytest.raises(ValueError, match="square"):
        head_types(np.full((2, 4), 0.25))
    with pytest.raises(ValueError, match="negative"):
        head_types(np.array([[1.5, -0.5], [0.5, 0.5]]))
