/*
 * multiattn HTML views: the graph view (attention on the edges of a graph), MultiattnViews.graph.
 */
(function (root) {
  "use strict";
  var core = root.MultiattnCore, dom = root.MultiattnDom, el = dom.el, svgEl = dom.svgEl, fmt = core.fmt;
  var HINT = "Hover or focus (Tab) a node to see the attention it receives from its neighbours.";

  function drawNodes(D, gNodes, xy) {
    var N = D.labels.length;
    return D.labels.map(function (lab, i) {
      var p = xy(i), c = svgEl("circle", {cx: p[0], cy: p[1], r: D.radius, tabindex: "0", "data-index": String(i),
        fill: D.groups ? D.palette[D.groups[i] % D.palette.length] : "#888", stroke: "#333", "stroke-width": 0.7});
      var t = svgEl("title", {}); t.textContent = lab; c.appendChild(t);
      gNodes.appendChild(c);
      if (N <= D.max_labels) {
        var tx = svgEl("text", {x: p[0] + D.radius + 1, y: p[1] - D.radius, "font-size": 10, fill: "#333",
                                "pointer-events": "none"});
        tx.textContent = lab; gNodes.appendChild(tx);
      }
      return c;
    });
  }

  function drawEdges(src, dst, gEdges, xy) {
    var lines = [];
    for (var e = 0; e < src.length; e++) {
      if (src[e] === dst[e]) { lines.push(null); continue; }  // self-loops are listed, not drawn
      var a = xy(src[e]), b = xy(dst[e]);
      var ln = svgEl("line", {x1: a[0], y1: a[1], x2: b[0], y2: b[1], "class": "ma-edge", "stroke-width": 0.6});
      gEdges.appendChild(ln); lines.push(ln);
    }
    return lines;
  }

  function graphView(D, mount) {
    var cmap = core.colourScale(core.bytes(D.lut)), H = D.heads.length, E = D.n_edges, controls = dom.header(mount, D);
    var src = core.typed(D.src, Uint32Array), dst = core.typed(D.dst, Uint32Array);
    var q = core.bytes(D.q), scale = core.typed(D.scale, Float32Array), pos = core.typed(D.pos, Float32Array);
    var sel = dom.layerHead(controls, D);
    var wrap = el("div", {"class": "ma-head"}); mount.appendChild(wrap);
    var S = D.size, svg = svgEl("svg", {width: S, height: S, viewBox: "0 0 " + S + " " + S, id: "ma-graph", role: "img"});
    wrap.appendChild(svg);
    var panel = el("div", {"class": "ma-panel"}); wrap.appendChild(panel);
    var bar = dom.colorbar("edge colour / width = attention weight", 1, cmap, fmt); panel.appendChild(bar.node);
    var status = el("p", {id: "ma-status"}, HINT); panel.appendChild(status);
    var list = el("ol", {id: "ma-list"}); panel.appendChild(list);
    var gEdges = svgEl("g", {}), gNodes = svgEl("g", {});
    svg.appendChild(gEdges); svg.appendChild(gNodes);
    function xy(i) { return [pos[2 * i] * (S - 45) + 15, pos[2 * i + 1] * (S - 35) + 20]; }  // room for labels
    var lines = drawEdges(src, dst, gEdges, xy), nodes = drawNodes(D, gNodes, xy), focus = null;

    function reset() {
      lines.forEach(function (ln) {
        if (!ln) { return; }
        ln.setAttribute("class", "ma-edge"); ln.setAttribute("stroke-width", 0.6);
        ln.style.stroke = ""; ln.style.opacity = focus === null ? 0.6 : 0.15;
      });
      nodes.forEach(function (c) { c.setAttribute("r", D.radius); c.setAttribute("stroke", "#333"); });
      while (list.firstChild) { list.removeChild(list.firstChild); }
    }
    function draw() {
      var l = +sel.layer.sel.value, h = +sel.head.sel.value - 1;
      var w = core.edgeWeights(q, scale, E, l, core.headList(h, H), H);
      reset();
      if (focus === null) { bar.hi.textContent = "1"; status.textContent = HINT; return; }
      var inc = core.incomingEdges(dst, w, focus);
      nodes[focus].setAttribute("r", D.radius * 1.6); nodes[focus].setAttribute("stroke", "#d62728");
      inc.edges.forEach(function (e) {
        var ln = lines[e], t = w[e] / (inc.max || 1);
        if (ln) { ln.style.stroke = cmap(t); ln.style.opacity = 1; ln.setAttribute("stroke-width", 1 + 4 * t); gEdges.appendChild(ln); }
        list.appendChild(el("li", null, (src[e] === dst[e] ? "(self) " : "") + D.labels[src[e]] + ": " + fmt(w[e])));
      });
      bar.hi.textContent = fmt(inc.max) + " (scaled to this node's largest incoming weight)";
      status.textContent = "Node " + JSON.stringify(D.labels[focus]) + " receives from " + inc.edges.length + " edges (" +
        (h < 0 ? "mean of heads" : "head " + D.heads[h]) + ", layer " + D.layers[l] + "):";
    }
    nodes.forEach(function (c, i) {
      c.addEventListener("mouseenter", function () { focus = i; draw(); });
      c.addEventListener("focus", function () { focus = i; draw(); });
      c.addEventListener("blur", function () { focus = null; draw(); });
    });
    [sel.layer, sel.head].forEach(function (s) { s.sel.addEventListener("change", draw); });
    draw();
  }

  root.MultiattnViews = root.MultiattnViews || {};
  root.MultiattnViews.graph = graphView;
})(this);
