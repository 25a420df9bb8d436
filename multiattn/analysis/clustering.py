"""Which heads behave alike: hierarchical clustering, redundant pairs and a 2-D projection.

Input is a head-by-head similarity matrix (e.g.
:func:`multiattn.analysis.head_similarity`, averaged over several inputs with
:func:`mean_head_similarity`).  Distances are ``1 - similarity``; clustering is
scipy's agglomerative ``linkage`` (average linkage by default).  Heads are
indexed layer-major: head ``(l, h)`` is ``l * H + h``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

from .metrics import head_similarity

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ArrayLike, AttentionInput

__all__ = ["cluster_heads", "mean_head_similarity", "project_heads", "redundant_heads"]

_LINKAGES = ("average", "complete", "single", "weighted")


def _similarity(similarity: ArrayLike) -> np.ndarray:
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] < 2:
        raise MultiattnValueError(
            f"similarity must be a square (heads, heads) matrix with >= 2 heads, got {sim.shape}"
        )
    if not np.isfinite(sim).all():
        raise MultiattnValueError("similarity contains NaN or inf (a head with no eligible rows?)")
    if not np.allclose(sim, sim.T, atol=1e-6):
        raise MultiattnValueError("similarity must be symmetric; average it with its transpose first")
    return sim


def mean_head_similarity(attns: Iterable[AttentionInput], metric: str = "cosine") -> np.ndarray:
    """Head similarity averaged over several inputs (grids or ``(L, H, N, N)`` arrays).

    Example
    -------
    >>> a = np.full((1, 2, 3, 3), 1 / 3)
    >>> mean_head_similarity([a, a]).round(6).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    sims = [head_similarity(attn, metric) for attn in attns]
    if not sims:
        raise MultiattnValueError("mean_head_similarity needs at least one input")
    shapes = {s.shape for s in sims}
    if len(shapes) != 1:
        raise MultiattnValueError(f"inputs come from models with different head counts: {sorted(shapes)}")
    return np.mean(sims, axis=0)


def cluster_heads(
    similarity: ArrayLike, *, n_clusters: int | None = None, threshold: float = 0.5, method: str = "average"
) -> dict:
    """Agglomerative clustering of heads on ``distance = 1 - similarity``.

    Parameters
    ----------
    similarity : array (n_heads, n_heads)
        Symmetric similarity, 1 = identical (cosine or JS similarity of heads).
    n_clusters : int, optional
        Cut the tree into this many clusters; else cut at ``threshold``.
    threshold : float
        Distance at which the tree is cut when ``n_clusters`` is None.
    method : {"average", "complete", "single", "weighted"}
        scipy linkage method.

    Returns
    -------
    dict
        ``"linkage"``: scipy linkage matrix ``(n_heads - 1, 4)``; ``"labels"``:
        cluster id per head ``(n_heads,)`` starting at 1; ``"order"``: leaf
        order of the dendrogram; ``"distance"``: the distance matrix.

    Example
    -------
    >>> sim = np.array([[1, .9, .1], [.9, 1, .2], [.1, .2, 1]])
    >>> cluster_heads(sim, n_clusters=2)["labels"].tolist()
    [1, 1, 2]
    """
    from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
    from scipy.spatial.distance import squareform

    if method not in _LINKAGES:
        raise MultiattnValueError(f"method must be one of {_LINKAGES}, got {method!r}")
    sim = _similarity(similarity)
    distance = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method=method)
    if n_clusters is not None:
        if not 1 <= n_clusters <= sim.shape[0]:
            raise MultiattnValueError(f"n_clusters must be in [1, {sim.shape[0]}], got {n_clusters}")
        labels = fcluster(tree, n_clusters, criterion="maxclust")
    else:
        labels = fcluster(tree, threshold, criterion="distance")
    return {"linkage": tree, "labels": labels, "order": leaves_list(tree), "distance": distance}


def redundant_heads(similarity: ArrayLike, n_heads: int, threshold: float = 0.9) -> list[dict]:
    """Pairs of heads at least ``threshold`` similar, most similar first.

    Parameters
    ----------
    similarity : array (L*H, L*H)
        Head similarity, layer-major.
    n_heads : int
        Heads per layer ``H`` (to report ``(layer, head)``).
    threshold : float
        Smallest similarity reported.

    Returns
    -------
    list of dict
        ``{"a": (layer, head), "b": (layer, head), "similarity": float}``.

    Example
    -------
    >>> redundant_heads(np.array([[1, .95], [.95, 1]]), n_heads=2)
    [{'a': (0, 0), 'b': (0, 1), 'similarity': 0.95}]
    """
    sim = _similarity(similarity)
    if n_heads < 1 or sim.shape[0] % n_heads:
        raise MultiattnValueError(
            f"{sim.shape[0]} heads in similarity is not a multiple of n_heads={n_heads}")
    rows, cols = np.triu_indices(sim.shape[0], k=1)
    keep = sim[rows, cols] >= threshold
    pairs = sorted(zip(rows[keep], cols[keep]), key=lambda p: -sim[p])
    return [{"a": divmod(int(i), n_heads), "b": divmod(int(j), n_heads), "similarity": float(sim[i, j])}
            for i, j in pairs]


def project_heads(features: ArrayLike, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """PCA of per-head feature vectors (e.g. rows of the similarity matrix, or metric profiles).

    Parameters
    ----------
    features : array (n_heads, d)
        One feature vector per head.
    n_components : int
        Output dimensions.

    Returns
    -------
    coords : ndarray (n_heads, n_components)
        Centred projections on the principal axes (signs fixed so the largest
        loading of each axis is positive, for deterministic pictures).
    explained : ndarray (n_components,)
        Share of the variance explained by each axis.

    Example
    -------
    >>> coords, explained = project_heads(np.array([[0., 0], [1, 1], [2, 2]]))
    >>> coords.shape, explained.round(3).tolist()
    ((3, 2), [1.0, 0.0])
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise MultiattnValueError(f"features must be (n_heads, d) with >= 2 heads, got {x.shape}")
    if not np.isfinite(x).all():
        raise MultiattnValueError("features contain NaN or inf")
    if not 1 <= n_components <= min(x.shape):
        raise MultiattnValueError(f"n_components must be in [1, {min(x.shape)}], got {n_components}")
    centred = x - x.mean(0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:n_components]
    signs = np.sign(axes[np.arange(n_components), np.abs(axes).argmax(1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    variance = singular**2
    total = variance.sum()
    explained = variance[:n_components] / total if total > 0 else np.zeros(n_components)
    return centred @ axes.T, explained
