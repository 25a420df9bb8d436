"""Peak memory of a text capture divided by the size of the grid it returns, at several lengths.

Builds a small random-init Llama (4 layers × 8 heads, hidden 64) and, in a fresh process per
point, measures the rise of the peak resident set (``ru_maxrss``) over a warm-up run for:

- ``plain``: the model's own forward (its default SDPA attention), no capture: the baseline;
- ``capture``: :func:`multiattn.adapters.text.capture` as it is (each layer written into the
  preallocated grid from a hook on the attention module, the model's tuple dropped);
- ``tuple``: the previous path, the model's ``output_attentions`` tuple copied into the grid
  after the forward (kept here as the before).

The ratio over the grid's ``L × H × T × T × 4`` bytes is given both as the whole rise
(``*_factor``) and above the plain forward (``*_over_plain``).  The memory guard's estimates
(``adapters/_guard.peak_bytes``: ``guard_mb`` for the written path, ``guard_tuple_mb`` for the
tuple) must stay at or above what was measured (``guard_holds``).

Prints one JSON line: ``{"model": ..., "points": [{"tokens", "grid_mb", "plain_mb", "capture_mb",
"tuple_mb", "capture_factor", "capture_over_plain", "tuple_factor", "guard_mb", "guard_tuple_mb"},
...], "max_capture_factor_from_1024": ..., "guard_holds": ...}``.  ``--long`` adds 4096 tokens (a
2 GB grid).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import resource, json, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
from multiattn.adapters import text
torch.manual_seed(0)
mode, n = sys.argv[1], int(sys.argv[2])
config = LlamaConfig(vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                     num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=8192)
model = LlamaForCausalLM(config).eval()
ids = [int(i) for i in torch.randint(3, 100, (n,))]
if mode == "tuple":  # the previous path: the model's output_attentions tuple, copied after the forward
    text._self_attention_modules = lambda model: []
def run(ids):
    if mode == "plain":
        with torch.no_grad():
            model(input_ids=torch.tensor([ids]))
        return 0
    return text.capture(model, input_ids=ids).values.nbytes
run(ids[:16])  # warm up (imports, kernels)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
grid = run(ids)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"grid": grid, "rise": after - before}))
"""

MB = 2**20


def _rise(mode: str, n_tokens: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(n_tokens)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def point(n_tokens: int) -> dict:
    """One length: plain forward, capture and the previous tuple path, each in a fresh process."""
    from multiattn.adapters._guard import peak_bytes

    plain, new, old = (_rise(mode, n_tokens) for mode in ("plain", "capture", "tuple"))
    grid, shape = new["grid"], [(4, 8, n_tokens, n_tokens)]
    return {"tokens": n_tokens, "grid_mb": round(grid / MB, 1), "plain_mb": round(plain["rise"] / MB, 1),
            "capture_mb": round(new["rise"] / MB, 1), "tuple_mb": round(old["rise"] / MB, 1),
            "capture_factor": round(new["rise"] / grid, 3),
            "capture_over_plain": round((new["rise"] - plain["rise"]) / grid, 3),
            "tuple_factor": round(old["rise"] / grid, 3),
            "guard_mb": round(peak_bytes(shape, written=True) / MB, 1),
            "guard_tuple_mb": round(peak_bytes(shape) / MB, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="add 4096 tokens (2 GB grid)")
    args = parser.parse_args()
    points = [point(n) for n in (512, 1024, 2048, *((4096,) if args.long else ()))]
    print(json.dumps({"model": "random-init Llama, 4 layers x 8 heads, hidden 64", "points": points,
                      "max_capture_factor_from_1024": max(p["capture_factor"] for p in points
                                                          if p["tokens"] >= 1024),
                      "guard_holds": all(p["capture_mb"] <= p["guard_mb"]
                                         and p["tuple_mb"] <= p["guard_tuple_mb"] for p in points)}))


if __name__ == "__main__":
    main()
