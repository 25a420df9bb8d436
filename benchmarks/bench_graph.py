"""Graph benchmark: community faithfulness of the embedded GATs and drawing speed vs networkx.

Prints one JSON line:

- ``faithfulness``: for the karate club and for SBM samples of 400 (the training
  sample) and 10 000 nodes, the mean over nodes of the share of each node's
  incoming attention (self-loops aside) that comes from its own community, per
  layer (mean over heads), next to ``edges``: the same share if attention were
  uniform over the node's edges; ``lift`` = attention - edges per layer.
- ``draw``: wall time to draw and render to PNG (same positions, same figure
  size and DPI) a GAT layer on SBM graphs of 1 000 and 10 000 nodes with
  :func:`multiattn.renderers.network.draw` (all edges, arrows, self-loop rings for
  1 000 nodes; default large mode, top 3 edges per node, for 10 000) and with
  ``networkx.draw_networkx`` (all edges coloured by weight; arrows as networkx
  draws them by default for directed graphs at 1 000 nodes, ``arrows=False``
  at 10 000 nodes because per-edge arrow patches would take minutes), plus
  ``ratio`` = networkx / multiattn (> 1: multiattn is faster).  networkx draws
  every self-loop (GAT layers add one per node) as its own arrow patch, found
  by a linear search of the edge list, which dominates at 10 000 nodes; so at
  10 000 nodes the line also gives multiattn drawing *every* edge
  (``multiattn_all_edges_s``) against networkx on the same edges minus the
  self-loops (its fastest path: one LineCollection).  ``multiattn_all_edges_s`` is the median of 3
  rounds alternating with the same drawing stroked by Agg (``all_edges_agg_strokes_s``, what the
  binned edges cost before they were rasterized with OpenCV; ``ratio_all_edges_vs_agg_strokes``),
  with the calling thread's CPU seconds beside (``..._cpu_s``: on a loaded machine wall time
  includes waiting for a core).  ``python benchmarks/bench_graph.py all_edges`` runs only this.
- ``large_100k``: 100 000 nodes / 1 000 000 edges in 20 communities, default (top-3) mode:
  layout, draw and PNG render seconds and their total (target <= 30 s), plus the structural
  features the embedded GAT takes (``python benchmarks/bench_graph.py large`` runs only this).
- ``edge_list_1m``: reading a 100 000-node / 1 000 000-line weighted edge list (what ``multiattn
  graph FILE`` reads): ``read_edge_list`` column-wise with the garbage collector paused (``after``)
  vs its row-by-row path with the collector running (``before``, the previous parser), networkx's
  own ``read_weighted_edgelist`` (peer) and ``add_edges_from`` of the already-split tuples (the
  networkx graph-building floor every reader pays, collector running); ratios vs ours
  (``python benchmarks/bench_graph.py edgelist`` runs only this).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multiattn.adapters.graph import capture  # noqa: E402
from multiattn.analysis.edges import group_share  # noqa: E402
from multiattn.renderers._style import DPI  # noqa: E402
from multiattn.renderers.network import draw, node_positions  # noqa: E402
from multiattn.zoo import _graph as zoo  # noqa: E402

FIGSIZE = (8.0, 6.0)


def _faithfulness(grid) -> dict:
    share = group_share(grid)
    per_layer = share.attention.mean(axis=1)
    return {"nodes": len(grid.query), "edges_count": int(grid.shape[-1]),
            "attention": [round(float(v), 4) for v in per_layer],
            "edges": round(share.edges, 4),
            "lift": [round(float(v - share.edges), 4) for v in per_layer]}


def _render(fig) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=DPI)
    plt.close(fig)


def _time_ours(grid, pos, **kwargs) -> float:
    start = time.perf_counter()
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    draw(grid, -1, pos=pos, ax=ax, **kwargs)
    _render(fig)
    return time.perf_counter() - start


def _all_edges(grid, pos, rounds: int = 3) -> dict:
    """All ~10^5 edges of a 10 000-node layer: OpenCV-rasterized bins vs Agg strokes, alternating."""
    from multiattn.renderers import _edge_raster

    def timed(strokes: bool) -> tuple[float, float]:
        rasterize = _edge_raster._rasterize
        if strokes:
            _edge_raster._rasterize = lambda edges, renderer, n_paths: None
        try:
            cpu = time.thread_time()
            return _time_ours(grid, pos, top_k=len(pos)), time.thread_time() - cpu
        finally:
            _edge_raster._rasterize = rasterize

    timed(False), timed(True)  # warm-up
    times = np.array([[timed(False), timed(True)] for _ in range(rounds)])  # (round, ours / agg, wall / cpu)
    (wall, wall_agg), (cpu, cpu_agg) = np.median(times, axis=0).T
    return {"multiattn_all_edges_s": round(wall, 3), "multiattn_all_edges_cpu_s": round(cpu, 3),
            "all_edges_agg_strokes_s": round(wall_agg, 3), "all_edges_agg_strokes_cpu_s": round(cpu_agg, 3),
            "ratio_all_edges_vs_agg_strokes": round(wall_agg / wall, 2),
            "ratio_all_edges_vs_agg_strokes_cpu": round(cpu_agg / cpu, 2)}


def _time_networkx(grid, pos, arrows: bool | None, self_loops: bool = True) -> float:
    source, target = grid.edge_index
    weights = grid.select(layer=-1).reduce("mean", "head").values[0, 0]
    if not self_loops:
        keep = source != target
        source, target, weights = source[keep], target[keep], weights[keep]
    start = time.perf_counter()
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(grid.query)))
    graph.add_edges_from(zip(source.tolist(), target.tolist()))
    edge_weight = weights.tolist()
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    nx.draw_networkx(graph, pos=dict(enumerate(pos)), ax=ax, edgelist=list(zip(source.tolist(),
                     target.tolist())), edge_color=edge_weight, edge_cmap=plt.get_cmap("magma_r"),
                     node_size=max(1.0, 6000 / len(pos)), with_labels=False, arrows=arrows)
    _render(fig)
    return time.perf_counter() - start


def _community_edges(n_nodes: int, n_edges: int, seed: int = 0) -> np.ndarray:
    """``(2, E)`` random edges, 90 % inside 20 equal communities (no self-loops, repeats possible)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 20, n_nodes)
    order = np.argsort(blocks, kind="stable")
    starts = np.searchsorted(blocks[order], np.arange(21))
    source = rng.integers(0, n_nodes, n_edges)
    block = blocks[source]
    inside = order[starts[block] + (rng.random(n_edges) * (starts[block + 1] - starts[block])).astype(int)]
    target = np.where(rng.random(n_edges) < 0.9, inside, rng.integers(0, n_nodes, n_edges))
    keep = source != target
    return np.stack([source[keep], target[keep]])


def large() -> dict:
    """100 000 nodes / 1 000 000 edges, top-k mode, including the layout (target <= 30 s), and the
    structural features ``multiattn graph`` computes for the embedded model (bounded eigensolver)."""
    from multiattn.adapters.graph import from_edges
    from multiattn.zoo import graph_features

    edges = _community_edges(100_000, 1_000_000)
    grid = from_edges(edges, np.random.default_rng(1).random(edges.shape[1]), multi_edges="sum",
                      normalize=True)
    times = {}
    start = time.perf_counter()
    pos = node_positions(grid)
    times["layout_s"] = time.perf_counter() - start
    start = time.perf_counter()
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    draw(grid, pos=pos, ax=ax)
    times["draw_s"] = time.perf_counter() - start
    start = time.perf_counter()
    _render(fig)
    times["render_png_s"] = time.perf_counter() - start
    times["total_s"] = sum(times.values())
    graph = nx.Graph()
    graph.add_edges_from(edges.T.tolist())
    start = time.perf_counter()
    graph_features(graph)
    times["structural_features_s"] = time.perf_counter() - start
    return {"nodes": len(grid.query), "edges": int(grid.shape[-1]), "top_k": 3,
            **{k: round(v, 2) for k, v in times.items()}}


def edge_list_file() -> dict:
    """Seconds to read a 1M-line weighted edge list: ours vs the row path, networkx and the build floor."""
    import tempfile

    from multiattn.adapters import _graph_files

    edges = _community_edges(100_000, 1_000_000)
    weights = np.random.default_rng(2).random(edges.shape[1])
    lines = [f"n{a} n{b} {w:.4f}" for (a, b), w in zip(edges.T.tolist(), weights.tolist())]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.edgelist"
        path.write_text("# 100k nodes, 1M lines\n" + "\n".join(lines) + "\n")
        column = _graph_files._column_edges
        times = {}
        start = time.perf_counter()
        graph = _graph_files.read_edge_list(path, directed=False)
        times["after_s"] = time.perf_counter() - start
        _graph_files._column_edges = lambda rows, names: None
        try:
            start = time.perf_counter()
            _graph_files._read_edge_list(path, directed=False)  # row by row, collector running
            times["before_s"] = time.perf_counter() - start
        finally:
            _graph_files._column_edges = column
        start = time.perf_counter()
        nx.read_weighted_edgelist(path)
        times["networkx_read_weighted_edgelist_s"] = time.perf_counter() - start
        split = [(f"n{a}", f"n{b}", {"weight": w}) for (a, b), w in zip(edges.T.tolist(), weights.tolist())]
        start = time.perf_counter()
        nx.Graph().add_edges_from(split)
        times["networkx_build_floor_s"] = time.perf_counter() - start
    return {"nodes": graph.number_of_nodes(), "lines": len(lines),
            **{k: round(v, 2) for k, v in times.items()},
            "ratio_before": round(times["before_s"] / times["after_s"], 2),
            "ratio_networkx": round(times["networkx_read_weighted_edgelist_s"] / times["after_s"], 2)}


def main() -> None:
    if sys.argv[1:] == ["large"]:
        print(json.dumps({"benchmark": "graph", "large_100k": large()}))
        return
    if sys.argv[1:] == ["all_edges"]:
        torch.set_num_threads(1)
        sample = zoo.sbm_sample(10_000, 4, seed=1)
        grid = capture(zoo.load("sbm-gat").model, zoo.to_data(sample))
        pos = node_positions(grid, "spectral")
        print(json.dumps({"benchmark": "graph", "draw": {"10000": {"edges": int(grid.shape[-1]),
                                                                  **_all_edges(grid, pos)}}}))
        return
    if sys.argv[1:] == ["edgelist"]:
        print(json.dumps({"benchmark": "graph", "edge_list_1m": edge_list_file()}))
        return
    torch.set_num_threads(1)
    karate = zoo.load("karate-gat")
    sbm = zoo.load("sbm-gat")
    result: dict = {"faithfulness": {
        "karate": {**_faithfulness(capture(karate.model, zoo.to_data(karate))),
                   "test_accuracy": float(karate.info["test_accuracy"])},
        "sbm_400": {**_faithfulness(capture(sbm.model, zoo.to_data(sbm))),
                    "test_accuracy": float(sbm.info["test_accuracy"])},
    }}
    draw_times = {}
    for n_nodes in (1_000, 10_000):
        sample = zoo.sbm_sample(n_nodes, 4, seed=1)
        grid = capture(sbm.model, zoo.to_data(sample))
        if n_nodes == 10_000:
            result["faithfulness"]["sbm_10000"] = _faithfulness(grid)
        pos = node_positions(grid, "spectral")
        ours = min(_time_ours(grid, pos) for _ in range(2))
        arrows = None if n_nodes <= 1_000 else False
        theirs = _time_networkx(grid, pos, arrows)
        entry = {"edges": int(grid.shape[-1]), "multiattn_s": round(ours, 3), "networkx_s": round(theirs, 3),
                 "networkx_arrows": arrows is None, "ratio": round(theirs / ours, 2)}
        if n_nodes == 10_000:
            entry.update(_all_edges(grid, pos))
            plain = _time_networkx(grid, pos, False, self_loops=False)
            entry.update({"networkx_no_self_loops_s": round(plain, 3),
                          "ratio_all_edges_vs_networkx_no_self_loops":
                          round(plain / entry["multiattn_all_edges_s"], 2)})
        draw_times[str(n_nodes)] = entry
    result["draw"] = draw_times
    result["large_100k"] = large()
    result["edge_list_1m"] = edge_list_file()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
