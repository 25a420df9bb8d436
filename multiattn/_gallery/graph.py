"""Graph section: the karate-club GAT and a 10 000-node stochastic block model."""

from __future__ import annotations

from pathlib import Path

from . import GalleryItem

_SECTION = "Graphs (GATv2)"


def render(out_dir: Path) -> list[GalleryItem]:
    """Karate club drawing, heads x layers, an ego view, and a 10 000-node SBM (about 20 s)."""
    import multiattn
    from multiattn.analysis.edges import group_share
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.network import draw, draw_ego, draw_heads, group_positions
    from multiattn.zoo._graph import karate_gat, sbm_sample, to_data

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    karate = karate_gat()
    grid = multiattn.capture(karate.model, to_data(karate))
    share = group_share(grid)
    inside = ", ".join(f"{grid.layers[i]} {float(share.attention[i].mean()):.2f}" for i in range(2))
    items = [
        GalleryItem(_SECTION, "Karate club: last-layer attention",
                    save_figure(draw(grid, -1).get_figure(), out_dir / "karate.png"),
                    f"2-layer GATv2 trained on half the members (test accuracy "
                    f"{karate.info['test_accuracy']}). Share of attention inside the own faction: "
                    f"{inside} vs {share.edges:.2f} if it were uniform over the edges."),
        GalleryItem(_SECTION, "Karate club: every layer and head",
                    save_figure(draw_heads(grid), out_dir / "karate_heads.png"),
                    "Rows = layers, columns = heads, one colour scale; rings = self-attention."),
        GalleryItem(_SECTION, "Karate club: what Mr. Hi (node 0) reads",
                    save_figure(draw_ego(grid, 0).get_figure(), out_dir / "karate_ego.png"),
                    "Incoming attention of node 0 in the last layer (mean of heads), sources by weight."),
    ]
    model, _ = multiattn.load_model("sbm-gat")
    big_grid = multiattn.capture(model, to_data(sbm_sample(10_000, 4, seed=1)))
    big_share = group_share(big_grid)
    axes = draw(big_grid, -1, pos=group_positions(big_grid.query.groups), top_k=2)
    items.append(GalleryItem(
        _SECTION, f"Stochastic block model: {len(big_grid.query)} nodes, {big_grid.shape[-1]} edges",
        save_figure(axes.get_figure(), out_dir / "sbm_large.png"),
        f"GATv2 trained on a 400-node sample, run on a 10 000-node one; each node's 2 strongest "
        f"incoming edges, communities placed in discs. Attention inside the own block "
        f"{float(big_share.attention[-1].mean()):.2f} vs {big_share.edges:.2f} from the edges alone."))
    return items
