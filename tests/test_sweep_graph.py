"""Sweep of PyG attention families: random-init small models, each captured and checked.

Per family: layer / head / edge counts, each target's weights over its incoming edges sum
to 1 (or the layer's own normalisation, said in ``meta["normalized"]``), the model's output
unchanged by the capture, and the values equal to PyG's own alpha
(``return_attention_weights=True``) or, for layers that do not return alpha, to an
independent numpy recomputation from the tensors the layer's ``message`` received.
Layers without attention are refused with an ``UnsupportedModelError`` that says so.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data, HeteroData
from torch_geometric.nn import (
    AGNNConv,
    GATConv,
    GATv2Conv,
    GCNConv,
    GINConv,
    GPSConv,
    HeteroConv,
    HGTConv,
    RGATConv,
    SAGEConv,
    SuperGATConv,
    TransformerConv,
)
from torch_geometric.utils import add_self_loops, remove_self_loops, to_dense_batch

from multiattn import GridSet
from multiattn.adapters.graph import capture
from multiattn.errors import MultiattnWarning, UnsupportedModelError

N, F_IN, E = 10, 6, 30


def _data(seed=0, n=N, e=E, edge_dim=None, relations=None):
    gen = torch.Generator().manual_seed(seed)
    data = Data(x=torch.randn(n, F_IN, generator=gen), edge_index=torch.randint(0, n, (2, e), generator=gen))
    if edge_dim:
        data.edge_attr = torch.randn(e, edge_dim, generator=gen)
    if relations:
        data.edge_type = torch.randint(0, relations, (e,), generator=gen)
    return data


def _softmax(scores, target, n):
    """Numpy softmax of ``scores (E, H)`` over each target's incoming edges (the reference)."""
    scores = np.asarray(scores, np.float64)
    top = np.full((n,) + scores.shape[1:], -np.inf)
    np.maximum.at(top, target, scores)
    ex = np.exp(scores - top[target])
    den = np.zeros_like(top)
    np.add.at(den, target, ex)
    return ex / den[target]


def _row_sums(grid):
    sums = np.zeros(grid.shape[:2] + (len(grid.query),))
    np.add.at(sums, (slice(None), slice(None), grid.edge_index[1]), grid.values)
    has_in = np.bincount(grid.edge_index[1], minlength=len(grid.query)) > 0
    return sums[..., has_in]


def _output_unchanged(model, call, grab):
    """Capture, and check the forward inside the capture gave the eval output (and after it too)."""
    model.eval()
    with torch.no_grad():
        before = call()
    seen = []
    handle = model.register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        result = grab()
    finally:
        handle.remove()
    with torch.no_grad():
        after = call()
    flat = lambda out: torch.cat([v.flatten() for v in out.values()]) if isinstance(out, dict) else out  # noqa: E731
    assert len(seen) == 1
    torch.testing.assert_close(flat(seen[0]), flat(before), rtol=0, atol=0)
    torch.testing.assert_close(flat(after), flat(before), rtol=0, atol=0)
    return result


class _EdgeModel(torch.nn.Module):
    def __init__(self, conv, **kwargs):
        super().__init__()
        self.conv1 = conv(F_IN, 4, heads=2, edge_dim=3, **kwargs)
        self.conv2 = conv(8, 4, heads=2, edge_dim=3, **kwargs)

    def forward(self, x, edge_index, edge_attr):
        return self.conv2(self.conv1(x, edge_index, edge_attr).relu(), edge_index, edge_attr)


@pytest.mark.parametrize("conv", [GATConv, GATv2Conv, TransformerConv], ids=lambda c: c.__name__)
def test_edge_attr_layers_equal_return_attention_weights(conv):
    torch.manual_seed(0)
    model, data = _EdgeModel(conv), _data(edge_dim=3)
    grid = _output_unchanged(model, lambda: model(data.x, data.edge_index, data.edge_attr),
                             lambda: capture(model, data))
    with torch.no_grad():
        hidden, (edges1, alpha1) = model.conv1(data.x, data.edge_index, data.edge_attr,
                                               return_attention_weights=True)
        _, (edges2, alpha2) = model.conv2(hidden.relu(), data.edge_index, data.edge_attr,
                                          return_attention_weights=True)
        _, (_, no_attr) = model.conv1(data.x, data.edge_index, return_attention_weights=True) \
            if conv is not TransformerConv else (None, (None, alpha1 + 1))
    assert grid.shape == (2, 2, edges1.shape[1]) and grid.layers == ("conv1", "conv2")
    np.testing.assert_array_equal(grid.edge_index, edges1.numpy())
    np.testing.assert_array_equal(grid.values[0], alpha1.numpy().T)
    np.testing.assert_array_equal(grid.values[1], alpha2.numpy().T)
    assert np.abs(grid.values[0] - no_attr.numpy().T).max() > 1e-3  # edge_attr really changes alpha
    np.testing.assert_allclose(_row_sums(grid), 1.0, atol=1e-5)


def test_transformer_conv_alone_with_edge_attr_through_data():
    torch.manual_seed(0)
    conv, data = TransformerConv(F_IN, 5, heads=3, edge_dim=3), _data(edge_dim=3)
    grid = capture(conv, data)
    conv.eval()
    with torch.no_grad():
        _, (edges, alpha) = conv(data.x, data.edge_index, data.edge_attr, return_attention_weights=True)
    assert grid.shape == (1, 3, E)
    np.testing.assert_array_equal(grid.values[0], alpha.numpy().T)
    np.testing.assert_array_equal(grid.edge_index, edges.numpy())


def test_supergat_equals_its_own_attention_function():
    torch.manual_seed(0)
    conv, data = SuperGATConv(F_IN, 4, heads=3, attention_type="MX"), _data()
    grid = _output_unchanged(conv, lambda: conv(data.x, data.edge_index), lambda: capture(conv, data))
    ei, _ = add_self_loops(remove_self_loops(data.edge_index)[0], num_nodes=N)
    with torch.no_grad():
        x = conv.lin(data.x).view(-1, 3, 4)
        logits = (x[ei[1]] * x[ei[0]]).sum(-1)
        scores = ((x[ei[0]] * conv.att_l).sum(-1) + (x[ei[1]] * conv.att_r).sum(-1)) * logits.sigmoid()
        scores = torch.nn.functional.leaky_relu(scores, conv.negative_slope)
    assert grid.shape == (1, 3, ei.shape[1]) and grid.meta["layer_types"] == ["SuperGATConv"]
    np.testing.assert_array_equal(grid.edge_index, ei.numpy())
    np.testing.assert_allclose(grid.values[0], _softmax(scores.numpy(), ei[1].numpy(), N).T, atol=1e-6)
    np.testing.assert_allclose(_row_sums(grid), 1.0, atol=1e-5)


def test_agnn_equals_cosine_softmax():
    torch.manual_seed(0)
    conv, data = AGNNConv(requires_grad=True), _data()
    with torch.no_grad():
        conv.beta.fill_(1.7)
    grid = _output_unchanged(conv, lambda: conv(data.x, data.edge_index), lambda: capture(conv, data))
    ei, _ = add_self_loops(remove_self_loops(data.edge_index)[0], num_nodes=N)
    unit = torch.nn.functional.normalize(data.x, dim=-1).numpy()
    cos = 1.7 * (unit[ei[0]] * unit[ei[1]]).sum(-1, keepdims=True)
    assert grid.shape == (1, 1, ei.shape[1])
    np.testing.assert_allclose(grid.values[0], _softmax(cos, ei[1].numpy(), N).T, atol=1e-6)


@pytest.mark.parametrize("mechanism", ["across-relation", "within-relation"])
def test_rgat_equals_return_attention_weights(mechanism):
    torch.manual_seed(0)
    conv = RGATConv(F_IN, 4, num_relations=3, heads=2, attention_mechanism=mechanism)
    data = _data(relations=3)
    grid = _output_unchanged(conv, lambda: conv(data.x, data.edge_index, data.edge_type),
                             lambda: capture(conv, data))
    with torch.no_grad():
        _, (edges, alpha) = conv(data.x, data.edge_index, data.edge_type, return_attention_weights=True)
    assert grid.shape == (1, 2, E)
    np.testing.assert_array_equal(grid.values[0], alpha.numpy().T)
    np.testing.assert_array_equal(grid.edge_index, edges.numpy())
    if mechanism == "across-relation":
        np.testing.assert_allclose(_row_sums(grid), 1.0, atol=1e-5)
    else:  # each relation's incoming edges sum to 1: said in meta, no false RowSumWarning
        assert "per relation" in grid.meta["normalized"]
        key = data.edge_index[1].numpy() * 3 + data.edge_type.numpy()
        sums = np.zeros((2, 3 * N))
        np.add.at(sums, (slice(None), key), grid.values[0])
        np.testing.assert_allclose(sums[:, np.unique(key)], 1.0, atol=1e-5)


class _GPS(torch.nn.Module):
    def __init__(self, channels=8, heads=2, layers=2):
        super().__init__()
        self.lin = torch.nn.Linear(F_IN, channels)
        self.convs = torch.nn.ModuleList(GPSConv(channels, GINConv(torch.nn.Linear(channels, channels)),
                                                 heads=heads) for _ in range(layers))

    def forward(self, x, edge_index, batch=None):
        x = self.lin(x)
        for conv in self.convs:
            x = conv(x, edge_index, batch)
        return x


def _mha_reference(mha, h, pad):
    """Numpy softmax(q k^T / sqrt(d)) of a MultiheadAttention, padded keys masked: (B, H, N, N)."""
    w, b = mha.in_proj_weight.detach().numpy(), mha.in_proj_bias.detach().numpy()
    h = h.numpy().astype(np.float64)
    q, k = (h @ w[i * mha.embed_dim:(i + 1) * mha.embed_dim].T + b[i * mha.embed_dim:(i + 1) * mha.embed_dim]
            for i in range(2))
    nb, n, _ = h.shape
    q = q.reshape(nb, n, mha.num_heads, -1).transpose(0, 2, 1, 3)
    k = k.reshape(nb, n, mha.num_heads, -1).transpose(0, 2, 1, 3)
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    scores = np.where(pad.numpy()[:, None, None, :], -np.inf, scores)
    ex = np.exp(scores - scores.max(-1, keepdims=True))
    return ex / ex.sum(-1, keepdims=True)


def test_gps_attention_block_equals_dense_softmax_per_graph():
    torch.manual_seed(0)
    model = _GPS()
    graphs = [_data(seed=s, n=n, e=2 * n) for s, n in enumerate((5, 7, 4))]
    batch = Batch.from_data_list(graphs)
    grid = _output_unchanged(model, lambda: model(batch.x, batch.edge_index, batch.batch),
                             lambda: capture(model, batch))
    assert grid.layers == ("convs.0.attn", "convs.1.attn") and grid.shape == (2, 2, 25 + 49 + 16)
    assert grid.meta["layer_types"] == ["MultiheadAttention"] * 2
    np.testing.assert_allclose(_row_sums(grid), 1.0, atol=1e-5)
    inputs = []
    hooks = [conv.attn.register_forward_hook(lambda m, a, o: inputs.append(a[0])) for conv in model.convs]
    with torch.no_grad():
        model(batch.x, batch.edge_index, batch.batch)
    for h in hooks:
        h.remove()
    _, mask = to_dense_batch(batch.x, batch.batch)
    for layer, (conv, h) in enumerate(zip(model.convs, inputs)):
        ref = _mha_reference(conv.attn, h, ~mask)
        for b, start in enumerate(batch.ptr[:-1].tolist()):
            n = graphs[b].num_nodes
            inside = (grid.edge_index[1] >= start) & (grid.edge_index[1] < start + n)
            dense = np.zeros((2, n, n))
            dense[:, grid.edge_index[1, inside] - start, grid.edge_index[0, inside] - start] = \
                grid.values[layer][:, inside]
            np.testing.assert_allclose(dense, ref[b, :, :n, :n], atol=1e-5)


def _hetero(seed=0):
    gen = torch.Generator().manual_seed(seed)
    data = HeteroData()
    data["author"].x = torch.randn(4, 5, generator=gen)
    data["paper"].x = torch.randn(6, 7, generator=gen)
    data["author", "writes", "paper"].edge_index = torch.stack(
        [torch.randint(0, 4, (9,), generator=gen), torch.randint(0, 6, (9,), generator=gen)])
    data["paper", "rev_writes", "author"].edge_index = data["author", "writes", "paper"].edge_index.flip(0)
    data["paper", "cites", "paper"].edge_index = torch.randint(0, 6, (2, 8), generator=gen)
    return data


class _HeteroGAT(torch.nn.Module):
    def __init__(self, metadata):
        super().__init__()
        self.conv1 = HeteroConv({et: GATConv((-1, -1), 8, heads=2, add_self_loops=et[0] == et[2])
                                 for et in metadata[1]})
        self.conv2 = HeteroConv({et: GATConv((-1, -1), 4, heads=2, add_self_loops=et[0] == et[2])
                                 for et in metadata[1]})

    def forward(self, x_dict, edge_index_dict):
        x_dict = {k: v.relu() for k, v in self.conv1(x_dict, edge_index_dict).items()}
        return self.conv2(x_dict, edge_index_dict)


def test_heteroconv_gives_one_grid_per_edge_type_equal_to_each_layer():
    torch.manual_seed(0)
    data = _hetero()
    model = _HeteroGAT(data.metadata())
    grids = _output_unchanged(model, lambda: model(data.x_dict, data.edge_index_dict),
                              lambda: capture(model, data))
    assert isinstance(grids, GridSet)
    assert list(grids) == ["author__writes__paper", "paper__rev_writes__author", "paper__cites__paper"]
    writes = grids.author__writes__paper
    assert writes.kind == "cross" and len(writes.query) == 6 and len(writes.key) == 4
    assert writes.layers == ("conv1", "conv2") and writes.shape == (2, 2, 9)
    assert grids.paper__cites__paper.kind == "self"
    with torch.no_grad():
        hidden = {k: v.relu() for k, v in model.conv1(data.x_dict, data.edge_index_dict).items()}
        for et in data.edge_types:
            src, _, dst = et
            for layer, (conv, x) in enumerate([(model.conv1, data.x_dict), (model.conv2, hidden)]):
                inner = conv.convs[et]
                xs = x[src] if src == dst else (x[src], x[dst])
                _, (edges, alpha) = inner(xs, data.edge_index_dict[et], return_attention_weights=True)
                grid = grids["__".join(et)]
                np.testing.assert_array_equal(grid.edge_index, edges.numpy())
                np.testing.assert_array_equal(grid.values[layer], alpha.numpy().T)
    for grid in grids.values():
        np.testing.assert_allclose(_row_sums(grid), 1.0, atol=1e-5)
    # following the tuple advice: (x_dict, edge_index_dict) works the same way
    again = capture(model, (data.x_dict, data.edge_index_dict))
    np.testing.assert_array_equal(again.paper__cites__paper.values, grids.paper__cites__paper.values)


def test_hgt_split_by_edge_type_equals_recomputed_softmax():
    torch.manual_seed(0)
    data = _hetero()
    model = HGTConv(-1, 8, data.metadata(), heads=2)
    with torch.no_grad():
        model(data.x_dict, data.edge_index_dict)  # initialise the lazy layers
    grids = _output_unchanged(model, lambda: model(data.x_dict, data.edge_index_dict),
                              lambda: capture(model, data))
    seen = {}
    handle = model.register_message_forward_hook(lambda m, inputs, out: seen.update(inputs[0]))
    with torch.no_grad():
        model(data.x_dict, data.edge_index_dict)
    handle.remove()
    scores = ((seen["q_i"] * seen["k_j"]).sum(-1) * seen["edge_attr"] / math.sqrt(4)).numpy()
    ref = _softmax(scores, seen["index"].numpy(), seen["size_i"])
    got = np.concatenate([grids["__".join(et)].values[0].T for et in data.edge_types])
    np.testing.assert_allclose(got, ref, atol=1e-6)
    # a target's weights sum to 1 over all its incoming edge types together
    total = {nt: np.zeros((len(data[nt].x), 2)) for nt in data.node_types}
    for et in data.edge_types:
        grid = grids["__".join(et)]
        np.add.at(total[et[2]], grid.edge_index[1], grid.values[0].T)
        assert "all edge types" in grid.meta["normalized"]
    for sums in total.values():
        has_in = sums.sum(1) > 0
        np.testing.assert_allclose(sums[has_in], 1.0, atol=1e-5)


def test_batch_records_each_nodes_graph_and_splits_into_per_graph_captures():
    from multiattn.adapters.graph import split_graphs

    torch.manual_seed(0)
    model = _EdgeModel(GATv2Conv)
    graphs = [_data(seed=s, n=n, e=3 * n, edge_dim=3) for s, n in enumerate((6, 9, 5))]
    for g in graphs:
        g.y = torch.arange(g.num_nodes) % 2
    batch = Batch.from_data_list(graphs)
    grid = capture(model, batch)
    assert grid.meta["num_graphs"] == 3 and grid.meta["batch"] == batch.batch.tolist()
    parts = split_graphs(grid)
    assert len(parts) == 3
    for part, graph in zip(parts, graphs):
        alone = capture(model, graph)
        assert part.query.ids == alone.query.ids and part.query.groups == alone.query.groups
        np.testing.assert_array_equal(part.edge_index, alone.edge_index)
        np.testing.assert_allclose(part.values, alone.values, atol=1e-6)
        assert part.meta["self_loops"] == alone.meta["self_loops"]


@pytest.mark.parametrize("layer, word", [
    (GCNConv(F_IN, 4), "has no attention"),
    (SAGEConv(F_IN, 4), "has no attention"),
    (GINConv(torch.nn.Linear(F_IN, 4)), "has no attention"),
    (torch.nn.Linear(F_IN, 4), "no PyTorch Geometric layer"),
    (GPSConv(F_IN, None, heads=2, attn_type="performer"), "Performer"),
])
def test_layers_without_readable_attention_are_refused_with_the_reason(layer, word):
    with pytest.raises(UnsupportedModelError, match=word):
        capture(layer, _data())


def test_fused_gat_is_refused_not_silently_empty():
    from torch_geometric.nn import FusedGATConv

    layer = GATConv(F_IN, 4, add_self_loops=False)
    layer.__class__ = FusedGATConv  # dgNN (its kernel) is not installed: the class alone is enough here
    with pytest.raises(UnsupportedModelError, match="fused"):
        capture(layer, _data())


def test_skipped_layers_are_warned_and_listed():
    class Mixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gat = GATConv(F_IN, 4)
            self.gps = GPSConv(4, None, heads=2, attn_type="performer")

        def forward(self, x, edge_index):
            return self.gps(self.gat(x, edge_index), edge_index)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid = capture(Mixed(), _data())
    assert grid.layers == ("gat",) and grid.meta["skipped_layers"] == ["gps"]
    assert any("Performer" in str(w.message) for w in caught)


def test_pooling_inside_the_model_is_refused_not_mislabelled():
    from torch_geometric.nn import TopKPooling, global_mean_pool

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.pool, self.c2 = GATConv(F_IN, 4), TopKPooling(4, ratio=0.5), GATConv(4, 4)

        def forward(self, x, edge_index, batch):
            x = self.c1(x, edge_index)
            x, edge_index, _, batch, _, _ = self.pool(x, edge_index, batch=batch)
            return global_mean_pool(self.c2(x, edge_index), batch)

    torch.manual_seed(0)
    model, data = Pooled(), _data()  # a single graph: the required batch is all zeros
    with pytest.raises(UnsupportedModelError, match="layer c2 ran on 5 source / 5 target nodes but the data"):
        capture(model, data)
    assert capture(model, data, layers=["c1"]).layers == ("c1",)


def test_forward_arguments_follow_the_signature():
    from multiattn.adapters._graph_call import forward_arguments

    class WholeBatch(torch.nn.Module):
        def forward(self, batch, flag=False):
            return batch

    class Named(torch.nn.Module):
        def forward(self, x, edge_index, edge_weight=None, edge_attr=None):
            return x

    data = _data(edge_dim=2)
    assert forward_arguments(WholeBatch(), data)[2] == "model(data)"
    _, kwargs, how = forward_arguments(Named(), data)
    assert sorted(kwargs) == ["edge_attr", "edge_index", "x"] and kwargs["edge_attr"] is data.edge_attr
    assert how == "model(x=data.x, edge_index=data.edge_index, edge_attr=data.edge_attr)"


def test_general_conv_attention_option():
    from torch_geometric.nn import GeneralConv

    torch.manual_seed(0)
    data = _data()
    with pytest.raises(UnsupportedModelError, match="has no attention"):
        capture(GeneralConv(F_IN, 4), data)
    conv = GeneralConv(F_IN, 4, heads=2, attention=True)
    grid = _output_unchanged(conv, lambda: conv(data.x, data.edge_index), lambda: capture(conv, data))
    with torch.no_grad():
        msg = conv.lin_msg(data.x[data.edge_index[0]]).view(-1, 2, 4)
        scores = torch.nn.functional.leaky_relu((msg * conv.att_msg).sum(-1), 0.2)
    assert grid.shape == (1, 2, E)
    np.testing.assert_allclose(grid.values[0], _softmax(scores.numpy(), data.edge_index[1].numpy(), N).T,
                               atol=1e-6)


_VARIANTS = {
    "GATConv concat=False": lambda: GATConv(F_IN, 4, heads=3, concat=False),
    "GATConv no self-loops": lambda: GATConv(F_IN, 4, heads=2, add_self_loops=False),
    "GATConv edge_dim fill_value=mean": lambda: GATConv(F_IN, 4, heads=2, edge_dim=3, fill_value="mean"),
    "GATv2Conv share_weights edge_dim": lambda: GATv2Conv(F_IN, 4, heads=2, share_weights=True, edge_dim=3),
    "TransformerConv beta concat=False": lambda: TransformerConv(F_IN, 4, heads=2, concat=False, beta=True,
                                                                 edge_dim=3),
    "TransformerConv without edge_dim": lambda: TransformerConv(F_IN, 4, heads=2),
    "RGATConv num_bases": lambda: RGATConv(F_IN, 4, num_relations=3, num_bases=2, heads=2),
    "RGATConv num_blocks": lambda: RGATConv(F_IN, F_IN, num_relations=3, num_blocks=2),
    "RGATConv edge_dim": lambda: RGATConv(F_IN, 4, num_relations=3, heads=2, edge_dim=3),
    "RGATConv mod=f-scaled": lambda: RGATConv(F_IN, 4, num_relations=3, heads=2, mod="f-scaled"),
}


@pytest.mark.parametrize("name", list(_VARIANTS))
def test_layer_variants_equal_return_attention_weights(name):
    torch.manual_seed(0)
    conv, data = _VARIANTS[name](), _data(edge_dim=3, relations=3)
    grid = capture(conv, data)  # the Data carries edge_attr and edge_type: each layer gets what it takes
    uses_attr = conv.lin_edge is not None
    args = [data.x, data.edge_index] + ([data.edge_type] if isinstance(conv, RGATConv) else [])
    conv.eval()
    with torch.no_grad():
        _, (edges, alpha) = conv(*args, edge_attr=data.edge_attr if uses_attr else None,
                                 return_attention_weights=True)
    heads = conv.heads
    assert grid.shape == (1, heads, edges.shape[1])
    np.testing.assert_array_equal(grid.edge_index, edges.numpy())
    np.testing.assert_array_equal(grid.values[0], alpha.numpy().T)
    np.testing.assert_allclose(_row_sums(grid), 1.0, atol=1e-5)
    if "mod" in name:
        assert "f-scaled" in grid.meta["notes"][0]


def test_gps_passes_edge_attr_to_its_local_conv_and_refuses_mixed_grids():
    from torch_geometric.nn import GINEConv

    torch.manual_seed(0)
    data = _data(edge_dim=F_IN)
    gps = GPSConv(F_IN, GINEConv(torch.nn.Linear(F_IN, F_IN)), heads=2)
    grid = _output_unchanged(gps, lambda: gps(data.x, data.edge_index, edge_attr=data.edge_attr),
                             lambda: capture(gps, data))
    assert grid.shape == (1, 2, N * N) and grid.layers == ("GPSConv.attn",)
    mixed = GPSConv(F_IN, GATConv(F_IN, F_IN), heads=2)  # local GAT (1 head) + global attention (2 heads)
    with pytest.raises(ValueError, match="capture them separately with layers"):
        capture(mixed, data)
    assert capture(mixed, data, layers=["conv"]).shape[1] == 1


@pytest.mark.filterwarnings("ignore:Sparse")
def test_sparse_adjacency_is_refused():
    from torch_geometric.utils import to_torch_csr_tensor

    data = _data()
    adj = to_torch_csr_tensor(data.edge_index, size=(N, N))
    with pytest.raises(UnsupportedModelError, match="sparse adjacency"):
        capture(GATConv(F_IN, 4), (data.x, adj))


def test_pyg_model_zoo_classes():
    from torch_geometric.nn.models import GAT, AttentiveFP

    torch.manual_seed(0)
    data = _data(edge_dim=3)
    model = GAT(F_IN, 8, 2, v2=True, heads=2, edge_dim=3)
    grid = _output_unchanged(model, lambda: model(data.x, data.edge_index, edge_attr=data.edge_attr),
                             lambda: capture(model, data))
    with torch.no_grad():
        _, (_, alpha) = model.convs[0](data.x, data.edge_index, data.edge_attr, return_attention_weights=True)
    assert grid.layers == ("convs.0", "convs.1")
    np.testing.assert_array_equal(grid.values[0], alpha.numpy().T)
    fp = AttentiveFP(F_IN, 8, 4, edge_dim=3, num_layers=2, num_timesteps=2)  # its readout is bipartite
    with pytest.warns(MultiattnWarning, match="gate_conv"), \
            pytest.raises(UnsupportedModelError, match="mol_conv ran on 10 source / 1 target nodes"):
        capture(fp, data)


def test_unknown_layer_with_an_edge_softmax_is_not_called_attention_free():
    from torch_geometric.nn.conv import MessagePassing
    from torch_geometric.utils import softmax

    class MyAttention(MessagePassing):
        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x)

        def message(self, x_i, x_j, index):
            return x_j * softmax((x_i * x_j).sum(-1), index).unsqueeze(-1)

    with pytest.raises(UnsupportedModelError, match="attention-like"):
        capture(MyAttention(), _data())
