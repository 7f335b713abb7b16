// The version comparison's diagrams: each version in a bpmn-js viewer, the elements the server
// found removed/changed (left) and added/changed (right) coloured with canvas markers.
(function () {
  "use strict";
  var marks = JSON.parse(document.getElementById("diff-marks").textContent);
  ["diff-left", "diff-right"].forEach(function (id) {
    var container = document.getElementById(id);
    var viewer = new window.BpmnJS({ container: container });
    fetch(container.dataset.xmlUrl, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry");
        container.dataset.marks.split(" ").forEach(function (kind) {
          (marks[kind] || []).forEach(function (elementId) {
            if (registry.get(elementId)) { canvas.addMarker(elementId, "diff-" + kind); }
          });
        });
        canvas.zoom("fit-viewport");
        container.dataset.ready = "true";
      })
      .catch(function () { container.textContent = "图形加载失败"; container.dataset.ready = "error"; });
  });
})();
