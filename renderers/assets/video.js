/*
 * multiattn HTML views: the video view (space-time attention over the frames of a clip,
 * frame slider and play button), MultiattnViews.video.
 */
(function (root) {
  "use strict";
  var core = root.MultiattnCore, dom = root.MultiattnDom, el = dom.el, fmt = core.fmt;

  function controlsRow(mount, F) {
    var row = el("div", {"class": "ma-player"}); mount.appendChild(row);
    var play = el("button", {id: "ma-play", type: "button"}, "Play");
    var slider = el("input", {type: "range", min: "0", max: String(F - 1), step: "1", value: "0", id: "ma-frame",
                              "aria-label": "frame"});
    var label = el("span", {id: "ma-frame-label"}, "");
    row.appendChild(play); row.appendChild(slider); row.appendChild(label);
    return {play: play, slider: slider, label: label};
  }

  /** Overlay of the patches of time step `base`; returns the attention mass on them. */
  function overlay(ctx, v, base, R, C, mx, cmap, width, height) {
    var cw = width / C, ch = height / R, mass = 0;
    for (var i = 0; i < R * C; i++) {
      var t = v[base + i] / (mx || 1); mass += v[base + i];
      ctx.fillStyle = cmap(t, 0.25 + 0.5 * t); ctx.fillRect((i % C) * cw, Math.floor(i / C) * ch, cw, ch);
    }
    return mass;
  }

  function queryBox(ctx, qi, R, C, same, width, height) {
    var cw = width / C, ch = height / R;
    ctx.strokeStyle = "#ff2020"; ctx.lineWidth = 2; ctx.setLineDash(same ? [] : [4, 3]);
    ctx.strokeRect((qi % C) * cw + 1, Math.floor(qi / C) * ch + 1, cw - 2, ch - 2); ctx.setLineDash([]);
  }

  function videoView(D, mount) {
    var W = new core.Weights(D.weights), cmap = core.colourScale(core.bytes(D.lut));
    var H = D.heads.length, N = D.n_tokens, P = D.n_prefix, R = D.rows, C = D.cols, F = D.n_frames, TT = D.tubelet_t;
    var controls = dom.header(mount, D);
    var mapSel = dom.select("query", ["hovered / clicked patch"].concat(D.prefix), false), sel = dom.layerHead(controls, D, mapSel);
    if (P > 0) { mapSel.sel.value = "1"; }
    var ui = controlsRow(mount, F);
    var view = dom.canvasPanel(mount, D, "ma-video",
      "video frame with attention overlay; arrow keys move the query patch", cmap, fmt);
    var canvas = view.canvas, bar = view.bar, status = view.status;
    var imgs = (D.frames || []).map(function (b64) { return dom.image(b64, "jpeg", function () { draw(); }); });
    var slot0 = Math.floor(F / TT / 2), query = P + slot0 * R * C + Math.floor(R / 2) * C + Math.floor(C / 2);
    var pinned = false, timer = null;

    function frame() { return +ui.slider.value; }
    function slotStart() { return P + Math.floor(frame() / TT) * R * C; }
    function current() {
      var s = +mapSel.sel.value, q = s === 0 ? query : s - 1, l = +sel.layer.sel.value, h = +sel.head.sel.value - 1;
      return {vals: core.meanRow(W, l, core.headList(h, H), [q], H, N), q: q, l: l, h: h};
    }
    function draw() {
      var ctx = canvas.getContext("2d", {willReadFrequently: true}), f = frame(), slot = Math.floor(f / TT);
      var cur = current(), mx = core.maxOf(cur.vals, P), im = imgs[f];
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      if (im && im.complete && im.naturalWidth) { ctx.drawImage(im, 0, 0, canvas.width, canvas.height); } else { ctx.fillStyle = "#777"; ctx.fillRect(0, 0, canvas.width, canvas.height); }
      var mass = overlay(ctx, cur.vals, P + slot * R * C, R, C, mx, cmap, canvas.width, canvas.height);
      var qslot = cur.q >= P ? Math.floor((cur.q - P) / (R * C)) : -1;
      if (qslot >= 0) { queryBox(ctx, (cur.q - P) % (R * C), R, C, qslot === slot, canvas.width, canvas.height); }
      ui.label.textContent = "frame " + (f + 1) + " / " + F + " (" + (f / D.fps).toFixed(2) + " s, time step " + slot + ")";
      bar.hi.textContent = fmt(mx) + " (scaled to the max over all space-time patches)";
      var qname = cur.q < P ? D.prefix[cur.q] : "patch " + D.labels[cur.q] + (qslot === slot ? "" : " (dashed: another time step)");
      status.textContent = "Query " + qname + ", layer " + D.layers[cur.l] + ", " + (cur.h < 0 ? "mean of heads" : "head " + D.heads[cur.h]) +
        "; attention mass on this time step " + fmt(mass);
      canvas.setAttribute("data-query", String(cur.q)); canvas.setAttribute("data-frame", String(f));
    }
    function patchAt(e) {
      var rect = canvas.getBoundingClientRect();
      return core.patchAt((e.clientX - rect.left) / rect.width, (e.clientY - rect.top) / rect.height, R, C, slotStart());
    }
    function stop() { if (timer !== null) { clearInterval(timer); timer = null; } ui.play.textContent = "Play"; }
    ui.play.addEventListener("click", function () {
      if (timer !== null) { stop(); return; }
      ui.play.textContent = "Pause";
      timer = setInterval(function () { ui.slider.value = String((frame() + 1) % F); draw(); }, 1000 / Math.min(D.fps, 30));
    });
    ui.slider.addEventListener("input", draw);
    canvas.addEventListener("mousemove", function (e) { if (!pinned) { query = patchAt(e); mapSel.sel.value = "0"; draw(); } });
    canvas.addEventListener("click", function (e) { pinned = !pinned; query = patchAt(e); mapSel.sel.value = "0"; draw(); });
    canvas.addEventListener("keydown", function (e) {
      var next = core.movePatch(query, e.key, R, C, P, slotStart());
      if (next === null) { return; }
      e.preventDefault(); pinned = true; mapSel.sel.value = "0"; query = next; draw();
    });
    [sel.layer, sel.head, mapSel].forEach(function (s) { s.sel.addEventListener("change", draw); });
    draw();
  }

  root.MultiattnViews = root.MultiattnViews || {};
  root.MultiattnViews.video = videoView;
})(this);
