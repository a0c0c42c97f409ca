// The API docs page (/api/docs): starts Swagger UI (served by Parley from swagger-ui-dist) on the
// schema the page names. A file of its own, not an inline script, so that the page keeps to the
// Content-Security-Policy (no inline script). The online validator badge stays off: it would
// send the schema's address to validator.swagger.io.

const root = document.getElementById("swagger-ui");

window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
