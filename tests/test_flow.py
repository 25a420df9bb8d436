import networkx as nx
import numpy as np
import pytest

from multiattn import AttentionGrid, TokenAxis
from multiattn.analysis.flow import attention_flow, flow_error_bound
from multiattn.analysis.rollout import residual_layers

from .conftest import random_attention


def reference_flow(attn, residual=0.5):
    """The paper's networkx recipe: layered DiGraph, Edmonds-Karp, rows normalised."""
    layers = residual_layers(attn, residual=residual)
    n_layers, n_tok, _ = layers.shape
    graph = nx.DiGraph()
    for level in range(1, n_layers + 1):
        for q in range(n_tok):
            for k in range(n_tok):
                graph.add_edge((level, q), (level - 1, k), capacity=layers[level - 1][q, k])
    flows = np.zeros((n_tok, n_tok))
    for u in range(n_tok):
        for v in range(n_tok):
            flows[u, v] = nx.maximum_flow_value(graph, (n_layers, u), (0, v),
                                                flow_func=nx.algorithms.flow.edmonds_karp)
    return flows / flows.sum(-1, keepdims=True)


@pytest.mark.parametrize("n_layers,n_tok", [(1, 4), (2, 3), (3, 5), (4, 6)])
def test_matches_networkx_reference(rng, n_layers, n_tok):
    attn = random_attention(rng, (n_layers, 2, n_tok, n_tok))
    ours = attention_flow(attn)
    np.testing.assert_allclose(ours, reference_flow(attn), atol=1e-6)
    assert flow_error_bound(n_layers, n_tok) < 1e-6


def test_hand_computed_two_layers():
    # one head, two tokens; after residual mixing both layers are [[0.75, .25], [.25, .75]]
    attn = np.full((2, 1, 2, 2), 0.5)
    # flow from top token 0 to input 0: paths 0->0->0 (min(.75,.75)) + 0->1->0 (min(.25,.25)) = 1.0
    # to input 1: 0->0->1 (min(.75,.25)) + 0->1->1 (min(.25,.75)) = 0.5; row-normalised: 2/3, 1/3
    np.testing.assert_allclose(attention_flow(attn), [[2 / 3, 1 / 3], [1 / 3, 2 / 3]], atol=1e-8)


def test_parallel_equals_serial(rng):
    attn = random_attention(rng, (3, 2, 8, 8))
    np.testing.assert_allclose(attention_flow(attn, n_jobs=2), attention_flow(attn, n_jobs=1))


def test_grid_input_and_errors(rng):
    attn = random_attention(rng, (2, 1, 3, 3))
    grid = AttentionGrid(attn, TokenAxis(list("abc")))
    np.testing.assert_allclose(attention_flow(grid), attention_flow(attn))
    with pytest.raises(ValueError, match="square"):
        attention_flow(random_attention(rng, (2, 1, 3, 4)))
    with pytest.raises(ValueError, match="residual"):
        attention_flow(attn, residual=2)


def test_batch_sizes_agree(rng, monkeypatch):
    from multiattn.analysis import flow as flow_module

    attn = random_attention(rng, (4, 3, 7, 7))
    batched = attention_flow(attn, n_jobs=1)
    monkeypatch.setattr(flow_module._LayeredGraph, "EDGE_BUDGET", 1)  # one problem per solver call
    np.testing.assert_allclose(attention_flow(attn, n_jobs=1), batched, atol=1e-9)
    monkeypatch.setattr(flow_module._LayeredGraph, "EDGE_BUDGET", 500)  # batches with a padded tail
    np.testing.assert_allclose(attention_flow(attn, n_jobs=1), batched, atol=1e-9)


def test_progress_bar_on_long_problems_keeps_values(rng, capsys):
    attn = random_attention(rng, (3, 2, 48, 48))
    quiet = attention_flow(attn, n_jobs=1, progress=False)
    assert capsys.readouterr().err == ""
    shown = attention_flow(attn, n_jobs=1, progress=True)
    assert "attention flow" in capsys.readouterr().err
    np.testing.assert_array_equal(shown, quiet)
