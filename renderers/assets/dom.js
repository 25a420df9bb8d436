/*
 * multiattn HTML views: DOM helpers shared by the views (global MultiattnDom).
 *
 * Every element is built with createElement / textContent: no token, label or
 * caption ever goes through an HTML parser.
 */
(function (root) {
  "use strict";

  /** An HTML element with attributes and text content. */
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) { Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); }); }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  /** An SVG element with attributes. */
  function svgEl(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  /** A labelled <select> of `options` (option values are their indices): {wrap, sel}. */
  function select(label, options, multiple) {
    var wrap = el("label", null, label);
    var s = el("select", multiple ? {multiple: "", size: Math.min(options.length, 6)} : null);
    options.forEach(function (o, i) { s.appendChild(el("option", {value: String(i)}, o)); });
    wrap.appendChild(s);
    return {wrap: wrap, sel: s};
  }

  /** Indices of the selected options of a <select multiple>. */
  function selected(sel) {
    var out = [];
    Array.prototype.forEach.call(sel.options, function (o, i) { if (o.selected) { out.push(i); } });
    return out;
  }

  /** A 0 .. vmax colour bar drawn with `colour` (t -> CSS colour): {node, hi} (hi: the max label). */
  function colorbar(label, vmax, colour, fmt) {
    var bar = el("div", {"class": "ma-bar"}), c = el("canvas", {width: 160, height: 12});
    var ctx = c.getContext("2d");
    for (var x = 0; x < 160; x++) { ctx.fillStyle = colour(x / 159); ctx.fillRect(x, 0, 1, 12); }
    var hi = el("span", null, fmt(vmax));
    bar.appendChild(el("span", null, "0")); bar.appendChild(c); bar.appendChild(hi);
    var box = el("div", null);
    box.appendChild(bar);
    if (label) { box.appendChild(el("div", {"class": "ma-note"}, label)); }
    return {node: box, hi: hi};
  }

  /** Title and notes of payload D into `mount`; returns the controls row. */
  function header(mount, D) {
    mount.appendChild(el("h1", null, D.title));
    D.notes.forEach(function (n) { mount.appendChild(el("p", {"class": "ma-note"}, n)); });
    var controls = el("div", {"class": "ma-controls"});
    mount.appendChild(controls);
    return controls;
  }

  /** Layer and head selectors ("mean of heads" first), last layer chosen, appended to controls. */
  function layerHead(controls, D, extra) {
    var layerSel = select("layer", D.layers, false);
    var headSel = select("head", ["mean of heads"].concat(D.heads), false);
    if (extra) { controls.appendChild(extra.wrap); }
    controls.appendChild(layerSel.wrap); controls.appendChild(headSel.wrap);
    layerSel.sel.value = String(D.layers.length - 1);
    return {layer: layerSel, head: headSel};
  }

  /** Fill a canvas' ImageData from values in [0, 1] through a 256 x RGB lookup table. */
  function paintLut(ctx, values, width, height, lut, vmax) {
    var data = ctx.createImageData(width, height);
    for (var p = 0; p < width * height; p++) {
      var t = Math.round(255 * values[p] / (vmax || 1)) * 3;
      data.data[4 * p] = lut[t]; data.data[4 * p + 1] = lut[t + 1]; data.data[4 * p + 2] = lut[t + 2];
      data.data[4 * p + 3] = 255;
    }
    ctx.putImageData(data, 0, 0);
  }

  /** Load a base64 image (type "png" or "jpeg"); onload runs when it is decoded. */
  function image(b64, type, onload) {
    var im = new Image();
    im.onload = onload;
    im.src = "data:image/" + type + ";base64," + b64;
    return im;
  }

  /** The canvas of an image or video view with its side panel (colour bar, status line). */
  function canvasPanel(mount, D, id, label, cmap, fmt) {
    var wrap = el("div", {"class": "ma-head"}); mount.appendChild(wrap);
    var canvas = el("canvas", {"class": "ma-image", width: D.width, height: D.height, tabindex: "0", id: id,
      "aria-label": label});
    wrap.appendChild(canvas);
    var panel = el("div", {"class": "ma-panel"}); wrap.appendChild(panel);
    var bar = colorbar("", 1, cmap, fmt); panel.appendChild(bar.node);
    var status = el("p", {id: "ma-status"}, ""); panel.appendChild(status);
    return {canvas: canvas, panel: panel, bar: bar, status: status};
  }

  root.MultiattnDom = {
    el: el, svgEl: svgEl, select: select, selected: selected, colorbar: colorbar, header: header,
    layerHead: layerHead, paintLut: paintLut, image: image, canvasPanel: canvasPanel
  };
})(this);
