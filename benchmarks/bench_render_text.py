"""Text renderer benchmark: time to draw and save each picture vs a bare imshow.

Prints one JSON line:
- ``baseline_s``: ``plt.imshow`` of one 12x12 matrix saved as PNG with the same DPI
  (the cheapest possible picture), measured in the same run;
- ``seconds``: draw + save time of each renderer (median of ``REPEATS`` runs) on
  synthetic row-stochastic attention: heatmap of 12 and of 300 tokens (block-reduced
  to 100), model view of 6 layers x 12 heads x 12 tokens (72 thumbnails) and of
  300 tokens, lines view of 12 tokens, head summary of two (6, 12) metrics + types;
- ``ratio``: each time divided by the baseline;
- ``png_kb``: size of each PNG;
- ``write_report_s``: :func:`write_text_report` (heatmap, lines, model view, summary PNGs and
  ``metrics.json``) of a 6 x 12 x 14-token grid, the time ``multiattn text`` spends after capture,
  median of ``ROUNDS`` alternating rounds: ``before`` with the model view drawn as 72 Axes (the old
  renderer, kept here as the baseline) and every picture saved by ``save_figure`` (tight box: two
  draws), ``after`` with the tiled one-image model view and the writer's one-draw ``save_once``;
  ``model_view_s`` is the same before/after for the model view alone (draw + save);
- ``cold_start_s``: one fresh process running what ``multiattn text`` runs, split into ``import``
  (torch, transformers, multiattn), ``model_load`` (embedded MiniLM), ``capture`` and ``write``
  (renderer imports incl. pyplot + the pictures), and ``cli_wall`` of the real ``multiattn text``
  command in another fresh process (``None`` with a ``cold_start_error`` if the model cannot load);
  ``cold_start_cpu_s`` is the same split in CPU seconds of that process (``time.process_time``: on a
  shared, loaded machine the wall times above stretch with the load, the CPU seconds much less).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
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
ROUNDS = 5
SENTENCE = "The cat sat on the mat because it was tired, and then it slept."

_COLD = textwrap.dedent(f"""
    import json, sys, tempfile, time
    marks = [(time.perf_counter(), time.process_time())]
    import torch, transformers, multiattn
    marks.append((time.perf_counter(), time.process_time()))
    model, tok = multiattn.load_model("minilm", modality="text")
    marks.append((time.perf_counter(), time.process_time()))
    grid = multiattn.capture(model, ({SENTENCE!r}, None), processor=tok)
    marks.append((time.perf_counter(), time.process_time()))
    from multiattn.renderers.writers import write_text_report
    with tempfile.TemporaryDirectory() as out:
        write_text_report(grid, out)
    marks.append((time.perf_counter(), time.process_time()))
    steps = ("import", "model_load", "capture", "write")
    print(json.dumps([{{k: b[i] - a[i] for k, a, b in zip(steps, marks, marks[1:])}} for i in (0, 1)]))
""")


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


def _model_view_axes(grid: AttentionGrid, scores: np.ndarray | None = None,
                     score_name: str = "") -> plt.Figure:
    """The model view as it was drawn before the tiled image: one Axes per head (the baseline)."""
    from multiattn.renderers import modelview as mv
    from multiattn.renderers._style import add_colorbar, color_scale
    from multiattn.renderers.heatmap import dim_title

    thumbs, note = mv._thumbnails(grid, 48)
    scale = color_scale(thumbs)
    n_layers, n_heads = grid.n_layers, grid.n_heads
    width = n_heads * mv._THUMB_INCHES + 1.4
    title = mv._title(grid, score_name if scores is not None else None, note, width)
    height = max(n_layers * mv._THUMB_INCHES, 2.0) + 0.35 + 0.16 * title.count("\n")
    fig = plt.figure(figsize=(width, height), dpi=DPI)
    fig.suptitle(title, fontsize=9, y=1 - 0.06 / height, va="top")
    axes = fig.subplots(n_layers, n_heads, squeeze=False, gridspec_kw={
        "wspace": 0.08, "hspace": 0.08, "bottom": 0.1 / height,
        "top": 1 - (0.45 + 0.16 * title.count("\n")) / height})
    for (lay, head), ax in np.ndenumerate(axes):
        image = ax.imshow(thumbs[lay, head], aspect="auto", interpolation="nearest", **scale.imshow_kwargs())
        ax.set_xticks([])
        ax.set_yticks([])
        if head == 0:
            ax.set_ylabel(dim_title("layer", grid.layers[lay]), fontsize=8)
        if lay == 0:
            ax.set_title(dim_title("head", grid.heads[head]), fontsize=8)
        if scores is not None:
            ax.text(0.97, 0.97, f"{scores[lay, head]:.2f}", transform=ax.transAxes, ha="right", va="top",
                    fontsize=6.5, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                                        "alpha": 0.8})
    add_colorbar(image, axes.ravel().tolist(), "attention weight", normalised="rows sum to 1", scale=scale,
                 fraction=0.03, pad=0.015)
    return fig


def _before_after(before: Callable[[], object], after: Callable[[], object]) -> dict[str, float]:
    """Medians of ``ROUNDS`` alternating runs of ``before`` and ``after`` (after one warm-up each)."""
    times: dict[str, list[float]] = {"before": [], "after": []}
    before(), after()
    for _ in range(ROUNDS):
        for name, func in (("before", before), ("after", after)):
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    out = {k: round(float(np.median(v)), 3) for k, v in times.items()}
    return {**out, "ratio": round(out["before"] / out["after"], 2)}


def _write_report_times(grid: AttentionGrid, out: Path) -> dict[str, dict[str, float]]:
    from multiattn.renderers import _write_text, modelview
    from multiattn.renderers.writers import write_text_report

    tiled, once = modelview.model_view, _write_text.save_once

    def report(view: Callable[..., plt.Figure], save: Callable[..., Path]) -> Callable[[], object]:
        def run() -> None:
            modelview.model_view, _write_text.save_once = view, save  # looked up at call time
            try:
                write_text_report(grid, out)
            finally:
                modelview.model_view, _write_text.save_once = tiled, once
        return run

    scores = np.random.default_rng(1).random((grid.n_layers, grid.n_heads))
    return {
        "write_report_s": _before_after(report(_model_view_axes, save_figure), report(tiled, once)),
        "model_view_s": _before_after(lambda: save_figure(_model_view_axes(grid, scores, "e"), out / "a.png"),
                                      lambda: save_figure(tiled(grid, scores, "e"), out / "b.png")),
    }


def _cold_start(out: Path) -> dict[str, object]:
    """Fresh-process timings of what ``multiattn text`` runs, and of the command itself."""
    run = subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        return {"cold_start_s": None, "cold_start_error": run.stderr.strip().splitlines()[-1:]}
    wall, cpu = ({k: round(v, 2) for k, v in split.items()}
                 for split in json.loads(run.stdout.strip().splitlines()[-1]))
    cli = [sys.executable, "-c", "import sys; from multiattn.cli import main; sys.exit(main())",
           "text", SENTENCE, "--out", str(out / "cli")]
    start = time.perf_counter()
    subprocess.run(cli, capture_output=True, check=True)
    wall["cli_wall"] = round(time.perf_counter() - start, 2)
    return {"cold_start_s": wall, "cold_start_cpu_s": cpu}


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
        report_grid = _grid(rng, 6, 12, 14)
        report_grid.meta["model"] = "synthetic 6 x 12"
        extra = {**_write_report_times(report_grid, out), **_cold_start(out)}
    print(json.dumps({
        "baseline_s": round(base, 4),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "ratio": {k: round(v / base, 1) for k, v in seconds.items()},
        "png_kb": sizes,
        "repeats": REPEATS,
        **extra,
    }))


if __name__ == "__main__":
    main()
