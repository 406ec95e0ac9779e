"""Keyed hashes and tokens: what lets us match people without keeping what identifies them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time

TOKEN_BYTES = 32  # 256 bits


def keyed_hash(secret: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value`, domain-separated by `purpose` so hashes of one kind of value
    can never be matched against another kind."""
    return hmac.new(secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


# A link token begins with the millisecond it was made, in hex, so the primary key of the
# stored digests (each keeps the token's first characters) grows at its end as ids do. A
# digest of random bits alone lands on a random page of that index: every signature's two
# tokens dirtied two pages that were written to the WAL and then to the database, over a third
# of a signing batch's pages (`BENCH_WRITER_PAGES=1 python -m bench.writer`: 185 -> 116 pages
# per commit of 32 signatures, the commit 4.2 -> 3.1 ms). The time says only when the link
# was mailed, which its reader knows.
_ORDER_LENGTH = 11  # hex digits of milliseconds since 1970: until the year 2527
_ORDER_DIGITS = frozenset("0123456789abcdef")
_RANDOM_LENGTH = 43  # TOKEN_BYTES in URL-safe base64, unpadded (as secrets.token_urlsafe)
DIGEST_LENGTH = 64


def new_token() -> tuple[str, str]:
    """A random URL-safe token (led by the time it was made) and the digest we store in its
    place."""
    lead = format(time.time_ns() // 1_000_000, f"0{_ORDER_LENGTH}x")
    random_part = base64.urlsafe_b64encode(random_bytes(TOKEN_BYTES)).rstrip(b"=").decode()
    token = lead + random_part
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """The digest stored for a token: its SHA-256, in hex. Tokens carry 256 random bits, so a
    plain (unkeyed) SHA-256 is enough to make a database leak useless for forging links. A
    token led by its time (new_token) keeps that lead, and 53 hex digits (212 bits) of the
    hash follow it; any other token (links mailed before, API keys) is its whole hash."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    if _is_time_ordered(token):
        return token[:_ORDER_LENGTH] + digest[: DIGEST_LENGTH - _ORDER_LENGTH]
    return digest


def _is_time_ordered(token: str) -> bool:
    return len(token) == _ORDER_LENGTH + _RANDOM_LENGTH and _ORDER_DIGITS.issuperset(
        token[:_ORDER_LENGTH]
    )


class _RandomPool:
    """Bytes from the operating system's generator (os.urandom), drawn 4 KiB at a time and
    each handed out once.

    Why: os.urandom's system call lets go of the GIL. On the event loop the group-commit
    writer takes it then, and the loop waits to get it back: py-spy of a signing worker under
    load found 9% of its loop in the two link tokens' `randbytes`. One call now serves 128
    tokens. The bytes are the same generator's; a forked child empties the pool it inherited,
    or it would hand out the parent's next bytes again."""

    SIZE = 4096

    def __init__(self) -> None:
        self._empty()

    def _empty(self) -> None:
        # A new lock too: a fork can copy this one held by a thread the child does not have.
        self._lock = threading.Lock()
        self._left = memoryview(b"")

    def take(self, count: int) -> bytes:
        with self._lock:
            if len(self._left) < count:
                self._left = memoryview(os.urandom(max(self.SIZE, count)))
            taken, self._left = self._left[:count], self._left[count:]
            return bytes(taken)


_POOL = _RandomPool()
os.register_at_fork(after_in_child=_POOL._empty)


def random_bytes(count: int) -> bytes:
    """`count` bytes from the operating system's generator, as os.urandom gives them, without
    a system call each time (see _RandomPool)."""
    return _POOL.take(count)
