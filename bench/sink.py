"""A local SMTP sink for the mail scenarios, in its own process so it does not share a GIL
with the load driver.

It is the test suite's aiosmtpd sink (tests/conftest.py SmtpSink), counting recipients from the
envelope instead of parsing every message. A tiny HTTP side door reports what arrived:

    GET /stats   {"total": N, "recipients": R, "duplicates": D, "first": t0, "last": t1}
    GET /tokens  {"recipient": "confirm token", ...}   (only with --keep)

    python -m bench.sink --port 2525 --stats-port 2526 [--keep]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import SmtpSink

CONFIRM_LINK = re.compile(r"/confirm\?token=([A-Za-z0-9_-]+)")


class CountingSink(SmtpSink):
    def __init__(self, port: int, keep: bool) -> None:
        super().__init__()
        self.port = port
        self.keep = keep
        self.per_recipient: Counter[str] = Counter()
        self.raw: dict[str, bytes] = {}
        self.first: float | None = None
        self.last: float | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.monotonic()
        with self._lock:
            for recipient in envelope.rcpt_tos:
                self.per_recipient[recipient] += 1
                if self.keep:
                    self.raw[recipient] = envelope.content
            if self.first is None:
                self.first = now
            self.last = now
        return "250 Message accepted for delivery"

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self.per_recipient.values()),
                "recipients": len(self.per_recipient),
                "duplicates": sum(n - 1 for n in self.per_recipient.values() if n > 1),
                "first": self.first,
                "last": self.last,
                "now": time.monotonic(),
            }

    def tokens(self) -> dict[str, str]:
        with self._lock:
            raw = dict(self.raw)
        found = {}
        for recipient, content in raw.items():
            message = email.message_from_bytes(content, policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""  # type: ignore[attr-defined]
            match = CONFIRM_LINK.search(text)
            if match:
                found[recipient] = match.group(1)
        return found

    def per_recipient_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.per_recipient)


def serve_stats(sink: CountingSink, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes = {
                "/stats": sink.stats,
                "/tokens": sink.tokens,
                "/recipients": sink.per_recipient_counts,
            }
            handler = routes.get(self.path)
            if handler is None:
                self.send_error(404)
                return
            body = json.dumps(handler()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stats-port", type=int, required=True)
    parser.add_argument("--keep", action="store_true", help="keep messages to read their links")
    args = parser.parse_args()
    sink = CountingSink(args.port, args.keep)
    sink.start()
    serve_stats(sink, args.stats_port)
    print("sink ready", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
