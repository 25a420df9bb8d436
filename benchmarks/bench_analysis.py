"""Analysis benchmark: cost of each per-head analysis and JS similarity vs scipy.

Prints one JSON line:
- ``grid``: the shape analysed (BERT-base size: 12 layers x 12 heads x 128 tokens).
- ``seconds``: wall time of each analysis on that grid, and ``passes``: the same
  time divided by one elementwise pass over the grid (``np.log`` of every
  weight, measured in the same run) — how many "reads of the grid" each costs.
- ``js_similarity``: :func:`head_similarity` with ``metric="js"`` against a loop
  over ``scipy.spatial.distance.jensenshannon`` on 2 x 12 heads x 64 tokens:
  speed-up ratio and the largest absolute difference.

BLAS runs single-threaded (set before numpy loads): on a loaded 2-core machine
OpenBLAS' spinning threads make small matrix products hundreds of times slower.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.spatial.distance import jensenshannon  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multiattn.analysis import (  # noqa: E402
    attention_distance,
    diagnose,
    head_entropy,
    head_similarity,
    head_types,
    rollout,
)


def _attention(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    weights = np.exp(2.0 * rng.normal(size=shape))
    return weights / weights.sum(-1, keepdims=True)


def _best_of(func, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def _js_reference(heads: np.ndarray) -> np.ndarray:
    n = len(heads)
    sim = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            js = np.mean([jensenshannon(heads[i, q], heads[j, q]) ** 2 for q in range(heads.shape[1])])
            sim[i, j] = sim[j, i] = 1 - js / np.log(2)
    return sim


def main() -> None:
    rng = np.random.default_rng(0)
    grid = _attention(rng, (12, 12, 128, 128))
    baseline = _best_of(lambda: np.log(grid))
    analyses = {
        "head_entropy": lambda: head_entropy(grid),
        "attention_distance": lambda: attention_distance(grid),
        "rollout": lambda: rollout(grid),
        "head_types": lambda: head_types(grid),
        "diagnose": lambda: diagnose(grid),
        "head_similarity_cosine": lambda: head_similarity(grid),
    }
    seconds = {name: _best_of(func, 1 if name == "diagnose" else 3) for name, func in analyses.items()}
    small = _attention(rng, (2, 12, 64, 64))
    fast = _best_of(lambda: head_similarity(small, "js"), 1)
    start = time.perf_counter()
    reference = _js_reference(small.reshape(24, 64, 64))
    slow = time.perf_counter() - start
    print(json.dumps({
        "grid": list(grid.shape),
        "blas_threads": os.environ["OPENBLAS_NUM_THREADS"],
        "baseline_log_pass_s": round(baseline, 4),
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "passes": {k: round(v / baseline, 1) for k, v in seconds.items()},
        "js_similarity": {
            "speedup_vs_scipy_loop": round(slow / fast, 1),
            "max_abs_diff": float(np.abs(head_similarity(small, "js") - reference).max()),
        },
    }))


if __name__ == "__main__":
    main()
