"""Monitor overhead: a monitored forward vs the plain forward, MiniLM at 128 tokens, batch 1.

Rounds interleave the plain model and the monitored ones (same inputs, same process, one
torch thread), and time them in *process CPU time*, so other processes on a shared machine do
not enter the ratio (wall-clock ratios are printed too).  The monitored runs write to DuckDB
files (flushed every 64 requests, the flushes inside the timing).  ``sample=0.1`` monitors one
forward in ten (the others run on the model's SDPA kernel); ``no_top5`` drops the one costly
statistic (top-k over every row).

Prints one JSON line: ``overhead`` (all forwards, all statistics), ``overhead_no_top5``,
``overhead_sample_0.1``, ``overhead_eager_only`` (what eager attention alone costs), medians in ms.
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


def _time(fn) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(PER_ROUND):
        fn()
    return (time.process_time() - cpu) / PER_ROUND, (time.perf_counter() - wall) / PER_ROUND


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model, tok = multiattn.zoo.load("minilm")
    text = " ".join(["the quick brown fox jumps over the lazy dog near the river bank"] * 12)
    enc = tok(text, truncation=True, max_length=128, return_tensors="pt")
    assert enc["input_ids"].shape[1] == 128

    def forward():
        with torch.no_grad():
            model(**enc)

    from multiattn.adapters._hf import eager_attention
    from multiattn.monitor import STATISTICS

    times: dict[str, list[tuple[float, float]]] = {k: [] for k in ("plain", "eager", "monitor", "no_top5",
                                                                    "sample")}
    with tempfile.TemporaryDirectory() as tmp:
        monitors = {"monitor": monitor(model, Path(tmp, "full.duckdb"), processor=tok),
                    "no_top5": monitor(model, Path(tmp, "cheap.duckdb"), processor=tok,
                                       statistics=[s for s in STATISTICS if s != "top5"]),
                    "sample": monitor(model, Path(tmp, "sampled.duckdb"), processor=tok, sample=0.1)}
        forward()
        for _ in range(ROUNDS):
            times["plain"].append(_time(forward))
            with eager_attention(model):
                times["eager"].append(_time(forward))
            for name, mon in monitors.items():
                with mon:
                    times[name].append(_time(forward))
        stored = monitors["monitor"].store.count()
    cpu = {k: statistics.median(c for c, _ in v) for k, v in times.items()}
    wall = {k: statistics.median(w for _, w in v) for k, v in times.items()}
    assert stored == ROUNDS * PER_ROUND, stored
    print(json.dumps({
        "benchmark": "monitor", "model": "minilm", "tokens": 128, "batch": 1, "clock": "process CPU time",
        **{f"overhead{'' if k == 'monitor' else '_' + k}": round(cpu[k] / cpu["plain"], 3)
           for k in ("monitor", "no_top5")},
        "overhead_sample_0.1": round(cpu["sample"] / cpu["plain"], 3),
        "overhead_eager_only": round(cpu["eager"] / cpu["plain"], 3),
        "overhead_wall_clock": round(wall["monitor"] / wall["plain"], 3),
        "plain_ms": round(cpu["plain"] * 1e3, 2), "monitor_ms": round(cpu["monitor"] * 1e3, 2),
        "rows_stored": stored, "target": 1.1, "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    sys.exit(main())
