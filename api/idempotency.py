"""`Idempotency-Key` on every POST: a retry with the same key and body replays the first
answer instead of acting twice; the same key with another body is refused (422).

Records live in the database (shared by every process) for 24 hours. As Stripe does it:

- Only final outcomes are replayed. A 409, 429 or 5xx (and 408, 425) says "not now", so its
  record is dropped and a retry is processed afresh.
- A request whose key is still being processed elsewhere gets a 409 with Retry-After, so
  concurrent retries act once. A key left "in progress" by a process that died is taken
  over by the first retry after IDEMPOTENCY_LEASE_SECONDS (what it guards is idempotent
  anyway: one signature per email hash).
- No personal data is kept beyond what the caller could fetch again: the request is kept
  as a keyed hash; a request with credentials (the admin API, whose answers list signers)
  is replayed with its status and Location but without its body; a route that acts for a
  signer ties the record to them (`tie_to_signer`), and withdrawal and retention erase it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from anyio import to_thread
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.abuse.models import IdempotencyRecord
from api.config import Settings
from api.db import Database, utcnow
from api.error_handlers import send_problem
from api.errors import (
    FieldError,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    UnprocessableContent,
    coded_error,
    language,
)
from api.security import keyed_hash

HEADER = "idempotency-key"
LIFETIME = dt.timedelta(hours=24)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as the IETF draft suggests
REPLAYED_HEADERS = ("content-type", "location", "retry-after", "ratelimit", "ratelimit-policy")
# "Not now" answers: the same request may well succeed later.
NOT_FINAL = frozenset({408, 409, 425, 429})
SUBJECT_STATE = "idempotency_subject"


def tie_to_signer(request: Request, email_hash: str) -> None:
    """The request acts for the signer with this email hash: erase its record with them."""
    setattr(request.state, SUBJECT_STATE, email_hash)


def request_fingerprint(secret: bytes, path: str, query: bytes, body: bytes) -> str:
    """What a retry must repeat to be replayed. Keyed: the body holds the signer's name and
    address."""
    return hmac.new(secret, b"\x00".join([path.encode(), query, body]), hashlib.sha256).hexdigest()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, database: Database, settings: Settings) -> None:
        self.app = app
        self.database = database
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not _KEY.match(key):
            error = UnprocessableContent(
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
                errors=[_header_error("invalid_idempotency_key")],
            )
            await send_problem(send, error, scope["path"], language(headers))
            return

        body = await _read_body(receive)
        request_hash = request_fingerprint(
            self.settings.secret(), scope["path"], scope.get("query_string", b""), body
        )
        credentials = headers.get("authorization", "")
        key_hash = keyed_hash(
            self.settings.secret(), "idempotency", f"{scope['path']}\x00{credentials}\x00{key}"
        )
        outcome, record = await to_thread.run_sync(self._begin, key_hash, request_hash)
        if outcome == "replay":
            assert record is not None
            await _replay(send, record)
            return
        if outcome == "mismatch":
            error = IdempotencyKeyReused(errors=[_header_error("idempotency_key_reused")])
            await send_problem(send, error, scope["path"], language(headers))
            return
        if outcome == "in_progress":
            await send_problem(
                send, IdempotencyInProgress(headers={"Retry-After": "1"}), scope["path"]
            )
            return

        start: Message = {}
        chunks: list[bytes] = []
        delivered = False

        async def replay_body() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # disconnect notifications pass through
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capturing_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capturing_send)
        except BaseException:
            await to_thread.run_sync(self._forget, key_hash)
            raise
        status = start.get("status", 500)
        if status >= 500 or status in NOT_FINAL:
            await to_thread.run_sync(self._forget, key_hash)
            return
        response_headers = Headers(raw=start.get("headers", []))
        kept = {
            name: response_headers[name] for name in REPLAYED_HEADERS if name in response_headers
        }
        stored_body = b"".join(chunks)
        if credentials:
            stored_body = b""
            kept.pop("content-type", None)
        subject = scope.get("state", {}).get(SUBJECT_STATE)
        await to_thread.run_sync(self._finish, key_hash, status, stored_body, kept, subject)

    # --- storage (run in worker threads) --------------------------------------------------

    def _begin(self, key_hash: str, request_hash: str) -> tuple[str, IdempotencyRecord | None]:
        now = utcnow()
        lease = dt.timedelta(seconds=self.settings.idempotency_lease_seconds)
        try:
            with self.database.session(write=True) as session:
                record = session.get(IdempotencyRecord, key_hash)
                if record is not None and record.expires_at <= now:
                    session.delete(record)
                    session.flush()
                    record = None
                if record is None:
                    session.add(
                        IdempotencyRecord(
                            key_hash=key_hash, request_hash=request_hash, expires_at=now + LIFETIME
                        )
                    )
                    return "new", None
                if record.request_hash != request_hash:
                    return "mismatch", record
                if record.completed:
                    return "replay", record
                if record.created_at > now - lease:
                    return "in_progress", record
                # Its process died mid-request: the first retry after the lease takes it over
                # (one of several concurrent ones: the update is conditional).
                taken = session.exec(
                    update(IdempotencyRecord)
                    .where(
                        col(IdempotencyRecord.key_hash) == key_hash,
                        col(IdempotencyRecord.completed).is_(False),
                        col(IdempotencyRecord.created_at) == record.created_at,
                    )
                    .values(created_at=now, expires_at=now + LIFETIME)
                ).rowcount
                return ("new" if taken else "in_progress"), None
        except IntegrityError:
            # Another request inserted the same key between our read and write.
            return "in_progress", None

    def _finish(
        self,
        key_hash: str,
        status: int,
        body: bytes,
        headers: dict[str, str],
        subject_hash: str | None,
    ) -> None:
        with self.database.session(write=True) as session:
            record = session.get(IdempotencyRecord, key_hash)
            if record is None:
                return
            record.completed = True
            record.subject_hash = subject_hash
            record.status_code = status
            record.response_body = body.decode("utf-8", errors="replace")
            record.response_headers = headers

    def _forget(self, key_hash: str) -> None:
        with self.database.session(write=True) as session:
            session.exec(
                delete(IdempotencyRecord).where(col(IdempotencyRecord.key_hash) == key_hash)
            )


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _replay(send: Send, record: IdempotencyRecord) -> None:
    headers = MutableHeaders()
    for name, value in (record.response_headers or {}).items():
        headers[name] = value
    headers["idempotent-replayed"] = "true"
    body = (record.response_body or "").encode()
    headers["content-length"] = str(len(body))
    await send(
        {"type": "http.response.start", "status": record.status_code or 200, "headers": headers.raw}
    )
    await send({"type": "http.response.body", "body": body})


def _header_error(code: str) -> FieldError:
    return coded_error(["header", "Idempotency-Key"], code)
