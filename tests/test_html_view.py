"""Fast tests of the HTML views: self-contained, escaped, compact and faithful to the grid."""

import base64
import html
import json
import re

import numpy as np
import pytest

from multiattn import AttentionGrid
from multiattn.axes import NodeAxis, PatchAxis, TimeAxis, TokenAxis
from multiattn.cli import main
from multiattn.grid import AttentionMap
from multiattn.renderers._html_pack import pack_rows
from multiattn.renderers.html import repr_html, save, to_html

from .conftest import random_attention

XSS = "<img src=x onerror=alert(1)>"


def _payload(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="multiattn-data">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def _decode(b64: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=dtype)


def _text_grid(rng, n_tokens=6, layers=2, heads=3, labels=None):
    labels = labels or [f"t{i}" for i in range(n_tokens)]
    return AttentionGrid(random_attention(rng, (layers, heads, len(labels), len(labels))), TokenAxis(labels))


def test_page_is_self_contained(rng):
    page = to_html(_text_grid(rng))
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "<script src" not in page and "fetch(" not in page and "XMLHttpRequest" not in page


def test_tokens_are_escaped_everywhere(rng):
    labels = ["[CLS]", XSS, "</script><script>alert(2)</script>", "a&b", "[SEP]"]
    grid = _text_grid(rng, labels=labels)
    page = to_html(grid, title="<b>title</b>")
    assert XSS not in page and "</script><script>alert(2)" not in page and "<b>title" not in page
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page
    assert "&lt;b&gt;title&lt;/b&gt;" in page  # the <title> element
    data = _payload(page)
    assert data["query"] == labels and data["title"] == "<b>title</b>"
    script = page[page.index("<script>"):]
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script


def test_dense_rows_roundtrip_within_quantisation(rng):
    grid = _text_grid(rng, n_tokens=7)
    weights = _payload(to_html(grid))["weights"]
    assert weights["mode"] == "dense"
    q = _decode(weights["q"], np.uint8).reshape(-1, 7).astype(np.float64)
    scale = _decode(weights["scale"], np.float32)
    decoded = q * scale[:, None] / 255
    truth = grid.values.reshape(-1, 7)
    np.testing.assert_allclose(scale, truth.max(axis=1))
    assert np.abs(decoded - truth).max() <= truth.max() / 510 + 1e-7  # half a uint8 step


def test_topk_keeps_largest_and_states_dropped_mass():
    row = np.array([0.4, 0.05, 0.3, 0.1, 0.15], np.float32)
    values = np.tile(row, (1, 1, 5, 1))
    weights, summary = pack_rows(values, top_k=2)
    idx = _decode(weights["idx"], np.uint16).reshape(5, 2)
    assert [set(r) for r in idx.tolist()] == [{0, 2}] * 5
    assert summary["dropped_mean"] == pytest.approx(0.3, abs=1e-6)  # 1 - 0.4 - 0.3
    dropped = _decode(weights["dropped"], np.uint8) / 255
    np.testing.assert_allclose(dropped, 0.3, atol=1 / 255)
    q = _decode(weights["q"], np.uint8).reshape(5, 2)
    kept = {int(i): int(v) for i, v in zip(idx[0], q[0])}
    assert kept == {0: 255, 2: round(0.3 / 0.4 * 255)}


def test_budget_switches_to_mass_rows_and_view_states_it(rng):
    grid = _text_grid(rng, n_tokens=40)
    page = to_html(grid, max_bytes=2_000)
    data = _payload(page)
    assert data["weights"]["mode"] == "mass" and data["weights"]["codec"] == "deflate"
    assert any("Each row keeps its largest keys until it holds" in n and "capped at 4 keys" in n
               for n in data["notes"])
    more = _payload(to_html(grid, max_bytes=10**6, mass=0.99))  # dense rows fit: stay dense
    assert more["weights"]["mode"] == "dense"
    half = _payload(to_html(grid, max_bytes=10_000, mass=0.5))  # dense rows need 10 800 bytes
    assert half["weights"]["mode"] == "mass" and half["weights"]["target"] == 0.5
    assert any("\u2265 50 % of its attention mass" in n and "capped" not in n for n in half["notes"])
    forced = _payload(to_html(grid, max_bytes=2_000, top_k=4))
    assert forced["weights"]["mode"] == "topk" and forced["weights"]["k"] == 4
    assert any("Only the 4 largest of 40 keys per row are kept: mass dropped" in n for n in forced["notes"])


def test_bert_base_size_stays_under_10_mb():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((12, 12, 512, 512), dtype=np.float32) * 3
    np.exp(logits, out=logits)
    logits /= logits.sum(-1, keepdims=True)
    grid = AttentionGrid(logits, TokenAxis([f"w{i}" for i in range(512)]), check_rows=False)
    page = to_html(grid)
    assert 1_000_000 < len(page.encode()) <= 10_000_000
    data = _payload(page)
    assert data["weights"]["mode"] == "mass"
    note = next(n for n in data["notes"] if "Each row keeps" in n)
    assert "\u2265 90 % of its attention mass" in note and "capped" not in note


def test_image_payload_holds_png_and_maps(rng):
    axis = PatchAxis(3, 4, 8, (24, 32), prefix=("CLS",))
    grid = AttentionGrid(random_attention(rng, (2, 2, 13, 13)), axis)
    image = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    amap = AttentionMap(np.linspace(0, 1, 13), axis)
    data = _payload(to_html(grid, image=image, maps={"rollout": amap}))
    assert base64.b64decode(data["image"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert (data["rows"], data["cols"], data["n_prefix"]) == (3, 4, 1)
    assert data["width"] / data["height"] == pytest.approx(32 / 24, rel=0.01)
    np.testing.assert_allclose(_decode(data["maps"][0]["values"], np.float32), amap.values)


def test_graph_payload_from_sparse_and_dense(rng):
    edges = np.array([[0, 1, 2, 0], [1, 2, 0, 2]])
    values = np.array([[[1.0, 0.25, 1.0, 0.75]]], np.float32)
    nodes = NodeAxis(["a", "b", "<c>"], groups=[0, 0, 1])
    sparse = AttentionGrid(values, nodes, edge_index=edges)
    data = _payload(to_html(sparse, pos={"a": (0, 0), "b": (1, 0), "<c>": (0, 2)}))
    assert data["n_edges"] == 4 and data["labels"] == ["a", "b", "<c>"]
    np.testing.assert_array_equal(_decode(data["dst"], np.uint32), edges[1])
    pos = _decode(data["pos"], np.float32).reshape(3, 2)
    np.testing.assert_allclose(pos, [[0, 1], [1, 1], [0, 0]])  # scaled to [0, 1], y flipped
    dense = sparse.to_dense()
    dense_data = _payload(to_html(dense))
    assert dense_data["n_edges"] == 4
    pairs = set(zip(_decode(dense_data["src"], np.uint32).tolist(),
                    _decode(dense_data["dst"], np.uint32).tolist()))
    assert pairs == set(zip(edges[0].tolist(), edges[1].tolist()))


def test_save_adds_suffix_and_writes_utf8(tmp_path, rng):
    path = save(_text_grid(rng, labels=["é", "ß", "日本"]), tmp_path / "sub" / "view")
    assert path.name == "view.html" and "日本" in path.read_text(encoding="utf-8")


def test_repr_html_is_escaped_iframe(rng):
    out = repr_html(_text_grid(rng, labels=[XSS, "b"]))
    assert out.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in out
    srcdoc = re.search(r'srcdoc="([^"]*)"', out).group(1)
    assert "<" not in srcdoc and html.unescape(srcdoc).startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    "make, options, error, match",
    [
        (lambda r: AttentionGrid(-random_attention(r, (1, 1, 3, 3)), TokenAxis(list("abc")),
                                 check_rows=False),
         {}, ValueError, "negative values"),
        (lambda r: _text_grid(r), {"image": np.zeros((2, 2, 3))}, TypeError, "unknown options"),
        (lambda r: AttentionGrid(random_attention(r, (1, 1, 3, 3)), TimeAxis(3, 0.02)),
         {}, ValueError, "no HTML view for TimeAxis"),
        (lambda r: _text_grid(r), {"top_k": 0}, ValueError, "top_k must be"),
        (lambda r: _text_grid(r), {"mass": 1.5}, ValueError, r"mass must be .* in \(0, 1\]"),
        (lambda r: AttentionGrid(random_attention(r, (1, 1, 5, 5)), PatchAxis(2, 2, 8, (16, 16))),
         {"image": np.zeros((16, 16), np.float32)}, ValueError, "must be uint8"),
        (lambda r: AttentionGrid(random_attention(r, (1, 1, 5, 5)), PatchAxis(2, 2, 8, (16, 16))),
         {"image": np.zeros((16, 16, 5), np.uint8)}, ValueError, r"\(H, W, 3\)"),
        (lambda r: AttentionGrid(random_attention(r, (1, 1, 5, 5)), PatchAxis(2, 2, 8, (16, 16))),
         {"maps": {"m": AttentionMap(np.ones(3), TokenAxis(list("abc")))}}, ValueError, "AttentionMap over"),
        (lambda r: AttentionGrid(random_attention(r, (1, 1, 3, 3)), NodeAxis([0, 1, 2])),
         {"pos": np.zeros((2, 2))}, ValueError, "pos must hold"),
        (lambda r: AttentionGrid(random_attention(r, (1, 1, 3, 3)), NodeAxis([0, 1, 2])),
         {"pos": {0: (0, 0)}}, ValueError, "no position for 2 nodes"),
        (lambda r: AttentionGrid(np.ones((1, 1, 3), np.float32), NodeAxis(range(4000)),
                                 edge_index=np.array([[0, 1, 2], [1, 2, 0]]), check_rows=False),
         {}, ValueError, "at most 3000 nodes"),
    ],
)
def test_bad_input_gets_clear_error(rng, make, options, error, match):
    with pytest.raises(error, match=match):
        to_html(make(rng), **options)


def test_rejects_non_grid():
    with pytest.raises(TypeError, match="takes an AttentionGrid"):
        to_html(np.zeros((1, 1, 2, 2)))


def test_cli_writes_view_and_reports_missing_file(tmp_path, rng, capsys):
    grid_path = _text_grid(rng).save(tmp_path / "grid.npz")
    assert main(["html", str(grid_path), "--out", str(tmp_path / "v.html"), "--top-k", "2"]) == 0
    data = _payload((tmp_path / "v.html").read_text())
    assert data["weights"]["mode"] == "topk" and data["weights"]["k"] == 2
    assert main(["html", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "x.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
