"""Attention flow (Abnar & Zuidema 2020) as exact maximum flow, fast.

The layered attention graph has one node per token per layer; an edge from
token ``q`` at layer ``i`` to token ``k`` at layer ``i - 1`` has capacity
``Â_i[q, k]``, the residual-adjusted, head-fused attention of layer ``i``
(``Â = residual·I + (1 − residual)·mean_h A``, rows renormalised — the same
matrices rollout multiplies).  The flow from output token ``u`` (top layer)
to input token ``v`` (layer 0) is the value of a maximum ``u → v`` flow in
that graph; each output row is then divided by its sum, as the paper's
networkx reference code does.

Two engines compute the same values.  The default, compiled one (numba,
:mod:`._flow_kernel`) keeps the graph implicit (dense residual arrays, no edge
list per problem), runs Dinic in float64 and skips the first breadth-first
search (before any flow the levels are the layers); on attention graphs the
first phase usually fills one of the two trivial cuts (the output token's
arcs or the input token's), which ends the problem.  It is ~90x faster than
the scipy engine at 128 tokens x 12 layers (``benchmarks/bench_scale.py``).
The scipy engine (``engine="scipy"``) builds one CSR for disjoint copies of
the graph and runs scipy's Dinic; it needs capacities scaled to integers,
``c' = round(c · scale)``, so each value is within ``E / (2 · scale)`` of the
exact one (:func:`flow_error_bound`; ``E`` the number of arcs).

Work is spread over output tokens (threads, processes, or one Dask task per
batch of output tokens); ``outputs=`` computes only the rows needed.  The
cost is estimated up front (:func:`flow_cost`) and work estimated above
``max_seconds`` is refused with :class:`~multiattn.errors.CostLimitError`
naming the cheaper options.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import CostLimitError, MissingDependencyError, MultiattnValueError

from ..labelled import LabelledArray
from ._arrays import label_positions, output_rows
from ._flow_solve import solve_numba, solve_scipy
from .rollout import residual_layers

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import AttentionInput

__all__ = ["attention_flow", "flow_cost", "flow_error_bound"]

_DEFAULT_SCALE = 2**30


def flow_error_bound(n_layers: int, n_tokens: int, scale: int = _DEFAULT_SCALE) -> float:
    """Upper bound on the absolute error of one max-flow value from integer scaling."""
    edges = max(n_layers - 2, 0) * n_tokens**2 + 2 * n_tokens
    return edges / (2.0 * scale)


#: Seconds per (pair x arc) on one core of the 2-core reference machine, measured by
#: ``benchmarks/bench_scale.py`` (compiled kernel; scipy's solver with its per-call set-up).
_SECONDS_PER_PAIR_ARC = {"numba": 3.0e-9, "scipy": 3.0e-8}
_ENGINES = ("auto", "numba", "scipy")


def flow_cost(n_layers: int, n_tokens: int, n_outputs: int | None = None, *, n_jobs: int = 1,
              engine: str = "auto") -> float:
    """Estimated seconds of :func:`attention_flow` (typical case, before anything runs).

    One max-flow problem per (output token, input token) pair, each on the layered graph of
    ``(L - 1) * N**2`` arcs; the solvers' time grows with pairs x arcs.  Problems whose minimum
    cut is inside the graph (rare on attention: the flow usually fills the output token's or
    the input token's own arcs) can take a few times longer.

    Examples
    --------
    >>> flow_cost(12, 128, n_jobs=2) < flow_cost(12, 128, n_jobs=1)
    True
    >>> flow_cost(12, 440, n_outputs=1) < 10 < 600 < flow_cost(12, 440)
    True
    """
    pairs = (n_tokens if n_outputs is None else n_outputs) * n_tokens
    arcs = max(n_layers - 1, 1) * n_tokens**2
    return pairs * arcs * _SECONDS_PER_PAIR_ARC[_pick_engine(engine)] / max(n_jobs, 1)


def _pick_engine(engine: str) -> str:
    if engine not in _ENGINES:
        raise MultiattnValueError(f"engine must be one of {_ENGINES}, got {engine!r}")
    has_numba = importlib.util.find_spec("numba") is not None
    if engine == "numba" and not has_numba:
        raise MissingDependencyError(
            "engine='numba' needs numba: pip install 'multiattn[fast]' (or use engine='scipy')")
    return "numba" if engine == "numba" or (engine == "auto" and has_numba) else "scipy"


def _jobs(n_jobs: int | None, n_layers: int, n_tok: int, n_rows: int, client: Any) -> int:
    if client is not None:
        return max(1, len(client.scheduler_info().get("workers", {})))
    if n_jobs is not None:
        return max(1, n_jobs)
    return (os.cpu_count() or 1) if n_rows * n_tok**2 * n_layers >= 48**3 * 3 else 1


def _check_cost(n_layers: int, n_tok: int, n_rows: int, jobs: int, engine: str,
                max_seconds: float | None, client: Any) -> None:
    if max_seconds is None or n_layers < 2:
        return
    cost = flow_cost(n_layers, n_tok, n_rows, n_jobs=jobs, engine=engine)
    if cost > max_seconds:
        where = "Dask workers" if client is not None else "cores"
        raise CostLimitError(
            f"exact attention flow for {n_rows} output tokens x {n_tok} tokens x {n_layers} layers is "
            f"estimated at {_duration(cost)} on {jobs} {where} ({engine} engine; "
            f"limit {_duration(max_seconds)}): "
            "ask only for the output tokens you need (outputs=[...]), fewer layers or tokens "
            "(grid.select(layer=...)), use rollout (analysis.rollout, milliseconds), a Dask client=, "
            "or raise max_seconds")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def attention_flow(
    attn: AttentionInput,
    residual: float = 0.5,
    head_fusion: str = "mean",
    *,
    outputs: int | Sequence[int] | None = None,
    n_jobs: int | None = None,
    engine: str = "auto",
    max_seconds: float | None = 600.0,
    client: Any = None,
    scale: int = _DEFAULT_SCALE,
    progress: bool = True,
) -> np.ndarray | LabelledArray:
    """Exact attention flow from every output token to every input token.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Self-attention of all layers, bottom first (same conventions as rollout).
    residual : float
        Identity weight mixed into each layer (0.5 as in the paper).
    head_fusion : {"mean", "max", "min"}
        How heads are fused per layer.
    outputs : int or sequence of int, optional
        Only these output tokens (rows); the cost shrinks in proportion.  Returns a plain
        ``(len(outputs), N)`` array (an int gives ``(N,)``).
    n_jobs : int, optional
        Threads (compiled engine) or processes (scipy engine); default all cores when the
        problem is large, else 1.
    engine : {"auto", "numba", "scipy"}
        ``numba``: the compiled dense solver (:mod:`._flow_kernel`, float64, fastest);
        ``scipy``: scipy's Dinic on integer-scaled capacities; ``auto`` picks numba when installed.
    max_seconds : float or None
        Refuse with :class:`~multiattn.errors.CostLimitError` when :func:`flow_cost` estimates
        more than this (default 10 minutes); ``None`` never refuses.
    client : dask.distributed.Client, optional
        Run one task per batch of output tokens on this Dask cluster (numba engine).
    scale : int
        Integer scaling of capacities for the scipy engine (see the module docstring).
    progress : bool
        Progress bar (one step per output token) on problems of 48 tokens or more.

    Returns
    -------
    numpy.ndarray or LabelledArray (N, N)
        Row ``u``: flow from output token ``u`` to each input token, rows summing to 1.
        For a grid a LabelledArray with dims ``("query", "key")`` over its axes.

    Examples
    --------
    >>> attention_flow(np.full((2, 1, 3, 3), 1 / 3)).shape
    (3, 3)
    >>> attention_flow(np.full((2, 1, 3, 3), 1 / 3), outputs=[0, 2]).shape
    (2, 3)
    """
    layers = np.asarray(residual_layers(attn, head_fusion, residual))  # the capacities, unlabelled
    if not 1 <= scale < 2**31:
        raise MultiattnValueError(f"scale must be in [1, 2**31), got {scale}")
    n_layers, n_tok = layers.shape[0], layers.shape[-1]
    rows = np.arange(n_tok) if outputs is None else output_rows(outputs, n_tok)
    engine = _pick_engine(engine)
    jobs = _jobs(n_jobs, n_layers, n_tok, len(rows), client)
    _check_cost(n_layers, n_tok, len(rows), jobs, engine, max_seconds, client)
    if n_layers == 1:
        flows = layers[0][rows].astype(np.float64)
    else:
        show = progress and n_tok >= 48
        if engine == "numba":
            flows = solve_numba(layers, rows, jobs, client, show)
        else:
            flows = solve_scipy(layers, rows, jobs, scale, show)
    sums = flows.sum(-1, keepdims=True)
    flows = np.divide(flows, sums, out=np.zeros_like(flows), where=sums > 0)
    if outputs is not None:
        return flows[0] if np.ndim(outputs) == 0 else flows
    return label_positions(attn, flows, "attention_flow")
