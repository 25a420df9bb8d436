/*
 * multiattn HTML views: the pure logic, without the DOM.
 *
 * Decoding the packed rows written by renderers/_html_pack.py (uint8 per row
 * relative to the row's maximum: dense, adaptive "mass" rows deflated by
 * renderers/_html_mass.py and inflated with the browser's DecompressionStream,
 * or top-k with key indices and dropped mass), the viridis scale, number formatting, head means, thumbnails, and the
 * small geometry of patch grids and time axes.  Usable in the page (as the
 * global MultiattnCore) and from node (require), where tests/js/ tests it.
 */
/* global Blob, DecompressionStream, Response */
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.MultiattnCore = factory();
  }
})(this, function () {
  "use strict";

  /** The bytes of a base64 string. */
  function bytes(b64) {
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }

  /** A base64 string of little-endian numbers as a typed array (Float32Array, Uint16Array, ...). */
  function typed(b64, Type) {
    var u = bytes(b64);
    return new Type(u.buffer, 0, u.length / Type.BYTES_PER_ELEMENT);
  }

  /**
   * Inflate the deflated blob of "mass" weights (DecompressionStream, zlib format) into W.raw.
   * Resolves to W; other weights resolve at once.  Rejects when the browser has no DecompressionStream.
   */
  function inflate(W) {
    if (W.codec === undefined || W.raw) { return Promise.resolve(W); }
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser has no DecompressionStream (Chromium >= 80, Firefox >= 113, " +
        "Safari >= 16.4 have it): save the view with a smaller grid or top_k to read it here"));
    }
    var stream = new Blob([bytes(W.blob)]).stream().pipeThrough(new DecompressionStream(W.codec));
    return new Response(stream).arrayBuffer().then(function (buf) { W.raw = new Uint8Array(buf); return W; });
  }

  /** n numbers of `size` bytes stored as byte planes from `at` in u8 (lowest bytes first) as a typed array. */
  function unplane(u8, at, size, n, Type) {
    if (size === 1) { return u8.subarray(at, at + n); }
    var le = new Uint8Array(n * size);
    for (var b = 0; b < size; b++) {
      var plane = at + b * n;
      for (var i = 0; i < n; i++) { le[i * size + b] = u8[plane + i]; }
    }
    return new Type(le.buffer);
  }

  /** The sections of an inflated "mass" blob: {scale, counts, deltas, q, dropped} by W.layout. */
  function sections(W) {
    var out = {}, at = 0;
    W.layout.forEach(function (s) {
      var name = s[0], size = s[1], n = s[2];
      var Type = name === "scale" ? Float32Array : (size === 4 ? Uint32Array : Uint16Array);
      out[name] = unplane(W.raw, at, size, n, Type);
      at += size * n;
    });
    return out;
  }

  /** "mass" weights: key indices from the per-row deltas, and where each row starts. */
  function massRows(self, W) {
    var S = sections(W), n = S.counts.length, start = new Uint32Array(n + 1), idx = new Uint32Array(S.q.length);
    for (var r = 0, e = 0; r < n; r++) {
      start[r + 1] = start[r] + S.counts[r];
      for (var key = 0; e < start[r + 1]; e++) { key = e === start[r] ? S.deltas[e] : key + S.deltas[e]; idx[e] = key; }
    }
    self.q = S.q; self.scale = S.scale; self.dropped = S.dropped; self.idx = idx; self.start = start;
  }

  /**
   * Packed attention rows (the ``weights`` object of a payload; "mass" weights inflated first).
   * Row r is the flat index (layer * H + head) * Q + query.
   */
  function Weights(W) {
    this.mode = W.mode; this.K = W.K; this.k = W.k; this.start = null;
    if (W.mode === "mass") {
      if (!W.raw) { throw new Error("mass weights must be inflated first (MultiattnCore.inflate)"); }
      massRows(this, W);
      return;
    }
    this.q = bytes(W.q); this.scale = typed(W.scale, Float32Array);
    this.dropped = W.dropped ? bytes(W.dropped) : null;
    this.idx = null;
    if (W.idx) { this.idx = W.idx_bytes === 2 ? typed(W.idx, Uint16Array) : typed(W.idx, Uint32Array); }
  }
  /** Call fn(key, weight) for each stored non-zero entry of row r. */
  Weights.prototype.each = function (r, fn) {
    var s = this.scale[r] / 255;
    if (this.start) {
      for (var e = this.start[r]; e < this.start[r + 1]; e++) { if (this.q[e]) { fn(this.idx[e], this.q[e] * s); } }
      return;
    }
    var dense = this.mode === "dense", n = dense ? this.K : this.k, base = r * n;
    for (var i = 0; i < n; i++) {
      var v = this.q[base + i];
      if (v) { fn(dense ? i : this.idx[base + i], v * s); }
    }
  };
  /** Row r as a dense Float32Array of K weights (zeros where top-k dropped a key). */
  Weights.prototype.row = function (r) {
    var out = new Float32Array(this.K);
    this.each(r, function (j, w) { out[j] = w; });
    return out;
  };
  /** Mass that top-k or the mass target dropped from row r (0 for dense rows), to 1/255. */
  Weights.prototype.droppedMass = function (r) { return this.dropped ? this.dropped[r] / 255 : 0; };

  /** Flat row index of (layer, head, query) with H heads and Q queries. */
  function rowIndex(layer, head, query, H, Q) { return (layer * H + head) * Q + query; }

  /** The heads a head selector means: h < 0 is "mean of heads" (all H). */
  function headList(h, H) {
    if (h >= 0) { return [h]; }
    var out = [];
    for (var i = 0; i < H; i++) { out.push(i); }
    return out;
  }

  /** Mean over `heads` of the rows (layer, head, each query in `queries`): a Float32Array of K. */
  function meanRow(W, layer, heads, queries, H, Q) {
    var out = new Float32Array(W.K), n = heads.length * queries.length;
    heads.forEach(function (h) {
      queries.forEach(function (q) {
        W.each(rowIndex(layer, h, q, H, Q), function (j, w) { out[j] += w / n; });
      });
    });
    return out;
  }

  /** Largest value of v[from..to) (0 if empty or all zero). */
  function maxOf(v, from, to) {
    var mx = 0, end = to === undefined ? v.length : to;
    for (var i = from || 0; i < end; i++) { mx = Math.max(mx, v[i]); }
    return mx;
  }

  /** Index of the first largest value of v. */
  function argmax(v) {
    var best = 0;
    for (var i = 1; i < v.length; i++) { if (v[i] > v[best]) { best = i; } }
    return best;
  }

  /** A colour scale over a 256 x RGB lookup table (uint8, 768 bytes): t in [0, 1] -> CSS rgba. */
  function colourScale(lut) {
    return function (t, alpha) {
      var i = Math.max(0, Math.min(255, Math.round(t * 255))) * 3;
      return "rgba(" + lut[i] + "," + lut[i + 1] + "," + lut[i + 2] + "," + (alpha === undefined ? 1 : alpha) + ")";
    };
  }

  /** A weight as text: 3 decimals from 0.01 up (and for 0), else 1-digit exponent ("1.2e-3"). */
  function fmt(x) { return x >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(1); }

  /**
   * Keep the `max` strongest segments [head, query, key, weight] (sorted, strongest first)
   * when there are more; `cut` is the weakest weight kept then, else 0.
   */
  function strongest(segs, max) {
    if (segs.length <= max) { return {segs: segs, cut: 0, shown: segs.length}; }
    var kept = segs.slice().sort(function (a, b) { return b[3] - a[3]; });
    kept.length = max;
    return {segs: kept, cut: kept[max - 1][3], shown: segs.length};
  }

  /**
   * Head (layer, head) binned to at most bin x bin cells: rows = queries, columns = keys.
   * Returns {img: Float32Array(bq * bk), bq, bk, max}; cell sums of the weights.
   */
  function thumbnail(W, layer, head, H, Q, K, bin) {
    var bq = Math.min(Q, bin), bk = Math.min(K, bin), img = new Float32Array(bq * bk);
    for (var q = 0; q < Q; q++) {
      var bi = Math.floor(q * bq / Q) * bk;
      W.each(rowIndex(layer, head, q, H, Q), function (j, w) { img[bi + Math.floor(j * bk / K)] += w; });
    }
    return {img: img, bq: bq, bk: bk, max: maxOf(img)};
  }

  /** Graph view: per-edge weights of (layer, mean over `heads`) from uint8 q and per-head scale. */
  function edgeWeights(q, scale, E, layer, heads, H) {
    var out = new Float32Array(E);
    heads.forEach(function (h) {
      var base = (layer * H + h) * E, s = scale[layer * H + h] / 255;
      for (var e = 0; e < E; e++) { out[e] += q[base + e] * s / heads.length; }
    });
    return out;
  }

  /** Edges whose target is `node`, strongest first, and their largest weight. */
  function incomingEdges(dst, w, node) {
    var list = [], mx = 0;
    for (var e = 0; e < dst.length; e++) {
      if (dst[e] === node) { list.push(e); mx = Math.max(mx, w[e]); }
    }
    list.sort(function (a, b) { return w[b] - w[a]; });
    return {edges: list, max: mx};
  }

  /** Spacing of time ticks (s) so that they are at least 60 px apart at `pxPerSecond`. */
  function tickStep(pxPerSecond) {
    var steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * pxPerSecond >= 60) { return steps[i]; } }
    return 60;
  }

  /** Centre time (s) of audio frame i. */
  function frameTime(i, offset, hop) { return offset + (i + 0.5) * hop; }

  /** Half a second around the attention peak of `v`: the segment played when a token has no word. */
  function peakSegment(v, offset, hop) {
    var c = frameTime(argmax(v), offset, hop);
    return [Math.max(0, c - 0.25), c + 0.25];
  }

  /** Tokens of a focus: {kind: "token", i} is itself; {kind: "word", i} the tokens owned by word i. */
  function tokensOf(focus, tokenWord) {
    if (focus.kind === "token") { return [focus.i]; }
    var out = [];
    tokenWord.forEach(function (w, t) { if (w === focus.i) { out.push(t); } });
    return out;
  }

  /** [start, end] (s) of the word a focus belongs to, or null. */
  function wordSpan(focus, tokenWord, words) {
    var w = focus.kind === "word" ? focus.i : tokenWord[focus.i];
    return w >= 0 ? [words[w].start, words[w].end] : null;
  }

  function clamp(x, lo, hi) { return Math.max(lo, Math.min(hi, x)); }

  /** Patch index (after `base` = prefix + time-step offset) under fractions (fx, fy) of an R x C grid. */
  function patchAt(fx, fy, R, C, base) {
    return base + clamp(Math.floor(fy * R), 0, R - 1) * C + clamp(Math.floor(fx * C), 0, C - 1);
  }

  var MOVES = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};

  /**
   * The patch an arrow key moves `index` to, clamped to the grid; null for other keys.
   * `from` is the first index of the query's R x C slot, `to` that of the slot to land in.
   */
  function movePatch(index, key, R, C, from, to) {
    var m = MOVES[key];
    if (!m) { return null; }
    var qi = (index - from) % (R * C), r = Math.floor(qi / C) + m[0], c = qi % C + m[1];
    return to + clamp(r, 0, R - 1) * C + clamp(c, 0, C - 1);
  }

  return {
    bytes: bytes, typed: typed, inflate: inflate, unplane: unplane, Weights: Weights, rowIndex: rowIndex, headList: headList,
    meanRow: meanRow, maxOf: maxOf, argmax: argmax, colourScale: colourScale, fmt: fmt,
    strongest: strongest, thumbnail: thumbnail, edgeWeights: edgeWeights, incomingEdges: incomingEdges,
    tickStep: tickStep, frameTime: frameTime, peakSegment: peakSegment, tokensOf: tokensOf,
    wordSpan: wordSpan, patchAt: patchAt, movePatch: movePatch
  };
});
