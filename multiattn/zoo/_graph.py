"""Embedded graph attention models: two small 2-layer GATv2 nets with known communities.

Two defaults with known ground truth (which community each node is in), so the
share of attention that stays inside a node's own community is a measured
number rather than a picture:

- ``karate-gat`` — Zachary's karate club (34 members, two factions after the
  split).  Its input features come from the graph structure alone
  (:func:`structural_features`: the spectral-bisection (Fiedler) coordinate and
  the log degree), so the same model also runs on any graph a user loads.
  It is trained on half of the members (seeded) with Gaussian feature noise, so
  that reading the right neighbours pays off.
- ``sbm-gat`` — a contextual stochastic block model: 4 equal blocks, about 6
  expected neighbours inside the own block and 4 in the others, and node
  features that are a noisy one-hot of the block (signal 2, unit noise).
  Trained on a 400-node sample; :func:`sbm_sample` draws graphs of any size
  (10 000 nodes for the large-graph drawing) from the same distribution.

Both use GATv2 layers: GAT's original score ranks every target's neighbours in
the same order (static attention, Brody et al. 2022), so it cannot prefer
"neighbours like me" for every community at once; GATv2 can.  Both layers have
the same head count (the second averages its heads), so one grid holds both.
The trained weights are committed under ``media_samples/graph/`` (a few KB);
``python -m multiattn.zoo._graph`` retrains them deterministically (seeded,
``torch.use_deterministic_algorithms``) in under a minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

__all__ = [
    "GraphSample",
    "MODELS",
    "structural_features",
    "karate_sample",
    "sbm_sample",
    "karate_gat",
    "sbm_gat",
    "train_karate",
    "train_sbm",
    "load",
    "save_weights",
    "weights_path",
    "to_data",
]

MODELS = ("karate-gat", "sbm-gat")
"""Names accepted by :func:`load` and the ``multiattn graph --model`` option."""

_HIDDEN = 16
_HEADS = 4


@dataclass
class GraphSample:
    """A graph with node features, ground-truth groups and (optionally) a trained model.

    Attributes
    ----------
    graph : networkx.Graph or DiGraph
        Undirected edges are used in both directions, directed ones as given.
    features : array (N, F)
        Node features in ``graph.nodes`` order.
    groups : array (N,) or None
        Ground-truth group per node, if known.
    group_names : list of str
        Name of each group id (the model's classes).
    model : torch.nn.Module or None
        Trained GATv2 net (eval mode), or None for a bare sample.
    info : dict
        Training facts: seed, epochs, train/test accuracy.
    """

    graph: Any
    features: np.ndarray
    groups: np.ndarray | None
    group_names: list[str]
    model: Any = None
    info: dict = field(default_factory=dict)


#: Components up to this size use networkx's exact Fiedler solver (the trained models' features);
#: larger ones a bounded sparse eigensolver, so a 10^5-node graph takes seconds, not hours.
_EXACT_COMPONENT = 2000


def _fiedler(graph: Any) -> np.ndarray:
    """Per-component normalised-Laplacian Fiedler vector, unit RMS, sign fixed by the top-degree node."""
    import networkx as nx

    nodes = list(graph.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    out = np.zeros(len(nodes))
    adjacency = None
    for component in nx.connected_components(graph):
        members = sorted(component, key=index.get)
        if len(members) < 3:
            continue
        if len(members) <= _EXACT_COMPONENT:
            sub = graph.subgraph(members)
            vec = np.asarray(nx.fiedler_vector(sub, normalized=True, seed=0, method="tracemin_lu"))
            degree = np.array([sub.degree(m) for m in members])
        else:
            if adjacency is None:
                adjacency = nx.to_scipy_sparse_array(graph, nodelist=nodes, weight="weight", format="csr")
            rows = np.array([index[m] for m in members])
            vec, degree = _sparse_fiedler(adjacency[rows][:, rows])
        hub = int(np.argmax(degree))
        vec = vec * (np.sign(vec[hub]) or 1.0) * np.sqrt(len(members)) / (np.linalg.norm(vec) or 1.0)
        out[[index[m] for m in members]] = vec
    return out


def _sparse_fiedler(adjacency: Any) -> tuple[np.ndarray, np.ndarray]:
    """Fiedler vector of one connected component (sparse, symmetric) and its node degrees.

    The second eigenvector of ``D^-1/2 A D^-1/2`` (the normalised Laplacian's Fiedler vector)
    with the known top one (``sqrt(d)``) projected out, by the layout's bounded eigensolver.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import LinearOperator

    from multiattn.renderers._graph_layout import bounded_eigsh

    adjacency = sp.csr_array(adjacency, dtype=float)
    adjacency = sp.csr_array(adjacency - sp.diags(adjacency.diagonal()))  # self-loops: not structure
    degree = np.asarray(abs(adjacency).sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    walk = sp.csr_array(sp.diags(inv_sqrt) @ adjacency @ sp.diags(inv_sqrt))
    top = np.sqrt(degree) / np.linalg.norm(np.sqrt(degree))
    n = len(degree)
    deflated = LinearOperator((n, n), matvec=lambda x: walk @ x - top * (top @ x), dtype=float)
    _, vectors = bounded_eigsh(deflated, 1, 0, n)
    return vectors[:, 0], degree


def structural_features(graph: Any) -> np.ndarray:
    """Features from structure alone: ``[Fiedler coordinate, centred log(1 + degree)]``, ``(N, 2)``.

    The Fiedler coordinate (second eigenvector of the normalised Laplacian,
    computed per connected component, unit RMS) is the classic spectral
    bisection: its sign splits a component into its two loosest halves.
    Directed graphs are read as undirected here.

    Example
    -------
    >>> import networkx as nx
    >>> structural_features(nx.karate_club_graph()).shape
    (34, 2)
    """
    if graph.number_of_nodes() == 0:
        raise MultiattnValueError("empty graph: it has no nodes")
    undirected = graph.to_undirected(as_view=True) if graph.is_directed() else graph
    degree = np.log1p(np.array([d for _, d in undirected.degree()], dtype=float))
    return np.stack([_fiedler(undirected), degree - degree.mean()], axis=1).astype(np.float32)


def karate_sample() -> GraphSample:
    """Zachary's karate club with structural features and the two factions as groups.

    Example
    -------
    >>> sample = karate_sample()
    >>> sample.features.shape, sample.group_names
    ((34, 2), ['Mr. Hi', 'Officer'])
    """
    import networkx as nx

    graph = nx.karate_club_graph()
    names = ["Mr. Hi", "Officer"]
    groups = np.array([names.index(graph.nodes[n]["club"]) for n in graph.nodes])
    for node, g in zip(graph.nodes, groups):
        graph.nodes[node]["group"] = int(g)
    return GraphSample(graph, structural_features(graph), groups, names)


def sbm_sample(n_nodes: int = 400, n_blocks: int = 4, *, degree_in: float = 6.0,
               degree_out: float = 4.0, signal: float = 2.0, seed: int = 0) -> GraphSample:
    """A contextual stochastic block model sample: ``n_blocks`` equal blocks, noisy one-hot features.

    Parameters
    ----------
    n_nodes, n_blocks : int
        Graph size and number of communities.
    degree_in, degree_out : float
        Expected neighbours inside the own block and in all other blocks together.
    signal : float
        Feature mean of the own block's coordinate (noise has unit variance).
    seed : int
        Seed for edges and features.

    Example
    -------
    >>> sample = sbm_sample(40, 2, seed=1)
    >>> sample.features.shape, sorted(set(sample.groups.tolist()))
    ((40, 2), [0, 1])
    """
    import networkx as nx

    if n_blocks < 2 or n_nodes < 2 * n_blocks:
        raise MultiattnValueError(
            f"need n_blocks >= 2 and n_nodes >= 2 * n_blocks, got {n_nodes}, {n_blocks}")
    sizes = [n_nodes // n_blocks + (i < n_nodes % n_blocks) for i in range(n_blocks)]
    p_in = min(1.0, degree_in / max(sizes[0] - 1, 1))
    p_out = min(1.0, degree_out / max(n_nodes - sizes[0], 1))
    probs = [[p_in if i == j else p_out for j in range(n_blocks)] for i in range(n_blocks)]
    graph = nx.stochastic_block_model(sizes, probs, seed=seed, sparse=True)
    groups = np.repeat(np.arange(n_blocks), sizes)
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_nodes, n_blocks)) + signal * np.eye(n_blocks)[groups]
    for node, g in zip(graph.nodes, groups):
        graph.nodes[node]["group"] = int(g)
    names = [f"block {i}" for i in range(n_blocks)]
    return GraphSample(graph, features.astype(np.float32), groups, names)


def to_data(sample: GraphSample) -> Any:
    """The sample as a ``torch_geometric.data.Data``.

    ``x`` = features, ``edge_index`` = every undirected edge in both directions
    (directed edges as given; self-loops dropped: the layers add their own),
    ``y`` = groups when known, plus ``node_ids`` and ``group_names`` that
    :func:`multiattn.adapters.graph.capture` carries over.
    """
    import torch
    from torch_geometric.data import Data

    nodes = list(sample.graph.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    pairs = np.array([(index[u], index[v]) for u, v in sample.graph.edges() if u != v], dtype=np.int64)
    pairs = pairs.reshape(-1, 2).T
    edge_index = pairs if sample.graph.is_directed() else np.concatenate([pairs, pairs[::-1]], axis=1)
    data = Data(x=torch.from_numpy(np.ascontiguousarray(sample.features, dtype=np.float32)),
                edge_index=torch.from_numpy(np.ascontiguousarray(edge_index)))
    if sample.groups is not None:
        data.y = torch.from_numpy(np.asarray(sample.groups, dtype=np.int64))
        data.group_names = list(sample.group_names)
    data.node_ids = nodes
    return data


def _build(in_dim: int, n_classes: int) -> Any:
    import torch
    from torch_geometric.nn import GATv2Conv

    class TwoLayerGAT(torch.nn.Module):
        """GATv2(in -> 4 x 16, concat) -> ELU -> GATv2(64 -> classes, 4 heads averaged)."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = GATv2Conv(in_dim, _HIDDEN, heads=_HEADS)
            self.conv2 = GATv2Conv(_HIDDEN * _HEADS, n_classes, heads=_HEADS, concat=False)

        def forward(self, x: Any, edge_index: Any) -> Any:
            return self.conv2(torch.nn.functional.elu(self.conv1(x, edge_index)), edge_index)

    return TwoLayerGAT()


def _train(sample: GraphSample, *, seed: int, epochs: int, noise: float, flip_sign: bool) -> GraphSample:
    """Full-batch Adam on a seeded half of the nodes; accuracy on the other half."""
    import torch

    data = to_data(sample)
    n, n_classes = data.num_nodes, len(sample.group_names)
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = _build(data.x.size(1), n_classes)
        train = torch.zeros(n, dtype=torch.bool)
        train[torch.randperm(n, generator=gen)[: n // 2]] = True
        opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
        model.train()
        for _ in range(epochs):
            x, y = data.x, data.y
            if flip_sign and torch.rand(1, generator=gen).item() < 0.5:
                x, y = x * torch.tensor([-1.0, 1.0]), n_classes - 1 - y
            x = x + noise * torch.randn(x.shape, generator=gen)
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x, data.edge_index)[train], y[train])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(data.x, data.edge_index).argmax(dim=1)
    finally:
        torch.use_deterministic_algorithms(deterministic)
    correct = (pred == data.y).float()
    sample.model = model
    sample.info = {"seed": seed, "epochs": epochs, "feature_noise": noise,
                   "train_accuracy": round(float(correct[train].mean()), 4),
                   "test_accuracy": round(float(correct[~train].mean()), 4)}
    return sample


def train_karate(seed: int = 0) -> GraphSample:
    """Train ``karate-gat`` from scratch (seeded; about 5 s on one core)."""
    return _train(karate_sample(), seed=seed, epochs=300, noise=0.5, flip_sign=True)


def train_sbm(seed: int = 0) -> GraphSample:
    """Train ``sbm-gat`` from scratch on a 400-node, 4-block sample (seeded; about 20 s on one core)."""
    return _train(sbm_sample(400, 4, seed=seed), seed=seed, epochs=300, noise=0.0, flip_sign=False)


_TRAINERS = {"karate-gat": (train_karate, karate_sample), "sbm-gat": (train_sbm, lambda: sbm_sample(400, 4))}


def weights_path(name: str) -> Path:
    """Where the committed weights of a default model live (``media_samples/graph/<name>.safetensors``)."""
    import multiattn.media_samples

    return Path(multiattn.media_samples.__file__).parent / "graph" / f"{name}.safetensors"


def save_weights(name: str, sample: GraphSample) -> Path:
    """Write a trained sample's weights and training facts (as metadata) to :func:`weights_path`."""
    from safetensors.torch import save_file

    path = weights_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in sample.model.state_dict().items()}
    save_file(state, str(path), metadata={k: str(v) for k, v in sample.info.items()})
    return path


@lru_cache(maxsize=len(MODELS))
def load(name: str) -> GraphSample:
    """A trained default by name (see :data:`MODELS`), from the committed safetensors weights.

    Example
    -------
    >>> sample = load("karate-gat")            # doctest: +SKIP
    >>> sample.info["test_accuracy"]           # doctest: +SKIP
    '0.9412'
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    if name not in _TRAINERS:
        raise MultiattnValueError(f"unknown graph model {name!r}; available: {list(MODELS)}")
    path = weights_path(name)
    if not path.is_file():
        raise MultiattnFileNotFoundError(f"weights {path} are missing; rebuild them with "
                                "`python -m multiattn.zoo._graph`")
    sample = _TRAINERS[name][1]()
    model = _build(sample.features.shape[1], len(sample.group_names))
    model.load_state_dict(load_file(str(path)))
    model.eval()
    with safe_open(str(path), framework="pt") as fh:
        sample.info = dict(fh.metadata() or {})
    sample.model = model
    return sample


def karate_gat() -> GraphSample:
    """Karate club with the trained 2-layer GATv2 (structural features; transfers to any graph)."""
    return load("karate-gat")


def sbm_gat() -> GraphSample:
    """The 400-node, 4-block contextual SBM with its trained 2-layer GATv2."""
    return load("sbm-gat")


if __name__ == "__main__":  # retrain the committed weights: python -m multiattn.zoo._graph
    import torch

    torch.set_num_threads(1)
    for model_name, (trainer, _) in _TRAINERS.items():
        trained = trainer()
        print(model_name, save_weights(model_name, trained), trained.info)
