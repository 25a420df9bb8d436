"""Long inputs: time and peak memory against input length, 512 -> 8k tokens (32k with ``--long``).

A random-init Llama (4 layers × 8 heads, hidden 256, head dim 32), one fresh process per point and
mode, each timed over its run (the median of 3 runs at <= 2k tokens, one run above) with the rise
of the peak resident set (``ru_maxrss``) over the process after the model was built and warmed up,
and the whole process's peak (``peak_mb``; ``before_mb``: the process before the run, about 1 GB
here of which ``import torch`` alone is 0.7 GB):

- ``plain``: the model's own forward (SDPA), no attention kept: the baseline;
- ``blocks``: ``capture_stream(..., block_rows=0)``: the model on SDPA, every layer recomputed
  from its queries and keys in blocks of query rows inside the reducers (Entropy, TopK(5),
  SinkShare; HeadMean up to 8k tokens, whose (L, 1, N, N) result alone is 4 GB at 32k);
- ``stream``: the previous streaming path (eager attention, one whole ``H × N × N`` layer at a
  time, the same reducers), up to 2k tokens (at 8k one layer alone is 2 GB, three with its
  softmax temporaries);
- ``capture``: the full ``(L, H, N, N)`` grid (``multiattn.adapters.text.capture``) up to 2k tokens.

Ratios are against ``plain`` at the same length.  Prints one JSON line: ``{"model": ...,
"points": [{"tokens", "mode", "seconds", "rise_mb", "peak_mb", "before_mb", "time_vs_plain"}, ...],
"blocks_8k_rise_mb", "blocks_8k_process_peak_mb", "blocks_8k_rise_within_2gb"}``.  The default run
takes about 5 minutes on 2 shared cores; ``--long`` adds 32k tokens (about 25 minutes more).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, statistics, sys, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
from multiattn.adapters._stream import capture_stream
from multiattn.adapters.text import capture
from multiattn.stream import Entropy, HeadMean, SinkShare, TopK
torch.manual_seed(0)
mode, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config = LlamaConfig(vocab_size=1000, hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                     num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=32768)
model = LlamaForCausalLM(config).eval()
ids = torch.randint(3, 1000, (1, n))
def reducers():
    out = {"entropy": Entropy(), "top5": TopK(5), "sink": SinkShare()}
    if n <= 8192:
        out["mean"] = HeadMean()
    return out
def run(ids):
    if mode == "plain":
        with torch.no_grad():
            model(input_ids=ids)
    elif mode == "blocks":
        capture_stream(model, {"input_ids": ids}, reducers(), block_rows=0)
    elif mode == "stream":
        capture_stream(model, {"input_ids": ids}, reducers())
    else:
        capture(model, input_ids=ids[0].tolist())
run(ids[:, :16])  # warm up (imports, kernels)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
times = []
for _ in range(rounds):
    start = time.perf_counter()
    run(ids)
    times.append(time.perf_counter() - start)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": statistics.median(times), "rise": after - before, "peak": after}))
"""

MB = 2**20


def measure(mode: str, n_tokens: int) -> dict:
    """One mode at one length in a fresh process."""
    rounds = 3 if n_tokens <= 2048 else 1
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(n_tokens), str(rounds)],
                         capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return {"tokens": n_tokens, "mode": mode, "seconds": round(got["seconds"], 3),
            "rise_mb": round(got["rise"] / MB, 1), "peak_mb": round(got["peak"] / MB, 1),
            "before_mb": round((got["peak"] - got["rise"]) / MB, 1)}


def plan(long: bool) -> list[tuple[int, str]]:
    """(tokens, mode) points: every length plain and blocks; stream and capture where they fit."""
    points = []
    for n in (512, 2048, 8192, *((32768,) if long else ())):
        points += [(n, "plain"), (n, "blocks")]
        if n <= 2048:
            points += [(n, "stream"), (n, "capture")]
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="add 32k tokens")
    args = parser.parse_args()
    points = [measure(mode, n) for n, mode in plan(args.long)]
    plain = {p["tokens"]: p["seconds"] for p in points if p["mode"] == "plain"}
    for p in points:
        p["time_vs_plain"] = round(p["seconds"] / plain[p["tokens"]], 2)
    at_8k = next(p for p in points if p["tokens"] == 8192 and p["mode"] == "blocks")
    print(json.dumps({"model": "random-init Llama, 4 layers x 8 heads, hidden 256", "points": points,
                      "blocks_8k_rise_mb": at_8k["rise_mb"], "blocks_8k_process_peak_mb": at_8k["peak_mb"],
                      "blocks_8k_rise_within_2gb": at_8k["rise_mb"] <= 2048}))


if __name__ == "__main__":
    main()
