/*
 * multiattn HTML views: the patch view (attention over a ViT's patch grid), MultiattnViews.image.
 */
(function (root) {
  "use strict";
  var core = root.MultiattnCore, dom = root.MultiattnDom, fmt = core.fmt;

  function overlay(ctx, v, P, R, C, cmap, width, height) {
    var mx = core.maxOf(v, P), cw = width / C, ch = height / R;
    for (var i = 0; i < R * C; i++) {
      var t = v[P + i] / (mx || 1);
      ctx.fillStyle = cmap(t, 0.3 + 0.5 * t);
      ctx.fillRect((i % C) * cw, Math.floor(i / C) * ch, cw, ch);
    }
    return mx;
  }

  function imageView(D, mount) {
    var W = new core.Weights(D.weights), cmap = core.colourScale(core.bytes(D.lut));
    var H = D.heads.length, N = D.n_tokens, P = D.n_prefix, R = D.rows, C = D.cols;
    var controls = dom.header(mount, D);
    var sources = ["attention of the hovered / clicked patch"].concat(
      D.prefix.map(function (p) { return "attention of " + p; }), D.maps.map(function (m) { return m.name; }));
    var mapSel = dom.select("map", sources, false), sel = dom.layerHead(controls, D, mapSel);
    if (P > 0) { mapSel.sel.value = "1"; }
    var view = dom.canvasPanel(mount, D, "ma-image", "image with attention overlay; arrow keys move the query patch",
      cmap, fmt);
    var canvas = view.canvas, bar = view.bar, status = view.status;
    var query = P + Math.floor(R / 2) * C + Math.floor(C / 2), ready = false, pinned = false, img = null;

    function current() {
      var s = +mapSel.sel.value;
      if (s > P) { var m = D.maps[s - 1 - P]; return {vals: core.typed(m.values, Float32Array), name: m.name}; }
      var q = s === 0 ? query : s - 1, l = +sel.layer.sel.value, h = +sel.head.sel.value - 1;
      return {vals: core.meanRow(W, l, core.headList(h, H), [q], H, N),
              name: "query " + D.labels[q] + ", layer " + D.layers[l] + ", " + (h < 0 ? "mean of heads" : "head " + D.heads[h])};
    }
    function draw() {
      var ctx = canvas.getContext("2d"), cur = current(), own = +mapSel.sel.value > P;
      sel.layer.sel.disabled = own; sel.head.sel.disabled = own;
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      if (ready) { ctx.drawImage(img, 0, 0, canvas.width, canvas.height); } else { ctx.fillStyle = "#777"; ctx.fillRect(0, 0, canvas.width, canvas.height); }
      var mx = overlay(ctx, cur.vals, P, R, C, cmap, canvas.width, canvas.height), prefixMass = 0;
      for (var i = 0; i < P; i++) { prefixMass += cur.vals[i]; }
      if (+mapSel.sel.value === 0) {
        var qi = query - P, cw = canvas.width / C, ch = canvas.height / R;
        ctx.strokeStyle = "#ff2020"; ctx.lineWidth = 2;
        ctx.strokeRect((qi % C) * cw + 1, Math.floor(qi / C) * ch + 1, cw - 2, ch - 2);
      }
      bar.hi.textContent = fmt(mx) + " (map scaled to its max over patches)";
      status.textContent = cur.name + (P && !own ? "; mass on prefix tokens (not drawn) " + fmt(prefixMass) : "");
      canvas.setAttribute("data-query", String(query));
    }
    function patchAt(e) {
      var rect = canvas.getBoundingClientRect();
      return core.patchAt((e.clientX - rect.left) / rect.width, (e.clientY - rect.top) / rect.height, R, C, P);
    }
    canvas.addEventListener("mousemove", function (e) { if (!pinned) { query = patchAt(e); mapSel.sel.value = "0"; draw(); } });
    canvas.addEventListener("click", function (e) { pinned = !pinned; query = patchAt(e); mapSel.sel.value = "0"; draw(); });
    canvas.addEventListener("keydown", function (e) {
      var next = core.movePatch(query, e.key, R, C, P, P);
      if (next === null) { return; }
      e.preventDefault(); pinned = true; mapSel.sel.value = "0"; query = next; draw();
    });
    [sel.layer, sel.head, mapSel].forEach(function (s) { s.sel.addEventListener("change", draw); });
    if (D.image) { img = dom.image(D.image, "png", function () { ready = true; draw(); }); }
    draw();
  }

  root.MultiattnViews = root.MultiattnViews || {};
  root.MultiattnViews.image = imageView;
})(this);
