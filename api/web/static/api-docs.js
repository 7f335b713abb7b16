// The API docs page (/api/v1/docs): Swagger UI (from /vendor/swagger-ui-dist) over the OpenAPI document.
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui");
  if (!container || !window.SwaggerUIBundle) { return; }
  window.ui = window.SwaggerUIBundle({
    url: container.dataset.specUrl,
    domNode: container,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    onComplete: function () { container.dataset.ready = "true"; }
  });
})();
