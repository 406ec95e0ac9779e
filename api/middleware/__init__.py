"""Pure ASGI middleware shared by every route, one module each (api.main adds them in order).

From the outside in: access log and request id (access_log), outage answers
(api.availability), body size cap (body_size), unstorable text (storable_text), security
headers (security_headers), CORS, response micro-cache (response_cache), ETag and 304 (etag),
idempotency keys (api.idempotency).

Pure ASGI (not BaseHTTPMiddleware) so streaming responses (SSE, exports) pass straight through.
"""
