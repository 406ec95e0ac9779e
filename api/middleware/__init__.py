"""Pure ASGI middleware shared by every route (api.main adds them in order).

From the outside in: the edge (edge: request id and access log, outage answers, body size cap,
unstorable text, security headers, one pass; each rule in its own module), CORS, response
micro-cache (response_cache), ETag and 304 (etag), idempotency keys (api.idempotency).

Pure ASGI (not BaseHTTPMiddleware) so streaming responses (SSE, exports) pass straight through.
"""
