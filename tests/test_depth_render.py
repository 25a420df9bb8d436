"""Flow diagram, head figures and the depth command."""

import argparse
import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from multiattn.analysis.rollout import rollout
from multiattn.axes import TokenAxis
from multiattn.grid import AttentionGrid
from multiattn.renderers.flow_diagram import flow_diagram, flow_edges
from multiattn.renderers.population import (
    agreement_table,
    head_dendrogram,
    head_labels,
    head_projection,
    pruning_plot,
)

from .conftest import random_attention


def test_flow_shares_are_rollout_and_edges_follow_rules(rng):
    attn = random_attention(rng, (3, 2, 6, 6))
    shares, edges = flow_edges(attn, 4, top_k=2, threshold=0.05)
    np.testing.assert_allclose(shares[0], rollout(attn)[4])
    np.testing.assert_allclose(shares.sum(1), 1.0)
    assert shares[-1].tolist() == [0, 0, 0, 0, 1, 0]
    for layer, query, _, share in edges:
        assert share >= 0.05 and shares[layer + 1, query] >= 0.05
    per_node = {}
    for layer, query, _, _ in edges:
        per_node[(layer, query)] = per_node.get((layer, query), 0) + 1
    assert max(per_node.values()) <= 2
    # hand case: one layer, one head, residual 0.5 -> row 0 of 0.5 I + 0.5 A
    one = np.array([[[[0.2, 0.8], [0.5, 0.5]]]])
    shares, edges = flow_edges(one, 0, top_k=2, threshold=0.0)
    assert sorted(edges) == [(0, 0, 0, pytest.approx(0.6)), (0, 0, 1, pytest.approx(0.4))]


def test_flow_diagram_labels_every_level(rng):
    labels = ["[CLS]", "a", "b", "c", "[SEP]"]
    grid = AttentionGrid(random_attention(rng, (2, 3, 5, 5)), TokenAxis(labels))
    ax = flow_diagram(grid, 0, top_k=2)
    texts = [t.get_text() for t in ax.texts]
    assert all(texts.count(label) == 3 for label in labels)  # 3 levels
    assert len(ax.patches) > 0 and len(ax.figure.axes) == 2  # edges + colorbar
    assert "share of the output token" in ax.figure.axes[1].get_ylabel()
    plt.close(ax.figure)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(output_token=9), IndexError, "out of range"),
    (dict(output_token=0, top_k=0), ValueError, "top_k"),
    (dict(output_token=0, threshold=1.5), ValueError, "threshold"),
    (dict(output_token=0, labels=["x"]), ValueError, "labels"),
])
def test_flow_diagram_bad_input(rng, kwargs, error, match):
    with pytest.raises(error, match=match):
        flow_diagram(random_attention(rng, (2, 1, 4, 4)), **kwargs)


def test_head_figures(rng):
    from multiattn.analysis.clustering import cluster_heads, project_heads
    from multiattn.analysis.metrics import head_similarity

    sim = head_similarity(random_attention(rng, (2, 3, 6, 6)))
    ax = head_dendrogram(cluster_heads(sim), n_heads=3)
    assert sorted(t.get_text() for t in ax.get_xticklabels()) == sorted(head_labels(2, 3))
    plt.close(ax.figure)
    coords, explained = project_heads(sim)
    types = ["broad", "self", "broad", "local", "local", "self"]
    fig = head_projection(coords, 3, types, explained=explained)
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == ["broad (2)", "local (2)", "self (2)"]
    plt.close(fig)
    with pytest.raises(ValueError, match="head types"):
        head_projection(coords, 3, ["broad"])
    with pytest.raises(ValueError, match="multiple"):
        head_dendrogram(cluster_heads(sim), n_heads=4)


def test_pruning_and_agreement_figures():
    curve = {"fraction": np.linspace(0, 1, 4), "by_importance": np.array([1.0, 1.1, 2.0, 3.0]),
             "random": np.array([[1.0, 2.0, 2.5, 3.0], [1.0, 1.5, 2.9, 3.0]])}
    ax = pruning_plot(curve, "loss")
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [1.0, 1.75, 2.7, 3.0])
    plt.close(ax.figure)
    ax = agreement_table([{"map": "raw L0", "ig": 0.5, "gxi": np.nan}])
    assert [t.get_text() for t in ax.texts] == ["+0.50", "n/a"]
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="empty"):
        agreement_table([])
    with pytest.raises(ValueError, match="by_importance"):
        pruning_plot({**curve, "by_importance": np.ones(2)}, "loss")


def test_depth_command_on_induction(tmp_path):
    from multiattn._commands import depth
    from multiattn.zoo._text import induction_prompt

    args = argparse.Namespace(text=induction_prompt(8, seed=1), model="induction", token=-1, steps=8,
                              out=str(tmp_path), save=None)
    assert depth.run(args) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"flow.png", "agreement.png", "agreement.json", "dendrogram.png", "clusters.json",
                     "projection.png", "pruning.png", "importance.json"}
    summary = json.loads((tmp_path / "agreement.json").read_text())
    assert len(summary["table"]) == 3 * 2
    importance = json.loads((tmp_path / "importance.json").read_text())
    assert np.asarray(importance["importance"]).shape == (2, 4)


def test_depth_command_registers():
    from multiattn._commands import depth

    parser = argparse.ArgumentParser()
    depth.register(parser.add_subparsers())
    args = parser.parse_args(["depth", "hello world", "--out", "x"])
    assert args.func is depth.run and args.model == "minilm" and args.token == 0
