"""The monitor on PyG graph attention: per-head incoming-attention statistics equal a node-by-node loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

import multiattn
from multiattn.monitor import monitor

torch = pytest.importorskip("torch")
pytest.importorskip("torch_geometric")


def _loop_reference(edge_index: np.ndarray, values: np.ndarray, n_nodes: int) -> dict[str, np.ndarray]:
    """Statistics of a captured graph grid ``values (L, H, E)``, one node at a time."""
    out = {k: np.zeros(values.shape[:2]) for k in ("entropy", "norm_entropy", "self_share", "sink_share")}
    for layer in range(values.shape[0]):
        for head in range(values.shape[1]):
            entropies, normalised, loops = [], [], []
            received = np.zeros(n_nodes)
            for node in range(n_nodes):
                incoming = np.nonzero(edge_index[1] == node)[0]
                if not len(incoming):
                    continue
                weights = values[layer, head, incoming]
                h = -sum(w * math.log(w) for w in weights if w > 0)
                entropies.append(h)
                if len(incoming) >= 2:
                    normalised.append(h / math.log(len(incoming)))
                loops.append(sum(values[layer, head, e] for e in incoming if edge_index[0, e] == node))
                for e in incoming:
                    received[edge_index[0, e]] += values[layer, head, e]
            out["entropy"][layer, head] = np.mean(entropies)
            out["norm_entropy"][layer, head] = np.mean(normalised)
            out["self_share"][layer, head] = np.mean(loops)
            out["sink_share"][layer, head] = received.max() / len(entropies)
    return out


def test_gat_incoming_attention_statistics():
    model, _ = multiattn.zoo.load("karate-gat")
    data = multiattn.zoo.sample("karate-gat")
    grid = multiattn.capture(model, data)
    from torch_geometric.nn.conv import gatv2_conv

    softmax = gatv2_conv.softmax

    def hooks_on(net):
        return sum(len(m._forward_hooks) + len(m._forward_pre_hooks)
                   + len(getattr(m, "_propagate_forward_hooks", {})) for m in net.modules())

    hooks = hooks_on(model)
    with torch.no_grad():
        plain = model(data.x, data.edge_index)
        with monitor(model, model_id="karate-gat") as mon:
            watched = model(data.x, data.edge_index)
            model(data.x, data.edge_index)
        records = mon.take()
    torch.testing.assert_close(watched, plain, rtol=0, atol=0)
    assert len(records) == 2 and records[0].modality == "graph"
    record = records[0]
    assert record.layers == ("conv1", "conv2") and record.input_length == data.num_nodes
    got = dict(zip(record.statistics, record.values))
    reference = _loop_reference(np.asarray(grid.edge_index), np.asarray(grid.values), data.num_nodes)
    for name, ref in reference.items():
        np.testing.assert_allclose(got[name], ref, atol=1e-5, err_msg=name)
    assert got["self_share"].min() > 0  # GATv2Conv adds self-loops
    np.testing.assert_array_equal(records[1].values, record.values)
    assert hooks_on(model) == hooks and gatv2_conv.softmax is softmax  # hooks and the softmax tap removed
