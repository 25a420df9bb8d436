"""Large-graph paths stay exact where they replace an exact solver, and bounded where they bound one."""

import networkx as nx
import numpy as np

from multiattn.zoo import _graph as zoo


def test_sparse_fiedler_matches_networkx(monkeypatch):
    graph = zoo.sbm_sample(300, 3, seed=1).graph
    exact = zoo.structural_features(graph)
    monkeypatch.setattr(zoo, "_EXACT_COMPONENT", 10)  # force the sparse eigensolver path
    sparse = zoo.structural_features(graph)
    np.testing.assert_allclose(sparse, exact, atol=1e-4)


def test_structural_features_on_many_components_and_small_pieces(monkeypatch):
    graph = nx.disjoint_union(nx.karate_club_graph(), nx.path_graph(2))
    monkeypatch.setattr(zoo, "_EXACT_COMPONENT", 10)
    features = zoo.structural_features(graph)
    assert features.shape == (36, 2) and np.isfinite(features).all()
    assert (features[-2:, 0] == 0).all()  # components under 3 nodes get no Fiedler coordinate
    assert abs(np.sqrt(np.mean(features[:34, 0] ** 2)) - 1) < 1e-5  # unit RMS per component
