"""Logging for every process (`advocacy serve`, its workers, `advocacy worker`): one setup.

`LOG_FORMAT=json` writes one JSON object per line (python-json-logger on the standard `logging`
module); `text` writes readable lines. Either way a log line is one line: control characters in
a message (a `%0d%0a` a client put in a URL, say) are escaped, never written raw, so nobody can
forge a second, genuine-looking line. Every record carries the id of the request it was logged
for (`request_id`, `-` outside a request).
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from api.config import Settings

# The id of the request being served, set by api.middleware.access_log.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# uvicorn's own loggers propagate to ours; its access log is replaced by api.access.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def escape_control(text: str) -> str:
    """`text` with every control character (and Unicode line separator) as a visible escape."""

    def escaped(match: re.Match[str]) -> str:
        char = match.group()
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{ord(char):02x}")

    return _CONTROL.sub(escaped, text)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    """`time level logger [request id] message`, one line per record.

    The message is escaped; a traceback keeps its lines but each continuation is indented
    (and escaped), so it can never pass for a record of its own."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        # Not the base class's format(): it reuses `exc_text` cached on the record by whichever
        # handler formatted it first, unescaped.
        record.message = escape_control(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info:
            text += "\n" + _indented(self.formatException(record.exc_info))
        elif record.exc_text:
            text += "\n" + _indented(record.exc_text)
        if record.stack_info:
            text += "\n" + _indented(self.formatStack(record.stack_info))
        return text


def _indented(text: str) -> str:
    return "\n".join("    " + escape_control(line) for line in text.splitlines())


class JsonLineFormatter(JsonFormatter):
    """One JSON object per record: time, level, logger, request_id, message, and any `extra`
    fields (the access log adds route, method, status, duration_ms). JSON escapes control
    characters by itself."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            json_ensure_ascii=True,
            # uvicorn's ANSI-coloured twin of its message: noise in a log pipeline.
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )


class _StderrHandler(logging.StreamHandler):
    """Writes to `sys.stderr` as it is when a record is written, not as it was at setup (a
    test harness, or a daemon, may replace it meanwhile)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    """Replace the root logger's handlers with one stderr handler in LOG_FORMAT at LOG_LEVEL.

    Idempotent: `advocacy serve` calls it, then each worker process again as it builds the app.
    """
    handler = _StderrHandler()
    handler.setFormatter(JsonLineFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_advocacy", False):
            root.removeHandler(old)
    handler._advocacy = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
