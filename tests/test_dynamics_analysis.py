"""metrics_by_step / phase_change_step on hand-built attention with known scores."""

import numpy as np
import pytest

from multiattn import AttentionGrid, TokenAxis
from multiattn.analysis.dynamics import DYNAMICS_METRICS, metrics_by_step, phase_change_step

from .conftest import random_attention

TOKENS = ["<bos>", "a", "b", "c", "a", "b", "c"]


def _uniform_causal(n: int) -> np.ndarray:
    arr = np.tril(np.ones((n, n)))
    return arr / arr.sum(1, keepdims=True)


def _induction(n: int, targets: dict[int, int]) -> np.ndarray:
    arr = _uniform_causal(n)
    for query, key in targets.items():
        arr[query] = 0.0
        arr[query, key] = 1.0
    return arr


def test_induction_score_by_step_matches_hand_computation():
    # queries 4, 5, 6 repeat tokens 1, 2, 3: the induction target is the token after: 2, 3, 4
    formed = _induction(7, {4: 2, 5: 3, 6: 4})
    half = 0.5 * formed + 0.5 * _uniform_causal(7)
    grids = {step: AttentionGrid(arr[None, None].astype(np.float32), TokenAxis(TOKENS))
             for step, arr in [(200, formed), (0, _uniform_causal(7)), (100, half)]}
    metrics = metrics_by_step(grids)
    assert metrics["steps"].tolist() == [0, 100, 200]
    assert set(DYNAMICS_METRICS) <= set(metrics)
    uniform_on_target = np.mean([1 / 5, 1 / 6, 1 / 7])  # query i spreads over i + 1 keys
    expected = [uniform_on_target, 0.5 + 0.5 * uniform_on_target, 1.0]
    np.testing.assert_allclose(metrics["induction"][:, 0, 0], expected, rtol=1e-6)
    # uniform causal rows have normalised entropy 1; the formed head is not uniform
    assert metrics["entropy"][0, 0, 0] == pytest.approx(1.0)
    assert metrics["entropy"][2, 0, 0] < metrics["entropy"][0, 0, 0]
    assert phase_change_step(metrics, "induction", 0.5) == 100
    assert phase_change_step(metrics, "induction", 1.1) is None


def test_arrays_need_tokens_for_induction(rng):
    attn = {0: random_attention(rng, (2, 3, 7, 7)), 5: random_attention(rng, (2, 3, 7, 7))}
    without = metrics_by_step(attn)
    assert without["entropy"].shape == (2, 2, 3)
    assert np.isnan(without["induction"]).all()
    with_tokens = metrics_by_step(attn, tokens=TOKENS)
    assert np.isfinite(with_tokens["induction"]).all()


def test_bad_input_is_named(rng):
    with pytest.raises(ValueError, match="empty"):
        metrics_by_step({})
    with pytest.raises(ValueError, match="same input"):
        metrics_by_step({0: random_attention(rng, (1, 2, 5, 5)), 1: random_attention(rng, (1, 2, 6, 6))})
    with pytest.raises(ValueError, match="non-negative integers"):
        metrics_by_step({-1: random_attention(rng, (1, 2, 5, 5))})
    with pytest.raises(ValueError, match="'steps'"):
        phase_change_step({"induction": np.zeros((1, 1, 1))})


@pytest.mark.parametrize("module", ["multiattn.analysis.dynamics", "multiattn.analysis.corpus",
                                    "multiattn.renderers.training"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), extraglobs={"np": np})
    assert result.attempted > 0 and result.failed == 0
