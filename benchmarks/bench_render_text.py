"""Text renderer benchmark: time to draw and save each picture vs a bare imshow.

Prints one JSON line:
- ``baseline_s``: ``plt.imshow`` of one 12x12 matrix saved as PNG with the same DPI
  (the cheapest possible picture), measured in the same run;
- ``seconds``: draw + save time of each renderer (median of ``REPEATS`` runs) on
  synthetic row-stochastic attention: heatmap of 12 and of 300 tokens (block-reduced
  to 100), model view of 6 layers x 12 heads x 12 tokens (72 thumbnails) and of
  300 tokens, lines view of 12 tokens, head summary of two (6, 12) metrics + types;
- ``ratio``: each time divided by the baseline;
- ``png_kb``: size of each PNG.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multiattn import AttentionGrid, TokenAxis  # noqa: E402
from multiattn.renderers.figure import DPI, save_figure  # noqa: E402
from multiattn.renderers.heatmap import heatmap  # noqa: E402
from multiattn.renderers.lines import lines_view  # noqa: E402
from multiattn.renderers.modelview import model_view  # noqa: E402
from multiattn.renderers.summary import head_summary  # noqa: E402

REPEATS = 3


def _grid(rng: np.random.Generator, layers: int, heads: int, tokens: int) -> AttentionGrid:
    logits = rng.normal(size=(layers, heads, tokens, tokens)) * 2
    weights = np.exp(logits)
    weights /= weights.sum(-1, keepdims=True)
    return AttentionGrid(weights.astype(np.float32), TokenAxis([f"tok{i}" for i in range(tokens)]))


def _timed(draw: Callable[[], plt.Figure], path: Path) -> tuple[float, int]:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        save_figure(draw(), path)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), path.stat().st_size


def _baseline(matrix: np.ndarray) -> plt.Figure:
    fig, ax = plt.subplots(dpi=DPI)
    ax.imshow(matrix)
    return fig


def main() -> None:
    rng = np.random.default_rng(0)
    short, long = _grid(rng, 6, 12, 12), _grid(rng, 1, 12, 300)
    metrics = {"entropy": rng.random((6, 12)), "distance": rng.random((6, 12)) * 5}
    types = [{"layer": l, "head": h, "type": ("previous_token", "broad", "first_token")[(l + h) % 3],
              "score": 0.9} for l in range(6) for h in range(12)]
    cases = {
        "heatmap_12": lambda: heatmap(short, 0, 2).figure,
        "heatmap_300": lambda: heatmap(long, 0, 2).figure,
        "model_view_6x12x12": lambda: model_view(short, metrics["entropy"], "entropy"),
        "model_view_1x12x300": lambda: model_view(long),
        "lines_12": lambda: lines_view(short, 0, 2).figure,
        "head_summary_6x12": lambda: head_summary(metrics, types),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        base, _ = _timed(lambda: _baseline(short.values[0, 0]), out / "base.png")
        seconds, sizes = {}, {}
        for name, draw in cases.items():
            seconds[name], size = _timed(draw, out / f"{name}.png")
            sizes[name] = round(size / 1024, 1)
    print(json.dumps({
        "baseline_s": round(base, 4),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "ratio": {k: round(v / base, 1) for k, v in seconds.items()},
        "png_kb": sizes,
        "repeats": REPEATS,
    }))


if __name__ == "__main__":
    main()
