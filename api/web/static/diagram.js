// The item page's process diagram: bpmn-js NavigatedViewer, current step and finished steps marked.
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  if (!container || !window.BpmnJS) { return; }
  var viewer = new window.BpmnJS({ container: container });
  function ids(name) { return (container.dataset[name] || "").split(",").filter(Boolean); }
  fetch(container.dataset.xmlUrl, { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      ids("done").forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "done"); } });
      ids("current").forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "highlight"); } });
      canvas.zoom("fit-viewport");
      container.dataset.ready = "true";
    })
    .catch(function (err) {
      container.textContent = "流程图加载失败：" + err.message;
      container.dataset.ready = "error";
    });
})();
