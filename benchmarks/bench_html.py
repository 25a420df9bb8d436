"""Size, fidelity and time to interactive of the HTML text view at BERT-base size (and at 2 048 tokens).

Prints one JSON line.  Attention is random but peaked (softmax of 3 x N(0, 1)
logits, like real heads).  The view keeps, per row, its largest keys until they
hold 90 % of the row's mass (deflated; ``*_kept_min`` / ``*_kept_median`` are the
exact kept share per row, ``*_k_mean`` / ``*_k_max`` keys per row);
``prev_topk_*`` are the previous encoder (one fixed top-k for every row, sized to
the same 6 MB budget, uncompressed) on the same grid in the same run, and
``*_vs_prev_*`` the ratios.
``*_ready_ms`` is the time from navigation start until the view's script has
drawn and laid out the head view in headless chromium (``data-ready-ms``), read
on Chromium's virtual clock (``--virtual-time-budget``, needed to wait for the
asynchronous inflating), which does not advance while a script runs: compare
``*_browser_wall_s``, the real time of the whole run, instead;
``*_browser_wall_s`` is the wall time of the whole chromium run (start-up, load,
dump).  ``baseline_*`` are the same for a 6-token view, measured in the same run,
so the differences show what the data costs.  ``*_model_view_ms`` is the time to build all thumbnails
after clicking the model-view tab (on the virtual clock, which reads 0 for a deflated page: the
click then runs in a timer task).  ``*_vs_float32`` divides the file size by
the bytes of the dense float32 weights; ``*_payload_mb`` is the base64 text of
the weights alone (the part the two encoders differ in).  ``--long`` adds the
2 048-token grid (about 3 GB of RAM while it is packed).
"""

from __future__ import annotations

import html
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from multiattn import AttentionGrid
from multiattn._gallery._browser import run_chromium
from multiattn.axes import TokenAxis
from multiattn.renderers._html_pack import DEFAULT_MAX_BYTES
from multiattn.renderers.html import save

_PROBE = ("(function wait(){if(!document.documentElement.getAttribute('data-ready-ms'))"
          "{setTimeout(wait,5);return}"
          "var t0=performance.now();document.getElementById('tab-model').click();"
          "document.documentElement.setAttribute('data-model-ms',String(Math.round(performance.now()-t0)));})();")


def _grid(layers: int, heads: int, tokens: int, seed: int = 0) -> AttentionGrid:
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((layers, heads, tokens, tokens), dtype=np.float32) * 3
    np.exp(weights, out=weights)
    weights /= weights.sum(-1, keepdims=True)
    return AttentionGrid(weights, TokenAxis([f"w{i}" for i in range(tokens)]), check_rows=False)


def _measure(grid: AttentionGrid, out: Path, name: str, **options) -> dict:
    start = time.perf_counter()
    path = save(grid, out / f"{name}.html", **options)
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    dom = run_chromium(path, dump_dom=True, probe=_PROBE, virtual_time_ms=30_000)
    browser_s = time.perf_counter() - start
    ready = int(re.search(r'data-ready-ms="(\d+)"', dom).group(1))
    model = int(re.search(r'data-model-ms="(\d+)"', dom).group(1))
    payload = re.search(r'id="multiattn-data">(.*?)</script>', path.read_text(), re.S).group(1)
    data = json.loads(html.unescape(payload))
    weights, note = data["weights"], data["notes"][-1]
    size = path.stat().st_size
    kept = [float(x) for x in re.findall(r"(?:min|median) (0\.\d+|1\.\d+)", note)[-2:]] or [1.0, 1.0]
    keys = re.search(r"([\d.]+) of \d+ keys on average \(min (\d+), max (\d+)\)", note)
    return {f"{name}_mb": round(size / 1e6, 2), f"{name}_vs_float32": round(size / grid.values.nbytes, 4),
            f"{name}_mode": weights["mode"], f"{name}_payload_mb": _payload_mb(weights),
            f"{name}_k_mean": float(keys.group(1)) if keys else weights.get("k"),
            f"{name}_k_max": int(keys.group(3)) if keys else weights.get("k"),
            f"{name}_kept_min": kept[0], f"{name}_kept_median": kept[1],
            f"{name}_write_s": round(write_s, 2),
            f"{name}_ready_ms": ready, f"{name}_model_view_ms": model,
            f"{name}_browser_wall_s": round(browser_s, 2)}


def _previous(grid: AttentionGrid, out: Path) -> dict:
    """The previous default on the same grid: one top-k for all rows sized to the budget, not deflated."""
    rows = grid.values.reshape(-1, grid.values.shape[-1])
    k = max(4, (DEFAULT_MAX_BYTES // len(rows) - 5) // 3)  # what the budget gave every row (uint16 keys)
    result = _measure(grid, out, "prev_topk", top_k=k)
    top = -np.partition(-rows, k - 1, axis=1)[:, :k]
    kept = top.sum(axis=1, dtype=np.float64) / rows.sum(axis=1, dtype=np.float64)  # exact, independent
    result.update(prev_topk_kept_min=round(float(kept.min()), 3),
                  prev_topk_kept_median=round(float(np.median(kept)), 3))
    return result


def _payload_mb(weights: dict) -> float:
    return round(sum(len(v) for v in weights.values() if isinstance(v, str)) / 1e6, 2)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        result = {}
        baseline = _measure(_grid(1, 1, 6), out, "baseline")
        result["baseline_ready_ms"] = baseline["baseline_ready_ms"]
        result["baseline_browser_wall_s"] = baseline["baseline_browser_wall_s"]
        bert = _grid(12, 12, 512)
        result.update(_measure(bert, out, "bert_12x12x512"))
        result.update(_previous(bert, out))
        if "--long" in sys.argv:
            result.update(_measure(_grid(12, 12, 2048), out, "long_12x12x2048"))
    bert, prev = "bert_12x12x512", "prev_topk"
    result["bert_vs_prev_file_size"] = round(result[f"{bert}_mb"] / result[f"{prev}_mb"], 3)
    result["bert_vs_prev_kept_min"] = round(result[f"{bert}_kept_min"] / result[f"{prev}_kept_min"], 2)
    result["bert_vs_prev_write_time"] = round(result[f"{bert}_write_s"] / result[f"{prev}_write_s"], 2)
    wall = result[f"{bert}_browser_wall_s"] / result[f"{prev}_browser_wall_s"]
    result["bert_vs_prev_browser_wall"] = round(wall, 2)
    bert_ok = (result["bert_12x12x512_mb"] <= 10 and result["bert_12x12x512_ready_ms"] <= 2000
               and result["bert_12x12x512_kept_min"] >= 0.9)
    result["bert_meets_90pct_10mb_2s"] = bert_ok
    print(json.dumps(result))


if __name__ == "__main__":
    main()
