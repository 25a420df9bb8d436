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
- ``write_report_s`` (wall) and ``write_report_cpu_s`` (CPU): :func:`write_text_report` (heatmap,
  lines, model view, summary PNGs and ``metrics.json``) of a 6 x 12 x 14-token grid, medians of
  ``ROUNDS`` alternating rounds of three states of the renderers (:mod:`_text_baselines`):
  ``before`` (model view as 72 Axes, pictures saved by ``save_figure``: two draws, summary as
  ``previous``), ``previous`` (tiled model view and one-draw ``save_once``, but tick labels and
  one ``Text`` per number, the summary in constrained layout) and ``after`` (as shipped: fixed
  layout, labels and numbers one ``TextBatch`` artist per set); ``ratio`` = before / after,
  ``ratio_previous`` = previous / after; ``model_view_s`` and ``summary_s`` the same for the model
  view and the head summary alone (draw + save);
- ``cold_start_s``: one fresh process running what ``multiattn text`` runs, split into ``import``
  (torch, transformers, multiattn), ``model_load`` (embedded MiniLM), ``capture`` and ``write``
  (renderer imports incl. pyplot + the pictures, under ``gc.freeze`` as the command does), and
  ``cli_wall`` of the real ``multiattn text`` command in another fresh process (``None`` with a
  ``cold_start_error`` if the model cannot load); ``cold_start_cpu_s`` is the same split in CPU
  seconds of that process (``time.process_time``: on a shared, loaded machine the wall times
  above stretch with the load, the CPU seconds much less);
- ``write_cold_cpu_s`` / ``write_cold_s``: that ``write`` step (CPU / wall) in fresh processes,
  ``previous`` (analyses imported eagerly, no freeze, ``previous`` renderers) against ``after``,
  alternating, medians of ``--cold-rounds`` each, with ``after_split``: ``imports`` (pyplot,
  renderers, text metrics) and ``pictures`` (metrics + four PNGs + JSON).
"""

from __future__ import annotations

import argparse
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _text_baselines import model_view_axes, renderers, summary_texts  # noqa: E402

REPEATS = 3
ROUNDS = 5
STATES = ("before", "previous", "after")
SENTENCE = "The cat sat on the mat because it was tired, and then it slept."

_COLD = textwrap.dedent(f"""
    import contextlib, gc, json, sys, tempfile, time
    sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
    state = sys.argv[1]
    marks = [(time.perf_counter(), time.process_time())]
    import torch, transformers, multiattn
    marks.append((time.perf_counter(), time.process_time()))
    model, tok = multiattn.load_model("minilm", modality="text")
    marks.append((time.perf_counter(), time.process_time()))
    grid = multiattn.capture(model, ({SENTENCE!r}, None), processor=tok)
    marks.append((time.perf_counter(), time.process_time()))
    if state == "after":
        gc.freeze()  # as the command does around the writing
    import matplotlib.pyplot
    import multiattn.analysis.textmetrics
    import multiattn.renderers.heatmap, multiattn.renderers.lines, multiattn.renderers.modelview
    import multiattn.renderers.summary
    from multiattn.renderers.writers import write_text_report
    swap = contextlib.nullcontext()
    if state == "previous":
        import _text_baselines
        _text_baselines.import_all_analyses()
        swap = _text_baselines.renderers("previous")
    marks.append((time.perf_counter(), time.process_time()))
    with swap, tempfile.TemporaryDirectory() as out:
        write_text_report(grid, out)
    marks.append((time.perf_counter(), time.process_time()))
    gc.unfreeze()
    steps = ("import", "model_load", "capture", "write_imports", "write_pictures")
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


def _alternating(runs: dict[str, Callable[[], object]], rounds: int) -> tuple[dict, dict]:
    """Medians (wall, CPU) of ``rounds`` alternating rounds of each run (after one warm-up each),
    with ``ratio`` = first / last and ``ratio_previous`` = ``previous`` / last when there is one."""
    wall: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    for func in runs.values():
        func()
    for _ in range(rounds):
        for name, func in runs.items():
            start = (time.perf_counter(), time.process_time())
            func()
            wall[name].append(time.perf_counter() - start[0])
            cpu[name].append(time.process_time() - start[1])
    return _medians(wall), _medians(cpu)


def _medians(times: dict[str, list[float]]) -> dict[str, float]:
    out = {k: round(float(np.median(v)), 3) for k, v in times.items()}
    names = list(out)
    ratios = {"ratio": round(out[names[0]] / out[names[-1]], 2)}
    if "previous" in out and names[0] != "previous":
        ratios["ratio_previous"] = round(out["previous"] / out[names[-1]], 2)
    return {**out, **ratios}


def _in_state(state: str, draw: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        with renderers(state):
            return draw()
    return run


def _write_report_times(grid: AttentionGrid, out: Path) -> dict[str, dict[str, float]]:
    from multiattn.analysis.textmetrics import text_metrics
    from multiattn.renderers import modelview
    from multiattn.renderers.writers import write_text_report

    scores = np.random.default_rng(1).random((grid.n_layers, grid.n_heads))
    report = text_metrics(grid)
    shown = {k: np.asarray(report["per_head"][k], dtype=float)
             for k in ("entropy_normalized", "attention_distance_tokens", "first_token_share")}
    write = {state: _in_state(state, lambda: write_text_report(grid, out)) for state in STATES}
    def tiled() -> Path:
        return save_figure(modelview.model_view(grid, scores, "e"), out / "b.png")

    view = {"before": lambda: save_figure(model_view_axes(grid, scores, "e"), out / "a.png"),
            **{state: _in_state(state, tiled) for state in STATES[1:]}}
    summary = {"previous": lambda: save_figure(summary_texts(shown, report["head_types"]), out / "c.png"),
               "after": lambda: save_figure(head_summary(shown, report["head_types"]), out / "d.png")}
    out_times = {}
    for key, runs in (("write_report", write), ("model_view", view), ("summary", summary)):
        out_times[f"{key}_s"], out_times[f"{key}_cpu_s"] = _alternating(runs, ROUNDS)
    return out_times


def _cold_run(state: str) -> tuple[dict[str, float], dict[str, float]] | str:
    """(wall, CPU) split of one fresh process in ``state``, or the error's last line."""
    run = subprocess.run([sys.executable, "-c", _COLD, state], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        return (run.stderr.strip().splitlines() or ["no output"])[-1]
    wall, cpu = json.loads(run.stdout.strip().splitlines()[-1])
    return wall, cpu


def _cold_start(out: Path, rounds: int) -> dict[str, object]:
    """Fresh-process timings of what ``multiattn text`` runs (previous vs after), and of the command."""
    runs: dict[str, list] = {"previous": [], "after": []}
    for _ in range(rounds):
        for state in runs:
            result = _cold_run(state)
            if isinstance(result, str):
                return {"cold_start_s": None, "cold_start_error": result}
            runs[state].append(result)
    cold: dict[str, object] = {"cold_rounds": rounds}
    clocks = ((0, "cold_start_s", "write_cold_s"), (1, "cold_start_cpu_s", "write_cold_cpu_s"))
    for clock, split_key, write_key in clocks:
        after = {k: float(np.median([r[clock][k] for r in runs["after"]])) for k in runs["after"][0][clock]}
        split = {"import": after["import"], "model_load": after["model_load"], "capture": after["capture"],
                 "write": after["write_imports"] + after["write_pictures"]}
        cold[split_key] = {k: round(v, 2) for k, v in split.items()}
        write = {state: [r[clock]["write_imports"] + r[clock]["write_pictures"] for r in runs[state]]
                 for state in runs}
        cold[write_key] = {**_medians(write), "after_split": {
            "imports": round(after["write_imports"], 3), "pictures": round(after["write_pictures"], 3)}}
    cli = [sys.executable, "-c", "import sys; from multiattn.cli import main; sys.exit(main())",
           "text", SENTENCE, "--out", str(out / "cli")]
    start = time.perf_counter()
    subprocess.run(cli, capture_output=True, check=True)
    cold["cold_start_s"]["cli_wall"] = round(time.perf_counter() - start, 2)
    return cold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-rounds", type=int, default=1,
                        help="fresh processes per state for write_cold_* (each loads torch and MiniLM)")
    args = parser.parse_args()
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
        extra = {**_write_report_times(report_grid, out), **_cold_start(out, args.cold_rounds)}
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
