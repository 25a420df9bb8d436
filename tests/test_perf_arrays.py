"""The float32 fast paths give the float64 values (round-off only) and keep every refusal."""

import numpy as np
import pytest

from multiattn.analysis import rollout
from multiattn.analysis.relevance import chefer_relevance, gradient_rollout


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


#: float32 unit round-off (2^-24).
U32 = 2.0**-24


def _attention32(rng, shape):
    logits = 2.0 * rng.normal(size=shape)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("shape", [(6, 3, 40, 40), (12, 3, 197, 197)])
def test_float32_products_within_the_round_off_bound(shape):
    """The float32 paths against float64 on the same float32 values, to a worst-case bound.

    Every factor is non-negative, so nothing cancels and round-off is not amplified: rollout's
    layers are row-stochastic (infinity norm 1), so each layer adds at most its own error,
    ``(H + N + 8) u`` to build the layer (head sum, row sum, scaling) and ``N u`` for the product
    (Higham, Accuracy and Stability, 3.5: ``|fl(AB) - AB| <= N u |A||B|``); the final float64
    renormalisation at most doubles it.  Chefer's ``R <- R + mean_h((A dA)^+) R`` adds and multiplies
    non-negative numbers only, so each entry keeps a relative error below ``L (N + H + 4) u``.
    Gradient rollout is rollout's product of row-stochastic layers.  None of this depends on the
    sample; a wrong scaling or a lost renormalisation is off by orders of magnitude more.  The row
    path (``outputs=``: vector-matrix products from the top layer down) does the same products in
    another order and is held to the same bounds against the float64 full matrix's rows.
    """
    n_layers, n_heads, n, _ = shape
    rng = np.random.default_rng(3)
    attn = _attention32(rng, shape)
    grads = rng.normal(size=shape).astype(np.float32)
    attn64, grads64 = attn.astype(np.float64), grads.astype(np.float64)
    rollout_bound = 2 * n_layers * (2 * n + n_heads + 8) * U32
    for fusion in ("mean", "max"):
        fast, exact = rollout(attn, head_fusion=fusion), rollout(attn64, head_fusion=fusion)
        assert np.abs(fast - exact).sum(-1).max() <= rollout_bound  # the infinity norm of the error
    fast, exact = gradient_rollout(attn, grads), gradient_rollout(attn64, grads64)
    assert np.abs(fast - exact).sum(-1).max() <= rollout_bound
    fast, exact = chefer_relevance(attn, grads), chefer_relevance(attn64, grads64)
    np.testing.assert_allclose(fast, exact, rtol=n_layers * (n + n_heads + 4) * U32, atol=1e-30)
    rows = [0, n // 2, n - 1]
    for fusion in ("mean", "max"):
        fast = rollout(attn, head_fusion=fusion, outputs=rows)
        assert np.abs(fast - rollout(attn64, head_fusion=fusion)[rows]).sum(-1).max() <= rollout_bound
    fast = gradient_rollout(attn, grads, outputs=rows)
    assert np.abs(fast - gradient_rollout(attn64, grads64)[rows]).sum(-1).max() <= rollout_bound
    np.testing.assert_allclose(chefer_relevance(attn, grads, outputs=rows), exact[rows],
                               rtol=n_layers * (n + n_heads + 4) * U32, atol=1e-30)
