"""Run every benchmark that measures a job of issue 19 against its peer; collect the JSON lines.

Each bench prints one JSON line; this runs them one after the other (never two at once, so
they do not load the machine for each other) and writes ``{"script", "args", "wall_s", "result"}``
per bench to a JSON-lines file (default ``benchmarks/peers.jsonl``), ``"error"`` instead of
``"result"`` when a bench fails.  Which row each measures: ``benchmarks/README.md``.

Usage: ``python benchmarks/run_peers.py [--out FILE] [--only NAME ...] [--long]``
(``NAME`` as in :data:`RUNS`, e.g. ``--only html render_text``; ``--long`` adds the BERT-base
512-token BertViz build, minutes and ~2 GB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: name -> (script, arguments): one entry per bench invocation the issue-19 table rows read.
RUNS: dict[str, tuple[str, list[str]]] = {
    "html": ("bench_html.py", []),
    "render_text": ("bench_render_text.py", []),
    "depth": ("bench_depth.py", []),
    "arrays": ("bench_arrays.py", []),
    "scale_flow": ("bench_scale.py", ["flow"]),
    "graph": ("bench_graph.py", []),
    "graph_large": ("bench_graph.py", ["large"]),
    "graph_all_edges": ("bench_graph.py", ["all_edges"]),
    "whisper": ("bench_whisper.py", []),
    "text_memory": ("bench_text_memory.py", []),
    "video": ("bench_video.py", ["--n", "20"]),
}


def run_one(name: str, long: bool) -> dict:
    """Run one bench in a fresh process; its last stdout line parsed as JSON."""
    script, args = RUNS[name]
    if long and name == "html":
        args = [*args, "--long"]
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True,
                          check=False)
    wall = round(time.perf_counter() - start, 1)
    row: dict = {"name": name, "script": script, "args": args, "wall_s": wall}
    lines = proc.stdout.strip().splitlines()
    try:
        row["result"] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        row["error"] = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "peers.jsonl"), help="JSON-lines file to append to")
    parser.add_argument("--only", nargs="*", choices=sorted(RUNS), default=None, help="benches to run")
    parser.add_argument("--long", action="store_true", help="also the 512-token BertViz build")
    args = parser.parse_args()
    with open(args.out, "a") as out:
        for name in args.only or RUNS:
            row = run_one(name, args.long)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(json.dumps({k: row[k] for k in ("name", "wall_s")} | {"ok": "result" in row}), flush=True)


if __name__ == "__main__":
    main()
