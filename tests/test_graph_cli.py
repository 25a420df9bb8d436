"""`multiattn graph` on edge lists, GraphML and GML files; the embedded GATs; the gallery."""

import networkx as nx
import numpy as np
import pytest
from PIL import Image

from multiattn.adapters.graph import capture, read_graph
from multiattn.analysis.edges import group_share
from multiattn.cli import main
from multiattn.zoo import _graph as zoo


@pytest.fixture
def karate_file(tmp_path):
    path = tmp_path / "karate.edgelist"
    nx.write_edgelist(nx.karate_club_graph(), path, data=False)
    return path


def _png(path):
    with Image.open(path) as img:
        return img.size


def test_cli_runs_the_karate_gat_on_an_edge_list(karate_file, tmp_path, capsys):
    out = tmp_path / "k.png"
    assert main(["graph", str(karate_file), "--out", str(out)]) == 0
    assert min(_png(out)) > 300
    printed = capsys.readouterr().out
    assert "34 nodes, 190 edges, 2 layers x 4 heads" in printed  # 2 x 78 + 34 self-loops
    assert main(["graph", str(karate_file), "--ego", "0", "--out", str(tmp_path / "e.png")]) == 0
    assert main(["graph", str(karate_file), "--heads", "--out", str(tmp_path / "h.png")]) == 0


def test_cli_draws_stored_attention_from_graphml_and_gml(tmp_path, capsys):
    graph = nx.DiGraph()
    graph.add_nodes_from([("a", {"team": "x"}), ("b", {"team": "x"}), ("c", {"team": "y"})])
    graph.add_weighted_edges_from([("a", "b", 1.0), ("b", "a", 0.5), ("c", "a", 0.5), ("a", "c", 1.0)],
                                  weight="attention")
    for suffix, write in ((".graphml", nx.write_graphml), (".gml", nx.write_gml)):
        path = tmp_path / f"g{suffix}"
        write(graph, path)
        out = tmp_path / f"g{suffix}.png"
        assert main(["graph", str(path), "--weight", "attention", "--group", "team", "--out", str(out)]) == 0
        assert out.is_file()
        assert "attention inside own group 0.500 vs 0.500" in capsys.readouterr().out


def test_cli_bad_files_give_clear_errors(tmp_path, capsys):
    empty = tmp_path / "empty.edgelist"
    empty.write_text("")
    corrupt = tmp_path / "bad.graphml"
    corrupt.write_text("<graphml><graph><node id='a'></graph>")
    lonely = tmp_path / "lonely.gml"
    lonely.write_text('graph [\n  node [ id 0 label "a" ]\n]\n')
    cases = [
        (tmp_path / "missing.edgelist", "does not exist"),
        (empty, "is empty"),
        (corrupt, "cannot read"),
        (tmp_path / "g.xyz", "unknown graph file type"),
        (lonely, "has no edges"),
    ]
    (tmp_path / "g.xyz").write_text("1 2\n")
    for path, message in cases:
        assert main(["graph", str(path), "--out", str(tmp_path / "x.png")]) == 2
        assert message in capsys.readouterr().err
    plain = tmp_path / "path.edgelist"
    nx.write_edgelist(nx.path_graph(3), plain, data=False)
    assert main(["graph", str(plain), "--weight", "attention", "--out", str(tmp_path / "x.png")]) == 2
    assert "no 'attention' attribute" in capsys.readouterr().err
    assert read_graph(plain, directed=True).is_directed()


def test_embedded_models_are_committed_and_faithful():
    karate = zoo.load("karate-gat")
    assert float(karate.info["test_accuracy"]) >= 0.9
    grid = capture(karate.model, zoo.to_data(karate))
    assert grid.meta["group_names"] == ["Mr. Hi", "Officer"] and grid.shape == (2, 4, 190)
    sbm = zoo.load("sbm-gat")
    share = group_share(capture(sbm.model, zoo.to_data(sbm)))
    assert share.edges == pytest.approx(0.6, abs=0.05)  # 6 of 10 expected neighbours inside
    assert (share.attention.mean(axis=1) > share.edges + 0.08).all()  # attention favours the block
    with pytest.raises(ValueError, match="unknown graph model"):
        zoo.load("cora-gat")


def test_structural_features_and_sbm_sample():
    features = zoo.structural_features(nx.karate_club_graph())
    factions = np.array([d["club"] == "Officer" for _, d in nx.karate_club_graph().nodes(data=True)])
    agree = ((features[:, 0] > 0) == factions).mean()
    assert max(agree, 1 - agree) >= 0.9  # spectral bisection recovers the split
    sample = zoo.sbm_sample(200, 4, seed=2)
    again = zoo.sbm_sample(200, 4, seed=2)
    assert sorted(sample.graph.edges) == sorted(again.graph.edges)
    np.testing.assert_array_equal(sample.features, again.features)
    with pytest.raises(ValueError, match="n_blocks"):
        zoo.sbm_sample(3, 4)


@pytest.mark.slow
def test_retraining_reproduces_committed_weights():
    """The training scripts rebuild the committed models: same predictions, accuracy and weights.

    Bit-equal weights hold on one machine (max difference 0 here), but 300 Adam steps amplify
    float32 rounding, which differs with the CPU's vector kernels and thread count (1e-3 was seen
    under another thread setting). So the weights are compared at a tolerance far below what a
    changed recipe moves them (order 0.1), and the behaviour exactly: the same class for nearly
    every node and the committed test accuracy.
    """
    import torch
    from safetensors.torch import load_file

    for name, trainer in (("karate-gat", zoo.train_karate), ("sbm-gat", zoo.train_sbm)):
        committed, retrained = zoo.load(name), trainer()
        weights = load_file(str(zoo.weights_path(name)))
        state = retrained.model.state_dict()
        for key, value in weights.items():
            np.testing.assert_allclose(state[key].numpy(), value.numpy(), atol=2e-2, err_msg=f"{name} {key}")
        data = zoo.to_data(committed)
        with torch.no_grad():
            before = committed.model(data.x, data.edge_index).argmax(dim=1)
            after = retrained.model(data.x, data.edge_index).argmax(dim=1)
        assert (before == after).float().mean() >= 0.97, name
        assert abs(retrained.info["test_accuracy"] - float(committed.info["test_accuracy"])) <= 0.03, name


@pytest.mark.slow
def test_gallery(tmp_path):
    from multiattn._gallery.graph import render as gallery

    items = gallery(tmp_path)
    assert len(items) == 4 and all(item.path.is_file() for item in items)
