"""Graph renderer: geometry, collections (not one artist per edge), layouts and bad input."""

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pytest
from matplotlib.collections import LineCollection

from multiattn import NodeAxis
from multiattn.adapters.graph import from_edges, from_networkx
from multiattn.renderers._graph_layout import group_positions
from multiattn.renderers.network import draw, draw_ego, draw_heads, node_positions


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def karate():
    graph = nx.karate_club_graph()
    for u, v in graph.edges:
        graph.add_edge(u, v)
    directed = graph.to_directed()
    rng = np.random.default_rng(0)
    for u in directed.nodes:
        directed.add_edge(u, u)
        incoming = list(directed.in_edges(u))
        weights = rng.dirichlet(np.ones(len(incoming)), size=2).T  # two heads
        for (s, t), w in zip(incoming, weights):
            directed.edges[s, t]["attention"] = w
    return from_networkx(directed, group="club")


def _edges(ax):
    return [c for c in ax.collections if isinstance(c, LineCollection)][0]


def _segments(ax):
    """Edge segments ``(E, 2, 2)`` drawn, from a LineCollection or the binned compound paths."""
    from multiattn.renderers._graph_draw import PathCollection

    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    if lines:
        return np.asarray(lines[0].get_segments())
    binned = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_array() is not None
              and len(c.get_paths()) > 1][0]
    return np.concatenate([p.vertices.reshape(-1, 2, 2) for p in binned.get_paths()])


def test_draw_uses_collections_and_marks_self_loops(karate):
    ax = draw(karate, layer=0, head="mean")
    n_loops = karate.meta["self_loops"]
    lines = _edges(ax)
    assert len(lines.get_segments()) == karate.shape[-1] - n_loops
    assert len(ax.patches) == 0 and len(ax.collections) <= 5  # edges, arrowheads, rings, nodes
    rings = [c for c in ax.collections
             if not isinstance(c, LineCollection) and c.get_facecolors().size == 0]
    assert len(rings) == 1 and len(rings[0].get_offsets()) == n_loops
    weights = np.asarray(lines.get_array())
    assert np.all(np.diff(weights) >= 0)  # strongest edges drawn last (on top)
    assert len(ax.get_figure().axes) == 2  # colorbar
    assert "attention weight" in ax.get_figure().axes[1].get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Mr. Hi", "Officer"]
    assert "target attends to source" in ax.get_title()


def test_edge_lanes_and_arrow_tips_by_hand():
    grid = from_edges([[0, 1], [1, 0]], [1.0, 1.0])
    ax = draw(grid, pos=[[0.0, 0.0], [1.0, 0.0]], node_size=100)
    segments = {tuple(np.round(s[0], 3)): s for s in _edges(ax).get_segments()}
    forward = [s for s in segments.values() if s[0][0] < s[1][0]][0]  # 0 -> 1 runs along +x
    backward = [s for s in segments.values() if s[0][0] > s[1][0]][0]
    assert forward[0][1] < 0 < backward[0][1]  # each direction in its own lane (right of travel)
    assert 0.5 < forward[1][0] < 1.0  # stops before the target node, arrowhead follows
    arrows = [c for c in ax.collections if c.__class__.__name__ == "PolyCollection"][0]
    tips = np.array([p.vertices[0] for p in arrows.get_paths()])
    assert tips[:, 0].max() < 1.0 and tips[:, 0].min() > 0.0


def test_top_k_and_large_graph_mode():
    rng = np.random.default_rng(0)
    n, per_node = 10_000, 10
    source = rng.integers(0, n, n * per_node)
    target = np.repeat(np.arange(n), per_node)
    source = np.where(source == target, (source + 1) % n, source)
    alpha = rng.dirichlet(np.ones(per_node), size=n).ravel()
    grid = from_edges(np.stack([source, target]), alpha, multi_edges="sum")
    pos = rng.normal(size=(n, 2))
    ax = draw(grid, pos=pos)  # large mode: top 3 per node, no arrowheads, no labels
    assert len(_segments(ax)) == 3 * n
    assert len(ax.texts) == 0 and len(ax.patches) == 0 and len(ax.collections) == 2
    assert "top 3 incoming edges per node" in ax.get_title()
    small = draw(grid, pos=pos, top_k=1, arrows=False)
    assert len(_edges(small).get_segments()) == n


def test_binned_edges_draw_the_same_segments(monkeypatch):
    """Many edges: one compound path per strength bin; same segments as the one-line-per-edge path,
    bins ordered weak to strong (strong on top) with colours and widths growing with strength."""
    from multiattn.renderers import _graph_draw

    rng = np.random.default_rng(1)
    n, per_node = 300, 4
    source = rng.integers(0, n, n * per_node)
    target = np.repeat(np.arange(n), per_node)
    source = np.where(source == target, (source + 1) % n, source)
    grid = from_edges(np.stack([source, target]), rng.dirichlet(np.ones(per_node), size=n).ravel(),
                      multi_edges="sum")
    pos = rng.normal(size=(n, 2))
    lines = _segments(draw(grid, pos=pos, arrows=False))
    monkeypatch.setattr(_graph_draw, "BINNED_EDGES", 10)
    ax = draw(grid, pos=pos, arrows=False)
    binned = _segments(ax)
    assert not [c for c in ax.collections if isinstance(c, LineCollection)]
    key = lambda segs: sorted(map(tuple, np.round(segs.reshape(len(segs), 4), 9)))  # noqa: E731
    assert key(binned) == key(lines)
    paths = [c for c in ax.collections if len(c.get_paths()) > 1][0]
    values = np.asarray(paths.get_array())
    assert (np.diff(values) > 0).all() and (np.diff(paths.get_linewidths()) >= 0).all()


def test_layouts_are_deterministic(karate):
    spring = node_positions(karate, "spring", seed=3)
    np.testing.assert_array_equal(spring, node_positions(karate, "spring", seed=3))
    assert not np.allclose(spring, node_positions(karate, "spring", seed=4))
    for layout in ("kamada_kawai", "spectral"):
        xy = node_positions(karate, layout)
        assert xy.shape == (34, 2) and np.isfinite(xy).all()
        np.testing.assert_array_equal(xy, node_positions(karate, layout))
    spread = np.ptp(spring, axis=0)
    assert spread[0] >= spread[1]  # rotated so the long axis is horizontal


def test_given_positions_by_id_and_errors(karate):
    pos = {node: (float(node), float(node % 3)) for node in range(34)}
    ax = draw(karate, pos=pos, arrows=False)
    start = _edges(ax).get_segments()[0][0]
    assert np.isfinite(start).all()
    with pytest.raises(ValueError, match="no position for 1 nodes"):
        draw(karate, pos={k: v for k, v in pos.items() if k != 5})
    with pytest.raises(ValueError, match=r"\(34, 2\)"):
        draw(karate, pos=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="layout must be one of"):
        draw(karate, layout="circular")
    with pytest.raises(TypeError):
        draw(karate, colour="red")  # unknown keyword arguments are rejected
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        draw(karate, top_k=0)
    with pytest.raises(TypeError, match="sparse"):
        draw(np.ones((2, 2)))


def test_node_colours(karate):
    ax = draw(karate, node_color="received")
    assert any("attention received" in a.get_xlabel() for a in ax.get_figure().axes[1:])
    plain = from_edges([[0, 1], [1, 0]], [1.0, 1.0])
    assert draw(plain).get_legend() is None  # no groups: coloured by attention received
    with pytest.raises(ValueError, match="needs node groups"):
        draw(plain, node_color="group")
    with pytest.raises(ValueError, match="a matplotlib colour"):
        draw(plain, node_color="not-a-colour")
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        draw(plain, node_color=[1.0, 2.0, 3.0])


def test_draw_heads_small_multiples(karate):
    fig = draw_heads(karate)
    assert len(fig.axes) == 2 + 1  # 1 layer x 2 heads + shared colorbar
    assert [a.get_title() for a in fig.axes[:2]] == ["layer 0 · head 0", "layer 0 · head 1"]
    with pytest.raises(ValueError, match="draw\\(\\) for node_color='received'"):
        draw_heads(karate, node_color="received")


def test_draw_ego_orders_sources_by_weight():
    grid = from_edges([[0, 1, 2, 3, 0], [0, 0, 0, 0, 1]], [0.1, 0.2, 0.3, 0.4, 1.0],
                      nodes=NodeAxis(["hub", "a", "b", "c"]))
    ax = draw_ego(grid, "hub")
    weights = [t.get_text() for t in ax.texts if t.get_text().startswith("0.")]
    assert weights == ["0.40", "0.30", "0.20"]
    assert any(t.get_text() == "self-loop 0.10" for t in ax.texts)
    assert draw_ego(grid, 0, top_k=2).get_title().count("1 weaker sources hold 0.20") == 1
    with pytest.raises(ValueError, match="no incoming edges"):
        draw_ego(grid, "c")
    with pytest.raises(ValueError, match="no node labelled"):
        draw_ego(grid, "zzz")


def test_group_positions_separate_groups():
    groups = np.repeat([0, 1, 2], 50)
    xy = group_positions(groups)
    centres = np.array([xy[groups == g].mean(axis=0) for g in range(3)])
    radius = max(np.linalg.norm(xy[groups == g] - centres[g], axis=1).max() for g in range(3))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 2 * radius
    with pytest.raises(ValueError, match="non-empty 1-D"):
        group_positions([])
