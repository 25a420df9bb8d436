"""multiattn.analysis.relevance: gradient rollout and Chefer relevance on arrays."""

import numpy as np
import pytest

from multiattn import AttentionGrid, TokenAxis
from multiattn.analysis.relevance import chefer_relevance, gradient_rollout

from .conftest import random_attention


def test_gradient_rollout_one_layer_by_hand():
    attn = np.array([[[[0.5, 0.5], [0.5, 0.5]]]])
    grads = np.array([[[[1.0, -1.0], [2.0, 0.0]]]])
    # A*dA = [[.5, -.5], [1, 0]] -> positive part [[.5, 0], [1, 0]] -> rows scaled [[1, 0], [1, 0]]
    # 0.5 * I + 0.5 * that = [[1, 0], [.5, .5]]
    np.testing.assert_allclose(gradient_rollout(attn, grads), [[1.0, 0.0], [0.5, 0.5]])


def test_gradient_rollout_pairs_each_gradient_with_its_layer(rng):
    attn = random_attention(rng, (3, 2, 4, 4)).astype(np.float64)
    grads = rng.normal(size=attn.shape)

    def layer_matrix(a, g):
        w = np.clip(a * g, 0, None).mean(0)
        w = w / w.sum(-1, keepdims=True)
        m = 0.3 * np.eye(4) + 0.7 * w
        return m / m.sum(-1, keepdims=True)

    mats = [layer_matrix(attn[i], grads[i]) for i in range(3)]
    expected = mats[2] @ mats[1] @ mats[0]
    result = gradient_rollout(attn, grads, residual=0.3)
    np.testing.assert_allclose(result, expected, rtol=1e-10)
    np.testing.assert_allclose(result.sum(axis=1), 1.0)
    assert not np.allclose(gradient_rollout(attn, grads[::-1], residual=0.3), expected)


def test_gradient_rollout_zero_gradients_give_identity(rng):
    attn = random_attention(rng, (2, 3, 5, 5))
    np.testing.assert_allclose(gradient_rollout(attn, np.zeros_like(attn)), np.eye(5))


def test_chefer_relevance_by_hand():
    a0 = np.array([[0.9, 0.1], [0.2, 0.8]])
    a1 = np.array([[0.5, 0.5], [0.0, 1.0]])
    g0 = np.array([[1.0, -2.0], [0.5, 1.0]])
    g1 = np.array([[2.0, 2.0], [1.0, -1.0]])
    attn = np.stack([a0, a1])[:, None]
    grads = np.stack([g0, g1])[:, None]
    cam0 = np.clip(a0 * g0, 0, None)  # [[.9, 0], [.1, .8]]
    cam1 = np.clip(a1 * g1, 0, None)  # [[1, 1], [0, 0]]
    r = np.eye(2) + cam0 @ np.eye(2)
    r = r + cam1 @ r
    np.testing.assert_allclose(chefer_relevance(attn, grads), r)
    np.testing.assert_allclose(chefer_relevance(attn, grads, start_layer=1), np.eye(2) + cam1)
    np.testing.assert_allclose(chefer_relevance(attn, grads, start_layer=-1), np.eye(2) + cam1)


def test_chefer_relevance_averages_heads_after_positive_part(rng):
    attn = random_attention(rng, (1, 2, 3, 3))
    grads = np.stack([np.ones((3, 3)), -np.ones((3, 3))])[None]
    # head 1 has only negative contributions: it adds nothing, but still counts in the mean
    expected = np.eye(3) + attn[0, 0] / 2
    np.testing.assert_allclose(chefer_relevance(attn, grads), expected, rtol=1e-6)


def test_accepts_grids_and_single_layers(rng):
    attn = random_attention(rng, (2, 2, 3, 3))
    grads = rng.normal(size=attn.shape)
    grid = AttentionGrid(attn, TokenAxis(list("abc")))
    np.testing.assert_allclose(chefer_relevance(grid, grads), chefer_relevance(attn, grads))
    np.testing.assert_allclose(chefer_relevance(attn[0, 0], grads[0, 0]),
                               chefer_relevance(attn[:1, :1], grads[:1, :1]))


@pytest.mark.parametrize("func", [gradient_rollout, chefer_relevance])
def test_bad_inputs(func, rng):
    attn = random_attention(rng, (2, 2, 3, 3))
    with pytest.raises(ValueError, match="same"):
        func(attn, np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        func(attn, np.full(attn.shape, np.nan))
    with pytest.raises(ValueError, match="square"):
        func(np.ones((1, 1, 2, 3)) / 3, np.ones((1, 1, 2, 3)))


def test_option_ranges(rng):
    attn = random_attention(rng, (2, 1, 3, 3))
    with pytest.raises(ValueError, match="residual"):
        gradient_rollout(attn, attn, residual=1.0)
    with pytest.raises(ValueError, match="start_layer"):
        chefer_relevance(attn, attn, start_layer=2)
