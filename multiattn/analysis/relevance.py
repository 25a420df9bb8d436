"""Gradient-weighted attention explanations on arrays: gradient rollout and Chefer relevance.

Both take the attention stack ``A`` of shape ``(L, H, N, N)`` and the gradients
``dy/dA`` of one target score with respect to each attention matrix (same
shape; an adapter takes them, see :func:`multiattn.adapters.vit.capture_with_gradients`).
Layer ``l`` of the gradients must belong to layer ``l`` of the attention.
Nothing here imports a model library, so any tower (ViT, CLIP's image or text
encoder, a text transformer) can be explained with the same code.

References: the relevance rule ``R += mean_h((dA * A)^+) @ R`` is from Chefer, Gur & Wolf,
"Generic Attention-model Explainability for Interpreting Bi-Modal and Encoder-Decoder
Transformers", ICCV 2021 (their public ``Transformer-MM-Explainability`` code,
``generate_relevance``); the earlier CVPR 2021 paper ("Transformer Interpretability Beyond
Attention Visualization") propagates LRP relevance through every layer, which this module does
not do.  :func:`gradient_rollout` is multiattn's own formula in the spirit of J. Gildenblat's
``vit-explain`` (see its Notes for how the numbers differ).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

from ..grid import AttentionGrid
from ..labelled import LabelledArray
from ._arrays import as_dense, label_positions, one_hot_rows, output_rows, pick_outputs

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ArrayLike, AttentionInput

__all__ = ["gradient_rollout", "chefer_relevance"]


def _values(x: AttentionInput | ArrayLike) -> np.ndarray:
    """``(L, H, N, N)`` values, checked as in as_dense: float32 stays float32 (what models capture;
    the products then run in float32, as the reference implementations do), anything else float64."""
    arr = x.to_dense().values if isinstance(x, AttentionGrid) else np.asarray(x)
    if arr.dtype == np.float32 and arr.ndim == 4:
        return arr  # finiteness: checked on the result (NaN / inf propagate), see _finite
    return as_dense(x)  # the shape, dtype and finiteness checks and errors; float64


def _finite(result: np.ndarray, attn: AttentionInput, grads: ArrayLike) -> np.ndarray:
    """``result``, after raising as_dense's error if a NaN / inf input made it non-finite."""
    if not np.isfinite(result).all():
        as_dense(attn), as_dense(grads)
        raise MultiattnValueError("relevance is not finite (overflow in the products); pass float64 inputs")
    return result


def _pair(attn: AttentionInput, grads: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = _values(attn)
    g = _values(grads).astype(a.dtype, copy=False)
    if a.shape != g.shape:
        raise MultiattnValueError(
            f"attention {a.shape} and gradients {g.shape} must have the same (L, H, N, N) shape; "
            "pass the gradient of each attention matrix in the same layer order"
        )
    if a.shape[-1] != a.shape[-2]:
        raise MultiattnValueError(f"self-attention must be square (N, N) per head, got {a.shape[-2:]}")
    return a, g


class _HeadMean:
    """``mean_h((A * dA)^+)`` of one layer at a time, in buffers reused across layers.

    The positive part is taken as ``(x + |x|) / 2``: ``x + |x|`` is ``2x`` or ``0`` exactly, and
    ``sum_h(2x) / (2H)`` rounds to the same float as ``sum_h(x) / H``, so the values are those of
    ``np.maximum(x, 0).mean(0)`` bit for bit, at half the cost (no NaN-aware maximum).
    """

    def __init__(self, a: np.ndarray) -> None:
        self.weighted = np.empty(a.shape[1:], a.dtype)
        self.magnitude = np.empty(a.shape[1:], a.dtype)
        self.mean = np.empty(a.shape[2:], a.dtype)
        self.divisor = a.dtype.type(2 * a.shape[1])

    def __call__(self, a: np.ndarray, g: np.ndarray) -> np.ndarray:
        np.multiply(a, g, out=self.weighted)
        self.weighted += np.abs(self.weighted, out=self.magnitude)
        np.add.reduce(self.weighted, axis=0, out=self.mean)
        return np.divide(self.mean, self.divisor, out=self.mean)


def _gradient_layers(attn: AttentionInput, grads: ArrayLike, a: np.ndarray, g: np.ndarray,
                     residual: float, reverse: bool = False) -> Iterator[np.ndarray]:
    """Gradient rollout's row-stochastic ``M_l`` of each layer, first layer first or (``reverse``)
    last first."""
    eye = np.eye(a.shape[-1], dtype=a.dtype)
    head_mean = _HeadMean(a)
    for layer in range(a.shape[0] - 1, -1, -1) if reverse else range(a.shape[0]):
        weighted = head_mean(a[layer], g[layer])
        sums = weighted.sum(axis=-1, keepdims=True)
        if not np.isfinite(sums).all():  # a NaN / inf input: as_dense names it
            _finite(sums, attn, grads)
        weighted = np.divide(weighted, sums, out=np.zeros_like(weighted), where=sums > 0)
        mixed = a.dtype.type(residual) * eye + a.dtype.type(1 - residual) * weighted
        mixed /= mixed.sum(axis=-1, keepdims=True)
        yield mixed


def gradient_rollout(attn: AttentionInput, grads: ArrayLike, residual: float = 0.5, *,
                     outputs: int | Sequence[int] | None = None) -> np.ndarray | LabelledArray:
    """Rollout of gradient-weighted attention (``A * dy/dA``, positive part).

    For each layer ``l``: ``G = mean_h((A_l * dA_l)^+)``; its rows are scaled to sum
    to one (rows that are all zero stay zero), mixed with the residual path
    ``M_l = residual * I + (1 - residual) * G`` and renormalised so every row of
    ``M_l`` sums to one.  The result is ``M_{L-1} @ ... @ M_0``.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Attention weights of one input.
    grads : array (L, H, N, N)
        Gradient of the target score with respect to each attention weight.
    residual : float
        Weight of the identity (skip connection) in ``[0, 1)``.
    outputs : int or sequence of int, optional
        Only these rows, as in :func:`~multiattn.analysis.rollout.rollout`: a plain
        ``(len(outputs), N)`` array (an int gives ``(N,)``), one vector-matrix product per layer.

    Returns
    -------
    numpy.ndarray or LabelledArray
        ``(N, N)`` (dims ``("query", "key")`` over a grid's axes); row ``i`` tells
        how much each token contributed to token ``i`` at the output.  Read the CLS
        row for a class explanation (``outputs=0``).

    Notes
    -----
    This is multiattn's own formula: the positive part is taken before the head mean, and the
    rows of ``(A * dA)^+`` are rescaled before the residual mix, so every ``M_l`` is a row-stochastic
    matrix and the result stays a distribution per row.  ``vit-explain``'s ``grad_rollout``
    gives different numbers on the same model: its backward hook (the deprecated
    ``register_backward_hook`` on the attention dropout) records the gradient of the pre-softmax
    scores rather than ``dy/dA``, pairs them with the layers in reverse order, clamps after the head
    mean, drops the
    lowest ``discard_ratio`` weights, and ``a / a.sum(dim=-1)`` divides *columns* by the row sums
    (a broadcasting quirk).  Published vit-explain figures are therefore not reproduced by this
    function; :func:`chefer_relevance` equals Chefer et al.'s reference code.

    Example
    -------
    >>> a = np.full((2, 1, 3, 3), 1 / 3)
    >>> gradient_rollout(a, np.ones_like(a)).sum(axis=1)
    array([1., 1., 1.])
    """
    if not 0 <= residual < 1:
        raise MultiattnValueError(f"residual must be in [0, 1), got {residual}")
    a, g = _pair(attn, grads)
    if outputs is not None:
        result = one_hot_rows(output_rows(outputs, a.shape[-1]), a.shape[-1], a.dtype)
        for mixed in _gradient_layers(attn, grads, a, g, residual, reverse=True):
            result = result @ mixed
        return pick_outputs(_finite(result, attn, grads).astype(np.float64), outputs)
    result = None
    for mixed in _gradient_layers(attn, grads, a, g, residual):
        result = mixed if result is None else mixed @ result
    return label_positions(attn, _finite(result, attn, grads).astype(np.float64), "gradient_rollout")


def chefer_relevance(attn: AttentionInput, grads: ArrayLike, start_layer: int = 0, *,
                     outputs: int | Sequence[int] | None = None) -> np.ndarray | LabelledArray:
    """Chefer et al. (ICCV 2021) relevance: ``R = I; R += mean_h((dA * A)^+) @ R`` per layer.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Attention weights of one input (any self-attention stack: ViT, one CLIP tower...).
    grads : array (L, H, N, N)
        Gradient of the target score (any class, not only the predicted one)
        with respect to each attention weight.
    start_layer : int
        First layer to accumulate (earlier layers are skipped); negative counts
        from the end.
    outputs : int or sequence of int, optional
        Only these rows of ``R`` (``0``: the CLS token's relevance), as in
        :func:`~multiattn.analysis.rollout.rollout`: a plain ``(len(outputs), N)`` array (an int
        gives ``(N,)``), the rows of the full ``R`` up to round-off, as
        ``e^T (I + C_{L-1}) ... (I + C_start)``: one vector-matrix product per layer.

    Returns
    -------
    numpy.ndarray or LabelledArray
        ``(N, N)`` relevance (dims ``("query", "key")`` over a grid's axes);
        ``R[0, prefix:]`` is the CLS token's patch relevance.

    Example
    -------
    >>> a = np.full((1, 2, 2, 2), 0.5)
    >>> chefer_relevance(a, np.ones_like(a))
    array([[1.5, 0.5],
           [0.5, 1.5]])
    >>> chefer_relevance(a, np.ones_like(a), outputs=0)
    array([1.5, 0.5])
    """
    a, g = _pair(attn, grads)
    n_layers = a.shape[0]
    if not -n_layers <= start_layer < n_layers:
        raise MultiattnValueError(f"start_layer {start_layer} out of range for {n_layers} layers")
    head_mean, first = _HeadMean(a), start_layer % n_layers
    if outputs is not None:
        carried = _relevance_rows(a, g, head_mean, first, output_rows(outputs, a.shape[-1]))
        return pick_outputs(_finite(carried, attn, grads)[:-1].astype(np.float64), outputs)
    relevance = head_mean(a[first], g[first]).copy()  # I + cam @ I
    relevance[np.diag_indices_from(relevance)] += 1
    product = np.empty_like(relevance)
    for layer in range(first + 1, n_layers):
        relevance += np.matmul(head_mean(a[layer], g[layer]), relevance, out=product)
    return label_positions(attn, _finite(relevance, attn, grads).astype(np.float64), "chefer_relevance")


def _relevance_rows(a: np.ndarray, g: np.ndarray, head_mean: _HeadMean, first: int,
                    rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` of Chefer's ``R`` (``v <- v + v C_l`` from the last layer down to ``first``),
    and below them a row of ones carried through the same products (``1^T R``, a check row).

    Through the check row a NaN / inf anywhere in a layer reaches the result even where ``v`` is
    zero (as it reaches the full ``R``), whichever zeros the BLAS skips; :func:`_finite` sees it.
    """
    carried = np.vstack([one_hot_rows(rows, a.shape[-1], a.dtype), np.ones((1, a.shape[-1]), a.dtype)])
    product = np.empty_like(carried)
    for layer in range(a.shape[0] - 1, first - 1, -1):
        np.matmul(carried, head_mean(a[layer], g[layer]), out=product)
        carried += product
    return carried
