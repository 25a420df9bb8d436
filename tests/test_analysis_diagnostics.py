import numpy as np
import pytest

from multiattn import AttentionGrid, TokenAxis
from multiattn.analysis import diagnose, position_bias

from .conftest import random_attention

CHECKS = ["collapse", "uniform", "padding", "position_bias", "redundant", "sinks"]


def _report(attn, **kw):
    return {r["check"]: r for r in diagnose(attn, **kw)}


def test_position_bias_by_hand():
    prev = np.eye(4, k=-1)
    prev[0, 0] = 1
    # profile: offset 0 -> 1/4 (only row 0), offset -1 -> 1; predicted rows 1..3 = [.8, .2] -> TV .2
    assert position_bias(prev, "relative")[0, 0] == pytest.approx(1 - 0.6 / 4)
    assert position_bias(prev)[0, 0] == pytest.approx(1 - 0.6 / 4)  # better than absolute
    assert position_bias(np.full((3, 3), 1 / 3))[0, 0] == pytest.approx(1.0)
    # content-driven: each query picks a different non-local key
    content = np.eye(4)[[2, 0, 3, 1]]
    assert position_bias(content)[0, 0] < 0.5
    with pytest.raises(ValueError, match="square"):
        position_bias(np.full((2, 3), 1 / 3))


def test_healthy_random_heads_pass(rng):
    report = _report(random_attention(rng, (2, 3, 12, 12)))
    assert list(report) == CHECKS
    for check in ("collapse", "uniform", "position_bias", "redundant", "sinks"):
        assert report[check]["heads"] == [] and report[check]["verdict"].startswith("ok"), check
    assert report["padding"]["score"] is None and "not checked" in report["padding"]["verdict"]


def test_collapse_uniform_and_redundant_are_flagged(rng):
    n = 6
    sink = np.zeros((n, n))
    sink[:, 3] = 1.0
    uniform = np.full((n, n), 1 / n)
    other = random_attention(rng, (n, n)).astype(np.float64)
    attn = np.stack([sink, uniform, sink, other])[None]
    labels = ["[CLS]", "a", "b", "[SEP]", "c", "d"]
    report = _report(AttentionGrid(attn.astype(np.float32), TokenAxis(labels)))
    assert report["collapse"]["heads"] == [[0, 0], [0, 2]]
    assert report["collapse"]["score"] == pytest.approx(1.0)
    assert "'[SEP]'" in report["collapse"]["verdict"]
    assert report["uniform"]["heads"] == [[0, 1]] and report["uniform"]["score"] == pytest.approx(1.0)
    assert report["redundant"]["heads"] == [[[0, 0], [0, 2]]]
    assert "L0H0, L0H2" in report["redundant"]["verdict"]
    assert report["redundant"]["score"] == pytest.approx(1.0)
    # the sink is content-independent too, the uniform head is left to the uniform check
    assert [0, 0] in report["position_bias"]["heads"] and [0, 1] not in report["position_bias"]["heads"]


def test_padding_from_labels_and_from_mask():
    n = 4
    leaky = np.full((n, n), 0.25)  # mask not applied: real tokens see the two pads
    masked = np.zeros((n, n))
    masked[:, :2] = 0.5
    attn = np.stack([leaky, masked])[None].astype(np.float32)
    grid = AttentionGrid(attn, TokenAxis(["hi", "you", "[PAD]", "[PAD]"]))
    report = _report(grid)
    assert report["padding"]["heads"] == [[0, 0]]
    assert report["padding"]["score"] == pytest.approx(0.5)  # real queries put .5 on pads
    assert "attention mask" in report["padding"]["verdict"]
    same = _report(attn, padding_mask=[False, False, True, True])["padding"]
    assert same["heads"] == [[0, 0]]
    with pytest.raises(ValueError, match="padding_mask"):
        diagnose(attn, padding_mask=[True])


def test_cross_attention_skips_position_bias(rng):
    report = _report(random_attention(rng, (1, 2, 3, 5)))
    assert report["position_bias"]["score"] is None
    assert "cross-attention" in report["position_bias"]["verdict"]
    square_cross = AttentionGrid(random_attention(rng, (1, 2, 3, 3)), TokenAxis(list("abc")),
                                 TokenAxis(list("xyz")), kind="cross")
    assert _report(square_cross)["position_bias"]["score"] is None


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        diagnose(np.array([[np.inf, 0.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="do not sum to 1"):
        diagnose(np.array([[0.2, 0.2], [0.5, 0.5]]))


def test_redundant_heads_are_grouped(rng):
    n = 5
    sink = np.zeros((n, n))
    sink[:, 0] = 1.0
    near = 0.98 * sink + 0.02 / n  # cosine with the sink ~0.999
    distinct = [random_attention(rng, (n, n)).astype(np.float64) for _ in range(2)]
    attn = np.stack([np.stack([sink, distinct[0]]), np.stack([near, sink]), np.stack(
        [distinct[1], np.eye(n)])])
    groups = _report(attn)["redundant"]["heads"]
    assert groups == [[[0, 0], [1, 0], [1, 1]]]
