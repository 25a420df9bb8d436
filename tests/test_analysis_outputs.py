"""``outputs=``: rollout, gradient rollout and Chefer relevance computed for a few rows only.

The row path (one vector-matrix product per layer, read from the last layer down) must give the
rows of the full product, and the CLS maps of the reference implementations it replaces:
vit-explain's ``rollout`` (``jacobgil/vit-explain``, ``vit_rollout.py``: ``result = a @ result``
over the layers, then ``result[0, 0, 1:]``) and Chefer et al.'s relevance (``R = I;
R = R + cam @ R`` per block, then row 0).  Both are ported here in plain numpy, loop for loop.
"""

import numpy as np
import pytest

from multiattn import AttentionGrid, PatchAxis
from multiattn.analysis import attention_flow, rollout
from multiattn.analysis.relevance import chefer_relevance, gradient_rollout


def _attention(rng, shape, dtype=np.float64):
    logits = 2.0 * rng.normal(size=shape)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)).astype(dtype)


def _vit_explain_mask(attentions):
    """vit-explain's ``rollout(attentions, discard_ratio=0, head_fusion="mean")`` before its reshape
    and max-normalisation: the CLS row of ``a_L ... a_1`` over the patches."""
    result = np.eye(attentions.shape[-1])
    for attention in attentions:
        fused = attention.mean(axis=0)
        a = (fused + 1.0 * np.eye(fused.shape[-1])) / 2
        a = a / a.sum(axis=-1)  # as written there (divides columns; rows already sum to one)
        result = a @ result
    return result[0, 1:]


def _chefer_row(attn, grads, start_layer=0):
    """Chefer et al.'s reference relevance loop, row 0 of ``R``."""
    relevance = np.eye(attn.shape[-1])
    for cam, grad in zip(attn[start_layer:], grads[start_layer:]):
        cam = np.clip(grad * cam, 0, None).mean(axis=0)
        relevance = relevance + cam @ relevance
    return relevance[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rollout_cls_row_equals_vit_explain(dtype):
    attn = _attention(np.random.default_rng(0), (6, 3, 50, 50), dtype)
    expected = _vit_explain_mask(attn.astype(np.float64))
    row = rollout(attn, outputs=0)
    assert row.shape == (50,) and row.dtype == np.float64
    # float32: the product runs in float32 (round-off ~1e-7 relative), float64: round-off only
    np.testing.assert_allclose(row[1:], expected, rtol=2e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chefer_cls_row_equals_the_reference_loop(dtype):
    rng = np.random.default_rng(1)
    attn = _attention(rng, (6, 3, 50, 50), dtype)
    grads = rng.normal(size=attn.shape).astype(dtype)
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    for start in (0, 4):
        expected = _chefer_row(attn.astype(np.float64), grads.astype(np.float64), start)
        np.testing.assert_allclose(chefer_relevance(attn, grads, start, outputs=0), expected, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"head_fusion": "max"}, {"head_fusion": "min", "residual": 0.2},
                                     {"discard_ratio": 0.4}, {"start_layer": 3}, {"residual": 0.0}])
def test_rollout_rows_are_the_full_rows(dtype, options):
    attn = _attention(np.random.default_rng(2), (5, 4, 30, 30), dtype)
    full = rollout(attn, **options)
    rows = rollout(attn, **options, outputs=[0, 7, -1])
    assert rows.shape == (3, 30)
    np.testing.assert_allclose(rows, full[[0, 7, 29]], rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-9 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(rollout(attn, **options, outputs=7), rows[1], rtol=1e-6)  # gemv vs gemm


def test_relevance_rows_are_the_full_rows():
    rng = np.random.default_rng(3)
    attn = _attention(rng, (5, 3, 30, 30), np.float32)
    grads = rng.normal(size=attn.shape).astype(np.float32)
    np.testing.assert_allclose(chefer_relevance(attn, grads, -2, outputs=[2, 5]),
                               np.asarray(chefer_relevance(attn, grads, -2))[[2, 5]], rtol=1e-5)
    np.testing.assert_allclose(gradient_rollout(attn, grads, 0.3, outputs=[0, 29]),
                               np.asarray(gradient_rollout(attn, grads, 0.3))[[0, 29]], rtol=1e-5, atol=1e-9)


def test_grid_rows_and_masked_rows():
    attn = _attention(np.random.default_rng(4), (3, 2, 5, 5))
    attn[:, :, 4] = 0  # a padding query: its row stays zero
    axis = PatchAxis(2, 2, 16, (32, 32), prefix=("CLS",))
    grid = AttentionGrid(attn, axis, check_rows=False)
    np.testing.assert_allclose(rollout(grid, residual=0.0, outputs=[0, 4]),
                               np.asarray(rollout(grid, residual=0.0))[[0, 4]], atol=1e-15)
    assert not rollout(grid, residual=0.0, outputs=4).any()
    assert isinstance(rollout(grid, outputs=0), np.ndarray)  # plain, as attention_flow(outputs=)


def test_same_outputs_argument_as_flow():
    attn = _attention(np.random.default_rng(5), (2, 1, 4, 4))
    assert rollout(attn, outputs=[1, 3]).shape == attention_flow(attn, outputs=[1, 3], progress=False).shape


def test_bad_outputs_and_inputs_are_refused():
    rng = np.random.default_rng(6)
    attn = _attention(rng, (2, 2, 4, 4), np.float32)
    grads = rng.normal(size=attn.shape).astype(np.float32)
    for call in (lambda o: rollout(attn, outputs=o), lambda o: chefer_relevance(attn, grads, outputs=o),
                 lambda o: gradient_rollout(attn, grads, outputs=o)):
        with pytest.raises(IndexError, match="out of range"):
            call(4)
        for bad in (1.5, True, [[0]], "CLS"):
            with pytest.raises(ValueError, match="outputs must be token indices"):
                call(bad)
    nan = attn.copy()
    nan[1, 0, 2, 3] = np.nan  # in a row the CLS row never reads directly
    for call in (lambda a: rollout(a, outputs=0), lambda a: chefer_relevance(a, grads, outputs=0),
                 lambda a: gradient_rollout(a, grads, outputs=0)):
        with pytest.raises(ValueError, match="NaN"):
            call(nan)
    with pytest.raises(ValueError, match="do not sum to 1"):
        rollout(attn * 2, outputs=0)
