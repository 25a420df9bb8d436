"""Graph adapter: exact capture from PyG layers, constructors, and bad input."""

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn import GATConv, GATv2Conv, TransformerConv

from multiattn import NodeAxis, RowSumWarning
from multiattn.adapters._graph_build import DIRECTION
from multiattn.adapters.graph import capture, from_dense, from_edges, from_networkx

LAYER_TYPES = [GATConv, GATv2Conv, TransformerConv]


class _TwoLayers(torch.nn.Module):
    def __init__(self, conv, heads=3):
        super().__init__()
        self.first = conv(5, 4, heads=heads)
        self.second = conv(4 * heads, 4, heads=heads)

    def forward(self, x, edge_index):
        return self.second(torch.relu(self.first(x, edge_index)), edge_index)


def _graph(n=12, e=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=gen)
    edge_index = torch.randint(0, n, (2, e), generator=gen)
    return Data(x=x, edge_index=edge_index, y=torch.arange(n) % 3)


@pytest.mark.parametrize("conv", LAYER_TYPES, ids=lambda c: c.__name__)
def test_capture_equals_return_attention_weights(conv):
    torch.manual_seed(0)
    model = _TwoLayers(conv)
    data = _graph()
    grid = capture(model, data)
    assert grid.shape[:2] == (2, 3) and grid.layers == ("first", "second")
    model.eval()
    with torch.no_grad():
        hidden, (edges1, alpha1) = model.first(data.x, data.edge_index, return_attention_weights=True)
        _, (edges2, alpha2) = model.second(torch.relu(hidden), data.edge_index,
                                           return_attention_weights=True)
    # the layer's own output, edge for edge, self-loops included
    np.testing.assert_array_equal(grid.edge_index, edges1.numpy())
    np.testing.assert_array_equal(edges2.numpy(), edges1.numpy())
    np.testing.assert_array_equal(grid.values[0], alpha1.numpy().T)
    np.testing.assert_array_equal(grid.values[1], alpha2.numpy().T)
    loops = grid.edge_index[0] == grid.edge_index[1]
    adds_loops = conv is not TransformerConv
    assert grid.meta["self_loops"] == int(loops.sum())
    assert (grid.meta["self_loops"] >= data.num_nodes) == adds_loops
    assert grid.meta["self_loops_added"] == [adds_loops, adds_loops]
    assert grid.meta["direction"] == DIRECTION
    assert grid.query.groups == tuple(data.y.tolist())


def test_capture_runs_in_eval_and_restores_training_flag():
    torch.manual_seed(0)
    model = _TwoLayers(GATConv)
    model.first.dropout = 0.9  # would perturb alpha in training mode
    model.train()
    data = _graph()
    first, second = capture(model, data), capture(model, data)
    np.testing.assert_array_equal(first.values, second.values)
    assert model.training
    sums = np.zeros((2, 3, data.num_nodes))
    np.add.at(sums, (slice(None), slice(None), first.edge_index[1]), first.values)
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)


def test_capture_single_layer_and_layer_selection():
    torch.manual_seed(0)
    model = _TwoLayers(GATv2Conv)
    data = _graph()
    only = capture(model, data, layers=["second"])
    assert only.layers == ("second",)
    single = capture(model.first, (data.x, data.edge_index))
    assert single.layers == ("GATv2Conv",) and single.shape[1] == 3
    with pytest.raises(ValueError, match="no attention layer named"):
        capture(model, data, layers=["third"])
    with pytest.raises(ValueError, match="no attention layer"):
        capture(torch.nn.Linear(3, 3), data)


def test_capture_rejects_mixed_head_counts():
    class Mixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = GATConv(5, 4, heads=2)
            self.b = GATConv(8, 2, heads=1)

        def forward(self, x, edge_index):
            return self.b(self.a(x, edge_index), edge_index)

    with pytest.raises(ValueError, match="different head counts"):
        capture(Mixed(), _graph())
    assert capture(Mixed(), _graph(), layers=["b"]).shape[1] == 1


def test_from_edges_layouts_and_meta():
    edges = [[0, 1, 2, 2], [1, 2, 2, 0]]
    pyg = np.array([[1.0, 1.0], [0.4, 0.5], [0.6, 0.5], [1.0, 1.0]])  # (E, heads)
    grid = from_edges(edges, pyg, num_nodes=4)
    assert grid.shape == (1, 2, 4)
    np.testing.assert_allclose(grid.values[0], pyg.T)
    assert grid.meta["self_loops"] == 1 and grid.meta["isolated_nodes"] == 1  # node 3
    with pytest.raises(ValueError, match=r"looks like \(heads, E\)"):
        from_edges(edges, pyg.T)


def test_from_dense_matches_to_dense(rng):
    from .conftest import random_attention

    dense = random_attention(rng, (2, 3, 5, 5))
    dense[..., 0, 4] = 0.0
    dense /= dense.sum(-1, keepdims=True)
    grid = from_dense(dense)
    assert grid.shape == (2, 3, 24)  # 25 pairs minus the one zero
    np.testing.assert_allclose(grid.to_dense().values, dense, rtol=1e-6)


def test_from_networkx_carries_ids_labels_groups():
    graph = nx.karate_club_graph()
    for u, v in graph.edges:
        graph.edges[u, v]["attention"] = [0.1, 0.2]
    for node in graph.nodes:
        graph.nodes[node]["name"] = f"member {node}"
    with pytest.warns(RowSumWarning):
        grid = from_networkx(graph, group="club", label="name")
    assert grid.shape == (1, 2, 2 * graph.number_of_edges())
    assert grid.query.ids == tuple(graph.nodes)
    assert grid.query.labels[5] == "member 5"
    assert grid.meta["group_names"] == ["Mr. Hi", "Officer"]
    assert grid.query.groups[0] == 0 and grid.query.groups[33] == 1
    directed = nx.DiGraph([("a", "b", {"attention": 0.5}), ("b", "b", {"attention": 0.5})])
    grid = from_networkx(directed)
    assert grid.edge_index.tolist() == [[0, 1], [1, 1]]  # b attends to a and to itself


def test_multi_edges_policies():
    edges = [[0, 0, 1], [1, 1, 0]]
    with pytest.raises(ValueError, match="repeated edges"):
        from_edges(edges, [0.3, 0.7, 1.0])
    summed = from_edges(edges, [0.3, 0.7, 1.0], multi_edges="sum")
    assert summed.edge_index.tolist() == [[0, 1], [1, 0]]
    np.testing.assert_allclose(summed.values[0, 0], [1.0, 1.0])
    kept = from_edges(edges, [0.3, 0.7, 1.0], multi_edges="keep")
    assert kept.shape == (1, 1, 3) and kept.meta["multi_edges"]["count"] == 1
    multi = nx.MultiDiGraph([(0, 1, {"attention": 0.5}), (0, 1, {"attention": 0.5})])
    with pytest.raises(ValueError, match="repeated edges"):
        from_networkx(multi)


@pytest.mark.parametrize("edges, alpha, kwargs, message", [
    (np.zeros((2, 0), int), np.zeros(0), {"num_nodes": 0}, "empty graph"),
    (np.zeros((2, 0), int), np.zeros(0), {"num_nodes": 3}, "no edges"),
    ([[0, 5], [1, 1]], [0.5, 0.5], {"num_nodes": 3}, "refer to missing nodes"),
    ([[0, 1], [1, 1]], [np.nan, 0.5], {}, "NaN"),
    ([[0, 1], [1, 1]], [0.2, 0.3, 0.5], {}, "3 values per head but edge_index has 2 edges"),
    ([[0, 1, 1]], [0.5], {}, r"shape \(2, E\)"),
    ([[0, 1], [1, 1]], [0.5, 0.5], {"multi_edges": "drop"}, "multi_edges must be"),
])
def test_bad_edges_are_refused_clearly(edges, alpha, kwargs, message):
    with pytest.raises(ValueError, match=message):
        from_edges(edges, alpha, **kwargs)


def test_bad_graphs_are_refused_clearly():
    with pytest.raises(ValueError, match="empty graph"):
        from_networkx(nx.Graph())
    with pytest.raises(ValueError, match="no edges"):
        from_networkx(nx.empty_graph(3))
    with pytest.raises(ValueError, match="has no 'attention' attribute"):
        from_networkx(nx.path_graph(3))
    with pytest.raises(ValueError, match="square"):
        from_dense(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        from_dense(np.array([[np.nan, 1.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="2 entries"):
        from_edges([[0, 1], [1, 0]], [1.0, 1.0], nodes=NodeAxis([0, 1]), num_nodes=3)


def test_isolated_nodes_are_kept():
    graph = nx.DiGraph()
    graph.add_nodes_from(["a", "b", "lonely"])
    graph.add_edge("a", "b", attention=1.0)
    grid = from_networkx(graph)
    assert len(grid.query) == 3 and grid.meta["isolated_nodes"] == 1
    assert grid.to_dense().values[0, 0, 2].sum() == 0.0
