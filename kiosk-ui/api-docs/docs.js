// The API reference: Swagger UI over this server's OpenAPI document. "Try it out" sends
// requests from this page with the signed-in session's cookie; a change also needs the
// CSRF token (Authorize → csrf), a device's calls its token (Authorize → kiosk/integration).
window.addEventListener('load', () => {
  window.ui = SwaggerUIBundle({
    url: '/api/v1/openapi.json',
    dom_id: '#api',
    deepLinking: true,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
  });
});
