"""Binned edges on an Agg canvas are rasterized by OpenCV (renderers._edge_raster): the picture
must be Agg's own stroking of the same paths up to antialiasing, and vector outputs keep paths."""

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from multiattn.adapters.graph import from_edges
from multiattn.renderers import _edge_raster, _graph_draw
from multiattn.renderers.network import draw

pytest.importorskip("cv2")  # the graph extra installs it; without it the vector paths draw


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _png(fig) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return np.asarray(Image.open(buffer).convert("RGB")).astype(float)


def _both(monkeypatch, make) -> tuple[np.ndarray, np.ndarray]:
    """(OpenCV raster, Agg vector) PNG pixels of the figure ``make()`` draws."""
    raster = _png(make())
    with monkeypatch.context() as patch:
        patch.setattr(_edge_raster, "_rasterize", lambda edges, renderer, n_paths: None)
        vector = _png(make())
    return raster, vector


def _random_graph(n=300, per_node=6, seed=1):
    rng = np.random.default_rng(seed)
    source = rng.integers(0, n, n * per_node)
    target = np.repeat(np.arange(n), per_node)
    source = np.where(source == target, (source + 1) % n, source)
    grid = from_edges(np.stack([source, target]), rng.dirichlet(np.ones(per_node), size=n).ravel(),
                      multi_edges="sum")
    return grid, rng.normal(size=(n, 2))


@pytest.mark.parametrize("large", [True, False])
def test_raster_edges_look_like_agg(monkeypatch, large):
    """Large-graph styling (all bins thin: all rasterized) and small-graph styling (the wide,
    strong bins stay Agg strokes on top of the rasterized thin ones)."""
    monkeypatch.setattr(_graph_draw, "BINNED_EDGES", 10)
    if large:
        monkeypatch.setattr(_graph_draw, "LARGE_NODES", 100)
    grid, pos = _random_graph(n=1000 if large else 300)

    def make(edges=True):
        fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
        draw(grid, pos=pos, ax=ax, arrows=False, colorbar=False, legend=False, title="")
        if not edges:
            [c for c in ax.collections if isinstance(c, _edge_raster.RasterEdges)][0].remove()
        return fig

    assert any(isinstance(c, _edge_raster.RasterEdges) for c in make().axes[0].collections)
    raster, vector = _both(monkeypatch, make)
    ink = np.abs(vector - _png(make(edges=False))).mean()  # how much the edges change the picture
    assert ink > 5
    assert np.abs(raster - vector).mean() < 0.1 * ink  # same strokes up to antialiasing
    assert abs((raster - vector).mean()) < 0.03 * ink  # as much ink, not lighter or darker
    assert np.abs(raster.mean((0, 1)) - vector.mean((0, 1))).max() < 0.03 * ink  # same colours


@pytest.mark.parametrize("transpose", [False, True])
def test_raster_edges_sit_where_agg_draws_them(monkeypatch, transpose):
    """A slightly slanted edge (axis-parallel ones Agg snaps to pixel centres): in every column
    (row) the ink's centre is where Agg's is, and the ink is about Agg's (the line width constant
    is set for dense bins, where overlaps blend, so a lone line gets up to ~20 % more)."""
    from matplotlib.colors import Normalize

    from multiattn.renderers._style import color_scale

    segments = np.array([[[0.1, 0.3], [0.9, 0.34]]])
    if transpose:
        segments = segments[..., ::-1]

    def make():
        fig = plt.figure(figsize=(3, 3), dpi=120)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 1), ax.set_ylim(0, 1), ax.set_axis_off()
        scale = color_scale(np.array([0.0, 1.0]), cmap="magma_r")
        edges = _graph_draw._binned_edges(ax, segments, np.array([[0.0, 0.0, 0.0, 1.0]]), 0.6, np.ones(1),
                                          scale, Normalize(0, 1), np.ones(1))
        assert isinstance(edges, _edge_raster.RasterEdges)  # 0.6 pt = 1 pixel at 120 dpi: rasterized
        return fig

    raster, vector = _both(monkeypatch, make)
    dark_r, dark_v = (255 - image.mean(-1) for image in (raster, vector))
    if transpose:
        dark_r, dark_v = dark_r.T, dark_v.T
    inner = slice(60, 300)  # columns well inside the edge (it spans 36 to 324 of 360)
    rows = np.arange(dark_r.shape[0])[:, None]
    centre_r = (dark_r[:, inner] * rows).sum(0) / dark_r[:, inner].sum(0)
    centre_v = (dark_v[:, inner] * rows).sum(0) / dark_v[:, inner].sum(0)
    assert np.abs(centre_r - centre_v).mean() < 0.15 and np.abs(centre_r - centre_v).max() < 0.5
    ends_r, ends_v = (np.flatnonzero(d.sum(0) > 20)[[0, -1]] for d in (dark_r, dark_v))
    assert np.abs(ends_r - ends_v).max() <= 1  # the same length
    assert 0.95 < dark_r.sum() / dark_v.sum() < 1.25


def test_vector_outputs_keep_the_edge_paths(monkeypatch):
    monkeypatch.setattr(_graph_draw, "BINNED_EDGES", 10)
    grid, pos = _random_graph(n=40, per_node=3)
    fig, ax = plt.subplots()
    draw(grid, pos=pos, ax=ax, arrows=False, colorbar=False)  # (a colorbar is an image in SVG)
    svg = io.StringIO()
    fig.savefig(svg, format="svg")
    assert "<image" not in svg.getvalue() and svg.getvalue().count("L ") >= 40 * 3 - 40  # one per edge
