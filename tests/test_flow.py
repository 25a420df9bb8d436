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


@pytest.mark.parametrize("engine", ["numba", "scipy"])
@pytest.mark.parametrize("n_layers,n_tok", [(1, 4), (2, 3), (3, 5), (4, 6)])
def test_matches_networkx_reference(rng, n_layers, n_tok, engine):
    attn = random_attention(rng, (n_layers, 2, n_tok, n_tok))
    ours = attention_flow(attn, engine=engine)
    np.testing.assert_allclose(ours, reference_flow(attn), atol=1e-6)
    assert flow_error_bound(n_layers, n_tok) < 1e-6


def _bottleneck_attention(rng, n_layers, n_tok):
    """Sparse, peaked attention: minimum cuts inside the graph, not at the source or sink arcs."""
    logits = 6.0 * rng.normal(size=(n_layers, 1, n_tok, n_tok))
    logits[:, :, :, rng.integers(n_tok)] += 4.0  # a shared sink token squeezes the flow
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights[weights < 1e-3] = 0.0
    return weights / weights.sum(-1, keepdims=True)


@pytest.mark.parametrize("seed", range(6))
def test_compiled_engine_on_inner_cuts_matches_networkx(seed):
    """residual=0 on peaked attention: the later Dinic phases (reverse arcs) decide the value."""
    rng = np.random.default_rng(seed)
    attn = _bottleneck_attention(rng, 4, 7)
    np.testing.assert_allclose(attention_flow(attn, residual=0.0, engine="numba"),
                               reference_flow(attn, residual=0.0), atol=1e-9)


def test_inner_cuts_do_occur():
    """The case above really leaves trivial cuts unfilled: some pair's flow is below both trivial cuts."""
    from multiattn.analysis._flow_solve import solve_numba

    layers = residual_layers(_bottleneck_attention(np.random.default_rng(0), 4, 7), residual=0.0)
    flows = solve_numba(np.asarray(layers), np.arange(7), 1, None, False)
    trivial = np.minimum(layers[-1].sum(-1)[:, None], layers[0].sum(0)[None, :])
    assert (flows < trivial - 1e-6).any()


def test_engines_agree_at_scale(rng):
    attn = random_attention(rng, (6, 2, 24, 24))
    np.testing.assert_allclose(attention_flow(attn, engine="numba", n_jobs=2),
                               attention_flow(attn, engine="scipy", n_jobs=1), atol=1e-7)


def test_outputs_subset_equals_full_rows(rng):
    attn = random_attention(rng, (4, 2, 9, 9))
    full = attention_flow(attn)
    np.testing.assert_allclose(attention_flow(attn, outputs=[3, -1]), full[[3, 8]], atol=1e-12)
    np.testing.assert_allclose(attention_flow(attn, outputs=2), full[2], atol=1e-12)
    with pytest.raises(IndexError, match="out of range"):
        attention_flow(attn, outputs=[9])


def test_cost_estimate_and_refusal(rng):
    from multiattn.analysis.flow import flow_cost
    from multiattn.errors import CostLimitError

    assert flow_cost(12, 440) > 600 > flow_cost(12, 440, n_outputs=1)
    assert flow_cost(12, 128, engine="scipy") > 5 * flow_cost(12, 128, engine="numba")
    attn = random_attention(rng, (3, 1, 8, 8))
    with pytest.raises(CostLimitError, match="outputs=.*rollout"):
        attention_flow(attn, max_seconds=1e-9)
    with pytest.raises(ValueError, match="engine"):
        attention_flow(attn, engine="fast")


def test_dask_path_equals_local(rng):
    distributed = pytest.importorskip("dask.distributed")
    attn = random_attention(rng, (3, 2, 10, 10))
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None) as client:
        np.testing.assert_allclose(attention_flow(attn, client=client), attention_flow(attn), atol=1e-12)


def test_hand_computed_two_layers():
    # one head, two tokens; after residual mixing both layers are [[0.75, .25], [.25, .75]]
    attn = np.full((2, 1, 2, 2), 0.5)
    # flow from top token 0 to input 0: paths 0->0->0 (min(.75,.75)) + 0->1->0 (min(.25,.25)) = 1.0
    # to input 1: 0->0->1 (min(.75,.25)) + 0->1->1 (min(.25,.75)) = 0.5; row-normalised: 2/3, 1/3
    np.testing.assert_allclose(attention_flow(attn), [[2 / 3, 1 / 3], [1 / 3, 2 / 3]], atol=1e-8)


@pytest.mark.parametrize("engine", ["numba", "scipy"])
def test_parallel_equals_serial(rng, engine):
    attn = random_attention(rng, (3, 2, 8, 8))
    np.testing.assert_allclose(attention_flow(attn, n_jobs=2, engine=engine),
                               attention_flow(attn, n_jobs=1, engine=engine))


def test_grid_input_and_errors(rng):
    attn = random_attention(rng, (2, 1, 3, 3))
    grid = AttentionGrid(attn, TokenAxis(list("abc")))
    np.testing.assert_allclose(attention_flow(grid), attention_flow(attn))
    with pytest.raises(ValueError, match="square"):
        attention_flow(random_attention(rng, (2, 1, 3, 4)))
    with pytest.raises(ValueError, match="residual"):
        attention_flow(attn, residual=2)


def test_batch_sizes_agree(rng, monkeypatch):
    from multiattn.analysis import _flow_solve as flow_module

    attn = random_attention(rng, (4, 3, 7, 7))
    batched = attention_flow(attn, n_jobs=1, engine="scipy")
    monkeypatch.setattr(flow_module.LayeredGraph, "EDGE_BUDGET", 1)  # one problem per solver call
    np.testing.assert_allclose(attention_flow(attn, n_jobs=1, engine="scipy"), batched, atol=1e-9)
    monkeypatch.setattr(flow_module.LayeredGraph, "EDGE_BUDGET", 500)  # batches with a padded tail
    np.testing.assert_allclose(attention_flow(attn, n_jobs=1, engine="scipy"), batched, atol=1e-9)


def test_progress_bar_on_long_problems_keeps_values(rng, capsys):
    attn = random_attention(rng, (3, 2, 48, 48))
    quiet = attention_flow(attn, n_jobs=1, progress=False)
    assert capsys.readouterr().err == ""
    shown = attention_flow(attn, n_jobs=1, progress=True)
    assert "attention flow" in capsys.readouterr().err
    np.testing.assert_array_equal(shown, quiet)


def test_explain_flow_is_the_flow_row():
    """multiattn.explain(method='flow') solves only the target's row; same values as the full matrix."""
    import multiattn

    model, tokenizer = multiattn.load_model("minilm")
    text = "The cat sat on the mat."
    grid = multiattn.capture(model, text, processor=tokenizer)
    amap = multiattn.explain(model, text, processor=tokenizer, method="flow", target=2)
    np.testing.assert_allclose(amap.values, np.asarray(attention_flow(grid))[2], rtol=1e-6, atol=1e-9)
