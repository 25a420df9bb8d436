/*
 * multiattn HTML views: the entry point.  Reads the page's one JSON block
 * (<script type="application/json" id="multiattn-data">), draws the view it names
 * into #multiattn-root (after inflating deflated weights, which is asynchronous),
 * and, once drawn and laid out, sets data-ready-ms (milliseconds since navigation
 * start) on <html>.  Canvases use CPU rendering
 * (willReadFrequently) so that their drawing is included in that time.
 */
(function (root) {
  "use strict";
  var D = JSON.parse(document.getElementById("multiattn-data").textContent);
  var mount = document.getElementById("multiattn-root");
  function draw() {
    root.MultiattnViews[D.view](D, mount);
    void mount.getBoundingClientRect().height;  // force style and layout: "ready" includes them
    document.documentElement.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  }
  if (!D.weights || D.weights.codec === undefined) {
    draw();
  } else {
    mount.textContent = "Decompressing the attention weights\u2026";
    root.MultiattnCore.inflate(D.weights).then(function () { mount.textContent = ""; draw(); }, function (err) {
      mount.textContent = "multiattn: " + err.message;
      document.documentElement.setAttribute("data-error", err.message);
    });
  }
})(this);
