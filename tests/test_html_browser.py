"""The HTML views in a real headless chromium: they render, react to hover / keyboard / clicks,
raise no script errors, and an XSS payload in tokens or titles never runs."""

import html
import json
import re

import numpy as np

from multiattn import AttentionGrid
from multiattn.axes import NodeAxis, PatchAxis, TokenAxis
from multiattn.grid import AttentionMap
from multiattn.renderers.html import to_html

from ._chromium import run_chromium
from .conftest import random_attention

_ERROR_HOOK = (
    "<script>window.__errors=[];window.addEventListener('error',function(e){__errors.push(String(e.message))});"
    "var __ce=console.error;console.error=function(){__errors.push([].join.call(arguments,' '))};</script>"
)
XSS_IMG = "<img src=x onerror=\"window.__xss=1;document.title='pwned'\">"
XSS_SCRIPT = "</script><script>window.__xss=2;document.title='pwned'</script>"


def _run(tmp_path, page: str, probe: str) -> dict:
    """Open ``page`` with an error hook, run ``probe`` (which fills ``r``), return ``r``."""
    path = tmp_path / "view.html"
    path.write_text(page.replace("<head>", "<head>" + _ERROR_HOOK, 1), encoding="utf-8")
    script = ("var r={};try{" + probe + "}catch(e){r.probe_error=String(e)}"
              "r.ready=document.documentElement.getAttribute('data-ready-ms');r.errors=window.__errors;"
              "r.xss=window.__xss||null;r.title=document.title;"
              "r.images=document.querySelectorAll('img').length;"
              "document.documentElement.setAttribute('data-probe',JSON.stringify(r));")
    dom = run_chromium(path, dump_dom=True, probe=script)
    match = re.search(r'data-probe="([^"]*)"', dom)
    assert match, dom[:500]
    result = json.loads(html.unescape(match.group(1)))
    assert result.get("probe_error") is None, result
    assert result["ready"] is not None and result["errors"] == [], result
    assert result["xss"] is None and result["title"] != "pwned" and result["images"] == 0
    return result


_INK = ("function ink(c){var d=c.getContext('2d').getImageData(0,0,c.width,c.height).data,n=0;"
        "for(var i=3;i<d.length;i+=4){if(d[i]>0)n++}return n}")


def test_text_view_hover_keyboard_and_model_view(tmp_path):
    rng = np.random.default_rng(0)
    labels = ["[CLS]", "the", XSS_IMG, "cat", XSS_SCRIPT, "[SEP]"]
    grid = AttentionGrid(random_attention(rng, (2, 3, 6, 6)), TokenAxis(labels, [1, 0, 0, 0, 0, 1]))
    title = "title " + XSS_SCRIPT
    probe = _INK + """
      var c=document.querySelector('#head-view canvas');
      r.labels=[].map.call(document.querySelectorAll('.ma-left .ma-tok'),function(n){return n.textContent});
      r.ink_all=ink(c);
      var shaded=function(){return [].filter.call(document.querySelectorAll('.ma-right .ma-tok'),
        function(n){return n.style.background}).length};
      r.shaded_before=shaded();
      var t=document.querySelector(".ma-left .ma-tok[data-index='3']");
      t.dispatchEvent(new MouseEvent('mouseenter'));
      r.ink_one=ink(c); r.shaded_after=shaded(); r.focus=document.querySelector('.ma-focus').textContent;
      r.status=document.getElementById('ma-status').textContent;
      t.dispatchEvent(new MouseEvent('mouseleave'));
      r.shaded_left=shaded();
      document.querySelector(".ma-right .ma-tok[data-index='1']").focus();
      var f=document.querySelector('.ma-focus');
      r.key_focus=f&&f.getAttribute('data-side')+f.getAttribute('data-index');
      document.getElementById('tab-model').click();
      r.thumbs=document.querySelectorAll('#model-view button').length;
      r.head_hidden=document.getElementById('head-view').offsetHeight===0;
      document.querySelector("#model-view button[data-layer='1'][data-head='2']").click();
      r.head_hidden_after=document.getElementById('head-view').offsetHeight===0;
      r.layer=document.querySelector('select').value;
      r.heads=[].filter.call(document.querySelectorAll('select[multiple] option'),
        function(o){return o.selected}).map(function(o){return o.value});
    """
    r = _run(tmp_path, to_html(grid, title=title), probe)
    assert r["labels"] == labels  # payloads shown verbatim as text
    assert r["title"] == title
    assert r["shaded_before"] == 0 and r["shaded_after"] == 6 and r["shaded_left"] == 0
    assert 0 < r["ink_one"] < r["ink_all"]  # only the focused token's lines remain
    assert r["focus"] == "cat" and r["status"].startswith('Query "cat"')
    assert r["key_focus"] == "k1"
    assert r["thumbs"] == 6 and r["head_hidden"] is True
    assert r["head_hidden_after"] is False and r["layer"] == "1" and r["heads"] == ["2"]


def test_image_view_follows_the_hovered_patch(tmp_path):
    rng = np.random.default_rng(1)
    axis = PatchAxis(3, 4, 8, (24, 32), prefix=("CLS",))
    grid = AttentionGrid(random_attention(rng, (2, 2, 13, 13)), axis)
    image = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    maps = {"rollout " + XSS_IMG: AttentionMap(np.linspace(0, 1, 13), axis)}
    probe = """
      var c=document.getElementById('ma-image'), b=c.getBoundingClientRect();
      function sum(){var d=c.getContext('2d').getImageData(0,0,c.width,c.height).data,s=0;
        for(var i=0;i<d.length;i+=97)s+=d[i];return s}
      r.map=document.querySelector('select').value; var s0=sum();
      var at={clientX:b.left+2.5*b.width/4,clientY:b.top+1.5*b.height/3};
      c.dispatchEvent(new MouseEvent('mousemove',at));
      r.query=c.getAttribute('data-query'); r.changed=sum()!==s0;
      c.dispatchEvent(new MouseEvent('click',at));
      c.dispatchEvent(new KeyboardEvent('keydown',{key:'ArrowRight'}));
      c.dispatchEvent(new KeyboardEvent('keydown',{key:'ArrowDown'}));
      r.query_keys=c.getAttribute('data-query');
      var sel=document.querySelector('select'); sel.value='2'; sel.dispatchEvent(new Event('change'));
      r.status=document.getElementById('ma-status').textContent;
    """
    r = _run(tmp_path, to_html(grid, image=image, maps=maps), probe)
    assert r["map"] == "1"  # CLS attention by default
    assert r["query"] == str(1 + 1 * 4 + 2) and r["changed"]  # row 1, col 2 after the CLS prefix
    assert r["query_keys"] == str(1 + 2 * 4 + 3)
    assert r["status"] == "rollout " + XSS_IMG


def test_graph_view_lists_incoming_edges(tmp_path):
    rng = np.random.default_rng(2)
    n_nodes = 8
    sources, targets = np.nonzero((rng.random((n_nodes, n_nodes)) < 0.4) & ~np.eye(n_nodes, dtype=bool))
    edges = np.concatenate([np.stack([sources, targets]), np.tile(np.arange(n_nodes), (2, 1))], axis=1)
    values = rng.random((2, 2, edges.shape[1])).astype(np.float32)
    labels = [f"n{i}" for i in range(n_nodes - 1)] + [XSS_IMG]
    grid = AttentionGrid(values, NodeAxis(range(n_nodes), labels=labels), edge_index=edges,
                         normalize=True)
    node = int(np.bincount(edges[1]).argmax())
    probe = f"""
      var n=document.querySelector("circle[data-index='{node}']");
      r.before=document.querySelectorAll('#ma-list li').length;
      n.dispatchEvent(new MouseEvent('mouseenter'));
      r.items=[].map.call(document.querySelectorAll('#ma-list li'),function(li){{return li.textContent}});
      r.bright=[].filter.call(document.querySelectorAll('#ma-graph line'),
        function(l){{return l.style.opacity==='1'}}).length;
      r.text=[].map.call(document.querySelectorAll('#ma-graph text'),function(t){{return t.textContent}});
    """
    r = _run(tmp_path, to_html(grid), probe)
    incoming = np.flatnonzero(edges[1] == node)
    weights = grid.values[-1].mean(axis=0)[incoming]
    strongest = edges[0, incoming[np.argmax(weights)]]
    assert r["before"] == 0 and len(r["items"]) == len(incoming)
    assert r["bright"] == len(incoming) - 1  # the self-loop is listed, not drawn
    prefix = "(self) " if strongest == node else ""
    assert r["items"][0].startswith(f"{prefix}{labels[strongest]}: ")
    # uint8 per (layer, head) relative to its largest weight, shown with 3 decimals
    assert abs(float(r["items"][0].rsplit(": ", 1)[1]) - weights.max()) <= 1 / 255 + 5e-4
    assert r["text"] == labels


def test_deflated_view_inflates_and_states_the_kept_mass(tmp_path):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((2, 4, 96, 96)) * 3
    values = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    grid = AttentionGrid(values.astype(np.float32), TokenAxis([f"t{i}" for i in range(96)]), check_rows=False)
    page = to_html(grid, max_bytes=30_000)  # dense rows need 93 kB: adaptive rows, deflated
    assert _payload_mode(page) == "mass"
    probe = _INK + """
      function done(){
        var c=document.querySelector('#head-view canvas');
        r.notes=[].map.call(document.querySelectorAll('.ma-note'),function(n){return n.textContent});
        r.ink=ink(c);
        var t=document.querySelector(".ma-left .ma-tok[data-index='5']");
        t.dispatchEvent(new MouseEvent('mouseenter'));
        r.status=document.getElementById('ma-status').textContent;
        r.ready=document.documentElement.getAttribute('data-ready-ms');
        r.errors=window.__errors;
        document.documentElement.setAttribute('data-probe',JSON.stringify(r));
      }
      var r={}; r.sync_ready=document.documentElement.getAttribute('data-ready-ms');
      (function wait(){document.documentElement.getAttribute('data-ready-ms')?done():setTimeout(wait,10)})();
    """
    path = tmp_path / "mass.html"
    path.write_text(page.replace("<head>", "<head>" + _ERROR_HOOK, 1), encoding="utf-8")
    dom = run_chromium(path, dump_dom=True, probe=probe, virtual_time_ms=5000)
    match = re.search(r'data-probe="([^"]*)"', dom)
    assert match, dom[:500]
    r = json.loads(html.unescape(match.group(1)))
    assert r["sync_ready"] is None and r["ready"] is not None and r["errors"] == []  # drawn after inflating
    statement = "Each row keeps its largest keys until it holds \u2265 90 % of its attention mass"
    kept = [n for n in r["notes"] if n.startswith(statement)]
    assert len(kept) == 1 and "kept mass per row min 0.9" in kept[0], r["notes"]
    assert r["ink"] > 0 and "mass not stored in this row" in r["status"]


def _payload_mode(page: str) -> str:
    text = re.search(r'id="multiattn-data">(.*?)</script>', page, re.S).group(1)
    return json.loads(text)["weights"]["mode"]
