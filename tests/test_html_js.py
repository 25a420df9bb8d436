"""The JavaScript of the HTML views under node: `node --test tests/js/` passes, on a fixture built here.

The fixture holds rows packed by :func:`multiattn.renderers.html.pack_rows` and the payloads of real
pages (:func:`to_html`), each with the numpy values they came from; ``tests/js/python_fixture.test.js``
decodes them with ``renderers/assets/core.js`` and compares.
"""

import json
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from multiattn import AttentionGrid
from multiattn.axes import NodeAxis, TokenAxis
from multiattn.renderers._html_pack import pack_rows
from multiattn.renderers._html_page import SCRIPT_FILES, STYLE_FILES, script
from multiattn.renderers.html import to_html

from .conftest import random_attention
from .test_html_view import _payload

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
LABELS = ["[CLS]", "<b>&amp;</b>", "</script>", "é", "[SEP]"]


def _kept(row: np.ndarray, summary: dict) -> int:
    """How many largest keys row ``row`` stores: ``k``, or (adaptive rows) the fewest reaching the target."""
    if summary["mode"] != "mass":
        return summary["k"]
    wanted = int(np.argmax(np.cumsum(np.sort(row)[::-1]) / row.sum() >= summary["target"] - 1e-12)) + 1
    return min(wanted, summary["cap"])


def _row_checks(values: np.ndarray, summary: dict, rows: list[int]) -> list[dict]:
    """What row ``r`` must decode to: its ``k`` largest (or all non-zero) entries, within half a step."""
    flat = values.reshape(-1, values.shape[-1])
    checks = []
    for r in rows:
        row = flat[r].astype(np.float64)
        keep = np.argsort(-row, kind="stable")[: _kept(row, summary)]
        keep = keep[row[keep] > 0]
        dropped = row.sum() - row[keep].sum() if summary["mode"] != "dense" else 0.0
        checks.append({"r": r, "entries": [[int(j), float(row[j])] for j in keep],
                       "tol": float(row.max() / 510 + 1e-7), "dropped": float(dropped)})
    return checks


def _packed_cases(rng) -> list[dict]:
    dense = random_attention(rng, (2, 3, 7, 7))
    topk = random_attention(rng, (1, 2, 9, 40))
    wide = rng.random((1, 1, 2, 70_000)) * 1e-5  # > 65 535 keys: uint32 indices
    wide[..., [5, 123, 40_000, 69_999]] = [0.3, 0.05, 0.1, 0.2]
    wide = (wide / wide.sum(axis=-1, keepdims=True)).astype(np.float32)
    peaked = np.exp(rng.standard_normal((2, 3, 30, 300)) * 3)
    peaked = (peaked / peaked.sum(-1, keepdims=True)).astype(np.float32)
    cases = []
    for name, values, options in [("dense", dense, {}), ("topk", topk, {"top_k": 5}),
                                  ("topk-uint32", wide, {"top_k": 4}),
                                  ("mass", peaked, {"max_bytes": 20_000}),
                                  ("mass-uint32", wide, {"max_bytes": 1_000})]:
        weights, summary = pack_rows(values, **options)
        n_rows = int(np.prod(values.shape[:3]))
        cases.append({"name": name, "mode": summary["mode"], "weights": weights,
                      "check": _row_checks(values, summary, sorted({0, 1, n_rows // 2, n_rows - 1}))})
    assert [c["weights"].get("idx_bytes") for c in cases] == [None, 2, 4, None, None]
    assert [c["mode"] for c in cases] == ["dense", "topk", "topk", "mass", "mass"]
    assert [size for name, size, _ in cases[-1]["weights"]["layout"] if name == "deltas"] == [4]
    return cases


def _text_page(rng) -> dict:
    n = 60  # more than the 48 bins of a model-view thumbnail
    labels = LABELS + [f"w{i}" for i in range(n - len(LABELS))]
    grid = AttentionGrid(random_attention(rng, (2, 3, n, n)), TokenAxis(labels))
    payload = _payload(to_html(grid))
    values = grid.values.astype(np.float64)
    step = float(values.max() / 510 + 1e-7)
    means = [{"layer": 1, "heads": [0, 2], "query": 4, "values": values[1, [0, 2], 4].mean(axis=0).tolist(),
              "tol": step},
             {"layer": 0, "heads": [1], "query": 0, "values": values[0, 1, 0].tolist(), "tol": step}]
    bins = np.arange(n) * 48 // n
    cells = np.zeros((48, 48))
    np.add.at(cells, (bins[:, None], bins[None, :]), values[1, 2])
    per_cell = int(np.bincount(bins).max()) ** 2
    return {"labels": labels, "payload": payload, "means": means,
            "thumbnail": {"layer": 1, "head": 2, "shape": [48, 48], "values": cells.ravel().tolist(),
                          "tol": per_cell * step}}


def _graph_page() -> dict:
    edges = np.array([[0, 1, 2, 3, 2], [2, 2, 0, 2, 2]])  # node 2 receives from 0, 1, 3 and itself
    values = np.array([[[0.1, 0.2, 1.0, 0.3, 0.4], [0.6, 0.1, 1.0, 0.1, 0.2]],
                       [[0.7, 0.1, 1.0, 0.1, 0.1], [0.1, 0.1, 1.0, 0.6, 0.2]]], np.float32)
    grid = AttentionGrid(values, NodeAxis(range(4)), edge_index=edges, check_rows=False)
    payload = _payload(to_html(grid, pos=np.eye(4)[:, :2]))
    edges, values = grid.edge_index, grid.values  # in the grid's own edge order
    layers = []
    for layer, heads in [(0, [0, 1]), (1, [1])]:
        mean = values[layer, heads].mean(axis=0)
        into = np.flatnonzero(edges[1] == 2)
        layers.append({"layer": layer, "heads": heads, "values": mean.tolist(),
                       "strongest_into_node": int(into[np.argmax(mean[into])])})
    return {"payload": payload, "dst": edges[1].tolist(), "node": 2, "layers": layers,
            "tol": float(values.max() / 510 + 1e-7)}


def _viridis() -> list:
    from matplotlib import colormaps

    table = np.round(colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(int)
    ts = [0.0, 0.1, 0.25, 0.5, 0.75, 0.999, 1.0, 1.5, -0.2]
    return [[t, table[int(np.clip(np.floor(t * 255 + 0.5), 0, 255))].tolist()] for t in ts]


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory):
    rng = np.random.default_rng(7)
    data = {"rows": _packed_cases(rng), "pages": {"text": _text_page(rng), "graph": _graph_page()},
            "viridis": _viridis()}
    path = tmp_path_factory.mktemp("js") / "fixture.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _count(output: str, name: str) -> int:
    match = re.search(rf"^# {name} (\d+)$", output, re.M)
    assert match, output[-2000:]
    return int(match.group(1))


@pytest.mark.skipif(NODE is None, reason="node is not installed: the JavaScript unit tests need node >= 18")
def test_node_unit_tests_pass_on_python_fixture(fixture_file):
    env = {**os.environ, "MULTIATTN_JS_FIXTURE": str(fixture_file)}
    done = subprocess.run([NODE, "--test", "--test-reporter=tap", "tests/js/"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert _count(output, "fail") == 0 and _count(output, "skipped") == 0, output[-2000:]
    assert _count(output, "pass") >= 18  # 14 hand-computed cases + 4 on the Python fixture


def test_every_asset_is_inlined_and_safe():
    folder = resources.files("multiattn.renderers").joinpath("assets")
    on_disk = {p.name for p in folder.iterdir() if p.name.endswith((".js", ".css"))}
    assert on_disk == set(SCRIPT_FILES) | set(STYLE_FILES)
    page = to_html(AttentionGrid(random_attention(np.random.default_rng(0), (1, 1, 3, 3)),
                                 TokenAxis(list("abc"))))
    body = script()
    assert body in page and "</script" not in body.lower()
    names = ("root.MultiattnCore", "root.MultiattnDom", "MultiattnViews[D.view]")
    order = [body.index(name) for name in names]
    assert order == sorted(order)  # each script after the ones it needs
