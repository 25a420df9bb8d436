"""Head clustering, redundant heads and PCA projection."""

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from multiattn.analysis.clustering import cluster_heads, mean_head_similarity, project_heads, redundant_heads
from multiattn.analysis.metrics import head_similarity

from .conftest import random_attention


def _planted(rng):
    """Two layers x 3 heads: heads 0, 2, 4 previous-token, 1, 3, 5 first-token (plus noise)."""
    n = 8
    prev = np.eye(n, k=-1)
    prev[0, 0] = 1
    first = np.zeros((n, n))
    first[:, 0] = 1
    heads = [prev if i % 2 == 0 else first for i in range(6)]
    noise = random_attention(rng, (6, n, n))
    arr = np.stack([0.9 * h + 0.1 * e for h, e in zip(heads, noise)]).reshape(2, 3, n, n)
    return arr


def test_cluster_recovers_planted_groups(rng):
    sim = head_similarity(_planted(rng))
    clusters = cluster_heads(sim, n_clusters=2)
    labels = clusters["labels"]
    assert len(set(labels[[0, 2, 4]])) == 1 and len(set(labels[[1, 3, 5]])) == 1
    assert labels[0] != labels[1]
    reference = fcluster(linkage(squareform(1 - sim, checks=False), "average"), 2, "maxclust")
    np.testing.assert_array_equal(labels, reference)
    assert sorted(clusters["order"].tolist()) == list(range(6))
    by_cut = cluster_heads(sim, threshold=0.5)["labels"]
    assert len(set(by_cut)) == 2


def test_redundant_heads_hand_case():
    sim = np.array([[1, 0.95, 0.2, 0.1], [0.95, 1, 0.3, 0.92], [0.2, 0.3, 1, 0.1], [0.1, 0.92, 0.1, 1]])
    pairs = redundant_heads(sim, n_heads=2, threshold=0.9)
    assert [(p["a"], p["b"]) for p in pairs] == [((0, 0), (0, 1)), ((0, 1), (1, 1))]
    assert pairs[0]["similarity"] == pytest.approx(0.95)


def test_project_heads_matches_svd_and_separates(rng):
    arr = _planted(rng)
    sim = head_similarity(arr)
    coords, explained = project_heads(sim)
    assert coords.shape == (6, 2) and explained[0] > 0.9
    assert np.sign(coords[0, 0]) == np.sign(coords[2, 0]) != np.sign(coords[1, 0])
    centred = sim - sim.mean(0)
    variances = np.linalg.eigvalsh(centred.T @ centred)[::-1]
    np.testing.assert_allclose(explained, variances[:2] / variances.sum(), atol=1e-9)
    first_axis = np.linalg.svd(centred)[2][0]
    np.testing.assert_allclose(np.abs(coords[:, 0]), np.abs(centred @ first_axis))


def test_mean_similarity_averages(rng):
    a, b = random_attention(rng, (2, 2, 5, 5)), random_attention(rng, (2, 2, 5, 5))
    np.testing.assert_allclose(mean_head_similarity([a, b]), (head_similarity(a) + head_similarity(b)) / 2)
    with pytest.raises(ValueError, match="different head counts"):
        mean_head_similarity([a, random_attention(rng, (1, 2, 5, 5))])
    with pytest.raises(ValueError, match="at least one"):
        mean_head_similarity([])


@pytest.mark.parametrize("call, match", [
    (lambda: cluster_heads(np.ones((3, 2))), "square"),
    (lambda: cluster_heads(np.array([[1, np.nan], [np.nan, 1]])), "NaN"),
    (lambda: cluster_heads(np.array([[1, 0.2], [0.5, 1]])), "symmetric"),
    (lambda: cluster_heads(np.eye(3), method="ward2"), "method"),
    (lambda: cluster_heads(np.eye(3), n_clusters=5), "n_clusters"),
    (lambda: redundant_heads(np.eye(3), n_heads=2), "multiple"),
    (lambda: project_heads(np.ones((1, 3))), ">= 2 heads"),
    (lambda: project_heads(np.ones((3, 3)), n_components=4), "n_components"),
])
def test_clustering_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_doctests():
    import doctest

    from multiattn.analysis import attribution, clustering
    from multiattn.renderers import flow_diagram
    from multiattn.renderers import population as heads

    for module in (attribution, clustering, flow_diagram, heads):
        result = doctest.testmod(module, extraglobs={"np": np})
        assert result.attempted > 0 and result.failed == 0
