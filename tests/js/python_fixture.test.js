// core.js decodes what the Python side packs: tests/test_html_js.py writes a fixture of payloads
// (pack_rows, to_html pages) with the values they came from, and runs these tests on it.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const core = require("../../renderers/assets/core.js");

const path = process.env.MULTIATTN_JS_FIXTURE;
const skip = path ? false : "no fixture: run through pytest tests/test_html_js.py (sets MULTIATTN_JS_FIXTURE)";
const fixture = path ? JSON.parse(fs.readFileSync(path, "utf8")) : {rows: [], pages: {}};

/** The expected non-zero entries of a row are there within tol; every other key is exactly 0. */
function checkRow(row, expected, tol, what) {
  const listed = new Set();
  for (const [j, v] of expected) {
    listed.add(j);
    assert.ok(Math.abs(row[j] - v) <= tol, `${what} key ${j}: ${row[j]} vs ${v} (tol ${tol})`);
  }
  for (let j = 0; j < row.length; j++) {
    if (!listed.has(j)) { assert.equal(row[j], 0, `${what} key ${j} should not be stored`); }
  }
}

test("packed rows (dense, top-k uint16 / uint32, deflated mass rows) decode to the Python values", {skip}, async () => {
  assert.ok(fixture.rows.length >= 5);
  for (const c of fixture.rows) {
    const W = new core.Weights(await core.inflate(c.weights));
    assert.equal(W.mode, c.mode, c.name);
    for (const r of c.check) {
      checkRow(W.row(r.r), r.entries, r.tol, `${c.name} row ${r.r}`);
      assert.ok(Math.abs(W.droppedMass(r.r) - r.dropped) <= 1 / 510 + 1e-6,
                `${c.name} row ${r.r} dropped ${W.droppedMass(r.r)} vs ${r.dropped}`);
    }
  }
});

test("text page: labels survive the JSON escaping, head means match numpy", {skip}, () => {
  const t = fixture.pages.text;
  assert.deepEqual(t.payload.query, t.labels);
  const W = new core.Weights(t.payload.weights), H = t.payload.heads.length, Q = t.payload.query.length;
  for (const m of t.means) {
    const got = core.meanRow(W, m.layer, m.heads, [m.query], H, Q);
    got.forEach((v, j) => assert.ok(Math.abs(v - m.values[j]) <= m.tol, `mean key ${j}: ${v} vs ${m.values[j]}`));
  }
  const th = core.thumbnail(W, t.thumbnail.layer, t.thumbnail.head, H, Q, Q, 48);
  assert.deepEqual([th.bq, th.bk], t.thumbnail.shape);
  th.img.forEach((v, i) => assert.ok(Math.abs(v - t.thumbnail.values[i]) <= t.thumbnail.tol, `cell ${i}`));
});

test("viridis lookup of the page gives matplotlib's colours", {skip}, () => {
  const lut = fixture.pages.text.payload.lut, cmap = core.colourScale(core.bytes(lut));
  assert.equal(core.bytes(lut).length, 768);
  for (const [t, rgb] of fixture.viridis) { assert.equal(cmap(t), `rgba(${rgb.join(",")},1)`, `t = ${t}`); }
});

test("graph page: per-edge weights of a layer match numpy", {skip}, () => {
  const g = fixture.pages.graph, D = g.payload;
  const q = core.bytes(D.q), scale = core.typed(D.scale, Float32Array), dst = core.typed(D.dst, Uint32Array);
  assert.deepEqual(Array.from(dst), g.dst);
  for (const c of g.layers) {
    const w = core.edgeWeights(q, scale, D.n_edges, c.layer, c.heads, D.heads.length);
    w.forEach((v, e) => assert.ok(Math.abs(v - c.values[e]) <= g.tol, `edge ${e}: ${v} vs ${c.values[e]}`));
    assert.deepEqual(core.incomingEdges(dst, w, g.node).edges.slice(0, 1), [c.strongest_into_node]);
  }
});
