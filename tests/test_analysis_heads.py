import numpy as np
import pytest

from multiattn import AttentionGrid, TokenAxis
from multiattn.analysis import head_type_scores, head_types
from multiattn.analysis.heads import HEAD_TYPES
from multiattn.analysis.synthetic import synthetic_heads

from .conftest import random_attention


def test_synthetic_heads_are_what_they_claim():
    values, tokens, types = synthetic_heads()
    heads = dict(zip(types, values[0]))
    np.testing.assert_allclose(values.sum(-1), 1.0, rtol=1e-6)
    assert heads["previous_token"][5, 4] == 1 and heads["next_token"][5, 6] == 1
    assert heads["offset"][7, 5] == 1 and heads["first_token"][:, 0].sum() == 8
    # induction: 'b' at 5 occurred at 1, so it attends to 2; '.' at 6 -> 3
    assert heads["induction"][5, 2] == 1 and heads["induction"][6, 3] == 1
    assert tokens[2] == tokens[6] == "."


def test_every_synthetic_head_gets_its_type():
    values, tokens, types = synthetic_heads()
    grid = AttentionGrid(values, TokenAxis(tokens))
    rows = head_types(grid)
    assert [r["type"] for r in rows] == types
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
    scores = head_type_scores(head, tokens=["x", "y", "x"], max_offset=2, min_induction_queries=1)
    assert scores["previous_token"][0, 0] == pytest.approx((0.6 + 0.7) / 2)
    assert scores["next_token"][0, 0] == pytest.approx((0.0 + 0.0) / 2)
    # the head is causal, so query 0 (which can only see itself) does not count
    assert scores["self"][0, 0] == pytest.approx((0.4 + 0.2) / 2)
    full = head_type_scores(np.array([[0.5, 0.5], [0.3, 0.7]]))
    assert full["self"][0, 0] == pytest.approx((0.5 + 0.7) / 2)
    assert scores["first_token"][0, 0] == pytest.approx((0.6 + 0.1) / 2)
    assert scores["offset"][0, 0] == pytest.approx(0.1)  # a[2, 0] is the only offset -2 entry
    assert scores["offset_k"][0, 0] == -2
    # token 2 ('x') occurred at 0, so the induction target is 1: a[2, 1] = 0.7
    assert scores["induction"][0, 0] == pytest.approx(0.7)
    assert np.isnan(scores["delimiter"][0, 0])  # no delimiter among the tokens
    # one repeated token is too little evidence by default
    assert np.isnan(head_type_scores(head, tokens=["x", "y", "x"])["induction"][0, 0])
    assert scores["peaked"][0, 0] == pytest.approx((1.0 + 0.6 + 0.7) / 3)


def test_causal_heads():
    causal_uniform = np.tril(np.ones((8, 8)))
    causal_uniform /= causal_uniform.sum(1, keepdims=True)
    causal_self = np.eye(8)
    rows = head_types(np.stack([causal_uniform, causal_self])[None])
    assert [r["type"] for r in rows] == ["broad", "self"]
    assert rows[0]["score"] == pytest.approx(1.0)  # normalised by log(i + 1) per row
    # query 0 is excluded from the self score of causal heads: mean of 1/2 .. 1/8
    assert rows[0]["scores"]["self"] == pytest.approx(np.mean(1 / np.arange(2, 9)))


def test_without_tokens_induction_and_delimiter_are_unknown(rng):
    rows = head_types(random_attention(rng, (2, 3, 6, 6)))
    assert len(rows) == 6 and [(r["layer"], r["head"]) for r in rows][:4] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert all(r["scores"]["induction"] is None and r["scores"]["delimiter"] is None for r in rows)
    assert all(r["type"] in HEAD_TYPES and np.isfinite(r["score"]) for r in rows)


def test_query_mask_drops_padding_rows():
    head = np.eye(8, k=-1)
    head[0, 0] = 1
    head[6:] = 0
    head[6:, 0] = 1  # padding rows look at token 0
    mask = np.arange(8) < 6
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


def _transformer_lens_duplicate_score(attention: np.ndarray, tokens: list) -> float:
    """TransformerLens's duplicate-token detector (head_detector.py, error_measure="mul"), reimplemented."""
    codes = np.unique(np.asarray(tokens), return_inverse=True)[1]
    pattern = np.tile(codes, (len(codes), 1))
    eq_mask = np.equal(pattern, pattern.T).astype(int)
    np.fill_diagonal(eq_mask, 0)
    detection = np.tril(eq_mask)
    return float((attention * detection).sum() / attention.sum())


def test_duplicate_token_heads_match_transformer_lens_up_to_its_normalisation():
    tokens = ["the", "cat", "saw", "the", "dog", "and", "the", "cat", "ran"]
    n = len(tokens)
    rng = np.random.default_rng(3)
    causal = np.tril(rng.random((n, n)) + 1e-3)
    causal /= causal.sum(-1, keepdims=True)
    duplicate = np.eye(n)  # a clean duplicate-token head: each repeat looks at its earlier copies
    for i, tok in enumerate(tokens):
        earlier = [p for p in range(i) if tokens[p] == tok]
        if earlier:
            duplicate[i] = 0
            duplicate[i, earlier] = 1 / len(earlier)
    heads = np.stack([causal, duplicate])[None]  # (1, 2, N, N)
    scores = head_type_scores(heads, tokens)["duplicate_token"][0]
    with_repeats = sum(tokens[:i].count(t) > 0 for i, t in enumerate(tokens))  # queries 3, 6, 7
    for h in range(2):  # TransformerLens averages over all N rows, multiattn over the rows that have a repeat
        tl = _transformer_lens_duplicate_score(heads[0, h], tokens)
        assert scores[h] == pytest.approx(tl * n / with_repeats, abs=1e-12)
    assert scores[1] == pytest.approx(1.0)
    types = {row["head"]: row["type"] for row in head_types(heads, tokens)}
    assert types[1] == "duplicate_token" and types[0] != "duplicate_token"
