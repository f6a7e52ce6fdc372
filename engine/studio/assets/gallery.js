/* crypto-helper preview --html: draws the flow graphs (Mermaid, vendored beside this file).
   body[data-graphs] becomes "drawn" once every graph is an SVG, or "failed". */
"use strict";
(function () {
  var graphs = document.querySelectorAll("pre.mermaid");
  if (!graphs.length) {
    return;
  }
  window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
  window.mermaid
    .run({ nodes: graphs })
    .then(function () {
      document.body.dataset.graphs = "drawn";
    })
    .catch(function (error) {
      document.body.dataset.graphs = "failed";
      console.error("the flow graph could not be drawn:", error);
    });
})();
