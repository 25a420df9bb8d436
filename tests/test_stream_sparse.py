"""Streaming of sparse attention: reducers on one-layer sparse grids, PyG graphs and TimeSformer."""

import numpy as np
import pytest
import torch

from multiattn.adapters._stream import capture_stream
from multiattn.adapters.graph import from_edges
from multiattn.analysis import head_entropy, rollout
from multiattn.analysis.edges import incoming_entropy, propagate_attention
from multiattn.stream import HeadMean, LayerMetric, RolloutReducer, TopK, feed


def _random_graph_grid(rng, n=9, e=30, layers=3, heads=2):
    """Sparse grid whose rows are distributions over incoming edges (self-loops on every node)."""
    edges = np.concatenate([rng.integers(0, n, (2, e)), np.tile(np.arange(n), (2, 1))], axis=1)
    edges = np.unique(edges, axis=1)
    raw = rng.random((layers, heads, edges.shape[1])) + 0.05
    totals = np.zeros((layers, heads, n))
    np.add.at(totals, (slice(None), slice(None), edges[1]), raw)
    return from_edges(edges, raw / totals[..., edges[1]])


def _feed_layers(grid, reducers):
    for index in range(grid.n_layers):
        feed(reducers, grid.layers[index], grid.select(layer=index))


@pytest.mark.parametrize("fusion", ["mean", "max"])
def test_sparse_reducers_equal_dense_analyses(rng, fusion):
    grid = _random_graph_grid(rng)
    dense = grid.to_dense().values
    reducers = {"r": RolloutReducer(head_fusion=fusion, residual=0.3), "m": HeadMean(), "t": TopK(3),
                "e": LayerMetric(incoming_entropy), "h": LayerMetric(head_entropy)}
    _feed_layers(grid, reducers)
    product = reducers["r"].result()
    assert hasattr(product, "toarray")  # sparse in, sparse out
    np.testing.assert_allclose(product.toarray(), rollout(dense, head_fusion=fusion, residual=0.3), atol=1e-6)
    means = reducers["m"].result()
    assert len(means) == grid.n_layers and means[0].shape == (1, 1, grid.edge_index.shape[1])
    np.testing.assert_allclose(np.concatenate([m.to_dense().values for m in means]),
                               dense.mean(1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(reducers["e"].result(), incoming_entropy(grid), atol=1e-6)
    np.testing.assert_allclose(reducers["h"].result(), head_entropy(dense), atol=1e-5)


def test_sparse_top_k_matches_dense_and_pads(rng):
    grid = _random_graph_grid(rng, n=7, e=12)
    reducer = TopK(4)
    _feed_layers(grid, {"t": reducer})
    top = reducer.result()
    dense = grid.to_dense().values
    in_degree = np.bincount(grid.edge_index[1], minlength=7)
    assert top["indices"].shape == (grid.n_layers, grid.n_heads, 7, 4)
    for q in range(7):
        k = min(4, in_degree[q])
        expected = np.sort(dense[:, :, q], -1)[..., ::-1][..., :k]
        np.testing.assert_allclose(top["values"][:, :, q, :k], expected, rtol=1e-6)
        picked = np.take_along_axis(dense[:, :, q], top["indices"][:, :, q, :k], -1)
        np.testing.assert_allclose(picked, expected, rtol=1e-6)
        assert (top["indices"][:, :, q, k:] == -1).all() and np.isnan(top["values"][:, :, q, k:]).all()


def test_sparse_reducer_refuses_many_layers(rng):
    grid = _random_graph_grid(rng)
    with pytest.raises(ValueError, match="one layer at a time"):
        HeadMean().update("all", grid)


class _Gat(torch.nn.Module):
    def __init__(self):
        super().__init__()
        from torch_geometric.nn import GATv2Conv

        self.conv1 = GATv2Conv(5, 4, heads=3)
        self.conv2 = GATv2Conv(12, 4, heads=3)

    def forward(self, x, edge_index):
        return self.conv2(torch.relu(self.conv1(x, edge_index)), edge_index)


def test_capture_stream_pyg_matches_capture():
    from torch_geometric.data import Data

    from multiattn.adapters.graph import capture

    torch.manual_seed(0)
    model = _Gat()
    gen = torch.Generator().manual_seed(3)
    # node 11 is isolated: the layer's self-loop is its only incoming edge
    data = Data(x=torch.randn(12, 5, generator=gen), edge_index=torch.randint(0, 11, (2, 30), generator=gen))
    full = capture(model, data)
    out = capture_stream(model, data, {"r": RolloutReducer(residual=0.0), "e": LayerMetric(incoming_entropy),
                                       "m": HeadMean()})
    assert out["layers"] == ["conv1", "conv2"] == list(full.layers)
    np.testing.assert_allclose(out["r"].toarray(), propagate_attention(full).toarray(), atol=1e-6)
    np.testing.assert_allclose(out["e"], incoming_entropy(full), atol=1e-6)
    assert out["r"].toarray()[11].tolist() == np.eye(12)[11].tolist()
    one = capture_stream(model, data, {"m": HeadMean()}, include="conv2")
    assert one["layers"] == ["conv2"]
    with pytest.raises(ValueError, match="no graph attention layer matching"):
        capture_stream(model, data, {"m": HeadMean()}, include="conv9")


@pytest.fixture(scope="module")
def timesformer():
    from transformers import TimesformerConfig, TimesformerForVideoClassification

    torch.manual_seed(0)
    config = TimesformerConfig(num_frames=4, image_size=64, patch_size=16, num_hidden_layers=2,
                               hidden_size=32, num_attention_heads=2, intermediate_size=64, num_labels=3)
    return TimesformerForVideoClassification(config).eval()


def test_capture_stream_timesformer_matches_divided_capture(timesformer):
    from multiattn.adapters import video

    frames = np.random.default_rng(0).integers(0, 256, size=(4, 64, 64, 3), dtype=np.uint8)
    pixels = video.frames_to_pixel_values(frames, 64)
    full = video.capture(timesformer, frames)
    reducers = {"r": RolloutReducer(), "h": LayerMetric(head_entropy), "t": TopK(2), "m": HeadMean()}
    out = capture_stream(timesformer, {"pixel_values": pixels}, reducers)
    assert out["layers"] == ["encoder.0.temporal", "encoder.0.spatial", "encoder.1.temporal",
                             "encoder.1.spatial"]
    # the streamed rollout composes temporal then spatial steps exactly as space_time_rollout
    expected = video.space_time_rollout(full, readout="cls").values
    np.testing.assert_allclose(out["r"].toarray()[0], expected, atol=1e-6)
    for index, name in enumerate(out["layers"]):
        step = full[name.split(".")[-1]].select(layer=index // 2)
        np.testing.assert_allclose(out["h"][index], head_entropy(step)[0], rtol=1e-5)
        np.testing.assert_allclose(out["m"][index].values, step.reduce("mean", "head").values, atol=1e-6)
    # temporal step: each patch token attends only to the same patch in the 4 frames
    first_patch = out["t"]["indices"][0, :, 1]  # layer 0 (temporal), query = frame 0, patch 0
    assert set(first_patch.ravel()) <= {1, 1 + 16, 1 + 32, 1 + 48}


def test_capture_stream_videomae_uses_generic_path(rng):
    from transformers import VideoMAEConfig, VideoMAEModel

    from multiattn.adapters import video

    torch.manual_seed(0)
    model = VideoMAEModel(VideoMAEConfig(num_frames=4, image_size=32, patch_size=16, tubelet_size=2,
                                         num_hidden_layers=2, hidden_size=32, num_attention_heads=2,
                                         intermediate_size=64)).eval()
    frames = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    out = capture_stream(model, {"pixel_values": video.frames_to_pixel_values(frames, 32)},
                         {"r": RolloutReducer()})
    full = video.capture(model, frames)
    np.testing.assert_allclose(out["r"], rollout(full), atol=1e-5)


@pytest.mark.parametrize("normalized", [False, True])
def test_sparse_head_entropy_equals_dense(rng, normalized):
    grid = _random_graph_grid(rng, n=8, e=20)
    mask = np.arange(8) % 3 != 0
    expected = head_entropy(grid.to_dense(), normalized=normalized, query_mask=mask)
    streamed = head_entropy(grid, normalized=normalized, query_mask=mask)
    np.testing.assert_allclose(streamed, expected, atol=1e-6)
    # causal edges only (key <= query): normalisation by log(i + 1) is inferred as for dense grids
    causal = from_edges([[0, 0, 1, 0, 1, 2], [0, 1, 1, 2, 2, 2]], [1.0, 0.5, 0.5, 0.2, 0.3, 0.5])
    np.testing.assert_allclose(head_entropy(causal, normalized=normalized),
                               head_entropy(causal.to_dense(), normalized=normalized), atol=1e-7)


def test_sparse_head_entropy_refuses_bad_rows():
    from multiattn.grid import AttentionGrid

    nodes = from_edges([[0, 1, 1], [0, 0, 1]], [0.5, 0.5, 1.0]).query
    grid = AttentionGrid(np.array([[[0.5, 0.2, 1.0]]]), nodes, edge_index=[[0, 1, 1], [0, 0, 1]],
                         check_rows=False)
    with pytest.raises(ValueError, match="do not sum to 1"):
        head_entropy(grid)


def test_sparse_distance_and_locality_equal_dense(timesformer):
    from multiattn.adapters import video
    from multiattn.analysis import attention_distance, locality

    frames = np.random.default_rng(1).integers(0, 256, size=(4, 64, 64, 3), dtype=np.uint8)
    for step, grid in video.capture(timesformer, frames).items():
        dense = grid.to_dense()
        # CLS (a prefix token without a place) is dropped as query and key, as for dense grids
        np.testing.assert_allclose(attention_distance(grid), attention_distance(dense), rtol=1e-5)
        np.testing.assert_allclose(locality(grid, k=1), locality(dense, k=1), rtol=1e-5)
        assert (attention_distance(grid) > 0).all(), step
