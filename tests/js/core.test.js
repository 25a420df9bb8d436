// Unit tests of renderers/assets/core.js on hand-computed cases: `node --test tests/js/`.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const core = require("../../renderers/assets/core.js");

const b64 = (array) => Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString("base64");
const close = (actual, expected, tol, what) => {
  assert.equal(actual.length, expected.length, what + ": length");
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}] = ${actual[i]}, expected ${expected[i]}`);
  }
};

test("bytes and typed decode base64 little-endian arrays", () => {
  assert.deepEqual(Array.from(core.bytes("AAECAw==")), [0, 1, 2, 3]);
  // 1.5f is 0x3FC00000: bytes 00 00 C0 3F
  assert.deepEqual(Array.from(core.typed("AADAPw==", Float32Array)), [1.5]);
  assert.deepEqual(Array.from(core.typed("AQACAP//", Uint16Array)), [1, 2, 65535]);
});

test("dense rows decode to q * scale / 255 and skip zeros", () => {
  const W = new core.Weights({mode: "dense", K: 3, k: 3, q: b64(new Uint8Array([255, 51, 0, 0, 255, 102])),
                              scale: b64(new Float32Array([0.5, 0.25]))});
  close(W.row(0), [0.5, 0.1, 0], 1e-7, "row 0");
  close(W.row(1), [0, 0.25, 0.1], 1e-7, "row 1");
  const seen = [];
  W.each(0, (j, w) => seen.push([j, w]));
  assert.deepEqual(seen.map((s) => s[0]), [0, 1]);  // the zero entry is not visited
  assert.equal(W.droppedMass(0), 0);
});

test("top-k rows put values at their key indices and state the dropped mass", () => {
  const W = new core.Weights({mode: "topk", K: 5, k: 2, q: b64(new Uint8Array([255, 191, 255, 85])),
                              scale: b64(new Float32Array([0.4, 0.6])), idx: b64(new Uint16Array([0, 2, 4, 1])),
                              idx_bytes: 2, dropped: b64(new Uint8Array([77, 0]))});
  close(W.row(0), [0.4, 0, 0.4 * 191 / 255, 0, 0], 1e-7, "row 0");
  close(W.row(1), [0, 0.2, 0, 0, 0.6], 1e-7, "row 1");
  assert.ok(Math.abs(W.droppedMass(0) - 77 / 255) < 1e-12);
  const wide = new core.Weights({mode: "topk", K: 70000, k: 1, q: b64(new Uint8Array([255])),
                                 scale: b64(new Float32Array([1])), idx: b64(new Uint32Array([69999])),
                                 idx_bytes: 4, dropped: b64(new Uint8Array([0]))});
  assert.equal(wide.row(0)[69999], 1);
});

test("unplane joins byte planes (lowest bytes first) into little-endian numbers", () => {
  // uint16 [1, 258, 65535]: low bytes 01 02 FF, high bytes 00 01 FF
  const u16 = core.unplane(new Uint8Array([9, 1, 2, 255, 0, 1, 255]), 1, 2, 3, Uint16Array);
  assert.deepEqual(Array.from(u16), [1, 258, 65535]);
  // float32 1.5 = 00 00 C0 3F, -2 = 00 00 00 C0
  const f32 = core.unplane(new Uint8Array([0, 0, 0, 0, 0xC0, 0, 0x3F, 0xC0]), 0, 4, 2, Float32Array);
  assert.deepEqual(Array.from(f32), [1.5, -2]);
  assert.deepEqual(Array.from(core.unplane(new Uint8Array([4, 5, 6]), 1, 1, 2)), [5, 6]);
});

test("mass rows: inflated blob, keys from per-row deltas, values at their keys", async () => {
  const zlib = require("node:zlib");
  // 2 rows of K = 6: row 0 keeps keys 1, 4 (0.5, 0.3 of scale 0.5); row 1 keeps key 5 only
  const planes = (a) => {
    const b = new Uint8Array(a.buffer), n = a.length, s = a.BYTES_PER_ELEMENT, out = new Uint8Array(b.length);
    for (let i = 0; i < n; i++) { for (let j = 0; j < s; j++) { out[j * n + i] = b[i * s + j]; } }
    return out;
  };
  const parts = [planes(new Float32Array([0.5, 0.9])), planes(new Uint16Array([2, 1])),
                 planes(new Uint16Array([1, 3, 5])), new Uint8Array([255, 153, 255]), new Uint8Array([51, 26])];
  const raw = Buffer.concat(parts.map((p) => Buffer.from(p)));
  const W0 = {mode: "mass", K: 6, codec: "deflate", blob: zlib.deflateSync(raw).toString("base64"),
              layout: [["scale", 4, 2], ["counts", 2, 2], ["deltas", 2, 3], ["q", 1, 3], ["dropped", 1, 2]]};
  assert.throws(() => new core.Weights(W0), /inflated first/);
  const W = new core.Weights(await core.inflate(W0));
  close(W.row(0), [0, 0.5, 0, 0, 0.3, 0], 1e-7, "row 0");
  close(W.row(1), [0, 0, 0, 0, 0, 0.9], 1e-7, "row 1");
  assert.ok(Math.abs(W.droppedMass(0) - 0.2) < 1e-12);
  assert.equal(await core.inflate(W0), W0);  // already inflated: the same object
  const dense = {mode: "dense", K: 1, k: 1, q: "/w==", scale: b64(new Float32Array([1]))};
  assert.equal(await core.inflate(dense), dense);
});

test("rowIndex, headList and meanRow average the selected heads", () => {
  assert.equal(core.rowIndex(1, 2, 3, 4, 5), (1 * 4 + 2) * 5 + 3);
  assert.deepEqual(core.headList(-1, 3), [0, 1, 2]);
  assert.deepEqual(core.headList(1, 3), [1]);
  // 1 layer, 2 heads, 1 query, 2 keys: head 0 = [1, 0], head 1 = [0.2, 0.8]
  const W = new core.Weights({mode: "dense", K: 2, k: 2, q: b64(new Uint8Array([255, 0, 51, 204])),
                              scale: b64(new Float32Array([1, 1]))});
  close(core.meanRow(W, 0, [0, 1], [0], 2, 1), [0.6, 0.4], 1e-6, "mean of heads");
  close(core.meanRow(W, 0, [1], [0], 2, 1), [0.2, 0.8], 1e-6, "head 1");
});

test("fmt: three decimals from 0.01 up, one-digit exponent below", () => {
  assert.equal(core.fmt(0.5), "0.500");
  assert.equal(core.fmt(0), "0.000");
  assert.equal(core.fmt(0.01), "0.010");
  assert.equal(core.fmt(0.00123), "1.2e-3");
  assert.equal(core.fmt(1), "1.000");
});

test("colourScale rounds t to one of 256 entries and clamps", () => {
  const lut = new Uint8Array(768);
  for (let i = 0; i < 256; i++) { lut[3 * i] = i; lut[3 * i + 1] = 255 - i; lut[3 * i + 2] = 7; }
  const cmap = core.colourScale(lut);
  assert.equal(cmap(0), "rgba(0,255,7,1)");
  assert.equal(cmap(0.5), "rgba(128,127,7,1)");  // round(127.5) = 128
  assert.equal(cmap(0.25, 0.3), "rgba(64,191,7,0.3)");
  assert.equal(cmap(1.7), "rgba(255,0,7,1)");
  assert.equal(cmap(-1), "rgba(0,255,7,1)");
});

test("strongest keeps the heaviest lines and states the cut", () => {
  const segs = [[0, 0, 0, 0.2], [0, 0, 1, 0.9], [1, 1, 0, 0.5], [1, 1, 1, 0.05], [0, 1, 1, 0.6]];
  const kept = core.strongest(segs, 3);
  assert.deepEqual(kept.segs.map((s) => s[3]), [0.9, 0.6, 0.5]);
  assert.equal(kept.cut, 0.5);
  assert.equal(kept.shown, 5);
  assert.equal(segs.length, 5);  // the input is not changed
  assert.deepEqual(core.strongest(segs, 5), {segs: segs, cut: 0, shown: 5});
});

test("thumbnail bins queries and keys and sums the weights of each cell", () => {
  // 4 x 4 identity, binned to 2 x 2: each diagonal cell holds two ones
  const q = new Uint8Array(16);
  for (let i = 0; i < 4; i++) { q[5 * i] = 255; }
  const W = new core.Weights({mode: "dense", K: 4, k: 4, q: b64(q), scale: b64(new Float32Array([1, 1, 1, 1]))});
  const th = core.thumbnail(W, 0, 0, 1, 4, 4, 2);
  assert.equal(th.bq, 2);
  assert.equal(th.bk, 2);
  close(th.img, [2, 0, 0, 2], 1e-6, "cells");
  assert.equal(th.max, 2);
  assert.equal(core.thumbnail(W, 0, 0, 1, 4, 4, 48).bq, 4);  // never more bins than rows
});

test("graph: edge weights per layer over heads, incoming edges strongest first", () => {
  // 2 layers x 2 heads x 3 edges; layer 1 head 0 = [255, 0, 51] * 1/255, head 1 = [0, 255, 255] * 0.5/255
  const q = new Uint8Array([0, 0, 0, 0, 0, 0, 255, 0, 51, 0, 255, 255]);
  const scale = new Float32Array([1, 1, 1, 0.5]);
  close(core.edgeWeights(q, scale, 3, 1, [0, 1], 2), [0.5, 0.25, 0.35], 1e-6, "mean");
  close(core.edgeWeights(q, scale, 3, 1, [1], 2), [0, 0.5, 0.5], 1e-6, "head 1");
  const inc = core.incomingEdges(new Uint32Array([2, 0, 2, 2]), new Float32Array([0.1, 0.9, 0.7, 0.2]), 2);
  assert.deepEqual(inc.edges, [2, 3, 0]);
  assert.ok(Math.abs(inc.max - 0.7) < 1e-6);
});

test("time axis: tick spacing, frame centres and the segment around a peak", () => {
  assert.equal(core.tickStep(900), 0.1);  // 90 px apart
  assert.equal(core.tickStep(100), 1);  // 0.5 s would be 50 px
  assert.equal(core.tickStep(1), 60);
  assert.ok(Math.abs(core.frameTime(10, 0, 0.02) - 0.21) < 1e-12);
  const v = new Float32Array(50);
  v[10] = 1; v[30] = 0.5;
  assert.equal(core.argmax(v), 10);
  const seg = core.peakSegment(v, 0, 0.02);
  assert.equal(seg[0], 0);  // 0.21 - 0.25 clamped at the start
  assert.ok(Math.abs(seg[1] - 0.46) < 1e-12);
  assert.equal(core.maxOf(v, 11), 0.5);
});

test("words and tokens: the tokens of a word, the span of a token", () => {
  const tokenWord = [-1, 0, 0, 1, -1];
  const words = [{word: "hello", start: 0.1, end: 0.4}, {word: "x", start: 0.5, end: 0.8}];
  assert.deepEqual(core.tokensOf({kind: "word", i: 0}, tokenWord), [1, 2]);
  assert.deepEqual(core.tokensOf({kind: "token", i: 4}, tokenWord), [4]);
  assert.deepEqual(core.wordSpan({kind: "token", i: 2}, tokenWord, words), [0.1, 0.4]);
  assert.deepEqual(core.wordSpan({kind: "word", i: 1}, tokenWord, words), [0.5, 0.8]);
  assert.equal(core.wordSpan({kind: "token", i: 0}, tokenWord, words), null);
});

test("patch grid: the patch under the pointer and arrow-key moves, clamped", () => {
  // 3 x 4 patches after one prefix token (as in tests/test_html_browser.py)
  assert.equal(core.patchAt(2.5 / 4, 1.5 / 3, 3, 4, 1), 1 + 1 * 4 + 2);
  assert.equal(core.patchAt(1.2, -0.1, 3, 4, 1), 1 + 0 * 4 + 3);
  assert.equal(core.movePatch(7, "ArrowRight", 3, 4, 1, 1), 8);
  assert.equal(core.movePatch(8, "ArrowDown", 3, 4, 1, 1), 1 + 2 * 4 + 3);
  assert.equal(core.movePatch(12, "ArrowDown", 3, 4, 1, 1), 12);  // bottom row stays
  assert.equal(core.movePatch(1, "ArrowLeft", 3, 4, 1, 1), 1);
  assert.equal(core.movePatch(7, "Enter", 3, 4, 1, 1), null);
  // video: a query in time step 0 moved while the frame shows time step 1 lands in step 1
  assert.equal(core.movePatch(1 + 3, "ArrowDown", 3, 4, 1, 1 + 12), 1 + 12 + 4 + 3);
});
