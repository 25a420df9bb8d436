"""Monitor overhead: a monitored forward vs the plain forward, MiniLM at 128 tokens, batch 1.

Rounds interleave the plain model and the monitored one (same inputs, same process), so
machine load hits both alike; the figure is the ratio of the median times.  The monitored
run writes to a DuckDB file (flushed every 64 requests, the flushes inside the timing).
``sample=0.1`` monitors one forward in ten (the others run on the model's SDPA kernel).

Prints one JSON line: ``overhead`` (all forwards monitored), ``overhead_sample_0.1``,
``overhead_eager_only`` (what switching to eager attention alone costs), the medians in ms.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import multiattn
from multiattn.monitor import monitor

ROUNDS, PER_ROUND = 7, 10


def _time(fn) -> float:
    start = time.perf_counter()
    for _ in range(PER_ROUND):
        fn()
    return (time.perf_counter() - start) / PER_ROUND


def main() -> None:
    torch.manual_seed(0)
    model, tok = multiattn.zoo.load("minilm")
    text = " ".join(["the quick brown fox jumps over the lazy dog near the river bank"] * 12)
    enc = tok(text, truncation=True, max_length=128, return_tensors="pt")
    assert enc["input_ids"].shape[1] == 128

    def forward():
        with torch.no_grad():
            model(**enc)

    from multiattn.adapters._hf import eager_attention

    times: dict[str, list[float]] = {"plain": [], "eager": [], "monitor": [], "sample": []}
    with tempfile.TemporaryDirectory() as tmp:
        full = monitor(model, Path(tmp, "full.duckdb"), processor=tok)
        sampled = monitor(model, Path(tmp, "sampled.duckdb"), processor=tok, sample=0.1)
        forward()
        for _ in range(ROUNDS):
            times["plain"].append(_time(forward))
            with eager_attention(model):
                times["eager"].append(_time(forward))
            with full:
                times["monitor"].append(_time(forward))
            with sampled:
                times["sample"].append(_time(forward))
        stored = full.store.count()
    med = {k: statistics.median(v) for k, v in times.items()}
    assert stored == ROUNDS * PER_ROUND, stored
    print(json.dumps({
        "benchmark": "monitor", "model": "minilm", "tokens": 128, "batch": 1,
        "overhead": round(med["monitor"] / med["plain"], 3),
        "overhead_sample_0.1": round(med["sample"] / med["plain"], 3),
        "overhead_eager_only": round(med["eager"] / med["plain"], 3),
        "plain_ms": round(med["plain"] * 1e3, 2), "monitor_ms": round(med["monitor"] * 1e3, 2),
        "rows_stored": stored, "target": 1.1, "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    sys.exit(main())
