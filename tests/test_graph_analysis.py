"""Graph analyses on a 4-node graph computed by hand, and against dense references."""

import numpy as np
import pytest

from multiattn import AttentionGrid, NodeAxis, TokenAxis
from multiattn.adapters.graph import from_edges
from multiattn.analysis.edges import (
    attention_received,
    group_share,
    head_agreement,
    incoming_entropy,
    layer_matrix,
    propagate_attention,
    self_loop_mask,
    top_k_edges,
)

# source -> target (the target attends to the source); groups: {0, 1, 3} and {2}
EDGES = [[1, 2, 0, 1, 3, 2, 3],
         [0, 0, 1, 2, 2, 3, 3]]
HEAD0 = [0.6, 0.4, 1.0, 0.25, 0.75, 0.5, 0.5]
UNIFORM = [0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 0.5]
DENSE0 = np.array([[0, .6, .4, 0], [1, 0, 0, 0], [0, .25, 0, .75], [0, 0, .5, .5]])


@pytest.fixture
def grid():
    values = np.array([[HEAD0, UNIFORM], [HEAD0, HEAD0]])  # (layers, heads, E)
    return from_edges(EDGES, values, nodes=NodeAxis(range(4), groups=[0, 0, 1, 0]))


def test_self_loops_flagged(grid):
    assert self_loop_mask(grid).tolist() == [False] * 6 + [True]


def test_incoming_entropy_by_hand(grid):
    expected = [-(.6 * np.log(.6) + .4 * np.log(.4)), 0.0,
                -(.25 * np.log(.25) + .75 * np.log(.75)), np.log(2)]
    np.testing.assert_allclose(incoming_entropy(grid)[0, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(incoming_entropy(grid)[0, 1], [np.log(2), 0, np.log(2), np.log(2)])
    lonely = from_edges([[0], [1]], [1.0], num_nodes=3)
    assert np.isnan(incoming_entropy(lonely)[0, 0, [0, 2]]).all()


def test_attention_received_by_hand(grid):
    np.testing.assert_allclose(attention_received(grid)[0, 0], [1.0, 0.85, 0.9, 1.25], rtol=1e-6)
    np.testing.assert_allclose(attention_received(grid, self_loops=False)[0, 0],
                               [1.0, 0.85, 0.9, 0.75], rtol=1e-6)


def test_top_k_edges(grid):
    assert top_k_edges(grid, 1, layer=0, head=0).tolist() == [0, 2, 4, 5]  # tie -> edge order
    assert top_k_edges(grid, 2, layer=0, head=0).tolist() == [0, 1, 2, 4, 3, 5, 6]
    assert 6 not in top_k_edges(grid, 2, layer=0, head=0, self_loops=False)
    with pytest.raises(ValueError, match="at least 1"):
        top_k_edges(grid, 0)


def test_group_share_by_hand(grid):
    share = group_share(grid)
    # per node (self-loops aside): 0 -> .6 of its attention from its group, 1 -> 1, 2 -> 0, 3 -> 0
    np.testing.assert_allclose(share.attention[0, 0], (.6 + 1 + 0 + 0) / 4, rtol=1e-6)
    np.testing.assert_allclose(share.attention[0, 1], (.5 + 1 + 0 + 0) / 4, rtol=1e-6)
    assert share.edges == pytest.approx((.5 + 1 + 0 + 0) / 4)
    np.testing.assert_allclose(share.lift[0], [0.025, 0.0], atol=1e-6)
    with_loops = group_share(grid, self_loops=True)  # node 3's self-loop (.5) counts as inside
    np.testing.assert_allclose(with_loops.attention[0, 0], (.6 + 1 + 0 + .5) / 4, rtol=1e-6)
    assert with_loops.edges == pytest.approx((.5 + 1 + 0 + .5) / 4)
    # uniform attention equals the edges-alone baseline
    np.testing.assert_allclose(share.per_node[0, 1], share.per_node_edges)


def test_group_share_errors(grid):
    plain = from_edges(EDGES, HEAD0)
    with pytest.raises(ValueError, match="no node groups"):
        group_share(plain)
    with pytest.raises(ValueError, match="one entry per node"):
        group_share(plain, groups=[0, 1])


def test_head_agreement_by_hand(grid):
    agreement = head_agreement(grid)
    assert agreement.shape == (2, 2, 2)
    np.testing.assert_allclose(agreement[0], [[1, 0.9125], [0.9125, 1]], rtol=1e-6)
    np.testing.assert_allclose(agreement[1], 1.0)


def test_layer_matrix_and_propagation_against_dense(grid):
    np.testing.assert_allclose(layer_matrix(grid, 1).toarray(), DENSE0, rtol=1e-6)
    flow = propagate_attention(grid, head=0).toarray()
    np.testing.assert_allclose(flow, DENSE0 @ DENSE0, rtol=1e-6)
    np.testing.assert_allclose(flow[1], [0, .6, .4, 0], rtol=1e-6)  # node 1 only reads node 0
    np.testing.assert_allclose(flow.sum(axis=1), 1.0, rtol=1e-6)
    mixed = propagate_attention(grid, head=0, residual=0.5).toarray()
    step = 0.5 * DENSE0 + 0.5 * np.eye(4)
    np.testing.assert_allclose(mixed, step @ step, rtol=1e-6)
    # head="mean" uses the mean of the heads of every layer (layer 0 mixes HEAD0 and UNIFORM)
    dense = grid.to_dense().values.mean(axis=1)
    np.testing.assert_allclose(propagate_attention(grid).toarray(), dense[1] @ dense[0], rtol=1e-6)
    with pytest.raises(ValueError, match="residual"):
        propagate_attention(grid, residual=1.0)


def test_dense_grid_is_refused():
    dense = AttentionGrid(np.full((1, 1, 2, 2), 0.5), TokenAxis(["a", "b"]))
    with pytest.raises(ValueError, match="needs a sparse"):
        incoming_entropy(dense)
    with pytest.raises(TypeError, match="sparse AttentionGrid"):
        attention_received(np.ones((2, 2)))


def test_one_edge_type_of_a_heterogeneous_graph_is_read_and_refused_for_drawing():
    """A bipartite grid (4 targets of one type, 6 sources of another): per-source sums over the 6
    sources; drawing it alone is refused with the way to draw it (issue 16)."""
    import numpy as np
    import pytest

    from multiattn import AttentionGrid, NodeAxis
    from multiattn.analysis.edges import attention_received
    from multiattn.renderers.network import draw

    edges = np.array([[0, 1, 5, 3, 5], [0, 1, 2, 3, 3]])
    values = np.array([[[1.0, 1.0, 1.0, 0.25, 0.75]]])
    grid = AttentionGrid(values, NodeAxis(list(range(4))), NodeAxis(list(range(6))), edge_index=edges,
                         kind="cross")
    np.testing.assert_allclose(attention_received(grid).values[0, 0], [1.0, 1.0, 0.0, 0.25, 0.0, 1.75])
    with pytest.raises(ValueError, match="draw_hetero"):
        draw(grid)
