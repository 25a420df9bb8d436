"""Cost of ``capture`` versus a plain forward pass of MiniLM on the same input.

Prints one JSON line.  ``forward_ms`` is the model as loaded (SDPA kernel, no
attention output); ``eager_forward_ms`` the eager kernel with
``output_attentions=True`` (what capture runs); ``capture_ms`` the whole
:func:`multiattn.adapters.text.capture` call (tokenising, the eager forward,
copying to numpy, building the grid).  Timings alternate between the three
so that machine load drifts hit all of them alike; values are medians.

Run: ``python benchmarks/bench_text_capture.py [--repeats 15]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from multiattn.adapters._hf import eager_attention
from multiattn.adapters.text import capture
from multiattn.zoo._text import load_minilm

_TEXT = (
    "Attention maps show where a transformer looks when it builds the representation of each token. "
    "A previous-token head copies information from the word before, a delimiter head parks its weight "
    "on the separator, and later layers mix the whole sentence. Measuring these patterns on a real "
    "model needs the weights themselves, which the fused attention kernel never materialises, so the "
    "capture switches the model to the eager implementation for one forward pass and restores it."
)


def _time_ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tokenizer = load_minilm()
    inputs = tokenizer(_TEXT, return_tensors="pt")

    def forward():
        with torch.no_grad():
            model(**inputs)

    def eager_forward():
        with eager_attention(model), torch.no_grad():
            model(**inputs, output_attentions=True)

    def run_capture():
        capture(model, _TEXT, processor=tokenizer)

    runs = {"forward": forward, "eager_forward": eager_forward, "capture": run_capture}
    for fn in runs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            times[name].append(_time_ms(fn))
    median = {name: float(np.median(values)) for name, values in times.items()}
    print(json.dumps({
        "benchmark": "text_capture",
        "model": "all-MiniLM-L6-v2",
        "tokens": int(inputs["input_ids"].shape[1]),
        "repeats": args.repeats,
        "threads": 1,
        "forward_ms": round(median["forward"], 2),
        "eager_forward_ms": round(median["eager_forward"], 2),
        "capture_ms": round(median["capture"], 2),
        "capture_vs_forward": round(median["capture"] / median["forward"], 3),
        "eager_vs_forward": round(median["eager_forward"] / median["forward"], 3),
    }))


if __name__ == "__main__":
    main()
