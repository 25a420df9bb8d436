"""Corpus-statistics benchmark: streaming per-head statistics vs keeping every grid.

Prints one JSON line:
- ``inputs_per_second``: :func:`corpus_statistics` on MiniLM (entropy + distance
  per head) over ``n`` generated sentences, and the same for the baseline that
  keeps every captured grid in a list and computes the metrics at the end.
- ``peak_mb``: peak traced Python/numpy memory (tracemalloc; torch's own buffers
  are not traced) of each, after ``n_small`` and after ``n`` inputs: streaming
  stays flat, the baseline grows with the number of inputs.
- ``ratios``: baseline / streaming of the peak at ``n`` inputs, and of the speed.

Run: ``nice python benchmarks/bench_corpus.py [n]`` (default 1000 sentences).
"""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_WORDS = ("the a cat dog river city storm child teacher old new quick slow red blue runs sees "
          "finds likes near under over before after quietly loudly today").split()


def _sentences(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(_WORDS, size=int(rng.integers(6, 20)))) + "." for _ in range(n)]


def _peak(func) -> tuple[float, float]:
    """(seconds, peak traced MB) of one call."""
    tracemalloc.start()
    start = time.perf_counter()
    func()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def main(n: int = 1000, n_small: int = 100) -> dict:
    import torch

    from multiattn.adapters.text import capture
    from multiattn.analysis import attention_distance, head_entropy
    from multiattn.analysis.corpus import corpus_statistics
    from multiattn.zoo._text import load_minilm

    torch.set_num_threads(1)
    model, tokenizer = load_minilm()
    metrics = {"entropy": head_entropy, "distance": attention_distance}

    def capture_fn(text):
        return capture(model, text, processor=tokenizer)

    def streaming(texts):
        return lambda: corpus_statistics(texts, capture_fn, metrics, progress=False)

    def baseline(texts):
        def run():
            grids = [capture_fn(text) for text in texts]
            return {name: np.stack([metric(g) for g in grids]).mean(0) for name, metric in metrics.items()}
        return run

    texts = _sentences(n)
    capture_fn(texts[0])  # warm-up
    stream_small, stream_full = _peak(streaming(texts[:n_small])), _peak(streaming(texts))
    base_small, base_full = _peak(baseline(texts[:n_small])), _peak(baseline(texts))
    return {
        "benchmark": "corpus", "model": "all-MiniLM-L6-v2", "n": n, "n_small": n_small,
        "inputs_per_second": {"streaming": round(n / stream_full[0], 1),
                              "baseline": round(n / base_full[0], 1)},
        "peak_mb": {"streaming_small": round(stream_small[1], 2), "streaming": round(stream_full[1], 2),
                    "baseline_small": round(base_small[1], 2), "baseline": round(base_full[1], 2)},
        "ratios": {"peak_baseline_over_streaming": round(base_full[1] / stream_full[1], 1),
                   "speed_streaming_over_baseline": round(base_full[0] / stream_full[0], 2)},
    }


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:2]))))
