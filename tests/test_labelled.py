"""Analyses of a grid keep their coordinates (LabelledArray) and still behave like arrays."""

import json
import pickle

import matplotlib.pyplot as plt
import numpy as np
import pytest

from multiattn import AttentionGrid, AttentionMap, TokenAxis
from multiattn.analysis import (
    attention_flow,
    chefer_relevance,
    first_token_share,
    gradient_rollout,
    head_diversity,
    head_entropy,
    head_type_scores,
    rollout,
    topk_concentration,
)
from multiattn.analysis.report import jsonable
from multiattn.analysis.rollout import residual_layers
from multiattn.labelled import LabelledArray
from multiattn.stream import HeadMean, LayerMetric, RolloutReducer, TopK, feed

from .conftest import random_attention

TOKENS = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]


@pytest.fixture
def minilm_like(rng):
    """A MiniLM-shaped (6 layers x 12 heads) random grid over 9 tokens."""
    axis = TokenAxis(TOKENS, special_mask=[t.startswith("[") for t in TOKENS])
    values = random_attention(rng, (6, 12, 9, 9))
    return AttentionGrid(values, axis, layers=[f"layer.{i}" for i in range(6)])


def test_rollout_keeps_the_tokens(minilm_like):
    result = rollout(minilm_like)
    assert isinstance(result, LabelledArray)
    assert result.dims == ("query", "key") and result.shape == (9, 9)
    assert result.coords["key"].labels == tuple(TOKENS)
    assert result.coords["query"] is minilm_like.query
    np.testing.assert_allclose(result, rollout(minilm_like.values))
    assert "TokenAxis[9]" in repr(result) and "'[CLS]'" in repr(result)


@pytest.mark.parametrize("method", ["flow", "chefer", "gradient_rollout"])
def test_other_position_results_keep_the_axes(minilm_like, rng, method):
    grads = rng.normal(size=minilm_like.shape)
    small = minilm_like.select(layer=[0, 1, 2])
    compute = {"flow": lambda a: attention_flow(a, n_jobs=1, progress=False),
               "chefer": lambda a: chefer_relevance(a, grads),
               "gradient_rollout": lambda a: gradient_rollout(a, grads)}[method]
    labelled = compute(minilm_like if method != "flow" else small)
    plain = compute(minilm_like.values if method != "flow" else small.values)
    assert type(plain) is np.ndarray
    assert labelled.dims == ("query", "key") and labelled.coords["key"] is minilm_like.key
    np.testing.assert_allclose(labelled, plain)


def test_plain_input_stays_plain(minilm_like):
    values = minilm_like.values
    for result in (rollout(values), head_entropy(values), residual_layers(values),
                   head_diversity(values, by_layer=True)):
        assert type(result) is np.ndarray


def test_head_entropy_selects_by_label(minilm_like):
    entropy = head_entropy(minilm_like)
    plain = head_entropy(minilm_like.values)
    assert entropy.dims == ("layer", "head") and entropy.shape == (6, 12)
    assert entropy.coords["layer"] == minilm_like.layers
    assert entropy.coords["head"] == minilm_like.heads
    assert entropy.sel(layer=minilm_like.layers[2], head=3) == pytest.approx(plain[2, 3])
    assert entropy.sel(layer=2, head="3") == pytest.approx(plain[2, 3])
    one_layer = entropy.sel(layer="layer.4")
    assert one_layer.dims == ("head",)
    np.testing.assert_allclose(one_layer, plain[4])
    picked = entropy.sel(head=[1, 3])
    assert picked.shape == (6, 2) and picked.coords["head"] == ("1", "3")
    with pytest.raises(KeyError, match="layer.9"):
        entropy.sel(layer="layer.9")
    with pytest.raises(KeyError, match="no dim"):
        entropy.sel(query=0)


def test_per_head_and_per_layer_metrics_are_labelled(minilm_like):
    for metric in (first_token_share, lambda g: topk_concentration(g, 2)):
        result = metric(minilm_like)
        assert result.dims == ("layer", "head") and result.coords["layer"] == minilm_like.layers
    by_layer = head_diversity(minilm_like, by_layer=True)
    assert by_layer.dims == ("layer",) and by_layer.shape == (6,)
    scores = head_type_scores(minilm_like)
    assert scores["previous_token"].coords["layer"] == minilm_like.layers
    layers = residual_layers(minilm_like)
    assert layers.dims == ("layer", "query", "key") and layers.coords["key"] is minilm_like.key


def test_row_is_an_attention_map_over_the_key_axis(minilm_like):
    result = rollout(minilm_like)
    amap = result.row(0)
    assert isinstance(amap, AttentionMap) and amap.axis is minilm_like.key
    np.testing.assert_allclose(amap.values, result.values[0], rtol=1e-6)
    np.testing.assert_allclose(result.row("cat").values, result[2], rtol=1e-6)
    with pytest.raises(ValueError, match="query"):
        head_entropy(minilm_like).row(0)


def test_to_grid_and_records(minilm_like):
    result = rollout(minilm_like)
    grid = result.to_grid()
    assert isinstance(grid, AttentionGrid) and grid.shape == (1, 1, 9, 9)
    assert grid.key is minilm_like.key and grid.kind == "self" and grid.layers == ("rollout",)
    records = head_entropy(minilm_like).to_records()
    assert len(records) == 72
    assert records[13] == {"layer": "layer.1", "head": "1", "value": pytest.approx(head_entropy(
        minilm_like.values)[1, 1])}
    cells = result.to_records(index=True)
    assert cells[1]["query"] == "[CLS]" and cells[1]["key"] == "the" and cells[1]["key_index"] == 1


def test_behaves_like_an_array(minilm_like, tmp_path):
    result = rollout(minilm_like)
    plain = result.values
    assert result.shape == (9, 9) and result.ndim == 2 and result.dtype == np.float64 and len(result) == 9
    assert type(result + 1) is np.ndarray and type(result[0]) is np.ndarray
    np.testing.assert_allclose(result * 2 - result, plain)
    np.testing.assert_allclose(result @ result, plain @ plain)
    np.testing.assert_allclose(np.exp(result), np.exp(plain))
    assert (result == plain).all() and (result >= 0).all()
    assert float(result.max()) == plain.max() and result.argmax() == plain.argmax()
    np.testing.assert_allclose(result.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.mean(result, axis=0), plain.mean(0))
    assert result.tolist() == plain.tolist() and [list(r) for r in result] == plain.tolist()
    assert np.asarray(result) is plain and np.array(result) is not plain
    assert np.asarray(result, dtype=np.float32).dtype == np.float32
    np.savez(tmp_path / "r.npz", rollout=result)
    np.testing.assert_array_equal(np.load(tmp_path / "r.npz")["rollout"], plain)
    assert json.loads(json.dumps(jsonable({"r": result}))) == {"r": plain.tolist()}
    assert pickle.loads(pickle.dumps(result)).coords["key"].labels == tuple(TOKENS)
    fig, ax = plt.subplots()
    np.testing.assert_array_equal(ax.imshow(result).get_array(), plain)
    plt.close(fig)


def test_writes_go_through_and_copies_are_independent(minilm_like):
    result = rollout(minilm_like)
    copy = result.copy()
    assert isinstance(copy, LabelledArray) and copy.coords == result.coords
    result[0, 0] = 5.0
    result *= 2
    assert isinstance(result, LabelledArray) and result.values[0, 0] == 10.0
    assert copy.values[0, 0] != 10.0


def test_reducers_carry_the_fed_layer_names(minilm_like):
    reducers = {"e": LayerMetric(head_entropy), "r": RolloutReducer(), "m": HeadMean(), "t": TopK(3)}
    for name in minilm_like.layers:
        feed(reducers, f"encoder.{name}", minilm_like.select(layer=name))
    names = tuple(f"encoder.{name}" for name in minilm_like.layers)
    entropy = reducers["e"].result()
    assert entropy.coords["layer"] == names and entropy.coords["head"] == minilm_like.heads
    np.testing.assert_allclose(entropy, head_entropy(minilm_like), rtol=1e-6)
    expected = head_entropy(minilm_like.values)[2, 3]
    assert entropy.sel(layer="encoder.layer.2", head=3) == pytest.approx(expected)
    product = reducers["r"].result()
    assert product.coords["key"] is minilm_like.key
    np.testing.assert_allclose(product, rollout(minilm_like), rtol=1e-5)
    means = reducers["m"].result()
    assert means.dims == ("layer", "head", "query", "key") and means.coords["layer"] == names
    top = reducers["t"].result()
    assert top["values"].coords["layer"] == names and top["indices"].shape == (6, 12, 9, 3)


def test_reducers_fed_arrays_label_heads_by_index(rng):
    reducer = LayerMetric(head_entropy)
    reducer.update("blocks.0", random_attention(rng, (4, 5, 5)))
    result = reducer.result()
    assert result.coords == {"layer": ("blocks.0",), "head": ("0", "1", "2", "3")}


def test_construction_is_checked():
    with pytest.raises(ValueError, match="dims"):
        LabelledArray(np.zeros((2, 3)), ("layer",))
    with pytest.raises(ValueError, match="labels"):
        LabelledArray(np.zeros((2, 3)), ("layer", "head"), {"layer": ["a"]})
    with pytest.raises(ValueError, match="unknown dims"):
        LabelledArray(np.zeros(2), ("layer",), {"head": ["a", "b"]})
    with pytest.raises(TypeError, match="Axis"):
        LabelledArray(np.eye(2), ("query", "key")).row(0)


def test_docstring_examples_run():
    import doctest

    import multiattn.labelled
    import multiattn.stream

    for module in (multiattn.labelled, multiattn.stream):
        result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__
