"""``multiattn graph FILE --out FILE.png``: graph attention of a GAT on an edge list, GraphML or GML file.

Runs the embedded ``karate-gat`` (structural features: any graph) and draws one layer;
``--weight ATTR`` draws attention already stored on the edges instead.
"""

from __future__ import annotations

import argparse

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("graph", help="draw a graph attention network's attention on a graph file")
    p.add_argument("file", help="edge list (.edgelist/.txt/.csv/.tsv), GraphML (.graphml) or GML (.gml)")
    _common.add_model(p, "karate-gat", "graph")
    p.add_argument("--weight", default=None, help="draw this edge attribute as the attention (no model)")
    p.add_argument("--group", default=None, help="node attribute with communities (colours the nodes)")
    p.add_argument("--directed", action="store_true", help="read an edge list as directed (u -> v)")
    p.add_argument("--layer", default="-1", type=_common.index_or_name, help="layer index or label (-1)")
    p.add_argument("--head", default="mean", type=_common.index_or_name, help="head index or 'mean'")
    p.add_argument("--layout", default=None, choices=["spring", "kamada_kawai", "spectral"],
                   help="node layout (default: spring up to 2000 nodes, spectral above)")
    p.add_argument("--top-k", type=int, default=None, help="keep each node's k strongest incoming edges")
    p.add_argument("--ego", default=None, help="draw this node's incoming attention instead")
    p.add_argument("--heads", action="store_true", help="draw every layer and head as small multiples")
    p.add_argument("--out", required=True, help="output picture (.png, .svg, .pdf)")
    _common.add_save(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import multiattn
    from multiattn.adapters.graph import from_networkx, graph_data, read_graph
    from multiattn.analysis.edges import group_share
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.network import draw, draw_ego, draw_heads

    graph = read_graph(args.file, directed=args.directed)
    if args.weight is not None:
        grid = from_networkx(graph, args.weight, group=args.group, multi_edges="sum")
    else:
        model, _ = multiattn.load_model(args.model, modality="graph")
        data = graph_data(graph, multiattn.zoo.graph_features(graph), group=args.group)
        grid = multiattn.capture(model, data)
    if args.heads:
        figure = draw_heads(grid, layout=args.layout, top_k=args.top_k)
    else:
        figure = (draw_ego(grid, str(args.ego), args.layer, args.head) if args.ego is not None else
                  draw(grid, args.layer, args.head, layout=args.layout, top_k=args.top_k)).get_figure()
    out, (n_layers, n_heads, n_edges) = save_figure(figure, args.out), grid.shape
    summary = f"{len(grid.query)} nodes, {n_edges} edges, {n_layers} layers x {n_heads} heads"
    if grid.query.groups is not None:
        share = group_share(grid)
        summary += (f"; attention inside own group {float(share.attention[-1].mean()):.3f} vs "
                    f"{share.edges:.3f} from the edges alone (last layer, mean over heads)")
    print(f"[graph] {summary}\n[graph] wrote {out}")
    _common.save(grid, args.save)
    return 0
