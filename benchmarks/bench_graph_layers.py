"""Graph capture cost per PyG attention family: capture time over a plain forward, same run.

Prints one JSON line: for each family (random-init, eval, no grad) the median seconds of a
plain forward and of ``multiattn.adapters.graph.capture`` on the same model and input, and
``ratio`` = capture / forward (the price of reading the weights: hooks, copying alpha to
numpy, building the grid; GPSConv also recomputes its attention with ``need_weights=True``).
Inputs: a random graph of 20 000 nodes / 200 000 edges (homogeneous layers), a batch of
20 graphs of 100 nodes (GPSConv), a 2-type heterogeneous graph of 10 000 + 10 000 nodes
(HeteroConv of GATConv, HGTConv).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_time  # noqa: E402
from torch_geometric.data import Batch, Data, HeteroData  # noqa: E402
from torch_geometric.nn import (  # noqa: E402
    GATConv,
    GATv2Conv,
    GINConv,
    GPSConv,
    HeteroConv,
    HGTConv,
    RGATConv,
    SuperGATConv,
    TransformerConv,
)

from multiattn.adapters.graph import capture  # noqa: E402

FEATURES = 16


def _graph(n: int, e: int, seed: int) -> Data:
    gen = torch.Generator().manual_seed(seed)
    return Data(x=torch.randn(n, FEATURES, generator=gen),
                edge_index=torch.randint(0, n, (2, e), generator=gen),
                edge_attr=torch.randn(e, 4, generator=gen),
                edge_type=torch.randint(0, 3, (e,), generator=gen))


def _hetero(n: int, e: int) -> HeteroData:
    gen = torch.Generator().manual_seed(0)
    data = HeteroData()
    data["a"].x = torch.randn(n, FEATURES, generator=gen)
    data["b"].x = torch.randn(n, FEATURES, generator=gen)
    edges = torch.stack([torch.randint(0, n, (e,), generator=gen), torch.randint(0, n, (e,), generator=gen)])
    data["a", "to", "b"].edge_index = edges
    data["b", "back", "a"].edge_index = edges.flip(0)
    return data


def _cases() -> dict:
    big = _graph(20_000, 200_000, 0)
    batch = Batch.from_data_list([_graph(100, 400, s) for s in range(20)])
    hetero = _hetero(10_000, 100_000)
    gat_hetero = HeteroConv({et: GATConv((-1, -1), 16, heads=4, add_self_loops=False)
                             for et in hetero.edge_types})
    hgt = HGTConv(-1, 16, hetero.metadata(), heads=4)
    with torch.no_grad():
        gat_hetero(hetero.x_dict, hetero.edge_index_dict), hgt(hetero.x_dict, hetero.edge_index_dict)
    return {
        "GATConv+edge_attr": (GATConv(FEATURES, 16, heads=4, edge_dim=4), big,
                              lambda m: m(big.x, big.edge_index, big.edge_attr)),
        "GATv2Conv": (GATv2Conv(FEATURES, 16, heads=4), big, lambda m: m(big.x, big.edge_index)),
        "TransformerConv": (TransformerConv(FEATURES, 16, heads=4), big, lambda m: m(big.x, big.edge_index)),
        "SuperGATConv": (SuperGATConv(FEATURES, 16, heads=4), big, lambda m: m(big.x, big.edge_index)),
        "RGATConv": (RGATConv(FEATURES, 16, num_relations=3, heads=4), big,
                     lambda m: m(big.x, big.edge_index, big.edge_type)),
        "GPSConv": (GPSConv(FEATURES, GINConv(torch.nn.Linear(FEATURES, FEATURES)), heads=4), batch,
                    lambda m: m(batch.x, batch.edge_index, batch.batch)),
        "HeteroConv(GATConv)": (gat_hetero, hetero, lambda m: m(hetero.x_dict, hetero.edge_index_dict)),
        "HGTConv": (hgt, hetero, lambda m: m(hetero.x_dict, hetero.edge_index_dict)),
    }


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    out = {}
    for name, (model, data, forward) in _cases().items():
        model.eval()

        def plain(model=model, forward=forward):
            with torch.no_grad():
                forward(model)

        def grab(model=model, data=data):
            capture(model, data)

        plain(), grab()  # warm-up
        base, cost = median_time(plain, 5), median_time(grab, 5)
        out[name] = {"forward_s": round(base, 4), "capture_s": round(cost, 4), "ratio": round(cost / base, 2)}
    print(json.dumps({"benchmark": "graph_layers", "families": out}))


if __name__ == "__main__":
    main()
