"""Size and time to interactive of the HTML text view at BERT-base size and at 2 048 tokens.

Prints one JSON line.  Attention is random but peaked (softmax of 3 x N(0, 1)
logits, like real heads), so the top-k storage drops a realistic share of mass.
``*_ready_ms`` is the time from navigation start until the view's script has
drawn and laid out the head view in headless chromium (``data-ready-ms``);
``*_browser_wall_s`` is the wall time of the whole chromium run (start-up, load,
dump).  ``baseline_*`` are the same for a 6-token view, measured in the same run,
so the differences show what the data costs.  ``*_model_view_ms`` is the time to build all thumbnails
after clicking the model-view tab.  ``*_vs_float32`` divides the file size by
the bytes of the dense float32 weights; ``*_dropped_mass`` is the mean attention
mass per row that top-k storage left out (stated in the view).  The 2 048-token
grid takes about 2.5 GB of RAM while it is packed.
"""

from __future__ import annotations

import html
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from multiattn import AttentionGrid
from multiattn._gallery._browser import run_chromium
from multiattn.axes import TokenAxis
from multiattn.renderers.html import save

_PROBE = ("var t0=performance.now();document.getElementById('tab-model').click();"
          "document.documentElement.setAttribute('data-model-ms',String(Math.round(performance.now()-t0)));")


def _grid(layers: int, heads: int, tokens: int, seed: int = 0) -> AttentionGrid:
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((layers, heads, tokens, tokens), dtype=np.float32) * 3
    np.exp(weights, out=weights)
    weights /= weights.sum(-1, keepdims=True)
    return AttentionGrid(weights, TokenAxis([f"w{i}" for i in range(tokens)]), check_rows=False)


def _measure(grid: AttentionGrid, out: Path, name: str) -> dict:
    start = time.perf_counter()
    path = save(grid, out / f"{name}.html")
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    dom = run_chromium(path, dump_dom=True, probe=_PROBE)
    browser_s = time.perf_counter() - start
    ready = int(re.search(r'data-ready-ms="(\d+)"', dom).group(1))
    model = int(re.search(r'data-model-ms="(\d+)"', dom).group(1))
    payload = re.search(r'id="multiattn-data">(.*?)</script>', path.read_text(), re.S).group(1)
    weights = json.loads(html.unescape(payload))["weights"]
    size = path.stat().st_size
    return {f"{name}_mb": round(size / 1e6, 2), f"{name}_vs_float32": round(size / grid.values.nbytes, 4),
            f"{name}_top_k": weights["k"],
            f"{name}_dropped_mass": round(weights.get("dropped_mean", 0.0), 4),
            f"{name}_write_s": round(write_s, 2),
            f"{name}_ready_ms": ready, f"{name}_model_view_ms": model,
            f"{name}_browser_wall_s": round(browser_s, 2)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        result = {}
        baseline = _measure(_grid(1, 1, 6), out, "baseline")
        result["baseline_ready_ms"] = baseline["baseline_ready_ms"]
        result["baseline_browser_wall_s"] = baseline["baseline_browser_wall_s"]
        result.update(_measure(_grid(12, 12, 512), out, "bert_12x12x512"))
        result.update(_measure(_grid(12, 12, 2048), out, "long_12x12x2048"))
    bert_ok = result["bert_12x12x512_mb"] <= 10 and result["bert_12x12x512_ready_ms"] <= 2000
    result["bert_meets_10mb_2s"] = bert_ok
    print(json.dumps(result))


if __name__ == "__main__":
    main()
