"""Monitor overhead: a monitored forward vs the plain forward, MiniLM at 128 tokens, batch 1.

Rounds interleave the plain model and the monitored ones (same inputs, same process, one
torch thread), and time them in *process CPU time*, so other processes on a shared machine do
not enter the ratio (wall-clock ratios are printed too).  The monitored runs write to DuckDB
files.  The store writes (a background thread appends every 256 requests) are timed apart, as
CPU ms per request over 512 requests (``store_ms_per_request``: connection, transaction and
the thread's time), and added to the monitored forwards in ``overhead``, ``overhead_no_top5``
and ``overhead_hooks``; ``overhead_without_store`` leaves them out.  ``sample=0.1`` monitors
one forward in ten (the others run on the model's SDPA kernel); ``no_top5`` drops the top-5
statistic; ``hooks`` is the general path (eager attention + module hooks, entropy from a log
pass) that families without the plain eager attention take.

Prints one JSON line: ``overhead`` (all forwards, all statistics), ``overhead_no_top5``,
``overhead_hooks``, ``overhead_sample_0.1``, ``overhead_eager_only`` (eager attention alone),
``overhead_monitor_attention_only`` (the monitoring implementation, torch's softmax, no
statistic), ``breakdown_ms`` (CPU ms per forward spent in each part of the full monitor, timed
inside 100 monitored forwards: the compiled softmax + statistics pass with its glue, the rest of
the per-layer callback, the per-forward contexts and records), medians in ms.  ``--rounds N``
for more rounds.
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


def _store_ms(path: Path, model, tok, enc, n: int = 512) -> float:
    """CPU ms per request of the store writes: ``n`` requests appended in batches of 256 by the
    background writer (connection, transaction and the writer thread's time included)."""
    mon = monitor(model, processor=tok)
    with mon, torch.no_grad():
        model(**enc)
    record = mon.take()[0]
    from multiattn._monitor_writer import BackgroundWriter
    from multiattn._store import open_store

    writer = BackgroundWriter(open_store(path), flush_every=256)
    start = time.process_time()
    for _ in range(n):
        writer.put([record])
    writer.close()
    assert writer.written == n
    return (time.process_time() - start) / n * 1e3


def _breakdown(model, tok, enc) -> dict[str, float]:
    """CPU ms per forward in each part of the monitor, timed inside monitored forwards."""
    import multiattn._monitor_stats as stats
    from multiattn.monitor import Monitor

    spent: dict[str, float] = {}

    def timed(owner, name: str, key: str):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[key] = spent.get(key, 0.0) + time.process_time() - start
        setattr(owner, name, wrapper)
        return original

    parts = [(stats, "softmax_matrix", "softmax_and_statistics"),
             (Monitor, "_softmax_layer", "per_layer_total"),
             (Monitor, "_end", "records"), (Monitor, "_begin", "contexts")]
    saved = [(owner, name, timed(owner, name, key)) for owner, name, key in parts]
    n = 100
    try:
        with monitor(model, processor=tok) as mon, torch.no_grad():
            model(**enc)
            spent.clear()
            for _ in range(n):
                model(**enc)
            mon.take()
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
    out = {k: round(v / n * 1e3, 3) for k, v in spent.items()}
    out["per_layer_rest"] = round(out.pop("per_layer_total", 0.0) - out.get("softmax_and_statistics", 0.0), 3)
    return out


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

    from multiattn._monitor_attention import monitor_attention
    from multiattn.adapters._hf import eager_attention
    from multiattn.monitor import STATISTICS

    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else ROUNDS
    names = ["plain", "monitor", "eager", "monitor_attention", "no_top5", "hooks", "sample"]
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
    with tempfile.TemporaryDirectory() as tmp:
        monitors = {"monitor": monitor(model, Path(tmp, "full.duckdb"), processor=tok),
                    "no_top5": monitor(model, Path(tmp, "cheap.duckdb"), processor=tok,
                                       statistics=[s for s in STATISTICS if s != "top5"]),
                    "hooks": monitor(model, Path(tmp, "hooks.duckdb"), processor=tok),
                    "sample": monitor(model, Path(tmp, "sampled.duckdb"), processor=tok, sample=0.1)}
        monitors["hooks"].fast_attention = False
        for mon in monitors.values():  # warm up: numba kernel load, writer thread, caches
            with mon:
                forward()
            mon.take()
        for _ in range(rounds):  # plain at both ends of a round, the full monitor right after it
            times["plain"].append(_time(forward))
            for name in ("monitor", "no_top5", "hooks", "sample"):
                with monitors[name]:
                    times[name].append(_time(forward))
                monitors[name].take()
                if name == "monitor":
                    with eager_attention(model):
                        times["eager"].append(_time(forward))
                    with monitor_attention(model, {}):
                        times["monitor_attention"].append(_time(forward))
            times["plain"].append(_time(forward))
        stored = monitors["monitor"].store.count()
        store_ms = _store_ms(Path(tmp, "timed.duckdb"), model, tok, enc)
    cpu = {k: statistics.median(c for c, _ in v) for k, v in times.items()}
    wall = {k: statistics.median(w for _, w in v) for k, v in times.items()}
    assert stored == rounds * PER_ROUND + 1, stored
    with_store = {k: cpu[k] + store_ms / 1e3 for k in ("monitor", "no_top5", "hooks")}
    print(json.dumps({
        "benchmark": "monitor", "model": "minilm", "tokens": 128, "batch": 1, "clock": "process CPU time",
        **{f"overhead{'' if k == 'monitor' else '_' + k}": round(with_store[k] / cpu["plain"], 3)
           for k in ("monitor", "no_top5", "hooks")},
        "overhead_without_store": round(cpu["monitor"] / cpu["plain"], 3),
        "store_ms_per_request": round(store_ms, 3),
        "overhead_sample_0.1": round(cpu["sample"] / cpu["plain"], 3),
        "overhead_eager_only": round(cpu["eager"] / cpu["plain"], 3),
        "overhead_monitor_attention_only": round(cpu["monitor_attention"] / cpu["plain"], 3),
        "overhead_wall_clock": round(wall["monitor"] / wall["plain"], 3),
        "breakdown_ms": _breakdown(model, tok, enc),
        "plain_ms": round(cpu["plain"] * 1e3, 2), "monitor_ms": round(cpu["monitor"] * 1e3, 2),
        "rows_stored": stored, "rounds": rounds, "target": 1.1, "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    sys.exit(main())
