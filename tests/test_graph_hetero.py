"""Heterogeneous graphs: HeteroConv / to_hetero through the public API, files, refusals and drawing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.nn import GATConv, GCNConv, HeteroConv, SAGEConv, to_hetero

import multiattn
from multiattn import GridSet
from multiattn.adapters.graph import capture
from multiattn.errors import MultiattnTypeError, MultiattnValueError, UnsupportedModelError
from multiattn.renderers.network import draw_hetero

from .test_sweep_graph import _hetero, _HeteroGAT


class _Plain(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = GATConv((-1, -1), 6, heads=3, add_self_loops=False)

    def forward(self, x, edge_index):
        return self.conv(x, edge_index)


def _bipartite():
    data = _hetero()
    del data["paper", "cites", "paper"]
    return data


def test_api_capture_of_heterodata_is_a_gridset_per_edge_type():
    torch.manual_seed(0)
    data = _hetero()
    model = _HeteroGAT(data.metadata())
    grids = multiattn.capture(model, data)
    assert isinstance(grids, GridSet) and grids.meta["heterogeneous"]
    assert grids.meta["node_types"] == {"author": 4, "paper": 6}
    rev = grids["paper__rev_writes__author"]
    assert (rev.meta["source_type"], rev.meta["target_type"]) == ("paper", "author")
    assert rev.kind == "cross" and len(rev.key) == 6 and len(rev.query) == 4
    assert rev.meta["layer_types"] == ["GATConv", "GATConv"]


def test_to_hetero_model_is_read_per_edge_type():
    torch.manual_seed(0)
    data = _bipartite()
    model = to_hetero(_Plain(), data.metadata())
    grids = capture(model, data)
    assert list(grids) == ["author__writes__paper", "paper__rev_writes__author"]
    model.eval()
    with torch.no_grad():
        model(data.x_dict, data.edge_index_dict)  # lazy layers are initialised by now
        for et in data.edge_types:
            inner = model.conv["__".join(et)]
            _, (edges, alpha) = inner((data[et[0]].x, data[et[2]].x), data[et].edge_index,
                                      return_attention_weights=True)
            grid = grids["__".join(et)]
            assert grid.layers == ("conv",) and grid.shape == (1, 3, edges.shape[1])
            np.testing.assert_array_equal(grid.values[0], alpha.numpy().T)


def test_heteroconv_passes_edge_attr_dict():
    torch.manual_seed(0)
    data = _bipartite()
    writes = ("author", "writes", "paper")
    data[writes].edge_attr = torch.randn(data[writes].edge_index.shape[1], 2)
    rev = ("paper", "rev_writes", "author")
    conv = HeteroConv({writes: GATConv((-1, -1), 4, heads=2, edge_dim=2, add_self_loops=False),
                       rev: GATConv((-1, -1), 4, heads=2, add_self_loops=False)})
    grids = capture(conv, data)
    inner = conv.convs[writes]
    with torch.no_grad():
        _, (_, alpha) = inner((data["author"].x, data["paper"].x), data[writes].edge_index,
                              data[writes].edge_attr, return_attention_weights=True)
        _, (_, without) = inner((data["author"].x, data["paper"].x), data[writes].edge_index,
                                return_attention_weights=True)
    np.testing.assert_array_equal(grids["author__writes__paper"].values[0], alpha.numpy().T)
    assert np.abs(alpha - without).max() > 1e-3


def test_gridset_of_a_hetero_capture_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    data = _hetero()
    grids = capture(_HeteroGAT(data.metadata()), data)
    back = multiattn.load_grids(grids.save(tmp_path / "hetero.npz"))
    assert list(back) == list(grids)
    for name in grids:
        np.testing.assert_array_equal(back[name].values, grids[name].values)
        np.testing.assert_array_equal(back[name].edge_index, grids[name].edge_index)
        assert back[name].meta["edge_type"] == grids[name].meta["edge_type"]


def test_hetero_refusals_are_clear():
    data = _hetero()
    model = HeteroConv({et: SAGEConv((-1, -1), 4) for et in data.edge_types})
    with pytest.raises(UnsupportedModelError, match="has no attention"):
        multiattn.capture(model, data)
    with pytest.raises(UnsupportedModelError, match="has no attention"):
        multiattn.capture(GCNConv(4, 4), data)
    torch.manual_seed(0)
    gat = _HeteroGAT(data.metadata())
    with pytest.raises(MultiattnValueError, match="needs one edge type"):
        multiattn.explain(gat, data, target=0)
    with pytest.raises(UnsupportedModelError, match="streaming a heterogeneous graph"):
        from multiattn.adapters.graph import graph_layers, run_with_layer_hooks

        run_with_layer_hooks(gat, data, graph_layers(gat), lambda *a: None)


def test_missing_forward_field_is_named_not_a_deep_traceback():
    class NeedsTypes(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = GATConv(5, 4)

        def forward(self, x, edge_index, edge_type):
            return self.conv(x, edge_index)

    data = _plain_data()  # no edge_type
    with pytest.raises(MultiattnValueError, match="takes edge_type but the Data has no such field"):
        capture(NeedsTypes(), data)
    with pytest.raises(MultiattnValueError, match=r"failed on this input, called as model\(x=data.x"):
        capture(GATConv(7, 4), data)  # wrong feature size: PyG's error, named with the call made


def test_draw_hetero_shows_every_type_on_one_scale(tmp_path):
    import matplotlib.pyplot as plt

    from multiattn.renderers.figure import save_figure

    torch.manual_seed(0)
    data = _hetero()
    grids = capture(_HeteroGAT(data.metadata()), data)
    ax = draw_hetero(grids)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:2] == ["author (4 nodes)", "paper (6 nodes)"]
    assert any("cites" in t for t in texts) and len(texts) == 5
    assert ax.get_title().startswith("layer conv2, mean of heads")
    assert len(ax.figure.axes) == 2  # the shared edge colorbar
    first = save_figure(ax.figure, tmp_path / "a.png").read_bytes()
    plt.close(ax.figure)
    ax = draw_hetero(grids)
    assert save_figure(ax.figure, tmp_path / "b.png").read_bytes() == first  # seeded layout
    plt.close(ax.figure)
    with pytest.raises(MultiattnValueError, match="has no layer 'conv9'"):
        draw_hetero(grids, layer="conv9")
    with pytest.raises(MultiattnTypeError, match="not a heterogeneous graph grid"):
        draw_hetero({"g": capture(GATConv(5, 4), _plain_data())})
    with pytest.raises(TypeError):
        draw_hetero(grids, colour="red")  # unknown keyword arguments are refused


def _plain_data():
    from torch_geometric.data import Data

    return Data(x=torch.randn(4, 5), edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]))


def test_batched_heterodata_splits_into_per_graph_gridsets():
    from torch_geometric.data import Batch

    from multiattn.adapters.graph import split_graphs

    torch.manual_seed(0)
    graphs = [_hetero(seed) for seed in range(3)]
    model = _HeteroGAT(graphs[0].metadata())
    batch = Batch.from_data_list(graphs)
    grids = capture(model, batch)
    assert grids["author__writes__paper"].meta["num_graphs"] == 3
    parts = split_graphs(grids)
    assert len(parts) == 3 and all(isinstance(p, GridSet) for p in parts)
    for part, graph in zip(parts, graphs):
        alone = capture(model, graph)
        assert list(part) == list(alone)
        for name in alone:
            assert len(part[name].query) == len(alone[name].query)
            assert len(part[name].key) == len(alone[name].key)
            np.testing.assert_array_equal(part[name].edge_index, alone[name].edge_index)
            np.testing.assert_allclose(part[name].values, alone[name].values, atol=1e-6)
