"""Peak memory of a text capture divided by the size of the grid it returns.

Builds a small random-init Llama (4 layers × 8 heads, hidden 64), captures 1024 tokens in a fresh
process and compares the rise of the peak resident set (``ru_maxrss``) during the capture with the
grid's ``L × H × T × T × 4`` bytes.  ``adapters/_guard.PEAK_FACTOR`` (the memory guard's
multiplier) must stay at or above the printed ``peak_factor``.

Prints one JSON line: ``{"grid_mb": ..., "peak_rise_mb": ..., "peak_factor": ..., "guard_factor": ...}``.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import resource, json, torch
from transformers import LlamaConfig, LlamaForCausalLM
from multiattn.adapters.text import capture
torch.manual_seed(0)
config = LlamaConfig(vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                     num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=4096)
model = LlamaForCausalLM(config).eval()
ids = [int(i) for i in torch.randint(3, 100, (1024,))]
capture(model, input_ids=ids[:16])  # warm up (imports, kernels)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
grid = capture(model, input_ids=ids)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"grid": grid.values.nbytes, "rise": after - before}))
"""


def main() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    from multiattn.adapters._guard import PEAK_FACTOR

    print(json.dumps({
        "grid_mb": round(figures["grid"] / 2**20, 1),
        "peak_rise_mb": round(figures["rise"] / 2**20, 1),
        "peak_factor": round(figures["rise"] / figures["grid"], 2),
        "guard_factor": PEAK_FACTOR,
    }))


if __name__ == "__main__":
    main()
