// The item page's process diagram: bpmn-js NavigatedViewer, current step and finished steps marked.
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  if (!container || !window.BpmnJS) { return; }
  var viewer = new window.BpmnJS({ container: container });
  // On a phone the mouse's drag and wheel are missing: zoom buttons, and a finger drags the
  // diagram (touch-action: none on it, so the page scrolls only outside the diagram).
  function controls(canvas) {
    var bar = document.createElement("div");
    bar.className = "diagram-controls";
    [["放大", function () { canvas.zoom(canvas.zoom() * 1.25); }],
     ["缩小", function () { canvas.zoom(canvas.zoom() / 1.25); }],
     ["适应", function () { canvas.zoom("fit-viewport"); }]].forEach(function (pair) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = pair[0];
      button.addEventListener("click", pair[1]);
      bar.appendChild(button);
    });
    container.appendChild(bar);
    var last = null;
    container.addEventListener("pointerdown", function (event) {
      if (event.pointerType !== "mouse" && !event.target.closest(".diagram-controls")) {
        last = { x: event.clientX, y: event.clientY };
      }
    });
    container.addEventListener("pointermove", function (event) {
      if (!last) { return; }
      canvas.scroll({ dx: event.clientX - last.x, dy: event.clientY - last.y });
      last = { x: event.clientX, y: event.clientY };
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      container.addEventListener(name, function () { last = null; });
    });
  }
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
      controls(canvas);
      container.dataset.ready = "true";
    })
    .catch(function (err) {
      container.textContent = "流程图加载失败：" + err.message;
      container.dataset.ready = "error";
    });
})();
