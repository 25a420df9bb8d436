import numpy as np
import pytest

from multiattn import AttentionGrid, PatchAxis, TokenAxis
from multiattn.analysis import rollout

from .conftest import random_attention

A0 = np.array([[1.0, 0.0], [0.5, 0.5]])
A1 = np.array([[0.5, 0.5], [0.0, 1.0]])


def test_two_layers_by_hand():
    # A' = 0.5 I + 0.5 A: A0' = [[1, 0], [.25, .75]], A1' = [[.75, .25], [0, 1]]; R = A1' @ A0'
    result = rollout(np.stack([A0, A1])[:, None])
    np.testing.assert_allclose(result, [[0.8125, 0.1875], [0.25, 0.75]])


def test_start_layer_keeps_only_upper_layers():
    result = rollout(np.stack([A0, A1])[:, None], start_layer=1)
    np.testing.assert_allclose(result, [[0.75, 0.25], [0.0, 1.0]])
    np.testing.assert_allclose(rollout(np.stack([A0, A1])[:, None], start_layer=-1), result)


def test_residual_zero_is_plain_product():
    result = rollout(np.stack([A0, A1])[:, None], residual=0.0)
    np.testing.assert_allclose(result, A1 @ A0)


@pytest.mark.parametrize(
    "fusion, expected",
    [
        # max = [[1, 1], [.5, .5]]; + identity / 2 = [[1, .5], [.25, .75]]; rows renormalised
        ("max", [[2 / 3, 1 / 3], [0.25, 0.75]]),
        # min = [[0, 0], [.5, .5]]; + identity / 2 = [[.5, 0], [.25, .75]]
        ("min", [[1.0, 0.0], [0.25, 0.75]]),
        ("mean", [[0.75, 0.25], [0.25, 0.75]]),
    ],
)
def test_head_fusion_by_hand(fusion, expected):
    heads = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]]])[None]
    np.testing.assert_allclose(rollout(heads, head_fusion=fusion), expected)


def test_discard_ratio_spares_first_column():
    layer = np.array([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4], [0.05, 0.15, 0.8]])
    # half of the 6 non-first-column weights go: 0.15, 0.2, 0.3 (the 0.05 in column 0 stays)
    result = rollout(layer, residual=0.0, discard_ratio=0.5)
    expected = np.array([[0.1, 0, 0.7], [0.3, 0, 0.4], [0.05, 0, 0.8]])
    np.testing.assert_allclose(result, expected / expected.sum(1, keepdims=True))


def test_discard_spares_all_prefix_columns_of_a_grid():
    axis = PatchAxis(1, 2, 16, (16, 32), prefix=("CLS", "REG"))
    layer = np.array([[0.4, 0.01, 0.3, 0.29], [0.02, 0.5, 0.28, 0.2],
                      [0.25, 0.25, 0.25, 0.25], [0.1, 0.1, 0.1, 0.7]], dtype=np.float32)
    grid = AttentionGrid(layer[None, None], axis)
    result = rollout(grid, residual=0.0, discard_ratio=0.5)
    assert (result[:, :2] > 0).all()
    # of the 8 patch-column weights the 4 smallest (0.1, 0.1, 0.2, 0.25) are gone
    assert result[3, 2] == 0 and result[1, 3] == 0


def test_grid_and_array_agree_and_rows_sum_to_one(rng):
    values = random_attention(rng, (3, 4, 5, 5))
    grid = AttentionGrid(values, TokenAxis(list("abcde")))
    result = rollout(grid)
    np.testing.assert_allclose(result, rollout(values))
    np.testing.assert_allclose(result.sum(1), 1.0)
    assert result.shape == (5, 5)


def test_bad_input_is_refused(rng):
    values = random_attention(rng, (2, 2, 3, 3))
    cross = AttentionGrid(random_attention(rng, (1, 1, 2, 3)), TokenAxis(list("ab")),
                          TokenAxis(list("xyz")), kind="cross")
    with pytest.raises(ValueError, match="cross-attention"):
        rollout(cross)
    with pytest.raises(ValueError, match="square"):
        rollout(random_attention(rng, (2, 2, 3, 4)))
    with pytest.raises(ValueError, match="head_fusion"):
        rollout(values, head_fusion="median")
    with pytest.raises(ValueError, match="residual"):
        rollout(values, residual=1.5)
    with pytest.raises(ValueError, match="discard_ratio"):
        rollout(values, discard_ratio=1.0)
    with pytest.raises(ValueError, match="start_layer"):
        rollout(values, start_layer=2)
    with pytest.raises(ValueError, match="NaN"):
        rollout(np.where(np.eye(3, dtype=bool), np.nan, values))
    with pytest.raises(ValueError, match="do not sum to 1"):
        rollout(values * 2)
    with pytest.raises(ValueError, match=r"\(L, H, Q, K\)"):
        rollout(np.ones(3))
    with pytest.raises(ValueError, match="keep_prefix"):
        rollout(values, keep_prefix=-1)

