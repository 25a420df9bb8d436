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

Against BertViz (issue 19), same grids, same run: ``bertviz_minilm``: MiniLM size (6 x 12 heads x
128 tokens): ``ours_write_s`` (:func:`~multiattn.renderers.html.save`) and BertViz's ``head_view``
(``html_action="return"``), medians of ``ROUNDS`` alternating rounds after one warm-up each, file
sizes, ``ratio_*`` = BertViz / ours, ``ours_ready_ms`` in Chromium, and ``bertviz_cdn_urls``: the
scripts BertViz's page loads from a CDN (require.js, d3, jquery) -- offline it never draws.
``--long`` adds the same at BERT-base size (12 x 12 x 512, BertViz minutes and ~2 GB: ``bertviz_bert``).
``notebook_repr``: the bytes of ``grid._repr_html_()`` / ``_repr_png_()`` at 64 and 512 tokens
(MiniLM layers / heads) next to xarray's ``DataArray._repr_html_`` of the same array (when xarray
is installed), and the time of each.
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


ROUNDS = 3


def _tokens(n: int) -> list[str]:
    return [f"w{i}" for i in range(n)]


def _bertviz(grid: AttentionGrid, out: Path, name: str) -> dict:
    """BertViz's head view against ours on ``grid``: build time, file size, what it loads from a CDN."""
    import torch
    from bertviz import head_view

    tokens = _tokens(grid.values.shape[-1])
    attention = tuple(torch.from_numpy(np.array(layer[None])) for layer in grid.values)
    pages: dict[str, str] = {}

    def ours() -> None:
        pages["ours"] = save(grid, out / f"{name}.html").read_text()

    def theirs() -> None:
        pages["bertviz"] = head_view(attention, tokens, html_action="return").data

    times: dict[str, list[float]] = {"ours": [], "bertviz": []}
    ours(), theirs()  # warm-up: imports, templates, assets
    for _ in range(ROUNDS):
        for key, func in (("ours", ours), ("bertviz", theirs)):
            start = time.perf_counter()
            func()
            times[key].append(time.perf_counter() - start)
    seconds = {k: float(np.median(v)) for k, v in times.items()}
    size = {k: len(page.encode()) for k, page in pages.items()}
    dom = run_chromium(out / f"{name}.html", dump_dom=True, virtual_time_ms=30_000)
    return {"shape": list(grid.shape),
            "ours_write_s": round(seconds["ours"], 3), "bertviz_head_view_s": round(seconds["bertviz"], 2),
            "ours_mb": round(size["ours"] / 1e6, 2), "bertviz_mb": round(size["bertviz"] / 1e6, 1),
            "ratio_time": round(seconds["bertviz"] / seconds["ours"], 1),
            "ratio_size": round(size["bertviz"] / size["ours"], 1),
            "ours_ready_ms": int(re.search(r'data-ready-ms="(\d+)"', dom).group(1)),
            "bertviz_cdn_urls": sorted(set(re.findall(r"https://cdnjs\.cloudflare\.com/[^\"' ]+",
                                                      pages["bertviz"])))}


def _notebook_repr(tokens: int) -> dict:
    """Sizes (KB) and times of the grid's notebook reprs, and of xarray's repr of the same array."""
    grid = _grid(6, 12, tokens)
    row: dict = {}
    for key, func in (("html", grid._repr_html_), ("png", grid._repr_png_)):
        start = time.perf_counter()
        size = len(func())
        row[f"{key}_kb"], row[f"{key}_s"] = round(size / 1e3, 1), round(time.perf_counter() - start, 3)
    try:
        import xarray
    except ImportError:
        return row
    array = xarray.DataArray(grid.values, dims=("layer", "head", "query", "key"))
    start = time.perf_counter()
    row["xarray_html_kb"] = round(len(array._repr_html_()) / 1e3, 1)
    row["xarray_html_s"] = round(time.perf_counter() - start, 3)
    return row


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
        result["bertviz_minilm"] = _bertviz(_grid(6, 12, 128), out, "minilm_6x12x128")
        if "--long" in sys.argv:
            result["bertviz_bert"] = _bertviz(bert, out, "bert_vs_bertviz")
    result["notebook_repr"] = {f"tokens_{n}": _notebook_repr(n) for n in (64, 512)}
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
