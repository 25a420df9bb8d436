/*
 * multiattn HTML views: the audio view (tokens attending to audio frames over a spectrogram,
 * with word spans and playback of a segment), MultiattnViews.audio.
 */
(function (root) {
  "use strict";
  var core = root.MultiattnCore, dom = root.MultiattnDom, el = dom.el, fmt = core.fmt;
  var WIDTH = 900, SPEC = 128, CURVE = 90;
  var HINT = "Hover or Tab to a token (below) or a word (above the curve): its attention over time. " +
    "Click or Enter plays the segment.";

  function timeTicks(ctx, duration, px) {
    var step = core.tickStep(px);
    ctx.fillStyle = "#666"; ctx.font = "10px sans-serif";
    for (var s = 0; s <= duration; s += step) { ctx.fillRect(s * px, 0, 1, 4); ctx.fillText((+s.toFixed(1)) + " s", s * px + 2, 11); }
  }

  /** The attention strip (viridis) and the filled curve of v over the frames. */
  function plotCurve(ctx, v, mx, x0, dx, cmap) {
    var T = v.length, i;
    for (i = 0; i < T; i++) { ctx.fillStyle = cmap(v[i] / (mx || 1)); ctx.fillRect(x0 + i * dx, CURVE - 12, Math.ceil(dx), 12); }
    ctx.beginPath(); ctx.moveTo(x0, CURVE - 14);
    for (i = 0; i < T; i++) { ctx.lineTo(x0 + (i + 0.5) * dx, CURVE - 14 - (CURVE - 20) * v[i] / (mx || 1)); }
    ctx.lineTo(x0 + T * dx, CURVE - 14); ctx.closePath(); ctx.fillStyle = "rgba(214,39,40,0.35)"; ctx.fill();
    ctx.strokeStyle = "#d62728"; ctx.lineWidth = 1.5; ctx.stroke();
  }

  function wordNodes(D, box, px) {
    return D.words.map(function (w, i) {
      var n = el("div", {"class": "ma-word", tabindex: "0", "data-index": String(i),
                         title: w.word + " (" + w.start.toFixed(2) + "-" + w.end.toFixed(2) + " s)"}, w.word);
      n.style.left = (w.start * px) + "px"; n.style.width = Math.max(2, (w.end - w.start) * px) + "px";
      box.appendChild(n);
      return n;
    });
  }

  function tokenNodes(D, box) {
    return D.query.map(function (t, i) {
      var n = el("div", {"class": "ma-tok" + (D.query_special[i] ? " ma-special" : ""), tabindex: "0",
                         "data-index": String(i), title: t}, t);
      box.appendChild(n);
      return n;
    });
  }

  function player(mount, before, wav) {
    var wrap = el("div", {"class": "ma-player"}); mount.insertBefore(wrap, before);
    var audio = el("audio", {controls: "", id: "ma-player", preload: "auto", src: "data:audio/wav;base64," + wav});
    wrap.appendChild(audio);
    return audio;
  }

  function audioView(D, mount) {
    var W = new core.Weights(D.weights), cmap = core.colourScale(core.bytes(D.lut));
    var H = D.heads.length, Q = D.query.length, px = WIDTH / D.duration, controls = dom.header(mount, D);
    var sel = dom.layerHead(controls, D);
    var box = el("div", {"class": "ma-audio", id: "ma-audio"}); mount.appendChild(box);
    var spec = el("canvas", {width: WIDTH, height: D.spectrogram ? SPEC : 0, id: "ma-spec", "aria-label": "log-mel spectrogram"});
    var words = el("div", {"class": "ma-words", id: "ma-words"}); words.style.width = WIDTH + "px";
    var curve = el("canvas", {width: WIDTH, height: CURVE, id: "ma-curve", "aria-label": "attention over time"});
    box.appendChild(spec); box.appendChild(words); box.appendChild(curve);
    var bar = dom.colorbar("", 1, cmap, fmt); mount.appendChild(bar.node);
    var status = el("p", {"class": "ma-note", id: "ma-status"}, ""); mount.appendChild(status);
    var toks = el("div", {"class": "ma-toks", id: "ma-tokens"}); mount.appendChild(toks);
    var audio = D.wav ? player(mount, box, D.wav) : null;
    var img = null, ready = false, focus = null, stopAt = null;
    var wordEls = wordNodes(D, words, px), tokEls = tokenNodes(D, toks);

    function drawSpec() {
      var ctx = spec.getContext("2d", {willReadFrequently: true});
      ctx.clearRect(0, 0, spec.width, spec.height);
      if (ready) { ctx.drawImage(img, 0, 0, img.width, img.height, 0, 0, img.width / 100 * px, SPEC); }
      var seg = focus && core.wordSpan(focus, D.token_word, D.words);
      if (seg) { ctx.strokeStyle = "#fff"; ctx.lineWidth = 2; ctx.strokeRect(seg[0] * px, 1, (seg[1] - seg[0]) * px, SPEC - 2); }
    }
    function highlight(ts) {
      (focus.kind === "word" ? wordEls : tokEls)[focus.i].classList.add("ma-focus");
      ts.forEach(function (t) { tokEls[t].classList.add("ma-focus"); });
      var w = focus.kind === "word" ? focus.i : D.token_word[focus.i];
      if (w >= 0) { wordEls[w].classList.add("ma-focus"); }
    }
    function draw() {
      var ctx = curve.getContext("2d", {willReadFrequently: true}), l = +sel.layer.sel.value, h = +sel.head.sel.value - 1;
      ctx.clearRect(0, 0, WIDTH, CURVE); ctx.fillStyle = "#f4f4f4"; ctx.fillRect(0, 0, WIDTH, CURVE);
      timeTicks(ctx, D.duration, px);
      wordEls.concat(tokEls).forEach(function (n) { n.classList.remove("ma-focus"); });
      drawSpec();
      if (!focus) { status.textContent = HINT; bar.hi.textContent = "1"; curve.setAttribute("data-focus", ""); return; }
      var ts = core.tokensOf(focus, D.token_word), v = core.meanRow(W, l, core.headList(h, H), ts, H, Q);
      var mx = core.maxOf(v);
      plotCurve(ctx, v, mx, D.offset_s * px, D.hop_s * px, cmap);
      highlight(ts);
      bar.hi.textContent = fmt(mx) + " (curve and strip scaled to this maximum over the frames)";
      var name = focus.kind === "word" ? "Word " + JSON.stringify(D.words[focus.i].word) + " (tokens: " + ts.length + ")"
        : "Token " + JSON.stringify(D.query[focus.i]);
      status.textContent = name + ", layer " + D.layers[l] + ", " + (h < 0 ? "mean of heads" : "head " + D.heads[h]) +
        ": peak at " + core.frameTime(core.argmax(v), D.offset_s, D.hop_s).toFixed(2) + " s" + (ts.length ? "" : " (no tokens matched)");
      curve.setAttribute("data-focus", focus.kind + focus.i);
    }
    function play(f) {
      var seg = core.wordSpan(f, D.token_word, D.words);
      if (!seg) {  // no word span: half a second around the attention peak
        var ts = core.tokensOf(f, D.token_word), h = Math.max(0, +sel.head.sel.value - 1);
        seg = core.peakSegment(W.row(core.rowIndex(+sel.layer.sel.value, h, ts[0], H, Q)), D.offset_s, D.hop_s);
      }
      if (!audio) { status.textContent += " (no audio embedded)"; return; }
      audio.setAttribute("data-segment", seg[0].toFixed(3) + "-" + seg[1].toFixed(3));
      stopAt = seg[1]; audio.currentTime = seg[0];
      var p = audio.play();
      if (p && p.catch) { p.catch(function () { status.textContent += " (playback blocked by the browser: press play)"; }); }
    }
    if (audio) {
      audio.addEventListener("timeupdate", function () {
        if (stopAt !== null && audio.currentTime >= stopAt) { audio.pause(); stopAt = null; }
      });
    }
    [["word", wordEls], ["token", tokEls]].forEach(function (pair) {
      pair[1].forEach(function (n, i) {
        var f = {kind: pair[0], i: i};
        n.addEventListener("mouseenter", function () { focus = f; draw(); });
        n.addEventListener("focus", function () { focus = f; draw(); });
        n.addEventListener("click", function () { focus = f; draw(); play(f); });
        n.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); play(f); } });
      });
    });
    [sel.layer, sel.head].forEach(function (s) { s.sel.addEventListener("change", draw); });
    if (D.spectrogram) { img = dom.image(D.spectrogram, "png", function () { ready = true; draw(); }); }
    draw();
  }

  root.MultiattnViews = root.MultiattnViews || {};
  root.MultiattnViews.audio = audioView;
})(this);
