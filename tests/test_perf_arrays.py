"""The float32 fast paths give the float64 values (round-off only) and keep every refusal."""

import numpy as np
import pytest

from multiattn.analysis import rollout


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
def test_float32_rollout_equals_float64(fusion):
    rng = np.random.default_rng(0)
    attn = rng.dirichlet(np.ones(9), size=(4, 3, 9)).astype(np.float32)
    fast, exact = rollout(attn, head_fusion=fusion), rollout(attn.astype(np.float64), head_fusion=fusion)
    assert fast.dtype == np.float64
    np.testing.assert_allclose(fast, exact, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fast.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(rollout(attn, discard_ratio=0.5),
                               rollout(attn.astype(float), discard_ratio=0.5), rtol=1e-5, atol=1e-7)


def test_float32_rollout_refusals():
    attn = np.full((2, 1, 3, 3), 1 / 3, dtype=np.float32)
    nan = attn.copy()
    nan[1, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rollout(nan)
    negative = attn.copy()
    negative[0, 0, 0, :2] = [-0.5, 1.1667]
    with pytest.raises(ValueError, match="negative"):
        rollout(negative)
    with pytest.raises(ValueError, match="do not sum to 1"):
        rollout(attn * 2)
    masked = attn.copy()
    masked[:, :, 2] = 0  # an all-zero (padding) row is allowed
    assert np.isfinite(rollout(masked, residual=0.0)).all()
