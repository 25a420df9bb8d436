"""Running the exact flow solvers (helper of :mod:`.flow`): scipy's Dinic or the compiled kernel.

Both take the ``(L, N, N)`` capacities and the output tokens (rows) wanted and return the raw
(unnormalised) ``(len(rows), N)`` max-flow values.  Work is split into batches of output
tokens: processes for scipy (it holds the GIL), threads for the compiled kernel (it releases
it), or one Dask task per batch when a ``dask.distributed`` client is given.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np
from tqdm.auto import tqdm

#: Absolute tolerance of the compiled kernel's early stop at a trivial cut.
KERNEL_TOL = 1e-13


class LayeredGraph:
    """Disjoint copies of the layered graph, one ``(u, v)`` problem each, in one CSR.

    Per copy: node 0 its source (output token ``u`` at the top layer), node 1
    its sink (input token ``v`` at layer 0), then layers 1..L-1 with ``N``
    nodes each.  A super-source feeds every copy's source and every copy's
    sink drains into a super-sink, so one solver call answers ``copies``
    problems (the flow on arc super-source -> source of copy ``c`` is that
    copy's max flow, because copies share no node).  The structure is built
    once; only the source-row and sink-column capacities are patched per batch.
    """

    #: Edges per solver call; large problems run one copy per call.
    EDGE_BUDGET = 300_000

    def __init__(self, layers: np.ndarray, scale: int):
        import scipy.sparse as sp

        n_layers, n_tok, _ = layers.shape
        self.layers, self.scale, self.n_tok = layers, scale, n_tok
        ids = np.arange(n_tok)
        q, k = (m.ravel() for m in np.meshgrid(ids, ids, indexing="ij"))
        mid = [(2 + (lv - 1) * n_tok + q, 2 + (lv - 2) * n_tok + k, layers[lv - 1].ravel())
               for lv in range(2, n_layers)]
        mid_rows = np.concatenate([m[0] for m in mid] + [np.zeros(0, int)])
        mid_cols = np.concatenate([m[1] for m in mid] + [np.zeros(0, int)])
        mid_caps = np.concatenate([m[2] for m in mid] + [np.zeros(0)])
        per_copy = 2 + (n_layers - 1) * n_tok
        top = 2 + (n_layers - 2) * n_tok
        self.copies = self.copies_for(n_layers, n_tok)
        offsets = 2 + np.arange(self.copies)[:, None] * per_copy
        self.source_nodes = offsets[:, 0]
        src_rows, src_cols = np.broadcast_to(offsets, (self.copies, n_tok)), offsets + top + ids
        snk_rows, snk_cols = offsets + 2 + ids, np.broadcast_to(offsets + 1, (self.copies, n_tok))
        rows = [(offsets + mid_rows).ravel(), src_rows.ravel(), snk_rows.ravel(),
                np.zeros(self.copies, int), self.source_nodes + 1]
        cols = [(offsets + mid_cols).ravel(), src_cols.ravel(), snk_cols.ravel(),
                self.source_nodes, np.ones(self.copies, int)]
        caps = [np.tile(mid_caps, self.copies), np.zeros(2 * self.copies * n_tok), np.ones(2 * self.copies)]
        n_nodes = 2 + self.copies * per_copy
        data = np.round(np.concatenate(caps) * scale).astype(np.int32)
        row_idx, col_idx = np.concatenate(rows), np.concatenate(cols)
        self.graph = sp.csr_matrix((data, (row_idx, col_idx)), shape=(n_nodes, n_nodes))
        self.graph.sort_indices()
        keys = np.repeat(np.arange(n_nodes), np.diff(self.graph.indptr)) * n_nodes + self.graph.indices
        self.source_slots = np.searchsorted(keys, (src_rows * n_nodes + src_cols).ravel())
        self.sink_slots = np.searchsorted(keys, (snk_rows * n_nodes + snk_cols).ravel())

    @classmethod
    def copies_for(cls, n_layers: int, n_tok: int) -> int:
        """Problems per solver call: as many copies as fit in :attr:`EDGE_BUDGET` edges."""
        return max(1, cls.EDGE_BUDGET // (max(n_layers - 2, 0) * n_tok**2 + 2 * n_tok + 2))

    def solve(self, pairs: list[tuple[int, int]]) -> np.ndarray:
        """Max-flow value of each ``(output token, input token)`` pair."""
        from scipy.sparse.csgraph import maximum_flow

        values = np.empty(len(pairs))
        for start in range(0, len(pairs), self.copies):
            batch = pairs[start:start + self.copies]
            padded = batch + [batch[-1]] * (self.copies - len(batch))
            outs, ins = np.array(padded).T
            data = self.graph.data
            data[self.source_slots] = np.round(self.layers[-1][outs] * self.scale).ravel()
            data[self.sink_slots] = np.round(self.layers[0][:, ins].T * self.scale).ravel()
            flow = maximum_flow(self.graph, 0, 1, method="dinic").flow
            values[start:start + len(batch)] = flow[0, self.source_nodes[: len(batch)]].toarray()[0]
        return values / self.scale


_WORKER: dict = {}


def _init_worker(layers: np.ndarray, scale: int) -> None:
    _WORKER["graph"] = LayeredGraph(layers, scale)


def _worker_solve(pairs: list[tuple[int, int]]) -> np.ndarray:
    return _WORKER["graph"].solve(pairs)


def _batches(rows: np.ndarray, jobs: int) -> list[np.ndarray]:
    """Batches of output tokens: a few per worker so the progress bar moves and load balances."""
    n_batches = min(len(rows), max(1, 4 * jobs))
    return [b for b in np.array_split(rows, n_batches) if len(b)]


def _kernel_rows(caps: np.ndarray, rows: np.ndarray) -> np.ndarray:
    from ._flow_kernel import flow_rows

    return flow_rows(caps, np.ascontiguousarray(rows, dtype=np.int64), KERNEL_TOL)


def solve_numba(layers: np.ndarray, rows: np.ndarray, jobs: int, client: Any, progress: bool) -> np.ndarray:
    """Compiled dense Dinic, batches of output tokens on threads or Dask tasks."""
    caps = np.ascontiguousarray(layers, dtype=np.float64)
    batches = _batches(rows, jobs)
    with tqdm(total=len(rows), desc="attention flow", unit="token", disable=not progress) as bar:
        if client is not None:
            shared = client.scatter(caps, broadcast=True)
            futures = [client.submit(_kernel_rows, shared, b, pure=False) for b in batches]
            parts = []
            for future, batch in zip(futures, batches):
                parts.append(future.result())
                bar.update(len(batch))
            return np.concatenate(parts)
        # compile (or load the cache) once, not once per thread
        _kernel_rows(np.ascontiguousarray(caps[:, :1, :1]), rows[:0])
        with ThreadPoolExecutor(jobs) as pool:
            parts = []
            for batch, part in zip(batches, pool.map(lambda b: _kernel_rows(caps, b), batches)):
                parts.append(part)
                bar.update(len(batch))
    return np.concatenate(parts)


def solve_scipy(layers: np.ndarray, rows: np.ndarray, jobs: int, scale: int, progress: bool) -> np.ndarray:
    """scipy's Dinic on integer-scaled capacities, batches of solver copies on processes."""
    n_tok = layers.shape[-1]
    pairs = [(int(u), v) for u in rows for v in range(n_tok)]
    # tasks of whole solver batches (no padded copies) covering at least one output token
    copies = LayeredGraph.copies_for(*layers.shape[:2])
    size = copies * -(-n_tok // copies)
    tasks = [pairs[i:i + size] for i in range(0, len(pairs), size)]
    parts = []
    with tqdm(total=len(pairs), desc="attention flow", unit="pair", unit_scale=True,
              disable=not progress) as bar:
        if jobs <= 1:
            graph = LayeredGraph(layers, scale)
            for task in tasks:
                parts.append(graph.solve(task))
                bar.update(len(task))
        else:
            with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(layers, scale)) as pool:
                for task, part in zip(tasks, pool.map(_worker_solve, tasks)):
                    parts.append(part)
                    bar.update(len(task))
    return np.concatenate(parts).reshape(len(rows), n_tok)
