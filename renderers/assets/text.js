/*
 * multiattn HTML views: the token view (head view + model view), MultiattnViews.text.
 */
(function (root) {
  "use strict";
  var core = root.MultiattnCore, dom = root.MultiattnDom, el = dom.el, fmt = core.fmt;
  var MAX_LINES = 3000, BIN = 48, WIDTH = 260;
  var HINT = "Hover or focus (Tab) a token to see only its attention; Esc clears.";

  function tokenColumn(col, labels, special, side) {
    return labels.map(function (t, i) {
      var n = el("div", {"class": "ma-tok" + (special[i] ? " ma-special" : ""), tabindex: "0",
                         "data-side": side, "data-index": String(i), title: t}, t);
      col.appendChild(n);
      return n;
    });
  }

  function tabs(controls) {
    var bar = el("div", {"class": "ma-tabs", role: "tablist"});
    var head = el("button", {role: "tab", "aria-selected": "true", id: "tab-head"}, "Head view");
    var model = el("button", {role: "tab", "aria-selected": "false", id: "tab-model"}, "Model view");
    bar.appendChild(head); bar.appendChild(model); controls.appendChild(bar);
    return {head: head, model: model};
  }

  /** Lines [head, query, key, weight] to draw and the shading of the other column. */
  function collect(W, D, layer, hs, focus) {
    var H = D.heads.length, Q = D.query.length, K = D.key.length, onQuery = focus && focus.side === "q";
    var shade = new Float32Array(onQuery ? K : Q), drop = 0, segs = [];
    hs.forEach(function (h) {
      var q0 = onQuery ? focus.i : 0, q1 = onQuery ? focus.i + 1 : Q;
      for (var q = q0; q < q1; q++) {
        var r = core.rowIndex(layer, h, q, H, Q);
        if (onQuery) { drop += W.droppedMass(r) / hs.length; }
        W.each(r, function (j, w) {
          if (focus && focus.side === "k" && j !== focus.i) { return; }
          if (focus) { shade[onQuery ? j : q] += w / hs.length; }
          if (w >= 0.01) { segs.push([h, q, j, w]); }
        });
      }
    });
    return {shade: shade, drop: drop, segs: segs};
  }

  function strokeLines(canvas, segs, palette, row) {
    var ctx = canvas.getContext("2d", {willReadFrequently: true});
    ctx.clearRect(0, 0, canvas.width, canvas.height); ctx.lineWidth = 1;
    segs.forEach(function (s) {
      ctx.strokeStyle = palette[s[0] % palette.length]; ctx.globalAlpha = Math.min(1, s[3]);
      ctx.beginPath(); ctx.moveTo(0, s[1] * row + row / 2); ctx.lineTo(WIDTH, s[2] * row + row / 2); ctx.stroke();
    });
    ctx.globalAlpha = 1;
  }

  function modelGrid(W, D, colourLut, openHead) {
    var L = D.layers.length, H = D.heads.length, Q = D.query.length, K = D.key.length;
    var grid = el("div", {"class": "ma-grid"});
    grid.style.gridTemplateColumns = "auto repeat(" + H + ", auto)";
    grid.appendChild(el("span", null, ""));
    D.heads.forEach(function (h) { grid.appendChild(el("span", null, "head " + h)); });
    for (var l = 0; l < L; l++) {
      grid.appendChild(el("span", null, D.layers[l]));
      for (var h = 0; h < H; h++) {
        var th = core.thumbnail(W, l, h, H, Q, K, BIN), c = el("canvas", {width: th.bk, height: th.bq});
        dom.paintLut(c.getContext("2d"), th.img, th.bk, th.bq, colourLut, th.max);
        c.style.width = "56px"; c.style.height = "56px"; c.style.imageRendering = "pixelated";
        var b = el("button", {"aria-label": "open layer " + D.layers[l] + " head " + D.heads[h],
                              "data-layer": String(l), "data-head": String(h)});
        b.appendChild(c); grid.appendChild(b);
        b.addEventListener("click", openHead.bind(null, l, h));
      }
    }
    return grid;
  }

  function textView(D, mount) {
    var W = new core.Weights(D.weights), lut = core.bytes(D.lut), cmap = core.colourScale(lut);
    var Q = D.query.length, K = D.key.length;
    var ROW = Math.max(Q, K) > 1500 ? 14 : 18;  // canvases stop working above 32 767 px
    var controls = dom.header(mount, D), tab = tabs(controls);
    var layerSel = dom.select("layer", D.layers, false);
    var headSel = dom.select("heads (several: ctrl/shift)", D.heads, true);
    controls.appendChild(layerSel.wrap); controls.appendChild(headSel.wrap);
    Array.prototype.forEach.call(headSel.sel.options, function (o, i) {
      o.selected = i < D.default_heads; o.style.color = D.palette[i % D.palette.length];
    });
    var status = el("p", {"class": "ma-note", id: "ma-status"}, HINT);
    mount.appendChild(status);
    var bar = dom.colorbar("token shading: mean weight of the focused token over the selected heads", 1, cmap, fmt);
    mount.appendChild(bar.node);
    var headPane = el("div", {"class": "ma-head", id: "head-view"});
    var modelPane = el("div", {id: "model-view", hidden: ""});
    mount.appendChild(headPane); mount.appendChild(modelPane);
    headPane.style.setProperty("--row", ROW + "px");
    var left = el("div", {"class": "ma-col ma-left"}), right = el("div", {"class": "ma-col ma-right"});
    var canvas = el("canvas", {width: WIDTH, height: Math.max(Q, K) * ROW});
    headPane.appendChild(left); headPane.appendChild(canvas); headPane.appendChild(right);
    var leftToks = tokenColumn(left, D.query, D.query_special, "q");
    var rightToks = tokenColumn(right, D.key, D.key_special, "k");
    var focus = null;

    function shadeTokens(nodes, shade) {
      var mx = core.maxOf(shade);
      nodes.forEach(function (n, j) {
        if (shade[j] > 0) {
          var t = shade[j] / (mx || 1);
          n.style.background = cmap(t, 0.85); n.style.color = t > 0.55 ? "#000" : "#fff";
        }
      });
      return mx;
    }
    function draw() {
      var hs = dom.selected(headSel.sel), got = collect(W, D, +layerSel.sel.value, hs, focus);
      var kept = core.strongest(got.segs, MAX_LINES);  // rasterising long lines is the slow part
      strokeLines(canvas, kept.segs, D.palette, ROW);
      leftToks.concat(rightToks).forEach(function (n) {
        n.style.background = ""; n.style.color = ""; n.classList.remove("ma-focus");
      });
      var hint = HINT;
      if (kept.cut > 0) { hint += " Showing the " + MAX_LINES + " strongest lines (weight >= " + fmt(kept.cut) + ")."; }
      if (!focus) { status.textContent = hint; return; }
      var onQuery = focus.side === "q";
      (onQuery ? leftToks : rightToks)[focus.i].classList.add("ma-focus");
      var mx = shadeTokens(onQuery ? rightToks : leftToks, got.shade);
      bar.hi.textContent = fmt(mx);
      var label = onQuery ? D.query[focus.i] : D.key[focus.i];
      status.textContent = (onQuery ? "Query " : "Key ") + JSON.stringify(label) +
        ": shading = mean weight over the selected heads, max " + fmt(mx) +
        (onQuery && W.dropped ? "; mass not stored in this row " + fmt(got.drop) : "");
    }
    function setFocus(side, i) { focus = side === null ? null : {side: side, i: i}; draw(); }
    leftToks.concat(rightToks).forEach(function (n) {
      var side = n.getAttribute("data-side"), i = +n.getAttribute("data-index");
      n.addEventListener("mouseenter", function () { setFocus(side, i); });
      n.addEventListener("focus", function () { setFocus(side, i); });
      n.addEventListener("mouseleave", function () { if (document.activeElement !== n) { setFocus(null); } });
      n.addEventListener("blur", function () { setFocus(null); });
    });
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") { return; }
      if (document.activeElement) { document.activeElement.blur(); }
      setFocus(null);
    });
    layerSel.sel.addEventListener("change", draw); headSel.sel.addEventListener("change", draw);

    // model view: layer x head thumbnails, each scaled to its own max, built on first use
    var built = false;
    function showTab(model) {
      if (model && !built) {
        built = true;
        modelPane.appendChild(el("p", {"class": "ma-note"}, "Rows = queries, columns = keys (binned to at most " +
          BIN + "x" + BIN + "); each thumbnail scaled to its own max (viridis). Click or press Enter on one " +
          "to open it in the head view."));
        modelPane.appendChild(modelGrid(W, D, lut, openHead));
      }
      modelPane.hidden = !model; headPane.hidden = model; bar.node.hidden = model; status.hidden = model;
      tab.model.setAttribute("aria-selected", String(model)); tab.head.setAttribute("aria-selected", String(!model));
    }
    function openHead(l, h) {
      layerSel.sel.value = String(l);
      Array.prototype.forEach.call(headSel.sel.options, function (o, i) { o.selected = i === h; });
      showTab(false); draw();
    }
    tab.head.addEventListener("click", function () { showTab(false); });
    tab.model.addEventListener("click", function () { showTab(true); });
    draw();
  }

  root.MultiattnViews = root.MultiattnViews || {};
  root.MultiattnViews.text = textView;
})(this);
