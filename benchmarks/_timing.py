"""Wall-clock helpers shared by the benchmark scripts (run as ``python benchmarks/bench_x.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def run_times(func: Callable[[], object], repeats: int) -> list[float]:
    """Seconds of ``repeats`` calls of ``func`` (no warm-up: call it once first if it matters)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def median_time(func: Callable[[], object], repeats: int = 15) -> float:
    """Median seconds over ``repeats`` calls: robust on a shared, noisy machine."""
    return float(np.median(run_times(func, repeats)))


def best_time(func: Callable[[], object], repeats: int = 3) -> float:
    """Fastest of ``repeats`` calls."""
    return min(run_times(func, repeats))
