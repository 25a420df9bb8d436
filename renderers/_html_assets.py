# ruff: noqa: E501  (embedded JavaScript/CSS, not Python)
"""Inline CSS and JavaScript of the interactive HTML views (no CDN, no network).

The script reads one JSON block (``<script type="application/json">``) and
builds every element with ``createElement`` / ``textContent``: no token, label
or caption ever goes through ``innerHTML``.  When the view has been drawn and laid
out it sets ``data-ready-ms`` (milliseconds since navigation start) on ``<html>``;
canvases use CPU rendering (``willReadFrequently``) so their drawing is included.
"""

from __future__ import annotations

__all__ = ["CSS", "SCRIPT"]

CSS = """
[hidden]{display:none !important}
body{font:13px/1.35 system-ui,sans-serif;margin:12px;color:#222;background:#fff}
h1{font-size:16px;margin:0 0 6px}
.ma-controls{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start;margin:6px 0}
.ma-controls label{display:flex;flex-direction:column;font-size:12px;color:#444}
.ma-note{font-size:12px;color:#555;margin:4px 0;max-width:900px}
.ma-tabs button{font:inherit;padding:3px 10px;margin-right:4px}
.ma-tabs button[aria-selected=true]{font-weight:bold;border:2px solid #333}
.ma-head{display:flex;align-items:flex-start}
.ma-col{display:flex;flex-direction:column}
.ma-tok{height:var(--row);line-height:var(--row);padding:0 4px;white-space:pre;cursor:default;
  border-radius:2px;font-family:ui-monospace,monospace;font-size:12px;max-width:180px;
  overflow:hidden;text-overflow:ellipsis}
.ma-col.ma-left .ma-tok{text-align:right}
.ma-tok.ma-special{color:#888}
.ma-tok.ma-focus{outline:2px solid #d62728}
.ma-tok:focus{outline:2px solid #1f77b4}
.ma-grid{display:grid;gap:3px;align-items:center}
.ma-grid button{padding:0;border:1px solid #ccc;background:#fff;line-height:0}
.ma-grid button:focus,.ma-grid button:hover{border-color:#d62728}
.ma-grid span{font-size:11px;color:#444;text-align:center}
.ma-bar{display:flex;align-items:center;gap:6px;font-size:12px;margin:4px 0}
.ma-bar canvas{border:1px solid #999}
.ma-panel{font-size:12px;margin-left:14px;min-width:220px}
.ma-panel li{font-family:ui-monospace,monospace}
canvas.ma-image{image-rendering:auto;cursor:crosshair}
canvas:focus,svg circle:focus{outline:2px solid #1f77b4}
.ma-edge{stroke:#bbb}
.ma-audio{position:relative}
.ma-words{position:relative;height:22px;border-bottom:1px solid #ccc}
.ma-word{position:absolute;top:2px;height:18px;line-height:18px;font-size:11px;overflow:hidden;white-space:pre;
  text-overflow:clip;background:#eef;border:1px solid #99b;border-radius:2px;padding:0 2px;cursor:pointer;box-sizing:border-box}
.ma-word.ma-focus,.ma-tok.ma-focus{outline:2px solid #d62728}
.ma-word:focus{outline:2px solid #1f77b4}
.ma-toks{display:flex;flex-wrap:wrap;gap:2px;max-width:900px;margin:6px 0}
.ma-toks .ma-tok{border:1px solid #ddd;cursor:pointer}
.ma-player{display:flex;align-items:center;gap:8px;margin:6px 0}
"""

SCRIPT = r"""
(function () {
"use strict";
var D = JSON.parse(document.getElementById("multiattn-data").textContent);
var root = document.getElementById("multiattn-root");

function el(tag, attrs, text) {
  var e = document.createElement(tag);
  if (attrs) { for (var k in attrs) { e.setAttribute(k, attrs[k]); } }
  if (text !== undefined && text !== null) { e.textContent = String(text); }
  return e;
}
function svgEl(tag, attrs) {
  var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (var k in attrs) { e.setAttribute(k, attrs[k]); }
  return e;
}
function bytes(b64) {
  var bin = atob(b64), out = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
  return out;
}
function typed(b64, Type) { var u = bytes(b64); return new Type(u.buffer, 0, u.length / Type.BYTES_PER_ELEMENT); }
var LUT = bytes(D.lut);
function cmap(t, alpha) {
  var i = Math.max(0, Math.min(255, Math.round(t * 255))) * 3;
  return "rgba(" + LUT[i] + "," + LUT[i + 1] + "," + LUT[i + 2] + "," + (alpha === undefined ? 1 : alpha) + ")";
}
function fmt(x) { return x >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(1); }
function select(label, options, multiple) {
  var wrap = el("label", null, label), s = el("select", multiple ? {multiple: "", size: Math.min(options.length, 6)} : null);
  options.forEach(function (o, i) { var opt = el("option", {value: String(i)}, o); s.appendChild(opt); });
  wrap.appendChild(s);
  return {wrap: wrap, sel: s};
}
function colorbar(label, vmax) {
  var bar = el("div", {"class": "ma-bar"}), c = el("canvas", {width: 160, height: 12});
  var ctx = c.getContext("2d");
  for (var x = 0; x < 160; x++) { ctx.fillStyle = cmap(x / 159); ctx.fillRect(x, 0, 1, 12); }
  bar.appendChild(el("span", null, "0")); bar.appendChild(c);
  var hi = el("span", null, fmt(vmax)); bar.appendChild(hi);
  var box = el("div", null); box.appendChild(bar);
  if (label) { box.appendChild(el("div", {"class": "ma-note"}, label)); }
  return {node: box, hi: hi};
}

// ---- weights: dense uint8 rows or top-k per row, each row scaled to its max
function Weights(W) {
  this.mode = W.mode; this.K = W.K; this.k = W.k;
  this.q = bytes(W.q); this.scale = typed(W.scale, Float32Array);
  this.dropped = W.dropped ? bytes(W.dropped) : null;
  if (W.idx) { this.idx = W.idx_bytes === 2 ? typed(W.idx, Uint16Array) : typed(W.idx, Uint32Array); }
}
Weights.prototype.each = function (r, fn) {
  var s = this.scale[r] / 255, n = this.mode === "dense" ? this.K : this.k, base = r * n, i;
  if (this.mode === "dense") { for (i = 0; i < n; i++) { if (this.q[base + i]) { fn(i, this.q[base + i] * s); } } }
  else { for (i = 0; i < n; i++) { if (this.q[base + i]) { fn(this.idx[base + i], this.q[base + i] * s); } } }
};
Weights.prototype.row = function (r) {
  var out = new Float32Array(this.K); this.each(r, function (j, w) { out[j] = w; }); return out;
};
Weights.prototype.droppedMass = function (r) { return this.dropped ? this.dropped[r] / 255 : 0; };

function header(extra) {
  root.appendChild(el("h1", null, D.title));
  D.notes.forEach(function (n) { root.appendChild(el("p", {"class": "ma-note"}, n)); });
  var controls = el("div", {"class": "ma-controls"});
  root.appendChild(controls);
  return controls;
}

// ---------------------------------------------------------------- text view
function textView() {
  var W = new Weights(D.weights), L = D.layers.length, H = D.heads.length;
  var Q = D.query.length, K = D.key.length, MAX_LINES = 3000, cut = 0;
  var ROW = Math.max(Q, K) > 1500 ? 14 : 18;  // canvases stop working above 32 767 px
  var controls = header();
  var tabs = el("div", {"class": "ma-tabs", role: "tablist"});
  var tHead = el("button", {role: "tab", "aria-selected": "true", id: "tab-head"}, "Head view");
  var tModel = el("button", {role: "tab", "aria-selected": "false", id: "tab-model"}, "Model view");
  tabs.appendChild(tHead); tabs.appendChild(tModel); controls.appendChild(tabs);
  var layerSel = select("layer", D.layers, false);
  var headSel = select("heads (several: ctrl/shift)", D.heads, true);
  controls.appendChild(layerSel.wrap); controls.appendChild(headSel.wrap);
  Array.prototype.forEach.call(headSel.sel.options, function (o, i) {
    o.selected = i < D.default_heads; o.style.color = D.palette[i % D.palette.length];
  });
  var status = el("p", {"class": "ma-note", id: "ma-status"}, "Hover or focus (Tab) a token to see only its attention; Esc clears.");
  root.appendChild(status);
  var bar = colorbar("token shading: mean weight of the focused token over the selected heads", 1);
  root.appendChild(bar.node);
  var headPane = el("div", {"class": "ma-head", id: "head-view"});
  var modelPane = el("div", {id: "model-view", hidden: ""});
  root.appendChild(headPane); root.appendChild(modelPane);
  headPane.style.setProperty("--row", ROW + "px");
  var left = el("div", {"class": "ma-col ma-left"}), right = el("div", {"class": "ma-col ma-right"});
  var width = 260, canvas = el("canvas", {width: width, height: Math.max(Q, K) * ROW});
  headPane.appendChild(left); headPane.appendChild(canvas); headPane.appendChild(right);
  function tokens(col, axis, side) {
    return axis.map(function (t, i) {
      var n = el("div", {"class": "ma-tok" + (axis === D.query ? (D.query_special[i] ? " ma-special" : "") : (D.key_special[i] ? " ma-special" : "")),
                         tabindex: "0", "data-side": side, "data-index": String(i), title: t}, t);
      col.appendChild(n); return n;
    });
  }
  var leftToks = tokens(left, D.query, "q"), rightToks = tokens(right, D.key, "k");
  var focus = null;
  function heads() { var h = []; Array.prototype.forEach.call(headSel.sel.options, function (o, i) { if (o.selected) { h.push(i); } }); return h; }
  function rowIndex(l, h, q) { return (l * H + h) * Q + q; }
  function draw() {
    var ctx = canvas.getContext("2d", {willReadFrequently: true}), l = +layerSel.sel.value, hs = heads();
    ctx.clearRect(0, 0, canvas.width, canvas.height); ctx.lineWidth = 1;
    var shade = new Float32Array(focus && focus.side === "q" ? K : Q), drop = 0;
    var segs = [];  // [head, query, key, weight] of the lines to draw
    hs.forEach(function (h) {
      var q0 = 0, q1 = Q;
      if (focus && focus.side === "q") { q0 = focus.i; q1 = focus.i + 1; }
      for (var q = q0; q < q1; q++) {
        var r = rowIndex(l, h, q);
        if (focus && focus.side === "q") { drop += W.droppedMass(r) / hs.length; }
        W.each(r, function (j, w) {
          if (focus && focus.side === "k" && j !== focus.i) { return; }
          if (focus) { shade[focus.side === "q" ? j : q] += w / hs.length; }
          if (w >= 0.01) { segs.push([h, q, j, w]); }
        });
      }
    });
    // rasterising long lines is the slow part: keep the MAX_LINES strongest, say so
    var shown = segs.length;
    if (segs.length > MAX_LINES) { segs.sort(function (a, b) { return b[3] - a[3]; }); segs.length = MAX_LINES; }
    cut = shown > MAX_LINES ? segs[MAX_LINES - 1][3] : 0;
    segs.forEach(function (s) {
      ctx.strokeStyle = D.palette[s[0] % D.palette.length]; ctx.globalAlpha = Math.min(1, s[3]);
      ctx.beginPath(); ctx.moveTo(0, s[1] * ROW + ROW / 2); ctx.lineTo(width, s[2] * ROW + ROW / 2); ctx.stroke();
    });
    ctx.globalAlpha = 1;
    leftToks.concat(rightToks).forEach(function (n) { n.style.background = ""; n.style.color = ""; n.classList.remove("ma-focus"); });
    var hint = "Hover or focus (Tab) a token to see only its attention; Esc clears.";
    if (cut > 0) { hint += " Showing the " + MAX_LINES + " strongest lines (weight >= " + fmt(cut) + ")."; }
    if (!focus) { status.textContent = hint; return; }
    var own = focus.side === "q" ? leftToks : rightToks, other = focus.side === "q" ? rightToks : leftToks;
    own[focus.i].classList.add("ma-focus");
    var mx = 0; shade.forEach(function (v) { mx = Math.max(mx, v); });
    other.forEach(function (n, j) { if (shade[j] > 0) { n.style.background = cmap(shade[j] / (mx || 1), 0.85); n.style.color = shade[j] / (mx || 1) > 0.55 ? "#000" : "#fff"; } });
    bar.hi.textContent = fmt(mx);
    var label = focus.side === "q" ? D.query[focus.i] : D.key[focus.i];
    status.textContent = (focus.side === "q" ? "Query " : "Key ") + JSON.stringify(label) + ": shading = mean weight over the selected heads, max " + fmt(mx) +
      (focus.side === "q" && W.mode === "topk" ? "; mass dropped by top-k in this row " + fmt(drop) : "");
  }
  function setFocus(side, i) { focus = side === null ? null : {side: side, i: i}; draw(); }
  [leftToks, rightToks].forEach(function (toks) {
    toks.forEach(function (n) {
      var side = n.getAttribute("data-side"), i = +n.getAttribute("data-index");
      n.addEventListener("mouseenter", function () { setFocus(side, i); });
      n.addEventListener("focus", function () { setFocus(side, i); });
      n.addEventListener("mouseleave", function () { if (document.activeElement !== n) { setFocus(null); } });
      n.addEventListener("blur", function () { setFocus(null); });
    });
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") { if (document.activeElement) { document.activeElement.blur(); } setFocus(null); } });
  layerSel.sel.addEventListener("change", draw); headSel.sel.addEventListener("change", draw);

  // model view: layer x head thumbnails, each scaled to its own max
  var built = false, BIN = 48;
  function buildModel() {
    built = true;
    var bq = Math.min(Q, BIN), bk = Math.min(K, BIN);
    var grid = el("div", {"class": "ma-grid"}); grid.style.gridTemplateColumns = "auto repeat(" + H + ", auto)";
    grid.appendChild(el("span", null, ""));
    D.heads.forEach(function (h) { grid.appendChild(el("span", null, "head " + h)); });
    for (var l = 0; l < L; l++) {
      grid.appendChild(el("span", null, D.layers[l]));
      for (var h = 0; h < H; h++) {
        var img = new Float32Array(bq * bk), mx = 0;
        for (var q = 0; q < Q; q++) {
          var bi = Math.floor(q * bq / Q) * bk;
          W.each(rowIndex(l, h, q), function (j, w) { img[bi + Math.floor(j * bk / K)] += w; });
        }
        img.forEach(function (v) { mx = Math.max(mx, v); });
        var c = el("canvas", {width: bk, height: bq}), ctx = c.getContext("2d"), data = ctx.createImageData(bk, bq);
        for (var p = 0; p < bq * bk; p++) {
          var t = Math.round(255 * img[p] / (mx || 1)) * 3;
          data.data[4 * p] = LUT[t]; data.data[4 * p + 1] = LUT[t + 1]; data.data[4 * p + 2] = LUT[t + 2]; data.data[4 * p + 3] = 255;
        }
        ctx.putImageData(data, 0, 0); c.style.width = "56px"; c.style.height = "56px"; c.style.imageRendering = "pixelated";
        var b = el("button", {"aria-label": "open layer " + D.layers[l] + " head " + D.heads[h], "data-layer": String(l), "data-head": String(h)});
        b.appendChild(c); grid.appendChild(b);
        b.addEventListener("click", (function (l2, h2) { return function () { openHead(l2, h2); }; })(l, h));
      }
    }
    modelPane.appendChild(el("p", {"class": "ma-note"}, "Rows = queries, columns = keys (binned to at most " + BIN + "x" + BIN +
      "); each thumbnail scaled to its own max (viridis). Click or press Enter on one to open it in the head view."));
    modelPane.appendChild(grid);
  }
  function showTab(model) {
    if (model && !built) { buildModel(); }
    modelPane.hidden = !model; headPane.hidden = model; bar.node.hidden = model; status.hidden = model;
    tModel.setAttribute("aria-selected", String(model)); tHead.setAttribute("aria-selected", String(!model));
  }
  function openHead(l, h) {
    layerSel.sel.value = String(l);
    Array.prototype.forEach.call(headSel.sel.options, function (o, i) { o.selected = i === h; });
    showTab(false); draw();
  }
  tHead.addEventListener("click", function () { showTab(false); });
  tModel.addEventListener("click", function () { showTab(true); });
  draw();
}

// --------------------------------------------------------------- image view
function imageView() {
  var W = new Weights(D.weights), H = D.heads.length, N = D.n_tokens, P = D.n_prefix;
  var R = D.rows, C = D.cols, controls = header();
  var layerSel = select("layer", D.layers, false);
  var headSel = select("head", ["mean of heads"].concat(D.heads), false);
  var sources = ["attention of the hovered / clicked patch"].concat(D.prefix.map(function (p) { return "attention of " + p; }), D.maps.map(function (m) { return m.name; }));
  var mapSel = select("map", sources, false);
  controls.appendChild(mapSel.wrap); controls.appendChild(layerSel.wrap); controls.appendChild(headSel.wrap);
  layerSel.sel.value = String(D.layers.length - 1);
  if (P > 0) { mapSel.sel.value = "1"; }
  var wrap = el("div", {"class": "ma-head"}); root.appendChild(wrap);
  var canvas = el("canvas", {"class": "ma-image", width: D.width, height: D.height, tabindex: "0", id: "ma-image",
    "aria-label": "image with attention overlay; arrow keys move the query patch"});
  wrap.appendChild(canvas);
  var panel = el("div", {"class": "ma-panel"}); wrap.appendChild(panel);
  var bar = colorbar("", 1); panel.appendChild(bar.node);
  var status = el("p", {id: "ma-status"}, ""); panel.appendChild(status);
  var img = new Image(), query = P + Math.floor(R / 2) * C + Math.floor(C / 2), ready = false;
  function current() {
    var s = +mapSel.sel.value;
    if (s > P) { var m = D.maps[s - 1 - P]; return {vals: typed(m.values, Float32Array), name: m.name, own: true}; }
    var q = s === 0 ? query : s - 1, l = +layerSel.sel.value, h = +headSel.sel.value - 1, out = new Float32Array(N);
    var hs = h < 0 ? D.heads.map(function (_, i) { return i; }) : [h];
    hs.forEach(function (hh) { W.each((l * H + hh) * N + q, function (j, w) { out[j] += w / hs.length; }); });
    return {vals: out, name: "query " + D.labels[q] + ", layer " + D.layers[l] + ", " + (h < 0 ? "mean of heads" : "head " + D.heads[h])};
  }
  function draw() {
    var ctx = canvas.getContext("2d"), cur = current(), v = cur.vals, mx = 0, i;
    var own = +mapSel.sel.value > P;
    layerSel.sel.disabled = own; headSel.sel.disabled = own;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (ready) { ctx.drawImage(img, 0, 0, canvas.width, canvas.height); }
    else { ctx.fillStyle = "#777"; ctx.fillRect(0, 0, canvas.width, canvas.height); }
    for (i = P; i < N; i++) { mx = Math.max(mx, v[i]); }
    var cw = canvas.width / C, ch = canvas.height / R, prefixMass = 0;
    for (i = 0; i < P; i++) { prefixMass += v[i]; }
    for (i = 0; i < R * C; i++) {
      var t = v[P + i] / (mx || 1);
      ctx.fillStyle = cmap(t, 0.3 + 0.5 * t);
      ctx.fillRect((i % C) * cw, Math.floor(i / C) * ch, cw, ch);
    }
    if (+mapSel.sel.value === 0) {
      var qi = query - P; ctx.strokeStyle = "#ff2020"; ctx.lineWidth = 2;
      ctx.strokeRect((qi % C) * cw + 1, Math.floor(qi / C) * ch + 1, cw - 2, ch - 2);
    }
    bar.hi.textContent = fmt(mx) + " (map scaled to its max over patches)";
    status.textContent = cur.name + (P && !own ? "; mass on prefix tokens (not drawn) " + fmt(prefixMass) : "");
    canvas.setAttribute("data-query", String(query));
  }
  function patchAt(e) {
    var rect = canvas.getBoundingClientRect();
    var c = Math.floor((e.clientX - rect.left) / rect.width * C), r = Math.floor((e.clientY - rect.top) / rect.height * R);
    return P + Math.max(0, Math.min(R - 1, r)) * C + Math.max(0, Math.min(C - 1, c));
  }
  var pinned = false;
  canvas.addEventListener("mousemove", function (e) { if (!pinned) { query = patchAt(e); mapSel.sel.value = "0"; draw(); } });
  canvas.addEventListener("click", function (e) { pinned = !pinned; query = patchAt(e); mapSel.sel.value = "0"; draw(); });
  canvas.addEventListener("keydown", function (e) {
    var qi = query - P, r = Math.floor(qi / C), c = qi % C;
    var moves = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
    if (!moves[e.key]) { return; }
    e.preventDefault(); pinned = true; mapSel.sel.value = "0";
    r = Math.max(0, Math.min(R - 1, r + moves[e.key][0])); c = Math.max(0, Math.min(C - 1, c + moves[e.key][1]));
    query = P + r * C + c; draw();
  });
  [layerSel, headSel, mapSel].forEach(function (s) { s.sel.addEventListener("change", draw); });
  if (D.image) { img.onload = function () { ready = true; draw(); }; img.src = "data:image/png;base64," + D.image; }
  draw();
}

// --------------------------------------------------------------- graph view
function graphView() {
  var L = D.layers.length, H = D.heads.length, E = D.n_edges, N = D.labels.length, controls = header();
  var src = typed(D.src, Uint32Array), dst = typed(D.dst, Uint32Array), q = bytes(D.q), scale = typed(D.scale, Float32Array);
  var pos = typed(D.pos, Float32Array);
  var layerSel = select("layer", D.layers, false), headSel = select("head", ["mean of heads"].concat(D.heads), false);
  controls.appendChild(layerSel.wrap); controls.appendChild(headSel.wrap);
  layerSel.sel.value = String(L - 1);
  var wrap = el("div", {"class": "ma-head"}); root.appendChild(wrap);
  var S = D.size, svg = svgEl("svg", {width: S, height: S, viewBox: "0 0 " + S + " " + S, id: "ma-graph", role: "img"});
  wrap.appendChild(svg);
  var panel = el("div", {"class": "ma-panel"}); wrap.appendChild(panel);
  var bar = colorbar("edge colour / width = attention weight", 1); panel.appendChild(bar.node);
  var status = el("p", {id: "ma-status"}, "Hover or focus (Tab) a node to see the attention it receives from its neighbours."); panel.appendChild(status);
  var list = el("ol", {id: "ma-list"}); panel.appendChild(list);
  var gEdges = svgEl("g", {}), gNodes = svgEl("g", {});
  svg.appendChild(gEdges); svg.appendChild(gNodes);
  function xy(i) { return [pos[2 * i] * (S - 45) + 15, pos[2 * i + 1] * (S - 35) + 20]; }  // room for labels
  var lines = [];
  for (var e = 0; e < E; e++) {
    if (src[e] === dst[e]) { lines.push(null); continue; }
    var a = xy(src[e]), b = xy(dst[e]);
    var ln = svgEl("line", {x1: a[0], y1: a[1], x2: b[0], y2: b[1], "class": "ma-edge", "stroke-width": 0.6});
    gEdges.appendChild(ln); lines.push(ln);
  }
  var nodes = D.labels.map(function (lab, i) {
    var p = xy(i), c = svgEl("circle", {cx: p[0], cy: p[1], r: D.radius, tabindex: "0", "data-index": String(i),
      fill: D.groups ? D.palette[D.groups[i] % D.palette.length] : "#888", stroke: "#333", "stroke-width": 0.7});
    var t = svgEl("title", {}); t.textContent = lab; c.appendChild(t);
    gNodes.appendChild(c);
    if (N <= D.max_labels) { var tx = svgEl("text", {x: p[0] + D.radius + 1, y: p[1] - D.radius, "font-size": 10, fill: "#333", "pointer-events": "none"}); tx.textContent = lab; gNodes.appendChild(tx); }
    return c;
  });
  function weights() {
    var l = +layerSel.sel.value, h = +headSel.sel.value - 1, out = new Float32Array(E);
    var hs = h < 0 ? D.heads.map(function (_, i) { return i; }) : [h];
    hs.forEach(function (hh) { var base = (l * H + hh) * E, s = scale[l * H + hh] / 255; for (var e = 0; e < E; e++) { out[e] += q[base + e] * s / hs.length; } });
    return out;
  }
  var focus = null;
  function draw() {
    var w = weights(), mx = 0, e, incoming = [];
    for (e = 0; e < E; e++) { if (focus !== null && dst[e] === focus) { incoming.push(e); mx = Math.max(mx, w[e]); } }
    lines.forEach(function (ln) { if (ln) { ln.setAttribute("class", "ma-edge"); ln.setAttribute("stroke-width", 0.6); ln.style.stroke = ""; ln.style.opacity = focus === null ? 0.6 : 0.15; } });
    nodes.forEach(function (c) { c.setAttribute("r", D.radius); c.setAttribute("stroke", "#333"); });
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (focus === null) { bar.hi.textContent = "1"; status.textContent = "Hover or focus (Tab) a node to see the attention it receives from its neighbours."; return; }
    nodes[focus].setAttribute("r", D.radius * 1.6); nodes[focus].setAttribute("stroke", "#d62728");
    incoming.sort(function (a, b) { return w[b] - w[a]; });
    incoming.forEach(function (e) {
      var ln = lines[e], t = w[e] / (mx || 1);
      if (ln) { ln.style.stroke = cmap(t); ln.style.opacity = 1; ln.setAttribute("stroke-width", 1 + 4 * t); gEdges.appendChild(ln); }
      list.appendChild(el("li", null, (src[e] === dst[e] ? "(self) " : "") + D.labels[src[e]] + ": " + fmt(w[e])));
    });
    bar.hi.textContent = fmt(mx) + " (scaled to this node's largest incoming weight)";
    status.textContent = "Node " + JSON.stringify(D.labels[focus]) + " receives from " + incoming.length + " edges (" +
      (+headSel.sel.value === 0 ? "mean of heads" : "head " + D.heads[+headSel.sel.value - 1]) + ", layer " + D.layers[+layerSel.sel.value] + "):";
  }
  nodes.forEach(function (c, i) {
    c.addEventListener("mouseenter", function () { focus = i; draw(); });
    c.addEventListener("focus", function () { focus = i; draw(); });
    c.addEventListener("blur", function () { focus = null; draw(); });
  });
  [layerSel, headSel].forEach(function (s) { s.sel.addEventListener("change", draw); });
  draw();
}

// ------------------------------------------------------ audio (cross-attention over time)
function audioView() {
  var W = new Weights(D.weights), H = D.heads.length, Q = D.query.length, T = D.n_frames, controls = header();
  var layerSel = select("layer", D.layers, false), headSel = select("head", ["mean of heads"].concat(D.heads), false);
  controls.appendChild(layerSel.wrap); controls.appendChild(headSel.wrap);
  layerSel.sel.value = String(D.layers.length - 1);
  var WIDTH = 900, SPEC = 128, CURVE = 90, px = WIDTH / D.duration;
  var box = el("div", {"class": "ma-audio", id: "ma-audio"}); root.appendChild(box);
  var spec = el("canvas", {width: WIDTH, height: D.spectrogram ? SPEC : 0, id: "ma-spec", "aria-label": "log-mel spectrogram"});
  var words = el("div", {"class": "ma-words", id: "ma-words"}); words.style.width = WIDTH + "px";
  var curve = el("canvas", {width: WIDTH, height: CURVE, id: "ma-curve", "aria-label": "attention over time"});
  box.appendChild(spec); box.appendChild(words); box.appendChild(curve);
  var bar = colorbar("", 1); root.appendChild(bar.node);
  var status = el("p", {"class": "ma-note", id: "ma-status"}, ""); root.appendChild(status);
  var toks = el("div", {"class": "ma-toks", id: "ma-tokens"}); root.appendChild(toks);
  var audio = null;
  if (D.wav) {
    var player = el("div", {"class": "ma-player"}); root.insertBefore(player, box);
    audio = el("audio", {controls: "", id: "ma-player", preload: "auto", src: "data:audio/wav;base64," + D.wav});
    player.appendChild(audio);
  }
  var img = new Image(), ready = false, focus = null, stopAt = null;
  var wordNodes = D.words.map(function (w, i) {
    var n = el("div", {"class": "ma-word", tabindex: "0", "data-index": String(i), title: w.word + " (" + w.start.toFixed(2) + "-" + w.end.toFixed(2) + " s)"}, w.word);
    n.style.left = (w.start * px) + "px"; n.style.width = Math.max(2, (w.end - w.start) * px) + "px";
    words.appendChild(n); return n;
  });
  var tokNodes = D.query.map(function (t, i) {
    var n = el("div", {"class": "ma-tok" + (D.query_special[i] ? " ma-special" : ""), tabindex: "0", "data-index": String(i), title: t}, t);
    toks.appendChild(n); return n;
  });
  function tokensOf(f) {
    if (f.kind === "token") { return [f.i]; }
    var out = []; D.token_word.forEach(function (w, t) { if (w === f.i) { out.push(t); } }); return out;
  }
  function segment(f) {
    var w = f.kind === "word" ? f.i : D.token_word[f.i];
    if (w >= 0) { return [D.words[w].start, D.words[w].end]; }
    return null;
  }
  function drawSpec() {
    var ctx = spec.getContext("2d", {willReadFrequently: true});
    ctx.clearRect(0, 0, spec.width, spec.height);
    if (ready) { ctx.drawImage(img, 0, 0, img.width, img.height, 0, 0, img.width / 100 * px, SPEC); }
    var seg = focus && segment(focus);
    if (seg) { ctx.strokeStyle = "#fff"; ctx.lineWidth = 2; ctx.strokeRect(seg[0] * px, 1, (seg[1] - seg[0]) * px, SPEC - 2); }
  }
  function draw() {
    var ctx = curve.getContext("2d", {willReadFrequently: true}), l = +layerSel.sel.value, h = +headSel.sel.value - 1;
    ctx.clearRect(0, 0, WIDTH, CURVE); ctx.fillStyle = "#f4f4f4"; ctx.fillRect(0, 0, WIDTH, CURVE);
    var step = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30].filter(function (s) { return s * px >= 60; })[0] || 60, s;
    ctx.fillStyle = "#666"; ctx.font = "10px sans-serif";
    for (s = 0; s <= D.duration; s += step) { ctx.fillRect(s * px, 0, 1, 4); ctx.fillText((+s.toFixed(1)) + " s", s * px + 2, 11); }
    wordNodes.concat(tokNodes).forEach(function (n) { n.classList.remove("ma-focus"); });
    drawSpec();
    if (!focus) {
      status.textContent = "Hover or Tab to a token (below) or a word (above the curve): its attention over time. Click or Enter plays the segment.";
      bar.hi.textContent = "1"; curve.setAttribute("data-focus", ""); return;
    }
    var ts = tokensOf(focus), hs = h < 0 ? D.heads.map(function (_, i) { return i; }) : [h], v = new Float32Array(T), mx = 0, i;
    ts.forEach(function (t) { hs.forEach(function (hh) { W.each((l * H + hh) * Q + t, function (j, w) { v[j] += w / (hs.length * ts.length); }); }); });
    for (i = 0; i < T; i++) { mx = Math.max(mx, v[i]); }
    var x0 = D.offset_s * px, dx = D.hop_s * px;
    for (i = 0; i < T; i++) { var t = v[i] / (mx || 1); ctx.fillStyle = cmap(t); ctx.fillRect(x0 + i * dx, CURVE - 12, Math.ceil(dx), 12); }
    ctx.beginPath(); ctx.moveTo(x0, CURVE - 14);
    for (i = 0; i < T; i++) { ctx.lineTo(x0 + (i + 0.5) * dx, CURVE - 14 - (CURVE - 20) * v[i] / (mx || 1)); }
    ctx.lineTo(x0 + T * dx, CURVE - 14); ctx.closePath(); ctx.fillStyle = "rgba(214,39,40,0.35)"; ctx.fill();
    ctx.strokeStyle = "#d62728"; ctx.lineWidth = 1.5; ctx.stroke();
    (focus.kind === "word" ? wordNodes : tokNodes)[focus.i].classList.add("ma-focus");
    ts.forEach(function (t) { tokNodes[t].classList.add("ma-focus"); });
    var w = focus.kind === "word" ? focus.i : D.token_word[focus.i];
    if (w >= 0) { wordNodes[w].classList.add("ma-focus"); }
    var peak = 0; for (i = 0; i < T; i++) { if (v[i] > v[peak]) { peak = i; } }
    bar.hi.textContent = fmt(mx) + " (curve and strip scaled to this maximum over the frames)";
    var name = focus.kind === "word" ? "Word " + JSON.stringify(D.words[focus.i].word) + " (tokens: " + ts.length + ")" : "Token " + JSON.stringify(D.query[focus.i]);
    status.textContent = name + ", layer " + D.layers[l] + ", " + (h < 0 ? "mean of heads" : "head " + D.heads[h]) +
      ": peak at " + (D.offset_s + (peak + 0.5) * D.hop_s).toFixed(2) + " s" + (ts.length ? "" : " (no tokens matched)");
    curve.setAttribute("data-focus", focus.kind + focus.i);
  }
  function play(f) {
    var seg = segment(f);
    if (!seg) {  // no word span: half a second around the attention peak
      var ts = tokensOf(f), v = W.row(((+layerSel.sel.value) * H + Math.max(0, +headSel.sel.value - 1)) * Q + ts[0]), peak = 0;
      for (var i = 0; i < T; i++) { if (v[i] > v[peak]) { peak = i; } }
      var c = D.offset_s + (peak + 0.5) * D.hop_s; seg = [Math.max(0, c - 0.25), c + 0.25];
    }
    if (!audio) { status.textContent += " (no audio embedded)"; return; }
    audio.setAttribute("data-segment", seg[0].toFixed(3) + "-" + seg[1].toFixed(3));
    stopAt = seg[1]; audio.currentTime = seg[0];
    var p = audio.play(); if (p && p.catch) { p.catch(function () { status.textContent += " (playback blocked by the browser: press play)"; }); }
  }
  if (audio) { audio.addEventListener("timeupdate", function () { if (stopAt !== null && audio.currentTime >= stopAt) { audio.pause(); stopAt = null; } }); }
  [["word", wordNodes], ["token", tokNodes]].forEach(function (pair) {
    pair[1].forEach(function (n, i) {
      var f = {kind: pair[0], i: i};
      n.addEventListener("mouseenter", function () { focus = f; draw(); });
      n.addEventListener("focus", function () { focus = f; draw(); });
      n.addEventListener("click", function () { focus = f; draw(); play(f); });
      n.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); play(f); } });
    });
  });
  [layerSel, headSel].forEach(function (s) { s.sel.addEventListener("change", draw); });
  if (D.spectrogram) { img.onload = function () { ready = true; draw(); }; img.src = "data:image/png;base64," + D.spectrogram; }
  draw();
}

// -------------------------------------------------------------------- video
function videoView() {
  var W = new Weights(D.weights), H = D.heads.length, N = D.n_tokens, P = D.n_prefix, R = D.rows, C = D.cols;
  var F = D.n_frames, TT = D.tubelet_t, controls = header();
  var layerSel = select("layer", D.layers, false), headSel = select("head", ["mean of heads"].concat(D.heads), false);
  var mapSel = select("query", ["hovered / clicked patch"].concat(D.prefix), false);
  controls.appendChild(mapSel.wrap); controls.appendChild(layerSel.wrap); controls.appendChild(headSel.wrap);
  layerSel.sel.value = String(D.layers.length - 1);
  if (P > 0) { mapSel.sel.value = "1"; }
  var player = el("div", {"class": "ma-player"}); root.appendChild(player);
  var playBtn = el("button", {id: "ma-play", type: "button"}, "Play");
  var slider = el("input", {type: "range", min: "0", max: String(F - 1), step: "1", value: "0", id: "ma-frame", "aria-label": "frame"});
  var frameLabel = el("span", {id: "ma-frame-label"}, "");
  player.appendChild(playBtn); player.appendChild(slider); player.appendChild(frameLabel);
  var wrap = el("div", {"class": "ma-head"}); root.appendChild(wrap);
  var canvas = el("canvas", {"class": "ma-image", width: D.width, height: D.height, tabindex: "0", id: "ma-video",
    "aria-label": "video frame with attention overlay; arrow keys move the query patch"});
  wrap.appendChild(canvas);
  var panel = el("div", {"class": "ma-panel"}); wrap.appendChild(panel);
  var bar = colorbar("", 1); panel.appendChild(bar.node);
  var status = el("p", {id: "ma-status"}, ""); panel.appendChild(status);
  var imgs = (D.frames || []).map(function (b64) { var im = new Image(); im.onload = function () { draw(); }; im.src = "data:image/jpeg;base64," + b64; return im; });
  var slot0 = Math.floor(F / TT / 2), query = P + slot0 * R * C + Math.floor(R / 2) * C + Math.floor(C / 2), pinned = false, timer = null;
  function frame() { return +slider.value; }
  function values() {
    var s = +mapSel.sel.value, q = s === 0 ? query : s - 1, l = +layerSel.sel.value, h = +headSel.sel.value - 1, out = new Float32Array(N);
    var hs = h < 0 ? D.heads.map(function (_, i) { return i; }) : [h];
    hs.forEach(function (hh) { W.each((l * H + hh) * N + q, function (j, w) { out[j] += w / hs.length; }); });
    return {vals: out, q: q, l: l, h: h};
  }
  function draw() {
    var ctx = canvas.getContext("2d", {willReadFrequently: true}), f = frame(), slot = Math.floor(f / TT), cur = values(), v = cur.vals, mx = 0, i, mass = 0;
    var im = imgs[f];
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (im && im.complete && im.naturalWidth) { ctx.drawImage(im, 0, 0, canvas.width, canvas.height); }
    else { ctx.fillStyle = "#777"; ctx.fillRect(0, 0, canvas.width, canvas.height); }
    for (i = P; i < N; i++) { mx = Math.max(mx, v[i]); }
    var cw = canvas.width / C, ch = canvas.height / R, base = P + slot * R * C;
    for (i = 0; i < R * C; i++) {
      var t = v[base + i] / (mx || 1); mass += v[base + i];
      ctx.fillStyle = cmap(t, 0.25 + 0.5 * t); ctx.fillRect((i % C) * cw, Math.floor(i / C) * ch, cw, ch);
    }
    var qslot = cur.q >= P ? Math.floor((cur.q - P) / (R * C)) : -1;
    if (qslot >= 0) {
      var qi = (cur.q - P) % (R * C); ctx.strokeStyle = "#ff2020"; ctx.lineWidth = 2;
      ctx.setLineDash(qslot === slot ? [] : [4, 3]);
      ctx.strokeRect((qi % C) * cw + 1, Math.floor(qi / C) * ch + 1, cw - 2, ch - 2); ctx.setLineDash([]);
    }
    frameLabel.textContent = "frame " + (f + 1) + " / " + F + " (" + (f / D.fps).toFixed(2) + " s, time step " + slot + ")";
    bar.hi.textContent = fmt(mx) + " (scaled to the max over all space-time patches)";
    var qname = cur.q < P ? D.prefix[cur.q] : "patch " + D.labels[cur.q] + (qslot === slot ? "" : " (dashed: another time step)");
    status.textContent = "Query " + qname + ", layer " + D.layers[cur.l] + ", " + (cur.h < 0 ? "mean of heads" : "head " + D.heads[cur.h]) +
      "; attention mass on this time step " + fmt(mass);
    canvas.setAttribute("data-query", String(cur.q)); canvas.setAttribute("data-frame", String(f));
  }
  function patchAt(e) {
    var rect = canvas.getBoundingClientRect();
    var c = Math.floor((e.clientX - rect.left) / rect.width * C), r = Math.floor((e.clientY - rect.top) / rect.height * R);
    return P + Math.floor(frame() / TT) * R * C + Math.max(0, Math.min(R - 1, r)) * C + Math.max(0, Math.min(C - 1, c));
  }
  function stop() { if (timer !== null) { clearInterval(timer); timer = null; } playBtn.textContent = "Play"; }
  playBtn.addEventListener("click", function () {
    if (timer !== null) { stop(); return; }
    playBtn.textContent = "Pause";
    timer = setInterval(function () { slider.value = String((frame() + 1) % F); draw(); }, 1000 / Math.min(D.fps, 30));
  });
  slider.addEventListener("input", draw);
  canvas.addEventListener("mousemove", function (e) { if (!pinned) { query = patchAt(e); mapSel.sel.value = "0"; draw(); } });
  canvas.addEventListener("click", function (e) { pinned = !pinned; query = patchAt(e); mapSel.sel.value = "0"; draw(); });
  canvas.addEventListener("keydown", function (e) {
    var moves = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
    if (!moves[e.key]) { return; }
    e.preventDefault(); pinned = true; mapSel.sel.value = "0";
    var qi = (query - P) % (R * C), r = Math.floor(qi / C) + moves[e.key][0], c = qi % C + moves[e.key][1];
    query = P + Math.floor(frame() / TT) * R * C + Math.max(0, Math.min(R - 1, r)) * C + Math.max(0, Math.min(C - 1, c)); draw();
  });
  [layerSel, headSel, mapSel].forEach(function (s) { s.sel.addEventListener("change", draw); });
  draw();
}

({text: textView, image: imageView, graph: graphView, audio: audioView, video: videoView})[D.view]();
void root.getBoundingClientRect().height;  // force style and layout: "ready" includes them
document.documentElement.setAttribute("data-ready-ms", String(Math.round(performance.now())));
})();
"""
